"""AdditiveAttention and Attention(score_mode="concat") against the float64 numpy reference
(tests/reference/additive_attention.py): outputs and scores, gradients by float64 central differences of the
reference, masks (a query that sees no key: zero weights, output and gradients, no NaN), dropout, threads,
argument checks, configs, and an LSTM encoder with attention that trains, saves and loads.

Tolerances: float32 core against the float64 reference, rtol 1e-5 / atol 1e-6 for outputs and weights, rtol 1e-4
/ atol 1e-5 for gradients (float32 sums over keys and features against exact float64 differences).
"""
import numpy as np
import pytest

import rnnkit
from reference.additive_attention import additive_attention as reference
from reference.gradient_check import numeric_gradient
from rnnkit import _core, layers
from rnnkit.layers.additive_attention_ops import AdditiveScore, additive_attention, additive_attention_backward
from rnnkit.ops import scaled_dot_product_attention

VALUES = dict(rtol=1e-5, atol=1e-6)
GRADIENTS = dict(rtol=1e-4, atol=1e-5)

LAYERS = {
    "additive": lambda: layers.AdditiveAttention(),
    "additive_unscaled": lambda: layers.AdditiveAttention(use_scale=False),
    "concat": lambda: layers.Attention(score_mode="concat"),
    "concat_scaled": lambda: layers.Attention(score_mode="concat", use_scale=True),
}
MASKS = {
    "none": dict(),
    "value_and_query": dict(value_mask=[[1, 1, 1, 1, 1], [1, 0, 1, 1, 0]], query_mask=[[1, 1, 1], [1, 1, 0]]),
    "causal": dict(causal=True),
    # With the first two keys of batch 0 hidden, its queries 0 and 1 see no key at all.
    "causal_row_sees_nothing": dict(value_mask=[[0, 0, 1, 1, 1], [1, 1, 0, 1, 1]], causal=True),
}


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def inputs(n_inputs):
    q = rand(2, 3, 4, seed=1)
    if n_inputs == 2:
        return [q, rand(2, 5, 4, seed=2)]
    return [q, rand(2, 5, 3, seed=2), rand(2, 5, 4, seed=3)]


def built(make, arrays, seed=4):
    layer = make()
    layer.build([a.shape for a in arrays])
    rng = np.random.default_rng(seed)
    layer.set_weights([(0.8 * rng.standard_normal(w.shape) + (0 if w.shape else 0.5)).astype(np.float32)
                       for w in layer.weights])
    return layer


def score_arguments(layer, values):
    """The reference's score parameters from the layer's weight values (layer.weights order)."""
    named = dict(zip([w.name for w in layer.weights], values))
    if isinstance(layer, layers.AdditiveAttention):
        return dict(weight=named.get("scale"))
    return dict(outer=named["concat_score_weight"], inner=named.get("scale", 1.0))


def layer_masks(case):
    m = MASKS[case]
    masks = [m.get("query_mask"), m.get("value_mask")]
    return (None if masks == [None, None] else [None if x is None else np.array(x, bool) for x in masks]), \
        m.get("causal", False)


def reference_call(layer, arrays, values, case):
    m = MASKS[case]
    q, v = arrays[0], arrays[1]
    k = arrays[2] if len(arrays) > 2 else v
    return reference(q, k, v, value_mask=m.get("value_mask"), query_mask=m.get("query_mask"),
                     causal=m.get("causal", False), **score_arguments(layer, values))


@pytest.mark.parametrize("case", MASKS)
@pytest.mark.parametrize("n_inputs", [2, 3])
@pytest.mark.parametrize("kind", LAYERS)
def test_forward_matches_float64_reference(kind, n_inputs, case):
    arrays = inputs(n_inputs)
    layer = built(LAYERS[kind], arrays)
    mask, causal = layer_masks(case)
    out, scores = layer(arrays, mask=mask, use_causal_mask=causal, return_attention_scores=True)
    expected, expected_scores = reference_call(layer, arrays, layer.get_weights(), case)
    assert out.dtype == np.float32 and out.shape == expected.shape and scores.shape == (2, 3, 5)
    np.testing.assert_allclose(out, expected, **VALUES)
    np.testing.assert_allclose(scores, expected_scores, **VALUES)
    np.testing.assert_array_equal(layer(arrays, mask=mask, use_causal_mask=causal), out)


