"""Attention layers on their own: gradients by finite differences (tests/reference/gradient_check.py tolerances),
masks, causality, configs, functional models with call options, and save/load through the model file."""
import functools

import numpy as np
import pytest

import rnnkit
from reference.gradient_check import check_layer_gradients
from rnnkit import layers
from rnnkit.layers.positional_encoding import sine_position_encoding


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def built(layer, shapes):
    layer.build(shapes)
    rng = np.random.default_rng(1)
    layer.set_weights([0.5 * rng.standard_normal(w.shape).astype(np.float32) for w in layer.weights])
    return layer


@pytest.mark.parametrize("causal", [False, True])
def test_mha_gradients_cross_attention_with_masks(causal):
    q, v, k = rand(2, 5, 6, seed=2), rand(2, 7, 4, seed=3), rand(2, 7, 3, seed=4)
    mha = built(layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=5), [q.shape, v.shape, k.shape])
    mha.forward = functools.partial(mha.forward, use_causal_mask=causal)
    value_mask = np.array([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 1, 0]], bool)
    check_layer_gradients(mha, [q, v, k], mask=[None, value_mask, None])


def test_mha_self_attention_gradient_sums_key_and_value_paths():
    x = rand(2, 4, 6, seed=5)
    mha = built(layers.MultiHeadAttention(num_heads=3, key_dim=2, output_shape=5), [x.shape, x.shape])
    check_layer_gradients(mha, [x, x.copy()])
    assert mha(x, x).shape == (2, 4, 5)


def test_mha_scores_are_the_softmax_weights_and_masked_queries_see_nothing():
    q, v = rand(1, 4, 6, seed=6), rand(1, 5, 6, seed=7)
    mha = built(layers.MultiHeadAttention(num_heads=2, key_dim=4), [q.shape, v.shape])
    out, scores = mha(q, v, return_attention_scores=True, use_causal_mask=True)
    assert scores.shape == (1, 2, 4, 5)
    np.testing.assert_allclose(scores.sum(-1), 1.0, atol=1e-6)
    assert np.all(np.triu(scores[0, 0], 1) == 0)
    np.testing.assert_allclose(out, mha(q, v, use_causal_mask=True), atol=1e-6)
    query_mask = np.array([[True, False, True, True]])
    _, scores = mha(q, v, query_mask=query_mask, return_attention_scores=True)
    assert np.all(scores[0, :, 1] == 0)


def test_mha_causal_output_ignores_the_future():
    x = rand(1, 9, 6, seed=8)
    mha = built(layers.MultiHeadAttention(num_heads=2, key_dim=3), [x.shape, x.shape])
    y = x.copy()
    y[:, 6:] += 3.0
    np.testing.assert_array_equal(mha(x, x, use_causal_mask=True)[:, :6], mha(y, y, use_causal_mask=True)[:, :6])


@pytest.mark.parametrize("use_scale", [False, True])
def test_luong_attention_gradients(use_scale):
    q, v, k = rand(2, 3, 4, seed=9), rand(2, 6, 5, seed=10), rand(2, 6, 4, seed=11)
    attention = built(layers.Attention(use_scale=use_scale), [q.shape, v.shape, k.shape])
    masks = [np.array([[1, 1, 0], [1, 1, 1]], bool), np.array([[1] * 6, [1, 1, 1, 1, 0, 0]], bool), None]
    check_layer_gradients(attention, [q, v, k], mask=masks)
    y = attention([q, v, k], mask=masks)
    assert np.all(y[0, 2] == 0)  # a masked query outputs zeros, as in Keras


def test_layer_normalization_gradients_and_statistics():
    x = 10.0 + 3.0 * rand(3, 4, 7, seed=12)
    norm = built(layers.LayerNormalization(epsilon=1e-5), x.shape)
    check_layer_gradients(norm, x)
    plain = layers.LayerNormalization(center=False, scale=False)
    y = plain(x)
    np.testing.assert_allclose(y.mean(-1), 0.0, atol=1e-5)
    variance = np.asarray(x, np.float64).var(-1)
    np.testing.assert_allclose(y.var(-1), variance / (variance + 1e-3), rtol=1e-5)  # Keras' default epsilon
    assert plain.weights == []


