"""Conv1D, MaxPooling1D and AveragePooling1D against float64 numpy references written from Keras' definitions:
outputs for every padding, stride, dilation and data format, gradients by finite differences, and errors."""
import numpy as np
import pytest
from reference.gradient_check import check_layer_gradients

from rnnkit import layers, models, optimizers, saving


def padding_amounts(steps, span, stride, padding):
    """(left, right, steps_out) of Keras' padding for a window spanning `span` steps."""
    if padding == "valid":
        return 0, 0, (steps - span) // stride + 1
    if padding == "causal":
        return span - 1, 0, (steps - 1) // stride + 1
    steps_out = -(-steps // stride)
    total = max(0, (steps_out - 1) * stride + span - steps)
    return total // 2, total - total // 2, steps_out


def conv1d_reference(x, kernel, bias, stride, dilation, padding):
    size, _, filters = kernel.shape
    left, right, steps_out = padding_amounts(x.shape[1], dilation * (size - 1) + 1, stride, padding)
    padded = np.pad(x.astype(np.float64), ((0, 0), (left, right), (0, 0)))
    y = np.zeros((x.shape[0], steps_out, filters))
    for t in range(steps_out):
        for k in range(size):
            y[:, t] += padded[:, t * stride + k * dilation] @ kernel[k]
    return y + (0.0 if bias is None else bias)


def pool_reference(x, size, stride, padding, reduce):
    """Each window over the steps it covers inside x (padding left out)."""
    left, _, steps_out = padding_amounts(x.shape[1], size, stride, padding)
    windows = [x[:, max(t * stride - left, 0):t * stride - left + size].astype(np.float64) for t in range(steps_out)]
    return np.stack([reduce(w, axis=1) for w in windows], axis=1)


def built(layer, shape, seed=0):
    layer.build(shape)
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in layer.get_weights()])
    return layer


CONV_CASES = [
    dict(kernel_size=3), dict(kernel_size=1), dict(kernel_size=3, padding="same"),
    dict(kernel_size=4, padding="same"), dict(kernel_size=3, padding="causal"),
    dict(kernel_size=2, padding="causal", dilation_rate=3), dict(kernel_size=3, dilation_rate=2),
    dict(kernel_size=3, strides=2), dict(kernel_size=4, strides=3, padding="same"),
    dict(kernel_size=2, strides=2, padding="causal"), dict(kernel_size=11), dict(kernel_size=5, padding="same"),
]


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("use_bias", [True, False])
def test_conv1d_matches_float64_reference(case, use_bias):
    conv = built(layers.Conv1D(4, use_bias=use_bias, **case), (3, 11, 5))
    x = np.random.default_rng(1).standard_normal((3, 11, 5)).astype(np.float32)
    bias = conv.get_weights()[1] if use_bias else None
    expected = conv1d_reference(x, conv.get_weights()[0], bias, conv.strides, conv.dilation_rate, conv.padding)
    outputs, _ = conv.forward(x, training=False)
    assert outputs.shape == conv.compute_output_shape((3, 11, 5)) == expected.shape
    np.testing.assert_allclose(outputs, expected, rtol=1e-5, atol=1e-5)


def test_conv1d_channels_first_is_the_transposed_computation():
    x = np.random.default_rng(2).standard_normal((2, 9, 3)).astype(np.float32)
    last = built(layers.Conv1D(4, 3, padding="same", activation="tanh"), (2, 9, 3))
    first = layers.Conv1D(4, 3, padding="same", activation="tanh", data_format="channels_first")
    first.build((2, 3, 9))
    first.set_weights(last.get_weights())
    np.testing.assert_allclose(first(x.transpose(0, 2, 1)), last(x).transpose(0, 2, 1), rtol=1e-6, atol=1e-6)
    check_layer_gradients(first, np.ascontiguousarray(x.transpose(0, 2, 1)))


@pytest.mark.parametrize("case", [dict(kernel_size=3), dict(kernel_size=4, strides=2, padding="same"),
                                  dict(kernel_size=2, padding="causal", dilation_rate=2),
                                  dict(kernel_size=3, activation="gelu", padding="same"),
                                  dict(kernel_size=3, activation="tanh", use_bias=False)])
def test_conv1d_gradients_match_finite_differences(case):
    conv = layers.Conv1D(3, **case)
    conv.build((2, 7, 4))
    check_layer_gradients(conv, np.random.default_rng(3).standard_normal((2, 7, 4)).astype(np.float32))


