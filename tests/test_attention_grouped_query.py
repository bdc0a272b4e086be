"""GroupQueryAttention (and MultiHeadAttention's sliding_window and gate) against a float64 numpy reference written from the
definitions: project, repeat each key/value head for its query heads, masked softmax of scaled scores, gate,
output projection. Gradients by finite differences (tests/reference/gradient_check.py tolerances); decoding with
a key/value cache of the key/value heads only; configs, errors, save/load.

Tolerance: float32 layer against the float64 reference, 2e-5 of the output's largest entry.
"""
import functools

import numpy as np
import pytest

import rnnkit
from reference.gradient_check import check_layer_gradients
from rnnkit import layers


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def built(layer, shapes, seed=1):
    layer.build(shapes)
    rng = np.random.default_rng(seed)
    layer.set_weights([0.5 * rng.standard_normal(w.shape).astype(np.float32) for w in layer.weights])
    return layer


def reference(layer, query, value, key=None, keep=None, causal=False):
    """float64 output (B, T, features) and attention weights (B, query heads, T, S) of GroupedQueryAttention (or
    MultiHeadAttention: one key/value head per query head, no gate) with ``layer``'s weights. ``keep``: boolean
    (B, T, S) or None; a query that may attend to no key gets zero weights (rnnkit's documented rule)."""
    key = value if key is None else key
    w = {v.path.split("/", 1)[1]: np.asarray(v.value, np.float64) for v in layer.weights}

    def project(name, x):
        y = np.einsum("btf,fhd->bthd", np.asarray(x, np.float64), w[f"{name}/kernel"])
        return y + w[f"{name}/bias"] if f"{name}/bias" in w else y

    q, k, v = project("query", query), project("key", key), project("value", value)
    group = q.shape[2] // k.shape[2]
    k, v = np.repeat(k, group, axis=2), np.repeat(v, group, axis=2)
    scores = np.einsum("bthd,bshd->bhts", q, k) / np.sqrt(q.shape[-1])
    T, S = scores.shape[-2:]
    allowed = np.ones((1, 1, T, S), bool)
    if keep is not None:
        allowed = allowed & keep[:, None]
    if causal:
        allowed = allowed & np.tril(np.ones((T, S), bool))
    window = layer.sliding_window
    if window is not None:
        allowed = allowed & (np.abs(np.arange(T)[:, None] - np.arange(S)[None, :]) < window)
    scores = np.where(allowed, scores, -np.inf)
    peak = np.max(scores, axis=-1, keepdims=True)
    weights = np.exp(scores - np.where(np.isfinite(peak), peak, 0.0))
    total = weights.sum(-1, keepdims=True)
    weights = np.where(total > 0, weights / np.where(total > 0, total, 1.0), 0.0)
    heads = np.einsum("bhts,bshd->bthd", weights, v)
    if "gate/kernel" in w:
        heads = heads / (1.0 + np.exp(-project("gate", query)))
    out = np.einsum("bthd,hdm->btm", heads, w["attention_output/kernel"])
    if "attention_output/bias" in w:
        out = out + w["attention_output/bias"]
    return out, weights


def assert_close(actual, expected, tolerance=2e-5):
    scale = max(float(np.abs(expected).max()), 1e-3)
    assert float(np.abs(np.asarray(actual, np.float64) - expected).max()) / scale < tolerance


CASES = {
    "grouped": dict(q_heads=4, kv_heads=2),
    "multi_query_gate": dict(q_heads=3, kv_heads=1, use_gate=True),
    "every_head_its_own_no_bias": dict(q_heads=2, kv_heads=2, use_bias=False),
    "window_gate": dict(q_heads=4, kv_heads=2, use_gate=True, sliding_window=2),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("causal", [False, True])
def test_outputs_and_scores_match_the_float64_reference(case, causal):
    c = dict(CASES[case])
    q, v, k = rand(2, 5, 6, seed=2), rand(2, 7, 6, seed=3), rand(2, 7, 4, seed=4)
    gqa = built(layers.GroupQueryAttention(head_dim=3, num_query_heads=c.pop("q_heads"),
                                           num_key_value_heads=c.pop("kv_heads"), **c), [q.shape, v.shape, k.shape])
    keep = np.random.default_rng(5).random((2, 5, 7)) > 0.3
    keep[:, :, 0] = True
    out, scores = gqa(q, v, key=k, attention_mask=keep, use_causal_mask=causal, return_attention_scores=True)
    expected, expected_scores = reference(gqa, q, v, k, keep=keep, causal=causal)
    assert out.shape == (2, 5, 6) and scores.shape == (2, gqa.num_query_heads, 5, 7)
    assert_close(out, expected)
    assert_close(scores, expected_scores)


@pytest.mark.parametrize("case", CASES)
def test_gradients_by_finite_differences(case):
    c = dict(CASES[case])
    q, v = rand(2, 4, 6, seed=6), rand(2, 5, 5, seed=7)
    gqa = built(layers.GroupQueryAttention(3, c.pop("q_heads"), c.pop("kv_heads"), **c), [q.shape, v.shape])
    gqa.forward = functools.partial(gqa.forward, use_causal_mask=True)
    value_mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 1, 0]], bool)
    check_layer_gradients(gqa, [q, v], mask=[None, value_mask])


def test_self_attention_gradient_sums_key_and_value_paths():
    x = rand(2, 4, 6, seed=8)
    gqa = built(layers.GroupQueryAttention(2, 4, 2, use_gate=True), [x.shape, x.shape])
    check_layer_gradients(gqa, [x, x.copy()])


