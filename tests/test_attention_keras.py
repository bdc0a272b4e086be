"""Oracle: MultiHeadAttention, Attention and LayerNormalization against Keras 3 (torch backend) with the same
weights — outputs, returned scores, input and weight gradients (torch autograd), masks from Embedding, configs.

Tolerances: float32 on both sides, rtol 1e-4 / atol 1e-5 for values, 1e-4 / 1e-4 for gradients. Keras gives a
query that may attend to nothing uniform weights where rnnkit gives zero weights (docs/attention.md), so
outputs at masked query positions are excluded from the comparison.
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


def numpy(value):
    return keras.ops.convert_to_numpy(value)


def twin(keras_layer, rnnkit_layer, shapes, seed=1):
    """Both built, random Keras weights copied into rnnkit (which must accept them in Keras' order)."""
    keras_layer.build(*shapes) if isinstance(keras_layer, keras.layers.MultiHeadAttention) else \
        keras_layer.build(shapes)
    rng = np.random.default_rng(seed)
    keras_layer.set_weights([0.5 * rng.standard_normal(w.shape).astype(np.float32) for w in keras_layer.weights])
    rnnkit_layer.build(shapes)
    rnnkit_layer.set_weights(keras_layer.get_weights())
    assert [w.path for w in rnnkit_layer.weights] == [w.path.replace(keras_layer.name, rnnkit_layer.name, 1)
                                                      for w in keras_layer.weights]
    return keras_layer, rnnkit_layer


def keras_gradients(keras_layer, arrays, call, projection):
    """d sum(call(*inputs) * projection) / d (inputs, trainable weights) through torch autograd."""
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    output = call(*tensors)
    loss = (output * torch.tensor(projection)).sum()
    parameters = [w.value for w in keras_layer.trainable_weights]
    grads = torch.autograd.grad(loss, tensors + parameters, allow_unused=True)
    as_numpy = [None if g is None else g.detach().numpy() for g in grads]
    return numpy(output), as_numpy[:len(tensors)], as_numpy[len(tensors):]


MHA_CASES = {
    "self_1_head": dict(heads=1, key_dim=4, value_dim=None, tq=5, tk=5, dq=6, dv=6, cross=False),
    "self_4_heads_causal": dict(heads=4, key_dim=2, value_dim=None, tq=7, tk=7, dq=8, dv=8, cross=False,
                                causal=True),
    "cross_value_dim": dict(heads=2, key_dim=3, value_dim=5, tq=4, tk=6, dq=6, dv=3, cross=True),
    "cross_key_explicit_mask": dict(heads=3, key_dim=2, value_dim=4, tq=5, tk=9, dq=4, dv=5, cross=True, key=True,
                                    mask=True),
}


@pytest.mark.parametrize("case", MHA_CASES)
def test_multi_head_attention_matches_keras(case):
    c = MHA_CASES[case]
    q = rand(2, c["tq"], c["dq"], seed=2)
    v = rand(2, c["tk"], c["dv"], seed=3) if c["cross"] else q
    k = rand(2, c["tk"], 7, seed=4) if c.get("key") else None
    shapes = [q.shape, v.shape] + ([k.shape] if k is not None else [])
    kl, rl = twin(keras.layers.MultiHeadAttention(c["heads"], c["key_dim"], c["value_dim"]),
                  layers.MultiHeadAttention(c["heads"], c["key_dim"], c["value_dim"]), shapes)
    assert rl.count_params() == kl.count_params()
    mask = None
    if c.get("mask"):
        mask = np.random.default_rng(5).random((2, c["tq"], c["tk"])) > 0.3
        mask[:, :, 0] = True
    causal = c.get("causal", False)
    projection = rand(2, c["tq"], c["dq"], seed=6)
    arrays = [q] + ([v] if c["cross"] else []) + ([k] if k is not None else [])

    def keras_call(*tensors):
        query = tensors[0]
        value = tensors[1] if c["cross"] else query
        key = tensors[2] if k is not None else None
        return kl(query, value, key=key, attention_mask=None if mask is None else torch.tensor(mask),
                  use_causal_mask=causal)

    expected, d_inputs_keras, d_weights_keras = keras_gradients(kl, arrays, keras_call, projection)
    inputs = [q, v] + ([k] if k is not None else [])
    outputs, ctx = rl.forward(inputs, training=True, attention_mask=mask, use_causal_mask=causal)
    np.testing.assert_allclose(outputs, expected, rtol=1e-4, atol=1e-5)
    d_inputs, d_weights = rl.backward(ctx, projection)
    if not c["cross"]:
        d_inputs = [d_inputs[0] + d_inputs[1]]
    for got, want in zip(d_inputs, d_inputs_keras):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    for variable, got, want in zip(rl.trainable_weights, d_weights, d_weights_keras):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=variable.path)
    _, scores = kl(q, v, key=k, attention_mask=mask, use_causal_mask=causal, return_attention_scores=True)
    _, rnnkit_scores = rl(q, v, key=k, attention_mask=mask, use_causal_mask=causal, return_attention_scores=True)
    np.testing.assert_allclose(rnnkit_scores, numpy(scores), rtol=1e-4, atol=1e-6)