@pytest.mark.parametrize("case", MASKS)
@pytest.mark.parametrize("n_inputs", [2, 3])
@pytest.mark.parametrize("kind", LAYERS)
def test_backward_matches_float64_central_differences(kind, n_inputs, case):
    arrays = inputs(n_inputs)
    layer = built(LAYERS[kind], arrays)
    mask, causal = layer_masks(case)
    out, ctx = layer.forward(arrays, training=True, mask=mask, use_causal_mask=causal)
    projection = rand(*out.shape, seed=5)
    d_inputs, d_weights = layer.backward(ctx, projection)
    assert len(d_inputs) == n_inputs and len(d_weights) == len(layer.trainable_weights)

    variables = [np.array(a, np.float64) for a in arrays] + [np.array(w, np.float64) for w in layer.get_weights()]

    def loss():
        expected, _ = reference_call(layer, variables[:n_inputs], variables[n_inputs:], case)
        return float((expected * projection).sum())

    for i, analytic in enumerate(list(d_inputs) + list(d_weights)):
        assert np.all(np.isfinite(analytic))
        name = f"input {i}" if i < n_inputs else layer.weights[i - n_inputs].path
        np.testing.assert_allclose(analytic, numeric_gradient(loss, variables[i], 1e-6), **GRADIENTS, err_msg=name)


@pytest.mark.parametrize("kind", LAYERS)
def test_a_query_that_sees_no_key_gets_zero_weights_output_and_gradient(kind):
    arrays = inputs(3)
    layer = built(LAYERS[kind], arrays)
    mask, causal = layer_masks("causal_row_sees_nothing")
    (out, scores), ctx = layer.forward(arrays, training=True, mask=mask, use_causal_mask=causal,
                                       return_attention_scores=True)
    assert np.all(scores[0, :2] == 0) and np.all(out[0, :2] == 0)
    np.testing.assert_allclose(scores[0, 2:].sum(-1), 1.0, rtol=1e-6)
    (d_query, d_value, d_key), d_weights = layer.backward(ctx, [np.ones_like(out), None])
    assert np.all(d_query[0, :2] == 0)
    for gradient in [d_query, d_value, d_key] + list(d_weights):
        assert np.all(np.isfinite(gradient))
    # Hidden keys get no weight, so no gradient through their values.
    assert np.all(d_value[0, :2] == 0) and np.all(d_value[1, 2] == 0)


def test_masked_query_rows_output_zero_but_keep_their_scores():
    arrays = inputs(3)
    layer = built(LAYERS["additive"], arrays)
    mask, _ = layer_masks("value_and_query")
    out, scores = layer(arrays, mask=mask, return_attention_scores=True)
    assert np.all(out[1, 2] == 0)
    np.testing.assert_allclose(scores[1, 2].sum(), 1.0, rtol=1e-6)  # as in Keras: only the output is masked
    assert layer.compute_mask(arrays, mask) is mask[0]


def dropout_factors(q, k, score, p, seed):
    """The factors the core's dropout applied, read through one-hot values: out = factors * weights."""
    one_hot = np.broadcast_to(np.eye(k.shape[1], dtype=np.float32), (k.shape[0],) + (k.shape[1],) * 2)
    out, weights = additive_attention(q, k, np.ascontiguousarray(one_hot), score, dropout_p=p, seed=seed)
    return np.divide(out, weights, out=np.zeros_like(out), where=weights > 0)


