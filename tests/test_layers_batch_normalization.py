"""BatchNormalization against float64 numpy (batch statistics, masked statistics, moving statistics), its
gradients by finite differences in training and frozen, and its weights in Keras' order."""
import numpy as np
import pytest
from reference.gradient_check import check_layer_gradients

from rnnkit import layers, models, saving


def built(shape, seed=0, **kwargs):
    layer = layers.BatchNormalization(**kwargs)
    layer.build(shape)
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(w.shape).astype(np.float32) for w in layer.get_weights()]
    weights[-1] = np.abs(weights[-1]) + 0.5  # a variance
    layer.set_weights(weights)
    return layer


def reference(x, mask, gamma, beta, epsilon):
    """Normalised with the (masked) batch statistics, float64, written from Keras' definition."""
    x = x.astype(np.float64)
    weight = np.ones(x.shape[:-1]) if mask is None else mask.astype(np.float64)
    count = weight.sum()
    axes = tuple(range(x.ndim - 1))
    mean = (x * weight[..., None]).sum(axis=axes) / count
    variance = (((x - mean) ** 2) * weight[..., None]).sum(axis=axes) / count
    return gamma * (x - mean) / np.sqrt(variance + epsilon) + beta, mean, variance


@pytest.mark.parametrize("shape", [(16, 3), (4, 7, 5), (2, 3, 4, 2)])
@pytest.mark.parametrize("masked", [False, True])
def test_training_normalises_with_batch_statistics_and_moves_the_moving_ones(shape, masked):
    layer = built(shape, momentum=0.8)
    gamma, beta, moving_mean, moving_variance = layer.get_weights()
    x = (3.0 * np.random.default_rng(1).standard_normal(shape) + 10.0).astype(np.float32)
    mask = (np.random.default_rng(2).random(shape[:-1]) > 0.4) if masked else None
    expected, mean, variance = reference(x, mask, gamma, beta, layer.epsilon)
    outputs, _ = layer.forward(x, training=True, mask=mask)
    np.testing.assert_allclose(outputs, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.moving_mean.value, 0.8 * moving_mean + 0.2 * mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.value, 0.8 * moving_variance + 0.2 * variance, rtol=1e-5)


def test_inference_and_a_frozen_layer_use_the_moving_statistics_and_leave_them():
    layer = built((6, 4))
    gamma, beta, moving_mean, moving_variance = layer.get_weights()
    x = np.random.default_rng(3).standard_normal((6, 4)).astype(np.float32)
    expected = gamma * (x - moving_mean) / np.sqrt(moving_variance.astype(np.float64) + 1e-3) + beta
    np.testing.assert_allclose(layer.forward(x, training=False)[0], expected, rtol=1e-5, atol=1e-6)
    layer.trainable = False  # Keras 3: a frozen BatchNormalization runs in inference mode even in training
    np.testing.assert_allclose(layer.forward(x, training=True)[0], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(layer.moving_mean.value, moving_mean)


@pytest.mark.parametrize("kwargs", [{}, {"center": False}, {"scale": False}, {"center": False, "scale": False}])
def test_gradients_match_finite_differences_in_training(kwargs):
    layer = built((3, 5, 4), **kwargs)
    x = np.random.default_rng(4).standard_normal((3, 5, 4)).astype(np.float32)
    check_layer_gradients(layer, x)
    mask = np.random.default_rng(5).random((3, 5)) > 0.3
    check_layer_gradients(layer, x, mask=mask)


def test_gradients_of_a_frozen_layer_treat_the_statistics_as_constants():
    layer = built((3, 4))
    layer.trainable = False
    x = np.random.default_rng(6).standard_normal((3, 4)).astype(np.float32)
    outputs, ctx = layer.forward(x, training=True)
    d_x, d_weights = layer.backward(ctx, np.ones_like(outputs))
    gamma, _, _, moving_variance = layer.get_weights()
    np.testing.assert_allclose(d_x, np.broadcast_to(gamma / np.sqrt(moving_variance + 1e-3), x.shape), rtol=1e-6)
    assert d_weights == []


def test_weights_config_summary_and_saving_follow_keras(tmp_path):
    model = models.Sequential([layers.Input((5, 3)), layers.BatchNormalization(name="bn"), layers.LSTM(2)])
    assert [w.path for w in model.layers[0].weights] == ["bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"]
    assert model.layers[0].count_params() == 12 and len(model.layers[0].trainable_weights) == 2
    config = model.layers[0].get_config()
    assert (config["axis"], config["momentum"], config["epsilon"]) == (-1, 0.99, 0.001)
    x = np.random.default_rng(7).standard_normal((8, 5, 3)).astype(np.float32)
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, np.zeros((8, 2), np.float32), epochs=2, verbose=0)
    assert not np.allclose(model.layers[0].moving_mean.value, 0.0)
    saving.save_model(model, str(tmp_path / "bn.rnnkit"))
    restored = saving.load_model(str(tmp_path / "bn.rnnkit"))
    np.testing.assert_array_equal(restored.layers[0].moving_mean.value, model.layers[0].moving_mean.value)
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))


def test_unsupported_arguments_and_axes_are_refused():
    with pytest.raises(ValueError, match="last axis only; received axis=1"):
        layers.BatchNormalization(axis=1).build((None, 4, 3))
    with pytest.raises(ValueError, match="synchronized=True or renorm=True"):
        layers.BatchNormalization(renorm=True)
    with pytest.raises(ValueError, match=r"expected a mask of shape \(2, 3\)"):
        built((2, 3, 4)).forward(np.zeros((2, 3, 4), np.float32), training=True, mask=np.ones((2, 4), bool))