POOL_CASES = [dict(pool_size=2), dict(pool_size=3), dict(pool_size=2, strides=1), dict(pool_size=3, strides=2),
              dict(pool_size=2, strides=3), dict(pool_size=3, strides=1, padding="same"),
              dict(pool_size=4, padding="same"), dict(pool_size=4, strides=3, padding="same"),
              dict(pool_size=11), dict(pool_size=1)]


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("kind, reduce", [("MaxPooling1D", np.max), ("AveragePooling1D", np.mean)])
def test_pooling_matches_float64_reference(case, kind, reduce):
    layer = getattr(layers, kind)(**case)
    x = np.random.default_rng(4).standard_normal((3, 11, 5)).astype(np.float32)
    expected = pool_reference(x, layer.pool_size, layer.strides, layer.padding, reduce)
    outputs, _ = layer.forward(x, training=False)
    assert outputs.shape == layer.compute_output_shape((3, 11, 5)) == expected.shape
    np.testing.assert_allclose(outputs, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("kind", ["MaxPooling1D", "AveragePooling1D"])
def test_pooling_gradients_match_finite_differences(case, kind):
    # Distinct values 0.1 apart: no step of 1e-2 reorders a window's maximum.
    x = (0.1 * np.random.default_rng(5).permutation(2 * 11 * 3)).reshape(2, 11, 3).astype(np.float32)
    check_layer_gradients(getattr(layers, kind)(**case), x)


def test_max_pooling_keeps_the_first_nan_and_sends_ties_to_the_first_step():
    x = np.array([[[1.0], [np.nan], [3.0], [2.0], [2.0], [0.0]]], np.float32)
    pool = layers.MaxPooling1D(2)
    outputs, ctx = pool.forward(x, training=True)
    assert np.isnan(outputs[0, 0, 0]) and outputs[0, 1, 0] == 3.0
    d_x, _ = pool.backward(ctx, np.ones_like(outputs))
    np.testing.assert_array_equal(d_x[0, :, 0], [0, 1, 1, 0, 1, 0])


def test_windows_refuse_what_keras_refuses_and_inputs_that_are_too_short():
    with pytest.raises(ValueError, match="strides > 1 is not supported with dilation_rate > 1"):
        layers.Conv1D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="groups=1 only"):
        layers.Conv1D(4, 3, groups=2)
    with pytest.raises(ValueError, match=r"padding in \['valid', 'same'\]"):
        layers.MaxPooling1D(2, padding="causal")
    with pytest.raises(ValueError, match="kernel_size to be an int or a tuple of one int"):
        layers.Conv1D(2, (3, 3))
    with pytest.raises(ValueError, match="kernel_size > 0"):
        layers.Conv1D(2, 0)
    conv = layers.Conv1D(2, 5)
    conv.build((1, 4, 3))
    with pytest.raises(ValueError, match="4 steps is shorter than the kernel's span 5"):
        conv(np.zeros((1, 4, 3), np.float32))
    with pytest.raises(ValueError, match="conv1d_forward: expected kernel input channels = 2, received 3"):
        conv(np.zeros((1, 6, 2), np.float32))
    with pytest.raises(ValueError, match="3 steps is shorter than pool_size=4"):
        layers.AveragePooling1D(4)(np.zeros((1, 3, 2), np.float32))


def test_configs_round_trip_in_keras_form():
    conv = layers.Conv1D(8, 3, strides=2, padding="same", activation="relu", name="c")
    config = conv.get_config()
    assert (config["kernel_size"], config["strides"], config["dilation_rate"], config["groups"]) == ((3,), (2,),
                                                                                                     (1,), 1)
    restored = layers.Conv1D.from_config(config)
    assert restored.get_config() == config
    pool = layers.MaxPooling1D(pool_size=3, padding="same")
    assert pool.get_config()["strides"] == (3,)
    assert layers.MaxPooling1D.from_config(pool.get_config()).get_config() == pool.get_config()


def test_a_cnn_lstm_text_model_learns_saves_and_counts_keras_parameters(tmp_path):
    rng = np.random.default_rng(6)
    x = rng.integers(1, 50, size=(256, 20))
    y = (x[:, :10] < 25).mean(axis=1, keepdims=True).round().astype(np.float32)
    model = models.Sequential([layers.Input((20,)), layers.Embedding(50, 8), layers.Conv1D(16, 3, activation="relu"),
                               layers.MaxPooling1D(2), layers.LSTM(8), layers.Dense(1, activation="sigmoid")])
    # Keras' counts: embedding 50*8, conv 3*8*16 + 16, lstm 4*8*(16+8+1), dense 8 + 1.
    assert [layer.count_params() for layer in model.layers] == [400, 400, 0, 800, 9]
    model.compile(optimizer=optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=15, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0] and history.history["accuracy"][-1] > 0.9
    path = tmp_path / "cnn_lstm.rnnkit"
    saving.save_model(model, str(path))
    np.testing.assert_array_equal(saving.load_model(str(path)).predict(x[:5], verbose=0),
                                  model.predict(x[:5], verbose=0))
