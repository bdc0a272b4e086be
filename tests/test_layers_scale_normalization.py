"""UnitNormalization and RMSNormalization against float64 numpy written from their definitions, gradients by finite
differences, and Keras 3 (outputs, gradients, weights and configs) where it is installed."""
import numpy as np
import pytest
from reference.gradient_check import check_layer_gradients

from rnnkit import layers

X = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)


@pytest.mark.parametrize("axis", [-1, 1, [1, 2]])
def test_unit_normalization_gives_unit_norms(axis):
    layer = layers.UnitNormalization(axis=axis)
    axes = tuple(a % 3 for a in (axis if isinstance(axis, list) else [axis]))
    x = X.astype(np.float64)
    expected = x / np.sqrt(np.sum(x * x, axis=axes, keepdims=True))
    y = layer.forward(X, training=False)[0]
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    np.testing.assert_allclose(np.sum(y.astype(np.float64) ** 2, axis=axes), 1.0, rtol=1e-6)
    check_layer_gradients(layer, X)


def test_unit_normalization_of_zeros_stays_zero():
    x = np.zeros((2, 4), np.float32)
    y, ctx = layers.UnitNormalization().forward(x, training=True)
    np.testing.assert_array_equal(y, 0.0)
    assert np.isfinite(layers.UnitNormalization().backward(ctx, np.ones_like(x))[0]).all()


@pytest.mark.parametrize("axis, scale_shape", [(-1, (4,)), ([1, 2], (3, 4)), (1, (3,))])
def test_rms_normalization_matches_its_definition_and_learns_its_scale(axis, scale_shape):
    layer = layers.RMSNormalization(axis=axis, epsilon=1e-3)
    layer.build(X.shape)
    assert layer.scale.value.shape == scale_shape
    layer.scale.assign(np.random.default_rng(1).uniform(0.5, 1.5, scale_shape).astype(np.float32))
    axes = tuple(a % 3 for a in (axis if isinstance(axis, list) else [axis]))
    x = X.astype(np.float64)
    shape = [1, 1, 1]
    for a, size in zip(axes, scale_shape):
        shape[a] = size
    expected = x / np.sqrt(np.mean(x * x, axis=axes, keepdims=True) + 1e-3) * layer.scale.value.reshape(shape)
    np.testing.assert_allclose(layer.forward(X, training=False)[0], expected, rtol=1e-5)
    check_layer_gradients(layer, X)


def test_axes_are_checked():
    with pytest.raises(TypeError, match="axis"):
        layers.UnitNormalization(axis="last")
    with pytest.raises(ValueError, match="out of range"):
        layers.RMSNormalization(axis=3).build((2, 4))


@pytest.mark.oracle
@pytest.mark.parametrize("name, kwargs", [("UnitNormalization", {}), ("UnitNormalization", {"axis": [1, 2]}),
                                          ("RMSNormalization", {}), ("RMSNormalization", {"axis": [1, 2]}),
                                          ("RMSNormalization", {"epsilon": 1e-2})])
def test_matches_keras(name, kwargs):
    torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
    keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")
    theirs, ours = getattr(keras.layers, name)(**kwargs), getattr(layers, name)(**kwargs)
    theirs.build(X.shape)
    ours.build(X.shape)
    weights = [np.random.default_rng(2).uniform(0.5, 1.5, w.shape).astype(np.float32) for w in theirs.weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    x_tensor = torch.tensor(X, requires_grad=True)
    projection = np.random.default_rng(3).standard_normal(X.shape).astype(np.float32)
    outputs = theirs(x_tensor)
    (outputs * torch.tensor(projection)).sum().backward()
    y, ctx = ours.forward(X, training=True)
    np.testing.assert_allclose(y, outputs.detach().numpy(), rtol=1e-5, atol=1e-6)
    d_x, d_weights = ours.backward(ctx, projection)
    np.testing.assert_allclose(d_x, x_tensor.grad.numpy(), rtol=1e-4, atol=1e-5)
    for got, weight in zip(d_weights, theirs.trainable_weights):
        np.testing.assert_allclose(got, weight.value.grad.numpy(), rtol=1e-4, atol=1e-5)
    mine, keras_config = ours.get_config(), theirs.get_config()
    assert {k: v for k, v in mine.items() if k not in ("name", "dtype")} == \
        {k: v for k, v in keras_config.items() if k not in ("name", "dtype")}