def test_dropout_is_seeded_inverted_and_its_backward_matches_the_reference():
    q, k, v = rand(2, 4, 3, seed=6), rand(2, 6, 3, seed=7), rand(2, 6, 2, seed=8)
    score = AdditiveScore(rand(3, seed=9), 1.0, 1.0)
    factors = dropout_factors(q, k, score, 0.4, seed=11)
    kept = factors != 0
    np.testing.assert_allclose(factors[kept], 1 / 0.6, rtol=1e-6)
    assert 0.2 < 1 - kept.mean() < 0.6
    np.testing.assert_array_equal(dropout_factors(q, k, score, 0.4, seed=11), factors)
    assert not np.array_equal(dropout_factors(q, k, score, 0.4, seed=12), factors)

    out, weights = additive_attention(q, k, v, score, dropout_p=0.4, seed=11)
    expected, expected_weights = reference(q, k, v, weight=score.weight, dropout_factors=factors)
    np.testing.assert_allclose(out, expected, **VALUES)
    np.testing.assert_allclose(weights, expected_weights, **VALUES)  # the weights before dropout
    projection = rand(*out.shape, seed=10)
    d_q, d_k, d_v, grads = additive_attention_backward(q, k, v, weights, projection, score, dropout_p=0.4, seed=11)
    variables = [np.array(a, np.float64) for a in (q, k, v, score.weight)]

    def loss():
        y, _ = reference(*variables[:3], weight=variables[3], dropout_factors=factors)
        return float((y * projection).sum())

    for analytic, variable in zip((d_q, d_k, d_v, grads.d_weight), variables):
        np.testing.assert_allclose(analytic, numeric_gradient(loss, variable, 1e-6), **GRADIENTS)


def test_dropout_drops_the_same_weights_as_the_dot_product_attention():
    q, k = rand(2, 4, 3, seed=6), rand(2, 6, 3, seed=7)
    factors = dropout_factors(q, k, AdditiveScore(None, 1.0, 1.0), 0.3, seed=21)
    one_hot = np.ascontiguousarray(np.broadcast_to(np.eye(6, dtype=np.float32), (2, 6, 6)))
    dot = scaled_dot_product_attention(q, k, one_hot, dropout_p=0.3, seed=21, return_weights=True)
    np.testing.assert_array_equal(factors != 0, dot.output != 0)


def test_layer_dropout_applies_in_training_only():
    arrays = inputs(3)
    layer = built(lambda: layers.AdditiveAttention(dropout=0.5, seed=3), arrays)
    plain, _ = reference_call(layer, arrays, layer.get_weights(), "none")
    np.testing.assert_allclose(layer(arrays), plain, **VALUES)
    assert not np.allclose(layer(arrays, training=True), plain, atol=1e-3)


@pytest.mark.parametrize("causal", [False, True])
def test_results_do_not_depend_on_the_thread_count(causal):
    q, v, k = rand(4, 16, 32, seed=12), rand(4, 24, 32, seed=13), rand(4, 24, 32, seed=14)
    score = AdditiveScore(rand(32, seed=15), 1.3, 0.7)
    value_mask = np.random.default_rng(16).random((4, 24)) > 0.3
    options = dict(value_mask=value_mask, is_causal=causal, dropout_p=0.2, seed=5)
    d_out = rand(4, 16, 32, seed=17)
    before = rnnkit.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            rnnkit.set_num_threads(threads)
            out, weights = additive_attention(q, k, v, score, **options)
            d_q, d_k, d_v, grads = additive_attention_backward(q, k, v, weights, d_out, score, **options)
            results.append([out, weights, d_q, d_k, d_v, *grads])
    finally:
        rnnkit.set_num_threads(before)
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


def test_core_checks_its_arguments():
    q, k, v = rand(2, 3, 4), rand(2, 5, 4), rand(2, 5, 3)
    with pytest.raises(ValueError, match=r"expected key of shape \(2, 5, 4\), received \(2, 5, 3\)"):
        _core.additive_attention_forward(q, v, v)
    with pytest.raises(ValueError, match="expected query of rank 3"):
        _core.additive_attention_forward(q[0], k, v)
    with pytest.raises(ValueError, match=r"expected weight of shape \(4,\)"):
        _core.additive_attention_forward(q, k, v, weight=np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"expected value_mask of shape \(2, 5\)"):
        _core.additive_attention_forward(q, k, v, value_mask=np.ones((2, 4), np.uint8))
    with pytest.raises(ValueError, match=r"dropout_p must be in \[0, 1\)"):
        _core.additive_attention_forward(q, k, v, dropout_p=1.0)
    with pytest.raises(ValueError, match="must be finite"):
        _core.additive_attention_forward(q, k, v, inner=float("inf"))
    _, weights = _core.additive_attention_forward(q, k, v)
    with pytest.raises(ValueError, match=r"expected d_out of shape \(2, 3, 3\)"):
        _core.additive_attention_backward(q, k, v, weights, np.ones((2, 3, 4), np.float32))


