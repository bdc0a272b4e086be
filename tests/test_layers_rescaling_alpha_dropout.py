"""Rescaling and AlphaDropout against float64 numpy references. Rescaling: x * scale + offset with numpy broadcasting
of list and array factors. AlphaDropout: the identity at inference; in training, with the keep mask drawn from the
layer's seeded stream, a * (x * keep + p * (1 - keep)) + b with p = -alpha * scale of SELU, a = ((1 - rate)(1 + rate
p^2))^-1/2, b = -a p rate; inputs of zero mean and unit variance keep both. Gradients by finite differences (of the
layer, and of the reference under the same mask), save/load, masks, configs and errors. Tolerances: 1e-6 relative
(float32 against float64); the moments 1e-2 over 10^6 draws."""
import numpy as np
import pytest
from reference.gradient_check import check_layer_gradients, reference_gradients
from reference.layer_checks import relative_error

import rnnkit
from rnnkit import layers

SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


@pytest.mark.parametrize("scale, offset, shape", [(1 / 255, 0.0, (2, 4, 3)), (2.0, -1.0, (3, 5)),
                                                  ([0.5, 2.0, -1.0], [1.0, 0.0, 0.25], (2, 4, 3)),
                                                  (np.array([[1.5], [0.5], [2.0], [3.0]]), 0.5, (2, 4, 3)),
                                                  ([[0.5, 1, 2], [2, 3, 4]], 0.0, (3, 1, 3))])
def test_rescaling_matches_float64_reference_and_gradients(scale, offset, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32) * 50
    layer = layers.Rescaling(scale, offset)
    expected = x.astype(np.float64) * np.asarray(scale, np.float64) + np.asarray(offset, np.float64)
    assert relative_error(layer(x), expected) < 1e-6
    check_layer_gradients(layer, x)


def test_rescaling_takes_integer_inputs_and_keeps_masks():
    pixels = np.arange(24, dtype=np.uint8).reshape(2, 4, 3) * 10
    y = layers.Rescaling(1 / 127.5, -1)(pixels)
    assert y.dtype == np.float32
    assert relative_error(y, pixels / 127.5 - 1) < 1e-6
    mask = np.array([[True, False, True, True], [False, True, True, True]])
    assert layers.Rescaling(2.0).compute_mask(y, mask) is mask


def test_rescaling_model_saves_and_loads_with_array_factors(tmp_path):
    model = rnnkit.Sequential([layers.Input((5, 3)), layers.Rescaling(np.array([0.5, 1.0, 2.0], np.float32), [1, 2, 3]),
                               layers.LSTM(2)])
    x = np.random.default_rng(1).standard_normal((4, 5, 3)).astype(np.float32)
    model.compile("adam", "mse")
    model.fit(x, np.zeros((4, 2), np.float32), epochs=1, verbose=0)
    model.save(tmp_path / "rescaling.keras")
    loaded = rnnkit.saving.load_model(tmp_path / "rescaling.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    config = model.layers[0].get_config()
    assert config["scale"] == {"class_name": "__numpy__", "config": {"value": [0.5, 1.0, 2.0], "dtype": "float32"}}
    assert config["offset"] == [1, 2, 3]
    assert layers.Rescaling.from_config(config).get_config() == config


def test_rescaling_errors():
    with pytest.raises(TypeError, match="scale"):
        layers.Rescaling("half")
    with pytest.raises(TypeError, match="offset"):
        layers.Rescaling(1.0, offset=[1, "a"])
    with pytest.raises(ValueError, match="do not broadcast"):
        layers.Rescaling([1.0, 2.0])(np.zeros((2, 3), np.float32))


def alpha_reference(x, keep, rate):
    saturation = -SELU_ALPHA * SELU_SCALE
    a = ((1 - rate) * (1 + rate * saturation ** 2)) ** -0.5
    return a * (x.astype(np.float64) * keep + saturation * (1 - keep)) - a * saturation * rate


@pytest.mark.parametrize("rate, noise_shape", [(0.2, None), (0.5, (None, 1, 4)), (0.05, (1, 6, 1))])
def test_alpha_dropout_matches_float64_reference_with_its_mask(rate, noise_shape):
    x = np.random.default_rng(2).standard_normal((3, 6, 4)).astype(np.float32)
    layer = layers.AlphaDropout(rate, noise_shape=noise_shape, seed=7)
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer(x, training=False), x)
    y, ctx = layer.forward(x, training=True)
    mask_shape = tuple(d if n is None else n for n, d in zip(noise_shape or x.shape, x.shape))
    keep = (np.random.default_rng(7).random(mask_shape) >= rate).astype(np.float64)
    assert relative_error(y, alpha_reference(x, keep, rate)) < 1e-6
    projection = np.random.default_rng(3).standard_normal(y.shape)
    d_x, d_weights = layer.backward(ctx, projection.astype(np.float32))
    expected, = reference_gradients(lambda v: alpha_reference(v, keep, rate), [x], projection)
    assert relative_error(d_x, expected) < 1e-6 and d_weights == []


