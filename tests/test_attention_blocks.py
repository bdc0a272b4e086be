"""Transformer blocks and generation: gradients by finite differences, keras_hub's parameter counts, causality,
the key/value-cached decoding equal to the full recomputation, functional models saved and loaded, and the
greedy/sampled token choice."""
import numpy as np
import pytest

import rnnkit
from reference.gradient_check import check_layer_gradients
from rnnkit import layers
from rnnkit.layers.attention_decoding import generate, next_token


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("normalize_first", [False, True])
def test_encoder_gradients(normalize_first):
    # Seeded weights: with eps=1e-2 central differences, an unlucky draw's truncation error exceeds the tolerance.
    rnnkit.random.set_random_seed(11)
    x = rand(2, 4, 4, seed=1)
    # tanh, not the default relu: a relu kink inside the difference step spoils central differences.
    encoder = layers.TransformerEncoder(6, 2, activation="tanh", normalize_first=normalize_first)
    encoder.build(x.shape)
    check_layer_gradients(encoder, x, mask=np.array([[1, 1, 1, 0], [1, 1, 1, 1]], bool))


@pytest.mark.parametrize("normalize_first", [False, True])
def test_decoder_gradients_with_encoder(normalize_first):
    rnnkit.random.set_random_seed(12)
    x, encoder_out = rand(2, 3, 4, seed=2), rand(2, 5, 4, seed=3)
    decoder = layers.TransformerDecoder(6, 2, activation="tanh", normalize_first=normalize_first)
    decoder.build([x.shape, encoder_out.shape])
    check_layer_gradients(decoder, [x, encoder_out], mask=[None, np.array([[1] * 5, [1, 1, 1, 0, 0]], bool)])


def test_parameter_counts_are_keras_hubs():
    # MHA 4 * (d*d + d), LayerNorm 2d each, feed-forward d*i + i + i*d + d (keras_hub's block layout).
    d, i = 8, 16
    encoder = layers.TransformerEncoder(i, 2)
    encoder.build((None, 6, d))
    assert encoder.count_params() == 4 * (d * d + d) + 2 * 2 * d + (d * i + i + i * d + d)
    decoder = layers.TransformerDecoder(i, 2)
    decoder.build([(None, 6, d), (None, 5, d)])
    assert decoder.count_params() == 2 * 4 * (d * d + d) + 3 * 2 * d + (d * i + i + i * d + d)


def test_decoder_is_causal_and_the_cache_equals_full_recomputation():
    x, encoder_out = rand(2, 7, 8, seed=4), rand(2, 5, 8, seed=5)
    decoder = layers.TransformerDecoder(16, 2)
    full = decoder([x, encoder_out])
    changed = x.copy()
    changed[:, 4:] += 2.0
    np.testing.assert_array_equal(decoder([changed, encoder_out])[:, :4], full[:, :4])
    cache = decoder.start_cache(2, 7, encoder_out)
    first = decoder.decode_step(x[:, :3], cache)  # a prompt of 3, then one token at a time
    rest = [decoder.decode_step(x[:, t:t + 1], cache) for t in range(3, 7)]
    np.testing.assert_allclose(np.concatenate([first] + rest, axis=1), full, atol=1e-5)
    with pytest.raises(ValueError, match="cache holds 7"):
        decoder.decode_step(x[:, :1], cache)


def test_transformer_model_trains_a_step_and_round_trips(tmp_path):
    tokens = rnnkit.Input((6,), dtype="int32")
    x = layers.Embedding(12, 8, mask_zero=True)(tokens)
    x = layers.Add()([x, layers.SinePositionEncoding()(x)])
    x = layers.TransformerEncoder(16, 2)(x)
    x = layers.TransformerDecoder(16, 2)([x, x])
    model = rnnkit.Model(tokens, layers.Dense(12)(x))
    ids = np.array([[3, 4, 5, 6, 0, 0], [1, 2, 3, 4, 5, 6]])
    outputs, _, contexts = model._forward([ids], training=True)
    grads = model._backward(contexts, [np.ones_like(outputs[0])])
    assert all(id(v) in grads for v in model.trainable_weights)
    path = tmp_path / "transformer.rnnkit"
    model.save(path)
    loaded = rnnkit.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(ids, verbose=0), model.predict(ids, verbose=0), atol=1e-6)


def test_greedy_and_sampled_token_choice():
    logits = np.array([[0.0, 3.0, 1.0], [2.0, 0.0, 5.0]])
    np.testing.assert_array_equal(next_token(logits), [1, 2])
    rng = np.random.default_rng(0)
    draws = np.array([next_token(logits, temperature=1.0, top_k=2, rng=rng) for _ in range(2000)])
    assert set(draws[:, 0]) == {1, 2}  # top-2 of row 0 excludes token 0
    share = np.mean(draws[:, 0] == 1)
    assert abs(share - np.exp(3) / (np.exp(3) + np.exp(1))) < 0.03


def test_generate_with_a_cached_decoder_step_equals_recomputing_the_prefix():
    vocab, d = 9, 8
    embed = layers.Embedding(vocab, d)
    decoder = layers.TransformerDecoder(16, 2)
    head = layers.Dense(vocab)
    position = layers.SinePositionEncoding()
    embed.build(None)
    decoder.build((None, None, d))
    head.build((None, None, d))

    def embedded(ids, start):
        e = embed(ids)
        return e + position(e, start_index=start)

    cache = decoder.start_cache(1, 12)

    def cached_step(new_ids):
        start = cache["length"]
        return head(decoder.decode_step(embedded(new_ids, start), cache))[:, -1]

    cached = generate(cached_step, [[1, 2]], 8)
    seen = []

    def recompute_step(new_ids):
        seen.extend(np.asarray(new_ids)[0].tolist())
        ids = np.array([seen])
        return head(decoder(embedded(ids, 0)))[:, -1]

    np.testing.assert_array_equal(generate(recompute_step, [[1, 2]], 8), cached)
    assert cached.shape == (1, 10)


def test_generate_with_a_stateful_lstm_step_equals_recomputing_the_prefix():
    from rnnkit import ops

    vocab, width, units = 7, 4, 5
    rng = np.random.default_rng(6)
    table = rng.standard_normal((vocab, width)).astype(np.float32)
    kernel = rng.standard_normal((width, 4 * units)).astype(np.float32)
    recurrent = rng.standard_normal((units, 4 * units)).astype(np.float32)
    bias = rng.standard_normal(4 * units).astype(np.float32)
    readout = rng.standard_normal((units, vocab)).astype(np.float32)
    state = [np.zeros((1, units), np.float32)] * 2

    def stateful_step(new_ids):  # carries (h, c): one LSTM step per new token
        nonlocal state
        result = ops.rnn_forward("lstm", table[np.asarray(new_ids)], kernel, recurrent, bias, initial_state=state)
        state = result.states
        return result.last_output @ readout

    seen = []

    def recompute_step(new_ids):
        seen.extend(np.asarray(new_ids)[0].tolist())
        return ops.rnn_forward("lstm", table[np.array([seen])], kernel, recurrent, bias).last_output @ readout

    stateful = generate(stateful_step, [[1, 2, 3]], 6, temperature=0.8, top_k=3, seed=5)
    np.testing.assert_array_equal(generate(recompute_step, [[1, 2, 3]], 6, temperature=0.8, top_k=3, seed=5),
                                  stateful)
    assert stateful.shape == (1, 9)
