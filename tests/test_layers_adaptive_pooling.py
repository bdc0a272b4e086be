"""AdaptiveAveragePooling1D and AdaptiveMaxPooling1D against a float64 numpy reference written from the definition
(output step t pools input steps floor(t * L / n) .. ceil((t + 1) * L / n) - 1), finite-difference gradients, thread
independence, both data formats, masks, save/load and errors. Forward tolerance 1e-6 relative (float32 against the
float64 reference)."""
import math

import numpy as np
import pytest
from reference.gradient_check import check_layer_gradients
from reference.layer_checks import assert_same_on_threads, relative_error

import rnnkit
from rnnkit import layers

KINDS = {"average": layers.AdaptiveAveragePooling1D, "max": layers.AdaptiveMaxPooling1D}


def reference(x, output_size, kind, data_format="channels_last"):
    x = x.astype(np.float64)
    if data_format == "channels_first":
        x = x.transpose(0, 2, 1)
    steps = x.shape[1]
    pooled = []
    for t in range(output_size):
        window = x[:, math.floor(t * steps / output_size):math.ceil((t + 1) * steps / output_size)]
        pooled.append(window.mean(axis=1) if kind == "average" else window.max(axis=1))
    y = np.stack(pooled, axis=1)
    return y.transpose(0, 2, 1) if data_format == "channels_first" else y


def distinct(shape, seed):
    """Inputs whose values differ by >= 0.1, so no maximum moves under the finite differences' 1e-2 steps."""
    values = np.random.default_rng(seed).permutation(int(np.prod(shape))).astype(np.float32) * 0.1 - 3
    return values.reshape(shape)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("steps, output_size", [(12, 4), (10, 3), (7, 7), (3, 8), (9, 1), (5, 4)])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_matches_float64_reference(kind, steps, output_size, data_format):
    shape = (3, steps, 5) if data_format == "channels_last" else (3, 5, steps)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32) * 2 + 1
    layer = KINDS[kind](output_size, data_format=data_format)
    y = layer(x)
    assert y.shape == layer.compute_output_shape(x.shape)
    assert relative_error(y, reference(x, output_size, kind, data_format)) < 1e-6


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("steps, output_size, data_format", [(10, 4, "channels_last"), (3, 7, "channels_last"),
                                                             (8, 3, "channels_first")])
def test_gradients_match_finite_differences(kind, steps, output_size, data_format):
    shape = (2, steps, 3) if data_format == "channels_last" else (2, 3, steps)
    layer = KINDS[kind](output_size, data_format)
    check_layer_gradients(layer, distinct(shape, 1))


def test_max_routes_the_gradient_to_the_first_maximum_and_keeps_nan():
    x = np.array([[[1.0], [3.0], [3.0], [np.nan], [2.0], [np.nan]]], np.float32)
    layer = layers.AdaptiveMaxPooling1D(2)
    y, ctx = layer.forward(x, training=True)
    assert y[0, 0, 0] == 3 and np.isnan(y[0, 1, 0])
    d_x, _ = layer.backward(ctx, np.ones_like(y))
    np.testing.assert_array_equal(d_x[0, :, 0], [0, 1, 0, 1, 0, 0])


def test_results_do_not_depend_on_the_thread_count():
    x = np.random.default_rng(2).standard_normal((37, 19, 8)).astype(np.float32)
    for make in KINDS.values():
        layer = make(6)
        layer(x)
        assert_same_on_threads(layer, x)


def test_masks_are_dropped_as_keras_drops_them():
    x = np.random.default_rng(3).standard_normal((2, 6, 3)).astype(np.float32)
    for make in KINDS.values():
        layer = make(3)
        assert layer.compute_mask(x, np.ones((2, 6), bool)) is None
    model = rnnkit.Sequential([layers.Input((6, 3)), layers.Masking(0.0), layers.AdaptiveAveragePooling1D(3),
                               layers.LSTM(2)])
    x[0, 4:] = 0
    unmasked = rnnkit.Sequential([layers.Input((6, 3)), layers.AdaptiveAveragePooling1D(3), layers.LSTM(2)])
    unmasked.set_weights(model.get_weights())
    np.testing.assert_array_equal(model.predict(x, verbose=0), unmasked.predict(x, verbose=0))


def test_model_trains_saves_and_loads(tmp_path):
    model = rnnkit.Sequential([layers.Input((None, 4)), layers.Conv1D(6, 3), layers.AdaptiveMaxPooling1D(5),
                               layers.AdaptiveAveragePooling1D((2,), data_format="channels_first"), layers.Flatten(),
                               layers.Dense(2)])
    rng = np.random.default_rng(4)
    x = rng.standard_normal((8, 11, 4)).astype(np.float32)
    model.compile("adam", "mse")
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, rng.standard_normal((8, 2)).astype(np.float32), epochs=2, verbose=0)
    assert not np.array_equal(before[0], model.get_weights()[0])
    assert model.predict(x[:, :9], verbose=0).shape == (8, 2)  # any length pools to the same size
    model.save(tmp_path / "adaptive.keras")
    loaded = rnnkit.saving.load_model(tmp_path / "adaptive.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    model.save_weights(tmp_path / "adaptive.weights.h5")
    rebuilt = rnnkit.models.clone_model(model)
    rebuilt.load_weights(tmp_path / "adaptive.weights.h5")
    np.testing.assert_array_equal(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0))
    for layer in model.layers[1:3]:
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config
    assert model.layers[2].get_config()["output_size"] == (2,)
    assert model.layers[2].get_config()["data_format"] == "channels_first"


@pytest.mark.parametrize("make", KINDS.values())
def test_errors(make):
    with pytest.raises(ValueError, match="output_size > 0"):
        make(0)
    with pytest.raises(ValueError, match="tuple of one int"):
        make((2, 2))
    with pytest.raises(TypeError, match="output_size"):
        make(2.5)
    with pytest.raises(TypeError, match="output_size"):
        make(True)
    with pytest.raises(ValueError, match="data_format"):
        make(2, data_format="channels_middle")
    with pytest.raises(ValueError, match="rank 3"):
        make(2)(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="0 steps"):
        make(2)(np.zeros((2, 0, 3), np.float32))
    with pytest.raises(ValueError, match="steps_out > 0"):
        rnnkit._core.adaptive_average_pool_1d_forward(np.zeros((1, 3, 1), np.float32), -1)
