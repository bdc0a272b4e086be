"""ReLU, LeakyReLU, ELU and Softmax layers against float64 numpy written from Keras' definitions, their gradients
by finite differences, masks and argument checks."""
import numpy as np
import pytest
from reference.gradient_check import check_layer_gradients

from rnnkit import layers

# Values at least 0.05 from every kink the cases below have (0, 0.2, 1.5), so a step of 1e-2 crosses none.
X = np.array([[-2.3, -0.9, -0.12, 0.07, 0.13, 0.31, 0.8, 1.37, 1.63, 2.9]], np.float32)


def relu_reference(x, max_value, negative_slope, threshold):
    x = x.astype(np.float64)
    y = np.where(x >= threshold, x, negative_slope * (x - threshold))
    return y if max_value is None else np.minimum(y, max_value)


@pytest.mark.parametrize("kwargs", [{}, {"max_value": 1.5}, {"negative_slope": 0.1}, {"threshold": 0.2},
                                    {"max_value": 1.5, "negative_slope": 0.1, "threshold": 0.2}])
def test_relu_matches_keras_definition_and_its_gradient(kwargs):
    layer = layers.ReLU(**kwargs)
    expected = relu_reference(X, kwargs.get("max_value"), kwargs.get("negative_slope", 0.0),
                              kwargs.get("threshold", 0.0))
    np.testing.assert_allclose(layer.forward(X, training=False)[0], expected, rtol=1e-6, atol=1e-7)
    check_layer_gradients(layer, X)


@pytest.mark.parametrize("slope", [0.3, 0.01])
def test_leaky_relu_defaults_to_keras_layer_slope(slope):
    layer = layers.LeakyReLU() if slope == 0.3 else layers.LeakyReLU(negative_slope=slope)
    np.testing.assert_allclose(layer.forward(X, training=False)[0], np.where(X > 0, X, slope * X.astype(np.float64)),
                               rtol=1e-6)
    check_layer_gradients(layer, X)
    assert layers.LeakyReLU.from_config({"name": "old", "alpha": 0.1}).negative_slope == 0.1  # Keras 2 configs


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_elu(alpha):
    layer = layers.ELU(alpha=alpha)
    x = X.astype(np.float64)
    np.testing.assert_allclose(layer.forward(X, training=False)[0], np.where(x > 0, x, alpha * np.expm1(x)),
                               rtol=1e-6, atol=1e-7)
    check_layer_gradients(layer, X)


def test_softmax_normalises_the_last_axis_and_leaves_masked_entries_out():
    x = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
    layer = layers.Softmax()
    e = np.exp(x.astype(np.float64))
    np.testing.assert_allclose(layer.forward(x, training=False)[0], e / e.sum(-1, keepdims=True), rtol=1e-6)
    check_layer_gradients(layer, x)
    mask = np.random.default_rng(1).random(x.shape) > 0.3
    mask[..., 0] = True  # every row keeps an entry
    masked = np.where(mask, e, 0.0)
    np.testing.assert_allclose(layer.forward(x, training=False, mask=mask)[0],
                               masked / masked.sum(-1, keepdims=True), rtol=1e-6, atol=1e-30)
    steps_mask = np.ones((3, 4), bool)
    np.testing.assert_array_equal(layer.compute_mask(x, steps_mask), steps_mask)


def test_arguments_keras_refuses_are_refused():
    for kwargs, name in [({"max_value": -1.0}, "max_value"), ({"negative_slope": -0.1}, "negative_slope"),
                         ({"threshold": -0.5}, "threshold")]:
        with pytest.raises(ValueError, match=f"{name} must be >= 0"):
            layers.ReLU(**kwargs)
    for make, name in [(lambda: layers.ReLU(negative_slope=None), "negative_slope"),
                       (lambda: layers.ReLU(threshold=None), "threshold"),
                       (lambda: layers.LeakyReLU(negative_slope=None), "negative_slope"),
                       (lambda: layers.ELU(alpha=None), "alpha")]:
        with pytest.raises(ValueError, match=f"{name} must be a number, received None"):
            make()
    with pytest.raises(ValueError, match="the last axis only"):
        layers.Softmax(axis=1)(np.zeros((2, 3, 4), np.float32))


@pytest.mark.parametrize("shared_axes, alpha_shape", [(None, (3, 4)), ([1], (1, 4)), ([1, 2], (1, 1)), (2, (3, 1))])
def test_prelu_learns_an_alpha_per_unshared_entry(shared_axes, alpha_shape):
    rng = np.random.default_rng(5)
    x = (rng.choice([-1.0, 1.0], (2, 3, 4)) * rng.uniform(0.1, 2.0, (2, 3, 4))).astype(np.float32)  # no kink at 0
    layer = layers.PReLU(alpha_initializer="random_uniform", shared_axes=shared_axes)
    layer.build(x.shape)
    alpha = layer.alpha.value
    assert alpha.shape == alpha_shape and layer.count_params() == int(np.prod(alpha_shape))
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(layer.forward(x, training=False)[0], np.where(x64 > 0, x64, alpha * x64), rtol=1e-6)
    check_layer_gradients(layer, x)


def test_prelu_starts_as_relu_and_refuses_bad_axes():
    x = np.array([[-2.0, -0.5, 0.5, 2.0]], np.float32)
    np.testing.assert_array_equal(layers.PReLU()(x), [[0.0, 0.0, 0.5, 2.0]])  # Keras' alpha_initializer "Zeros"
    with pytest.raises(ValueError, match="shared_axes"):
        layers.PReLU(shared_axes=[0])
    with pytest.raises(ValueError, match="beyond"):
        layers.PReLU(shared_axes=[3]).build((2, 4))
    with pytest.raises(ValueError, match="known size"):
        layers.PReLU().build((2, None, 4))