def test_with_one_key_value_head_per_query_head_it_is_multi_head_attention():
    q, v = rand(2, 5, 6, seed=9), rand(2, 6, 6, seed=10)
    gqa = built(layers.GroupQueryAttention(head_dim=3, num_query_heads=2, num_key_value_heads=2), [q.shape, v.shape])
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=3)
    mha.build([q.shape, v.shape])
    mha.set_weights(gqa.get_weights())
    np.testing.assert_allclose(gqa(q, v, use_causal_mask=True), mha(q, v, use_causal_mask=True), rtol=1e-6,
                               atol=1e-6)


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_gate_matches_the_reference_and_finite_differences(causal):
    q, v, k = rand(2, 5, 6, seed=15), rand(2, 4, 3, seed=16), rand(2, 4, 5, seed=17)
    mha = built(layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4, output_shape=7, use_gate=True),
                [q.shape, v.shape, k.shape])
    assert [w.path.split("/", 1)[1] for w in mha.weights][4:6] == ["gate/kernel", "gate/bias"]
    assert mha.weights[4].shape == (6, 2, 4)  # (query features, heads, value_dim), as Keras
    expected, _ = reference(mha, q, v, k, causal=causal)
    assert_close(mha(q, v, key=k, use_causal_mask=causal), expected)
    mha.forward = functools.partial(mha.forward, use_causal_mask=causal)
    check_layer_gradients(mha, [q, v, k])


@pytest.mark.parametrize("window", [1, 3])
def test_multi_head_attention_sliding_window_matches_the_reference(window):
    q, v = rand(2, 6, 4, seed=11), rand(2, 6, 4, seed=12)
    mha = built(layers.MultiHeadAttention(num_heads=2, key_dim=3, sliding_window=window), [q.shape, v.shape])
    out, scores = mha(q, v, return_attention_scores=True)
    expected, expected_scores = reference(mha, q, v)
    assert_close(out, expected)
    assert_close(scores, expected_scores)
    assert np.all(scores[:, :, 0, window:] == 0)
    assert mha.get_config()["sliding_window"] == window


def test_decoding_with_a_cache_of_key_value_heads_equals_the_causal_forward():
    x = rand(2, 6, 8, seed=13)
    gqa = built(layers.GroupQueryAttention(4, 4, 2, use_gate=True, sliding_window=3), [x.shape, x.shape])
    full = gqa(x, x, use_causal_mask=True)
    keys, values = gqa.project_key_value(x)
    assert keys.shape == values.shape == (2, 2, 6, 4)  # the key/value heads only
    steps = [gqa.attend(x[:, t:t + 1], keys, values, causal_offset=t, length=t + 1) for t in range(6)]
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, rtol=1e-5, atol=1e-5)


def test_config_round_trip_and_keras_names():
    gqa = layers.GroupQueryAttention(head_dim=4, num_query_heads=6, num_key_value_heads=3, dropout=0.1,
                                     use_bias=False, sliding_window=5, use_gate=True, seed=7)
    config = layers.serialize(gqa)
    assert config["class_name"] == "GroupedQueryAttention"
    again = layers.deserialize(config)
    assert type(again) is layers.GroupedQueryAttention is layers.GroupQueryAttention
    assert again.get_config() == gqa.get_config()
    assert {"head_dim": 4, "num_query_heads": 6, "num_key_value_heads": 3, "use_gate": True,
            "sliding_window": 5}.items() <= again.get_config().items()
    assert "num_heads" not in again.get_config()


@pytest.mark.parametrize("arguments,message", [
    (dict(head_dim=4, num_query_heads=6, num_key_value_heads=4), "divisible"),
    (dict(head_dim=4, num_query_heads=6, num_key_value_heads=0), "num_key_value_heads"),
    (dict(head_dim=0, num_query_heads=6, num_key_value_heads=3), "key_dim"),
    (dict(head_dim=4, num_query_heads=6, num_key_value_heads=3, sliding_window=0), "sliding_window"),
    (dict(head_dim=4, num_query_heads=6, num_key_value_heads=3, sliding_window=2.5), "sliding_window"),
])
def test_bad_arguments_are_clear_errors(arguments, message):
    with pytest.raises((ValueError, TypeError), match=message):
        layers.GroupQueryAttention(**arguments)


def test_functional_model_trains_saves_and_loads(tmp_path):
    rnnkit.utils.set_random_seed(3)
    tokens = rnnkit.Input((6,), dtype="int32")
    x = layers.Embedding(11, 8, mask_zero=True)(tokens)
    attended = layers.GroupQueryAttention(4, 4, 2, use_gate=True)(x, x, use_causal_mask=True)
    x = layers.LayerNormalization()(layers.Add()([x, attended]))
    model = rnnkit.Model(tokens, layers.Dense(3)(layers.GlobalAveragePooling1D()(x)))
    model.compile(optimizer="adam", loss=rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True))
    ids = np.random.default_rng(14).integers(1, 11, (32, 6))
    ids[:4, 4:] = 0
    labels = ids[:, 0] % 3
    first = model.evaluate(ids, labels, verbose=0)
    model.fit(ids, labels, epochs=15, batch_size=8, verbose=0)
    assert model.evaluate(ids, labels, verbose=0) < 0.7 * first
    before = model.predict(ids, verbose=0)
    for name in ("gqa.keras", "gqa.rnnkit"):
        model.save(tmp_path / name)
        np.testing.assert_allclose(rnnkit.models.load_model(tmp_path / name).predict(ids, verbose=0), before,
                                   atol=1e-6)
