"""DepthwiseConv1D and SeparableConv1D against float64 numpy references written from Keras' definitions (each
channel with its own filters, output channel c * depth_multiplier + j; then the pointwise kernel), gradients by
finite differences, threads, configs and errors. Forward tolerance 1e-5 (float32 sums of a few products)."""
import numpy as np
import pytest
from reference.gradient_check import check_layer_gradients
from reference.layer_checks import assert_same_on_threads

import rnnkit
from rnnkit import layers
from test_layers_conv import padding_amounts

CASES = [(5, 1, 1, "valid", 1), (4, 3, 1, "same", 2), (7, 2, 2, "same", 3), (6, 3, 1, "valid", 1)]


def depthwise_reference(x, kernel, bias, stride, dilation, padding):
    size, channels, multiplier = kernel.shape
    left, right, steps_out = padding_amounts(x.shape[1], dilation * (size - 1) + 1, stride, padding)
    padded = np.pad(x.astype(np.float64), ((0, 0), (left, right), (0, 0)))
    y = np.zeros((x.shape[0], steps_out, channels, multiplier))
    for t in range(steps_out):
        for k in range(size):
            y[:, t] += padded[:, t * stride + k * dilation, :, None] * kernel[k]
    return y.reshape(x.shape[0], steps_out, channels * multiplier) + (0.0 if bias is None else bias)


@pytest.mark.parametrize("channels, size, stride, padding, multiplier", CASES)
@pytest.mark.parametrize("use_bias", [True, False])
def test_depthwise_matches_float64_reference(channels, size, stride, padding, multiplier, use_bias):
    x = np.random.default_rng(0).standard_normal((3, 11, channels)).astype(np.float32)
    layer = layers.DepthwiseConv1D(size, strides=stride, padding=padding, depth_multiplier=multiplier,
                                   use_bias=use_bias, bias_initializer="random_normal")
    y = layer(x)
    bias = layer.bias.value if use_bias else None
    np.testing.assert_allclose(y, depthwise_reference(x, layer.kernel.value, bias, stride, 1, padding), atol=1e-5)
    dilated = layers.DepthwiseConv1D(size, dilation_rate=2, padding=padding, depth_multiplier=multiplier)
    np.testing.assert_allclose(dilated(x), depthwise_reference(x, dilated.kernel.value, dilated.bias.value, 1, 2,
                                                               padding), atol=1e-5)


@pytest.mark.parametrize("channels, size, stride, padding, multiplier", CASES)
def test_separable_matches_float64_reference(channels, size, stride, padding, multiplier):
    x = np.random.default_rng(1).standard_normal((2, 9, channels)).astype(np.float32)
    layer = layers.SeparableConv1D(4, size, strides=stride, padding=padding, depth_multiplier=multiplier,
                                   activation="tanh", bias_initializer="random_normal")
    y = layer(x)
    depthwise = depthwise_reference(x, layer.depthwise_kernel.value, None, stride, 1, padding)
    expected = np.tanh(depthwise @ layer.pointwise_kernel.value[0].astype(np.float64) + layer.bias.value)
    np.testing.assert_allclose(y, expected, atol=1e-5)


@pytest.mark.parametrize("layer", [
    lambda: layers.DepthwiseConv1D(3, depth_multiplier=2, padding="same", activation="gelu"),
    lambda: layers.DepthwiseConv1D(2, strides=2, use_bias=False, data_format="channels_first"),
    lambda: layers.SeparableConv1D(3, 3, depth_multiplier=2, padding="same", activation="tanh"),
    lambda: layers.SeparableConv1D(2, 2, dilation_rate=2, use_bias=False)])
def test_gradients_match_finite_differences(layer):
    layer = layer()
    x = np.random.default_rng(2).standard_normal((2, 7, 3)).astype(np.float32)
    layer(x)
    check_layer_gradients(layer, x)


def test_depthwise_results_do_not_depend_on_the_thread_count():
    x = np.random.default_rng(3).standard_normal((37, 20, 8)).astype(np.float32)
    layer = layers.DepthwiseConv1D(3, depth_multiplier=2, padding="same")
    layer(x)
    assert_same_on_threads(layer, x)


def test_configs_round_trip_and_models_save(tmp_path):
    model = rnnkit.Sequential([layers.Input((10, 3)), layers.DepthwiseConv1D(3, depth_multiplier=2),
                               layers.SeparableConvolution1D(4, 3, padding="same"), layers.GRU(5),
                               layers.Dense(1)])
    x = np.random.default_rng(4).standard_normal((6, 10, 3)).astype(np.float32)
    model.compile("adam", "mse")
    model.fit(x, np.ones((6, 1), np.float32), epochs=2, verbose=0)
    path = tmp_path / "separable.keras"
    model.save(path)
    loaded = rnnkit.saving.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for layer in model.layers[:2]:
        assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()
    assert [tuple(w.shape) for w in model.layers[1].weights] == [(3, 6, 1), (1, 6, 4), (4,)]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="padding"):
        layers.DepthwiseConv1D(3, padding="causal")
    with pytest.raises(ValueError, match="depth_multiplier"):
        layers.SeparableConv1D(2, 3, depth_multiplier=0)
    with pytest.raises(ValueError, match="dilation_rate"):
        layers.DepthwiseConv1D(3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="shorter than"):
        layers.DepthwiseConv1D(5)(np.zeros((1, 3, 2), np.float32))
