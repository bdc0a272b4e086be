"""Dense, Activation, Dropout, Flatten, RepeatVector and Masking against float64 numpy references."""
import numpy as np
import pytest
from reference.gradient_check import check_layer_gradients

from rnnkit import layers


def built(layer, shape):
    layer.build(shape)
    return layer


def random_array(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 3)])
@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_matches_float64_reference(shape, use_bias):
    rng = np.random.default_rng(1)
    dense = built(layers.Dense(6, activation="tanh", use_bias=use_bias), shape)
    weights = [random_array(rng, 3, 6)] + ([random_array(rng, 6)] if use_bias else [])
    dense.set_weights(weights)
    x = random_array(rng, *shape)
    expected = np.tanh(x.astype(np.float64) @ weights[0] + (weights[1] if use_bias else 0.0))
    outputs, _ = dense.forward(x, training=False)
    assert outputs.shape == shape[:-1] + (6,)
    np.testing.assert_allclose(outputs, expected, rtol=1e-5, atol=1e-6)


# gelu ... tanh_shrink: the derivative reads the pre-activation the layer keeps; log_softmax: over rows. Smooth ones
# only: the weights are random, so a kink could fall within a finite-difference step.
@pytest.mark.parametrize("activation", ["sigmoid", "gelu", "silu", "mish", "tanh_shrink", "log_softmax"])
def test_dense_gradients_match_finite_differences(activation):
    rng = np.random.default_rng(2)
    dense = built(layers.Dense(4, activation=activation), (2, 3, 5))
    check_layer_gradients(dense, random_array(rng, 2, 3, 5))


def test_dense_weights_shapes_names_and_round_trip():
    dense = built(layers.Dense(3), (None, 4))
    assert [w.shape for w in dense.weights] == [(4, 3), (3,)]
    assert [w.path for w in dense.weights] == [f"{dense.name}/kernel", f"{dense.name}/bias"]
    assert dense.count_params() == 4 * 3 + 3
    new_values = [np.arange(12, dtype=np.float32).reshape(4, 3), np.ones(3, np.float32)]
    dense.set_weights(new_values)
    for got, expected in zip(dense.get_weights(), new_values):
        np.testing.assert_array_equal(got, expected)


def test_dense_config_round_trip_keeps_every_argument():
    dense = layers.Dense(5, activation="relu", use_bias=False, kernel_initializer="he_normal",
                         bias_initializer="ones", name="head")
    config = dense.get_config()
    assert config["units"] == 5 and config["activation"] == "relu" and config["use_bias"] is False
    assert config["kernel_initializer"]["class_name"] == "HeNormal"
    clone = layers.Dense.from_config(config)
    assert clone.get_config() == config


def test_dense_errors_name_the_layer_and_the_values():
    with pytest.raises(ValueError, match="units"):
        layers.Dense(0)
    with pytest.raises(TypeError, match="units"):
        layers.Dense("3")
    with pytest.raises(ValueError, match="did you mean 'tanh'"):
        layers.Dense(3, activation="tanhh")
    with pytest.raises(ValueError, match="did you mean 'glorot_uniform'"):
        layers.Dense(3, kernel_initializer="glorot_unifrom")
    dense = built(layers.Dense(3, name="proj"), (None, 4))
    with pytest.raises(ValueError, match=r"proj.*last dimension 4.*\(2, 5\)"):
        dense.forward(np.zeros((2, 5), np.float32), training=False)


def test_dense_output_shape_keeps_leading_axes():
    assert layers.Dense(7).compute_output_shape((None, 3, 4)) == (None, 3, 7)


