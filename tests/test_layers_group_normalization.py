"""GroupNormalization against a float64 numpy reference written from Keras' definition (each sample's groups of
channels normalised over all its other positions, biased variance, then gamma and beta), gradients by finite
differences, thread independence, configs and errors. Forward tolerance 1e-5."""
import numpy as np
import pytest
from reference.gradient_check import check_layer_gradients
from reference.layer_checks import assert_same_on_threads

import rnnkit
from rnnkit import layers


def reference(x, groups, axis, epsilon, gamma, beta):
    x = np.moveaxis(x.astype(np.float64), axis, -1)
    channels = x.shape[-1]
    grouped = x.reshape(x.shape[0], -1, groups, channels // groups)
    mean = grouped.mean(axis=(1, 3), keepdims=True)
    variance = grouped.var(axis=(1, 3), keepdims=True)
    y = ((grouped - mean) / np.sqrt(variance + epsilon)).reshape(x.shape) * gamma + beta
    return np.moveaxis(y, -1, axis)


@pytest.mark.parametrize("shape, groups, axis", [((3, 5, 8), 4, -1), ((2, 6), 3, -1), ((2, 4, 3, 6), 2, -1),
                                                 ((2, 6, 7), -1, 1), ((4, 5, 6), 1, 2)])
def test_matches_float64_reference(shape, groups, axis):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32) * 3 + 1
    layer = layers.GroupNormalization(groups=groups, axis=axis, gamma_initializer="random_normal",
                                      beta_initializer="random_normal")
    y = layer(x)
    groups = layer.groups
    expected = reference(x, groups, axis, 1e-3, layer.gamma.value, layer.beta.value)
    np.testing.assert_allclose(y, expected, atol=1e-5)


@pytest.mark.parametrize("options", [{"groups": 2}, {"groups": 4, "center": False},
                                     {"groups": 1, "scale": False, "axis": 1}])
def test_gradients_match_finite_differences(options):
    layer = layers.GroupNormalization(**options, gamma_initializer="random_normal")
    x = np.random.default_rng(1).standard_normal((3, 4, 4)).astype(np.float32)
    layer(x)
    check_layer_gradients(layer, x)


def test_results_do_not_depend_on_the_thread_count():
    x = np.random.default_rng(2).standard_normal((37, 10, 8)).astype(np.float32)
    layer = layers.GroupNormalization(groups=4)
    layer(x)
    assert_same_on_threads(layer, x)


def test_config_round_trip_model_save_and_errors(tmp_path):
    model = rnnkit.Sequential([layers.Input((6, 8)), layers.Conv1D(8, 3), layers.GroupNormalization(groups=4),
                               layers.LSTM(4)])
    x = np.random.default_rng(3).standard_normal((5, 6, 8)).astype(np.float32)
    model.compile("adam", "mse")
    model.fit(x, np.zeros((5, 4), np.float32), epochs=2, verbose=0)
    model.save(tmp_path / "group.keras")
    loaded = rnnkit.saving.load_model(tmp_path / "group.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    layer = model.layers[1]
    assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()
    with pytest.raises(ValueError, match="groups of equal size"):
        layers.GroupNormalization(groups=3)(np.zeros((2, 4, 8), np.float32))
    with pytest.raises(ValueError, match="groups"):
        layers.GroupNormalization(groups=0)
    with pytest.raises(ValueError, match="feature axis"):
        layers.GroupNormalization(axis=0)(np.zeros((2, 4), np.float32))
