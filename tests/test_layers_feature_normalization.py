"""Normalization (Keras 3's feature standardisation) against float64 numpy references: adapt on arrays and on
batches, the forward and its inverse, given statistics, gradients by finite differences, configs and saving.
Keras itself is compared in test_layers_feature_normalization_keras.py."""
import numpy as np
import pytest
from reference.gradient_check import check_layer_gradients

import rnnkit
from rnnkit import _core, layers, saving


def data(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((12, 5, 3)) * [1.0, 5.0, 0.1] + [2.0, -1.0, 7.0]).astype(np.float32)


@pytest.mark.parametrize("axis, reduced", [(-1, (0, 1)), (None, (0, 1, 2)), ((1, 2), (0,))])
def test_adapt_learns_the_statistics_over_every_axis_but_the_kept_ones(axis, reduced):
    x = data()
    layer = layers.Normalization(axis=axis)
    layer.adapt(x)
    x64 = x.astype(np.float64)
    mean, variance = x64.mean(axis=reduced, keepdims=True), x64.var(axis=reduced, keepdims=True)
    np.testing.assert_allclose(layer.adapt_mean.numpy(), np.squeeze(mean, axis=reduced), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(layer.adapt_variance.numpy(), np.squeeze(variance, axis=reduced), rtol=1e-6)
    np.testing.assert_allclose(layer.forward(x)[0], (x64 - mean) / np.sqrt(variance), rtol=1e-5, atol=1e-5)
    assert [w.name for w in layer.weights] == ["mean", "variance", "count"] and layer.trainable_weights == []


def test_adapt_on_batches_combines_them_into_the_whole_data_statistics():
    x = data(1)
    layer = layers.Normalization()
    layer.adapt([x[:3], x[3:8], x[8:]])
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(layer.adapt_mean.numpy(), x64.mean(axis=(0, 1)), rtol=1e-6)
    np.testing.assert_allclose(layer.adapt_variance.numpy(), x64.var(axis=(0, 1)), rtol=1e-6)


def test_given_statistics_invert_and_the_floor_on_the_scale():
    x = data(2)
    given = layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 0.0])
    given.build((None, 5, 3))
    assert given.weights == []
    scale = np.array([1.0, 2.0, 1e-7])  # a zero variance divides by epsilon, not by zero
    np.testing.assert_allclose(given.forward(x)[0], (x - [1.0, 2.0, 3.0]) / scale, rtol=1e-5)
    inverse = layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0], invert=True)
    inverse.build((None, 5, 3))
    np.testing.assert_allclose(inverse.forward(x)[0], x * [1.0, 2.0, 3.0] + [1.0, 2.0, 3.0], rtol=1e-6)
    with pytest.raises(ValueError, match="both `mean` and `variance` must be set"):
        layers.Normalization(mean=[1.0])


@pytest.mark.parametrize("invert", [False, True])
def test_gradients_match_finite_differences(invert):
    layer = layers.Normalization(invert=invert)
    layer.adapt(data(3))
    check_layer_gradients(layer, np.ascontiguousarray(data(4)[:, :2]))


def test_a_model_trains_around_it_and_saves_it_but_the_cpp_api_refuses_it(tmp_path):
    x = data(5)
    norm = layers.Normalization()
    norm.adapt(x)
    model = rnnkit.Sequential([layers.Input((5, 3)), norm, layers.LSTM(4), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    before = [w.numpy() for w in norm.weights]
    model.fit(x, np.ones((12, 1), np.float32), epochs=1, verbose=0)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, norm.weights))  # not trained
    model.save(tmp_path / "m.rnnkit")
    back = saving.load_model(tmp_path / "m.rnnkit")
    np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))
    assert back.layers[0].get_config()["axis"] == (-1,)
    with pytest.raises(ValueError, match='layer class "Normalization" is not supported by the C\\+\\+ model API'):
        _core.CppModel(str(tmp_path / "m.rnnkit"))