def test_alpha_dropout_keeps_zero_mean_and_unit_variance():
    x = np.random.default_rng(4).standard_normal(10 ** 6).astype(np.float32)
    y = layers.AlphaDropout(0.3, seed=1)(x, training=True)
    assert abs(y.mean()) < 1e-2 and abs(y.var() - 1) < 1e-2
    _, counts = np.unique(y, return_counts=True)
    assert abs(counts.max() / y.size - 0.3) < 1e-2  # the dropped: one value


def test_alpha_dropout_draws_and_gradients():
    x = np.random.default_rng(5).standard_normal((4, 5)).astype(np.float32)
    first, second = layers.AlphaDropout(0.4, seed=3), layers.AlphaDropout(0.4, seed=3)
    np.testing.assert_array_equal(first(x, training=True), second(x, training=True))
    assert not np.array_equal(first(x, training=True), first(x, training=True))  # a new mask each call
    np.testing.assert_array_equal(layers.AlphaDropout(0.0)(x, training=True), x)
    rnnkit.utils.set_random_seed(11)
    unseeded = layers.AlphaDropout(0.4)(x, training=True)
    rnnkit.utils.set_random_seed(11)
    np.testing.assert_array_equal(layers.AlphaDropout(0.4)(x, training=True), unseeded)

    class Replayed(layers.AlphaDropout):  # the same mask on every forward, for finite differences
        def forward(self, inputs, *, training=False, mask=None):
            self._seed_stream = np.random.default_rng(9)
            return super().forward(inputs, training=training, mask=mask)

    check_layer_gradients(Replayed(0.3), x)


def test_alpha_dropout_model_mask_save_and_load(tmp_path):
    model = rnnkit.Sequential([layers.Input((4, 3)), layers.Masking(0.0), layers.AlphaDropout(0.2, seed=0),
                               layers.Dense(3, activation="selu"), layers.LSTM(2)])
    x = np.random.default_rng(6).standard_normal((6, 4, 3)).astype(np.float32)
    x[0, 2:] = 0
    model.compile("adam", "mse")
    model.fit(x, np.zeros((6, 2), np.float32), epochs=2, verbose=0)
    plain = rnnkit.Sequential([layers.Input((4, 3)), layers.Masking(0.0), layers.Dense(3, activation="selu"),
                               layers.LSTM(2)])
    plain.set_weights(model.get_weights())
    np.testing.assert_array_equal(model.predict(x, verbose=0), plain.predict(x, verbose=0))  # mask passed on
    model.save(tmp_path / "alpha.keras")
    loaded = rnnkit.saving.load_model(tmp_path / "alpha.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    config = model.layers[1].get_config()
    assert (config["rate"], config["seed"], config["noise_shape"]) == (0.2, 0, None)
    assert layers.AlphaDropout.from_config(config).get_config() == config


def test_alpha_dropout_errors():
    for rate in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="rate"):
            layers.AlphaDropout(rate)
    with pytest.raises(TypeError, match="rate"):
        layers.AlphaDropout("0.5")
    with pytest.raises(ValueError, match="noise_shape"):
        layers.AlphaDropout(0.5, noise_shape=(None, 1))(np.zeros((2, 3, 4), np.float32), training=True)