def softmax64(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("name, reference", [
    ("softmax", softmax64),
    ("tanh", np.tanh),
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x))),
    ("relu", lambda x: np.maximum(x, 0)),
])
def test_activation_layer_matches_reference(name, reference):
    x = random_array(np.random.default_rng(3), 3, 5)
    outputs, _ = layers.Activation(name).forward(x, training=False)
    np.testing.assert_allclose(outputs, reference(x.astype(np.float64)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["softmax", "tanh", "sigmoid", "gelu", "swish", "mish", "log_softmax"])
def test_activation_gradients_match_finite_differences(name):
    check_layer_gradients(layers.Activation(name), random_array(np.random.default_rng(4), 3, 4))


def test_dropout_is_identity_outside_training():
    x = random_array(np.random.default_rng(5), 4, 6)
    outputs, ctx = layers.Dropout(0.5).forward(x, training=False)
    np.testing.assert_array_equal(outputs, x)
    assert ctx is None


def test_dropout_keeps_scaled_inputs_and_backpropagates_through_the_same_mask():
    rate = 0.25
    x = np.ones((200, 50), np.float32)
    dropout = layers.Dropout(rate, seed=7)
    outputs, ctx = dropout.forward(x, training=True)
    kept = outputs != 0
    np.testing.assert_allclose(outputs[kept], 1 / (1 - rate), rtol=1e-6)
    assert abs(1 - kept.mean() - rate) < 0.02  # 10,000 draws: 4 standard deviations of the drop fraction
    d_outputs = random_array(np.random.default_rng(6), 200, 50)
    d_inputs, d_weights = dropout.backward(ctx, d_outputs)
    np.testing.assert_allclose(d_inputs, np.where(kept, d_outputs / (1 - rate), 0.0), rtol=1e-6)
    assert d_weights == []


def test_dropout_noise_shape_shares_the_mask_along_broadcast_axes():
    outputs, _ = layers.Dropout(0.5, noise_shape=(None, 1, 4), seed=1).forward(
        np.ones((3, 5, 4), np.float32), training=True)
    assert (outputs == outputs[:, :1, :]).all()


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_dropout_rejects_rates_outside_unit_interval(rate):
    with pytest.raises(ValueError, match="rate"):
        layers.Dropout(rate)


@pytest.mark.parametrize("make, shift, deviation, additive", [
    (lambda: layers.GaussianNoise(0.5, seed=3), 0.0, 0.5, True),
    (lambda: layers.GaussianDropout(0.2, seed=3), 1.0, 0.5, False),  # deviation sqrt(0.2 / 0.8)
])
def test_gaussian_noise_and_dropout_draw_their_noise_in_training_only(make, shift, deviation, additive):
    layer = make()
    x = np.full((200, 100), 2.0, np.float32)
    np.testing.assert_array_equal(layer.forward(x, training=False)[0], x)
    outputs, ctx = layer.forward(x, training=True)
    noise = outputs - x if additive else outputs / x
    # 20,000 draws: mean within 4 standard errors, deviation within 4 of its own
    assert abs(noise.mean() - shift) < 4 * deviation / np.sqrt(noise.size)
    assert abs(noise.std() - deviation) < 4 * deviation / np.sqrt(2 * noise.size)
    assert len(np.unique(noise)) > noise.size * 0.99  # a draw per entry
    d_outputs = random_array(np.random.default_rng(6), 200, 100)
    d_inputs, d_weights = layer.backward(ctx, d_outputs)
    np.testing.assert_allclose(d_inputs, d_outputs if additive else d_outputs * noise, rtol=1e-6)
    assert d_weights == []


def test_gaussian_noise_arguments_are_checked_as_keras_does():
    with pytest.raises(ValueError, match="stddev in \\[0, 1\\]"):
        layers.GaussianNoise(1.5)
    with pytest.raises(ValueError, match="rate in \\[0, 1\\)"):
        layers.GaussianDropout(1.0)
    assert layers.GaussianNoise(0.1, seed=4).get_config()["stddev"] == 0.1
    assert layers.GaussianDropout(0.3).get_config()["rate"] == 0.3


@pytest.mark.parametrize("layer, steps", [(lambda: layers.ZeroPadding1D((1, 2)), 7), (lambda: layers.Cropping1D(1), 2),
                                          (lambda: layers.UpSampling1D(3), 12), (lambda: layers.Identity(), 4)])
def test_steps_resizing_values_and_gradients(layer, steps):
    x = random_array(np.random.default_rng(9), 2, 4, 3)
    made = layer()
    outputs, _ = made.forward(x, training=False)
    assert outputs.shape == (2, steps, 3) and made.compute_output_shape((None, 4, 3)) == (None, steps, 3)
    expected = {"ZeroPadding1D": lambda: np.pad(x, ((0, 0), (1, 2), (0, 0))), "Cropping1D": lambda: x[:, 1:3],
                "UpSampling1D": lambda: np.repeat(x, 3, axis=1), "Identity": lambda: x}[type(made).__name__]()
    np.testing.assert_array_equal(outputs, expected)
    check_layer_gradients(made, x)


def test_zero_padding_channels_first_pads_the_last_axis_and_bad_arguments_are_refused():
    x = random_array(np.random.default_rng(10), 2, 3, 4)
    outputs, _ = layers.ZeroPadding1D(2, data_format="channels_first").forward(x, training=False)
    np.testing.assert_array_equal(outputs, np.pad(x, ((0, 0), (0, 0), (2, 2))))
    with pytest.raises(ValueError, match="non-negative int or a pair"):
        layers.ZeroPadding1D((1, -1))
    with pytest.raises(ValueError, match="leaves no step"):
        layers.Cropping1D((2, 2)).forward(x, training=False)


def test_flatten_and_its_gradient():
    x = random_array(np.random.default_rng(8), 2, 3, 4)
    flatten = layers.Flatten()
    outputs, _ = flatten.forward(x, training=False)
    np.testing.assert_array_equal(outputs, x.reshape(2, 12))
    assert flatten.compute_output_shape((None, 3, 4)) == (None, 12)
    check_layer_gradients(flatten, x)


def test_flatten_channels_first_moves_channels_last():
    x = random_array(np.random.default_rng(9), 2, 3, 4)
    outputs, _ = layers.Flatten(data_format="channels_first").forward(x, training=False)
    np.testing.assert_array_equal(outputs, np.moveaxis(x, 1, -1).reshape(2, 12))
    check_layer_gradients(layers.Flatten(data_format="channels_first"), x)


def test_repeat_vector_repeats_and_sums_gradients():
    x = random_array(np.random.default_rng(10), 2, 3)
    repeat = layers.RepeatVector(4)
    outputs, _ = repeat.forward(x, training=False)
    assert outputs.shape == (2, 4, 3)
    np.testing.assert_array_equal(outputs, np.stack([x] * 4, axis=1))
    assert repeat.compute_output_shape((None, 3)) == (None, 4, 3)
    check_layer_gradients(repeat, x)
    with pytest.raises(ValueError, match="n"):
        layers.RepeatVector(0)


def test_masking_zeroes_and_masks_steps_equal_to_mask_value():
    x = random_array(np.random.default_rng(11), 2, 4, 3)
    x[0, 1] = -1.0
    x[1, 3] = -1.0
    x[1, 0, 0] = -1.0  # one feature equal to mask_value is not enough to mask the step
    masking = layers.Masking(mask_value=-1.0)
    outputs, _ = masking.forward(x, training=False)
    expected_mask = np.array([[True, False, True, True], [True, True, True, False]])
    np.testing.assert_array_equal(masking.compute_mask(x, None), expected_mask)
    np.testing.assert_array_equal(outputs, x * expected_mask[..., None])
    _, ctx = masking.forward(x, training=True)
    d_inputs, _ = masking.backward(ctx, np.ones_like(x))
    np.testing.assert_array_equal(d_inputs, np.broadcast_to(expected_mask[..., None], x.shape))
    # A masked step's output jumps when a feature moves off mask_value: only kept steps are differentiable.
    check_layer_gradients(masking, x, input_where=expected_mask[..., None])
    assert masking.get_config()["mask_value"] == -1.0