def test_layer_checks_its_inputs():
    with pytest.raises(ValueError, match="same last dimension"):
        layers.AdditiveAttention()([rand(2, 3, 4), rand(2, 5, 3)])
    with pytest.raises(ValueError, match=r"\[query, value\]"):
        layers.AdditiveAttention()(rand(2, 3, 4))
    with pytest.raises(ValueError, match="score_mode"):
        layers.Attention(score_mode="general")


def test_weights_shapes_and_names_follow_keras():
    shapes = [(2, 3, 6), (2, 5, 6)]
    additive = layers.AdditiveAttention(name="bahdanau")
    additive.build(shapes)
    assert [(w.path, w.shape) for w in additive.weights] == [("bahdanau/scale", (6,))]
    assert additive.count_params() == 6
    assert np.all(np.abs(additive.scale.value) <= np.sqrt(6 / 12))  # glorot_uniform over fans (6, 6)
    concat = layers.Attention(use_scale=True, score_mode="concat", name="luong")
    concat.build(shapes)
    assert [(w.path, w.shape) for w in concat.weights] == [("luong/scale", ()), ("luong/concat_score_weight", ())]
    assert concat.count_params() == 2 and concat.get_weights()[1] == 1.0
    unscaled = layers.Attention(score_mode="concat")
    unscaled.build(shapes)
    assert [w.name for w in unscaled.weights] == ["concat_score_weight"]


@pytest.mark.parametrize("layer", [layers.AdditiveAttention(use_scale=False, dropout=0.1, seed=2),
                                   layers.Attention(use_scale=True, score_mode="concat", dropout=0.2)])
def test_config_round_trip(layer):
    config = layers.serialize(layer)
    again = layers.deserialize(config)
    assert type(again) is type(layer)
    assert again.get_config() == layer.get_config()
    assert ("score_mode" in config["config"]) == (type(layer) is layers.Attention)  # Keras' AdditiveAttention has none


def sentiment_data(n=96, length=7, seed=0):
    """Token 3 anywhere in the (padded) sequence makes the label 1."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(4, 12, size=(n, length))
    labels = rng.random(n) < 0.5
    for row, positive in enumerate(labels):
        ids[row, rng.integers(2, length):] = 0
        if positive:
            ids[row, rng.integers(0, np.count_nonzero(ids[row]))] = 3
    return ids, labels.astype(np.float32)[:, None]


@pytest.mark.parametrize("attention", [lambda: layers.AdditiveAttention(),
                                       lambda: layers.Attention(score_mode="concat", use_scale=True)])
def test_lstm_encoder_with_attention_trains_saves_and_loads(attention, tmp_path):
    rnnkit.utils.set_random_seed(0)
    tokens = rnnkit.Input((7,), dtype="int32")
    encoded = layers.LSTM(12, return_sequences=True)(layers.Embedding(12, 8, mask_zero=True)(tokens))
    context = attention()([encoded, encoded], use_causal_mask=True)
    outputs = layers.Dense(1, activation="sigmoid")(layers.GlobalAveragePooling1D()(context))
    model = rnnkit.Model(tokens, outputs)
    model.compile(optimizer=rnnkit.optimizers.Adam(0.02), loss="binary_crossentropy")
    ids, labels = sentiment_data()
    history = model.fit(ids, labels, epochs=12, batch_size=16, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.7 * losses[0], losses
    before = model.predict(ids, verbose=0)
    model.save(tmp_path / "attention.rnnkit")
    loaded = rnnkit.models.load_model(tmp_path / "attention.rnnkit")
    np.testing.assert_allclose(loaded.predict(ids, verbose=0), before, atol=1e-6)
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
