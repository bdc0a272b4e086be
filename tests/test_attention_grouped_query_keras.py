"""Oracle: GroupQueryAttention and MultiHeadAttention's sliding_window and gate against Keras 3 (torch backend) with the same
weights: outputs, returned scores, input and weight gradients (torch autograd), configs, weight paths, and a Keras
weights file and archive loaded by rnnkit.

Tolerances: float32 on both sides, rtol 1e-4 / atol 1e-5 for values, 1e-4 / 1e-4 for gradients. Every query keeps
at least one key here: Keras spreads a query that may attend to nothing uniformly, rnnkit gives it zero weights.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

import rnnkit  # noqa: E402
from rnnkit import layers  # noqa: E402

pytestmark = pytest.mark.oracle


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def twin(keras_layer, rnnkit_layer, shapes, seed=1):
    keras_layer.build(*shapes)
    rng = np.random.default_rng(seed)
    keras_layer.set_weights([0.5 * rng.standard_normal(w.shape).astype(np.float32) for w in keras_layer.weights])
    rnnkit_layer.build(shapes)
    rnnkit_layer.set_weights(keras_layer.get_weights())
    assert [w.path for w in rnnkit_layer.weights] == [w.path.replace(keras_layer.name, rnnkit_layer.name, 1)
                                                      for w in keras_layer.weights]
    assert rnnkit_layer.count_params() == keras_layer.count_params()
    return keras_layer, rnnkit_layer


CASES = {
    "multi_head_gate_value_dim": dict(layer="MultiHeadAttention", args=(2, 3, 4),
                                      kwargs=dict(use_gate=True, output_shape=6), tq=5, tk=7, key=True, mask=True),
    "grouped_cross_key_mask": dict(args=(3, 4, 2), tq=5, tk=7, key=True, mask=True),
    "multi_query_causal_gate": dict(args=(4, 3, 1), kwargs=dict(use_gate=True), tq=6, tk=6, causal=True),
    "window_gate_no_bias": dict(args=(2, 4, 2), kwargs=dict(use_gate=True, use_bias=False, sliding_window=2), tq=6,
                                tk=6),
    "window_causal": dict(args=(3, 2, 1), kwargs=dict(sliding_window=3), tq=7, tk=7, causal=True),
}


@pytest.mark.parametrize("case", CASES)
def test_group_query_and_gated_multi_head_attention_match_keras(case):
    c = CASES[case]
    kwargs = c.get("kwargs", {})
    q, v = rand(2, c["tq"], 6, seed=2), rand(2, c["tk"], 6, seed=3)
    k = rand(2, c["tk"], 5, seed=4) if c.get("key") else None
    shapes = [q.shape, v.shape] + ([k.shape] if k is not None else [])
    name = c.get("layer", "GroupQueryAttention")
    kl, rl = twin(getattr(keras.layers, name)(*c["args"], **kwargs), getattr(layers, name)(*c["args"], **kwargs),
                  shapes)
    mask = None
    if c.get("mask"):
        mask = np.random.default_rng(5).random((2, c["tq"], c["tk"])) > 0.3
        mask[:, :, 0] = True
    causal = c.get("causal", False)
    projection = rand(2, c["tq"], 6, seed=6)
    arrays = [q, v] + ([k] if k is not None else [])
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    output = kl(tensors[0], tensors[1], key=tensors[2] if k is not None else None,
                attention_mask=None if mask is None else torch.tensor(mask), use_causal_mask=causal)
    loss = (output * torch.tensor(projection)).sum()
    grads = torch.autograd.grad(loss, tensors + [w.value for w in kl.trainable_weights])
    expected = output.detach().numpy()

    outputs, ctx = rl.forward(arrays, training=True, attention_mask=mask, use_causal_mask=causal)
    np.testing.assert_allclose(outputs, expected, rtol=1e-4, atol=1e-5)
    d_inputs, d_weights = rl.backward(ctx, projection)
    for got, want in zip(d_inputs, grads[:len(arrays)]):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=1e-4)
    for variable, got, want in zip(rl.trainable_weights, d_weights, grads[len(arrays):]):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=1e-4, err_msg=variable.path)
    _, scores = kl(q, v, key=k, attention_mask=mask, use_causal_mask=causal, return_attention_scores=True)
    _, rnnkit_scores = rl(q, v, key=k, attention_mask=mask, use_causal_mask=causal, return_attention_scores=True)
    np.testing.assert_allclose(rnnkit_scores, keras.ops.convert_to_numpy(scores), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("window", [1, 2, 4])
def test_multi_head_attention_sliding_window_matches_keras(window):
    q, v = rand(2, 6, 8, seed=7), rand(2, 7, 8, seed=8)  # S >= T: every query keeps its own position
    kl, rl = twin(keras.layers.MultiHeadAttention(2, 3, sliding_window=window),
                  layers.MultiHeadAttention(2, 3, sliding_window=window), [q.shape, v.shape])
    expected = keras.ops.convert_to_numpy(kl(q, v, use_causal_mask=True))
    np.testing.assert_allclose(rl(q, v, use_causal_mask=True), expected, rtol=1e-4, atol=1e-5)
    assert rl.get_config()["sliding_window"] == kl.get_config()["sliding_window"] == window


def test_configs_and_signature_match_keras():
    import inspect

    arguments = dict(head_dim=4, num_query_heads=6, num_key_value_heads=2, dropout=0.1, use_bias=False,
                     sliding_window=3, use_gate=True, seed=5)
    theirs = keras.layers.GroupQueryAttention(**arguments).get_config()
    ours = layers.GroupQueryAttention(**arguments).get_config()
    assert set(ours) == set(theirs)
    assert {key: value for key, value in ours.items() if key not in ("dtype", "name")} == \
        {key: value for key, value in theirs.items() if key not in ("dtype", "name")}
    keras_parameters = list(inspect.signature(keras.layers.GroupQueryAttention.__init__).parameters)
    assert list(inspect.signature(layers.GroupQueryAttention.__init__).parameters) == keras_parameters
    again = layers.GroupQueryAttention.from_config({k: v for k, v in theirs.items() if k != "dtype"})
    assert again.get_config()["num_key_value_heads"] == 2


@pytest.mark.parametrize("layer", ["GroupQueryAttention", "MultiHeadAttention"])
def test_keras_weights_file_and_archive_load_into_rnnkit(tmp_path, layer):
    x = rand(3, 5, 8, seed=9)

    def model(lib):
        inputs = lib.Input((5, 8))
        attention = lib.layers.GroupQueryAttention(4, 4, 2, use_gate=True, sliding_window=3) \
            if layer == "GroupQueryAttention" else lib.layers.MultiHeadAttention(2, 4, use_gate=True, sliding_window=3)
        y = attention(inputs, inputs, use_causal_mask=True)
        return lib.Model(inputs, lib.layers.Dense(2)(y))

    theirs = model(keras)
    rng = np.random.default_rng(10)
    theirs.set_weights([0.5 * rng.standard_normal(w.shape).astype(np.float32) for w in theirs.weights])
    expected = theirs.predict(x, verbose=0)
    theirs.save_weights(tmp_path / "gqa.weights.h5")
    ours = model(rnnkit)
    ours.load_weights(tmp_path / "gqa.weights.h5")
    np.testing.assert_allclose(ours.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-5)
    theirs.save(tmp_path / "gqa.keras")
    loaded = rnnkit.models.load_model(tmp_path / "gqa.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-5)