def test_sine_position_encoding_values_and_start_index():
    encoding = layers.SinePositionEncoding()(np.zeros((2, 6, 8), np.float32))
    assert encoding.shape == (2, 6, 8)
    position, i = 3, 5  # odd index -> cos(position / 10000^(4/8))
    np.testing.assert_allclose(encoding[1, position, i], np.cos(position / 10000 ** (4 / 8)), rtol=1e-6)
    np.testing.assert_allclose(encoding[0, position, 4], np.sin(position / 10000 ** (4 / 8)), rtol=1e-6)
    shifted = layers.SinePositionEncoding()(np.zeros((1, 2, 8), np.float32), start_index=4)
    np.testing.assert_allclose(shifted[0], sine_position_encoding(6, 8)[4:], atol=1e-6)


def test_position_embedding_gradient_lands_on_the_used_rows():
    x = rand(2, 3, 4, seed=13)
    embedding = built(layers.PositionEmbedding(sequence_length=5), x.shape)
    y, ctx = embedding.forward(x, training=True, start_index=1)
    np.testing.assert_array_equal(y[1], embedding.position_embeddings.value[1:4])
    _, (d_table,) = embedding.backward(ctx, np.ones_like(y))
    np.testing.assert_array_equal(d_table.sum(-1), [0, 8, 8, 8, 0])
    with pytest.raises(ValueError, match="sequence_length"):
        embedding.forward(x, start_index=3)


@pytest.mark.parametrize("layer", [
    layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4, dropout=0.1, use_bias=False, output_shape=(7,)),
    layers.Attention(use_scale=True, dropout=0.2),
    layers.LayerNormalization(epsilon=1e-5, center=False),
    layers.SinePositionEncoding(max_wavelength=100),
    layers.PositionEmbedding(sequence_length=9),
])
def test_config_round_trip(layer):
    config = layers.serialize(layer)
    again = layers.deserialize(config)
    assert type(again) is type(layer)
    assert again.get_config() == layer.get_config()


def test_functional_model_with_causal_mha_saves_and_loads(tmp_path):
    tokens = rnnkit.Input((6,), dtype="int32")
    x = layers.Embedding(11, 8, mask_zero=True)(tokens)
    x = layers.Add()([x, layers.SinePositionEncoding()(x)])
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=4)(x, x, use_causal_mask=True)
    x = layers.LayerNormalization()(layers.Add()([x, attended]))
    model = rnnkit.Model(tokens, layers.Dense(3)(x))
    ids = np.array([[3, 4, 5, 6, 0, 0], [1, 2, 3, 4, 5, 6]])
    before = model.predict(ids, verbose=0)
    path = tmp_path / "attention.rnnkit"
    model.save(path)
    loaded = rnnkit.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(ids, verbose=0), before, atol=1e-6)
    changed = ids.copy()
    changed[1, 4:] = [9, 9]
    np.testing.assert_array_equal(model.predict(changed, verbose=0)[1, :4], before[1, :4])  # causal in the graph


@pytest.mark.parametrize("with_bias", [False, True])
def test_dense_forward_few_row_path_matches_float64(with_bias):
    """One to nine rows take the unpacked few-row product (decoding steps); ten and more the GEMM. Widths that are
    not multiples of a vector, a column split over threads (1024 x 1100)."""
    from rnnkit import _core

    rng = np.random.default_rng(7)
    for rows in range(1, 11):
        for features, units in ((256, 256), (37, 70), (5, 3), (1024, 1100)):
            x = rng.standard_normal((rows, features)).astype(np.float32)
            kernel = rng.standard_normal((features, units)).astype(np.float32)
            bias = rng.standard_normal(units).astype(np.float32) if with_bias else None
            expected = x.astype(np.float64) @ kernel.astype(np.float64)
            if with_bias:
                expected += bias
            np.testing.assert_allclose(_core.dense_forward(x, kernel, bias), expected,
                                       atol=1e-5 * np.sqrt(features), rtol=1e-5)
    assert _core.dense_forward(np.ones((1, 0), np.float32), np.ones((0, 4), np.float32), None).tolist() == [[0] * 4]


@pytest.mark.parametrize("normalize_first", [False, True])
def test_decoder_cache_with_cross_attention_and_encoder_mask_equals_recomputation(normalize_first):
    x, encoder_out = rand(2, 6, 8, seed=8), rand(2, 5, 8, seed=9)
    encoder_mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], bool)
    decoder = layers.TransformerDecoder(16, 2, normalize_first=normalize_first)
    decoder.build([(None, None, 8), (None, None, 8)])
    full = decoder.forward([x, encoder_out], mask=[None, encoder_mask])[0]
    cache = decoder.start_cache(2, 6, encoder_out, encoder_mask=encoder_mask)
    steps = [decoder.decode_step(x[:, :2], cache)] + [decoder.decode_step(x[:, t:t + 1], cache) for t in range(2, 6)]
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)
