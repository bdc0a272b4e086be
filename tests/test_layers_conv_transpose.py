"""Conv1DTranspose against a float64 numpy reference written from the definition (each input step scatters its
kernel taps into a full-length output, which Keras' padding then crops), gradients by finite differences, 1 and 2
threads, save/load, configs and errors. Tolerance: float32 vs float64 1e-6 of the largest output (sums of a few
products)."""
import numpy as np
import pytest
from reference.gradient_check import check_layer_gradients
from reference.layer_checks import assert_same_on_threads, relative_error

import rnnkit
from rnnkit import layers

# (kernel_size, strides, padding, output_padding, dilation_rate)
CASES = [(3, 1, "valid", None, 1), (3, 2, "valid", None, 1), (2, 3, "valid", None, 1), (3, 2, "valid", 1, 1),
         (3, 1, "valid", None, 2), (3, 1, "same", None, 1), (3, 2, "same", None, 1), (4, 2, "same", None, 1),
         (3, 2, "same", 0, 1), (4, 3, "same", 2, 1), (1, 1, "same", 0, 1), (1, 3, "same", None, 1),
         (3, 1, "same", None, 2), (2, 1, "same", 0, 3), (5, 3, "same", 1, 1), (1, 2, "valid", None, 1)]


def keras_crop_and_steps(steps, size, stride, padding, output_padding, dilation):
    """Where the output starts in the full scatter and how many steps it has, as Keras 3 documents the lengths:
    "valid" keeps the scatter from its start, (steps - 1) * stride + span + output_padding steps (None: the scatter,
    at least steps * stride long); "same" steps * stride (None) or (steps - 1) * stride + span % 2 + output_padding,
    the padding of the stride-dilated input split with the larger half on the left (at most span - 1)."""
    span = dilation * (size - 1) + 1
    if padding == "valid":
        extra = max(span, stride) - span if output_padding is None else output_padding
        return 0, (steps - 1) * stride + span + extra
    if output_padding is None:
        total, length = stride + span - 2, steps * stride
    else:
        total, length = span + span % 2 - 2 + output_padding, (steps - 1) * stride + span % 2 + output_padding
    return span - 1 - min(-(-total // 2), span - 1), length


def reference(x, kernel, bias, stride, padding, output_padding, dilation):
    size, filters, _ = kernel.shape
    batch, steps, _ = x.shape
    crop, length = keras_crop_and_steps(steps, size, stride, padding, output_padding, dilation)
    full = np.zeros((batch, max((steps - 1) * stride + dilation * (size - 1) + 1, crop + length), filters))
    for i in range(steps):
        for k in range(size):
            full[:, i * stride + k * dilation] += x[:, i].astype(np.float64) @ kernel[k].T.astype(np.float64)
    return full[:, crop:crop + length] + (0.0 if bias is None else bias)


@pytest.mark.parametrize("size, stride, padding, output_padding, dilation", CASES)
@pytest.mark.parametrize("use_bias", [True, False])
def test_matches_float64_reference(size, stride, padding, output_padding, dilation, use_bias):
    x = np.random.default_rng(0).standard_normal((3, 6, 4)).astype(np.float32)
    layer = layers.Conv1DTranspose(5, size, strides=stride, padding=padding, output_padding=output_padding,
                                   dilation_rate=dilation, use_bias=use_bias, bias_initializer="random_normal")
    y = layer(x)
    expected = reference(x, layer.kernel.value, layer.bias.value if use_bias else None, stride, padding,
                         output_padding, dilation)
    assert y.shape == expected.shape == layer.compute_output_shape(x.shape)
    assert relative_error(y, expected) < 1e-6


def test_channels_first_and_activation_match_the_reference():
    x = np.random.default_rng(1).standard_normal((2, 3, 7)).astype(np.float32)
    layer = layers.Convolution1DTranspose(4, 3, strides=2, padding="same", data_format="channels_first",
                                          activation="tanh", bias_initializer="random_normal")
    y = layer(x)
    expected = np.tanh(reference(x.transpose(0, 2, 1), layer.kernel.value, layer.bias.value, 2, "same", None, 1))
    assert layer.compute_output_shape(x.shape) == (2, 4, 14)
    np.testing.assert_allclose(y, expected.transpose(0, 2, 1), atol=1e-6)


@pytest.mark.parametrize("layer", [
    lambda: layers.Conv1DTranspose(3, 3, strides=2, padding="same", activation="gelu"),
    lambda: layers.Conv1DTranspose(2, 4, strides=3, output_padding=2, use_bias=False),
    lambda: layers.Conv1DTranspose(3, 2, dilation_rate=2, padding="same", data_format="channels_first"),
    lambda: layers.Conv1DTranspose(2, 3, strides=2, padding="same", output_padding=0, activation="tanh")])
def test_gradients_match_finite_differences(layer):
    layer = layer()
    x = np.random.default_rng(2).standard_normal((2, 5, 3)).astype(np.float32)
    layer(x)
    check_layer_gradients(layer, x)


@pytest.mark.parametrize("stride, dilation", [(3, 1), (1, 2)])
def test_results_do_not_depend_on_the_thread_count(stride, dilation):
    x = np.random.default_rng(3).standard_normal((37, 20, 8)).astype(np.float32)
    layer = layers.Conv1DTranspose(6, 4, strides=stride, dilation_rate=dilation, padding="same")
    layer(x)
    assert_same_on_threads(layer, x)


@pytest.mark.parametrize("name", ["conv_transpose.keras", "conv_transpose.rnnkit"])
def test_models_train_save_and_load(tmp_path, name):
    model = rnnkit.Sequential([layers.Input((6, 3)), layers.Conv1DTranspose(4, 3, strides=2, padding="same"),
                               layers.Conv1DTranspose(2, 2, output_padding=0, kernel_regularizer="l2"),
                               layers.GRU(5), layers.Dense(1)])
    x = np.random.default_rng(4).standard_normal((6, 6, 3)).astype(np.float32)
    model.compile("adam", "mse")
    model.fit(x, np.ones((6, 1), np.float32), epochs=2, verbose=0)
    model.save(tmp_path / name)
    loaded = rnnkit.saving.load_model(tmp_path / name)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for layer in model.layers[:2]:
        assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()
    assert [tuple(w.shape) for w in model.layers[0].weights] == [(3, 4, 3), (4,)]
    assert model.layers[1].get_config()["output_padding"] == (0,)


def test_regularizer_and_constraint_apply_to_the_kernel():
    layer = layers.Conv1DTranspose(2, 3, kernel_regularizer=rnnkit.regularizers.L2(0.5),
                                   kernel_constraint=rnnkit.constraints.NonNeg())
    layer(np.ones((1, 4, 3), np.float32))
    assert np.isclose(float(sum(layer.losses)), 0.5 * float(np.sum(np.square(layer.kernel.value, dtype=np.float64))),
                      rtol=1e-5)
    assert layer.kernel.constraint is not None


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="padding"):
        layers.Conv1DTranspose(2, 3, padding="causal")
    with pytest.raises(ValueError, match="output_padding"):
        layers.Conv1DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="output_padding"):
        layers.Conv1DTranspose(2, 3, output_padding=-1)
    with pytest.raises(ValueError, match="dilation_rate"):
        layers.Conv1DTranspose(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="filters"):
        layers.Conv1DTranspose(0, 3)
    with pytest.raises(ValueError, match="at least one step"):
        layers.Conv1DTranspose(2, 3)(np.zeros((1, 0, 2), np.float32))