def test_multi_head_attention_with_embedding_masks_matches_keras_on_kept_queries():
    ids = np.array([[4, 2, 7, 0, 0], [1, 2, 3, 4, 5], [9, 0, 0, 0, 0]])

    def build(lib):
        tokens = lib.Input((5,), dtype="int32")
        x = lib.layers.Embedding(10, 6, mask_zero=True)(tokens)
        y = lib.layers.MultiHeadAttention(num_heads=2, key_dim=3)(x, x)
        return lib.Model(tokens, y)

    keras_model, rnnkit_model = build(keras), build(rnnkit)
    rng = np.random.default_rng(7)
    weights = [0.5 * rng.standard_normal(w.shape).astype(np.float32) for w in keras_model.weights]
    keras_model.set_weights(weights)
    rnnkit_model.set_weights(weights)
    kept = ids != 0
    expected = numpy(keras_model(ids))
    got = rnnkit_model.predict(ids, verbose=0)
    np.testing.assert_allclose(got[kept], expected[kept], rtol=1e-4, atol=1e-5)
    assert rnnkit_model.count_params() == keras_model.count_params()


@pytest.mark.parametrize("use_scale", [False, True])
@pytest.mark.parametrize("causal", [False, True])
def test_luong_attention_matches_keras(use_scale, causal):
    q, v, k = rand(2, 4, 5, seed=8), rand(2, 6, 3, seed=9), rand(2, 6, 5, seed=10)
    kl = keras.layers.Attention(use_scale=use_scale)
    rl = layers.Attention(use_scale=use_scale)
    kl.build([q.shape, v.shape, k.shape])
    if use_scale:
        kl.set_weights([np.array(1.7, np.float32)])
    rl.build([q.shape, v.shape, k.shape])
    rl.set_weights(kl.get_weights())
    value_mask = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 0, 1, 0, 0]], bool)
    query_mask = np.array([[1, 1, 1, 1], [1, 0, 1, 1]], bool)
    projection = rand(2, 4, 3, seed=11)

    def keras_call(qt, vt, kt):
        return kl([qt, vt, kt], mask=[torch.tensor(query_mask), torch.tensor(value_mask)], use_causal_mask=causal)

    expected, d_inputs_keras, d_weights_keras = keras_gradients(kl, [q, v, k], keras_call, projection)
    outputs, ctx = rl.forward([q, v, k], training=True, mask=[query_mask, value_mask], use_causal_mask=causal)
    np.testing.assert_allclose(outputs, expected, rtol=1e-4, atol=1e-5)
    d_inputs, d_weights = rl.backward(ctx, projection)
    for got, want in zip(d_inputs, d_inputs_keras):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    for got, want in zip(d_weights, d_weights_keras):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    _, scores = kl([q, v, k], mask=[query_mask, value_mask], use_causal_mask=causal, return_attention_scores=True)
    _, rnnkit_scores = rl([q, v, k], mask=[query_mask, value_mask], use_causal_mask=causal,
                          return_attention_scores=True)
    np.testing.assert_allclose(rnnkit_scores, numpy(scores), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("options", [{}, {"epsilon": 1e-6, "center": False}, {"scale": False}])
def test_layer_normalization_matches_keras(options):
    x = 5.0 + 2.0 * rand(3, 4, 6, seed=12)
    kl, rl = twin(keras.layers.LayerNormalization(**options), layers.LayerNormalization(**options), x.shape)
    projection = rand(3, 4, 6, seed=13)
    expected, (d_x_keras,), d_weights_keras = keras_gradients(kl, [x], kl, projection)
    outputs, ctx = rl.forward(x, training=True)
    np.testing.assert_allclose(outputs, expected, rtol=1e-4, atol=1e-5)
    d_x, d_weights = rl.backward(ctx, projection)
    np.testing.assert_allclose(d_x, d_x_keras, rtol=1e-4, atol=1e-4)
    for got, want in zip(d_weights, d_weights_keras):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    keras_config = kl.get_config()
    rnnkit_config = rl.get_config()
    for key in ("axis", "epsilon", "center", "scale", "rms_scaling"):
        assert rnnkit_config[key] == keras_config[key], key


def test_multi_head_attention_config_keys_match_keras():
    kl = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4, dropout=0.1, output_shape=(5,))
    rl = layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4, dropout=0.1, output_shape=(5,))
    keras_config, rnnkit_config = kl.get_config(), rl.get_config()
    for key in ("num_heads", "key_dim", "value_dim", "dropout", "use_bias", "output_shape", "attention_axes",
                "seed"):
        assert rnnkit_config[key] == keras_config[key], key
    again = layers.MultiHeadAttention.from_config({k: v for k, v in keras_config.items() if k != "dtype"})
    assert again.get_config()["output_shape"] == (5,)


def test_keras_weights_file_with_attention_layers_loads(tmp_path):
    pytest.importorskip("h5py", reason="reading .weights.h5 needs h5py (pip install 'rnnkit[h5]')")

    def build(lib):
        x = lib.Input((5, 6))
        y = lib.layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4)(x, x)
        y = lib.layers.LayerNormalization()(lib.layers.Add()([x, y]))
        return lib.Model(x, y)

    keras_model, rnnkit_model = build(keras), build(rnnkit)
    rng = np.random.default_rng(14)
    keras_model.set_weights([0.5 * rng.standard_normal(w.shape).astype(np.float32) for w in keras_model.weights])
    path = tmp_path / "attention.weights.h5"
    keras_model.save_weights(path)
    rnnkit_model.load_weights(path)
    x = rand(2, 5, 6, seed=15)
    np.testing.assert_allclose(rnnkit_model.predict(x, verbose=0), numpy(keras_model(x)), rtol=1e-4, atol=1e-5)
