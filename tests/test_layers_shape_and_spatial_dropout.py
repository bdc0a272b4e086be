"""Reshape, Permute and SpatialDropout1D against numpy's reshape and transpose and the definition of channel
dropout; gradients by finite differences; masks as Keras 3 treats them."""
import numpy as np
import pytest
from reference.gradient_check import check_layer_gradients

import rnnkit
from rnnkit import layers, models, optimizers


def random_array(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("target, expected", [((6, 2), (6, 2)), ((-1, 3), (4, 3)), ((2, -1, 2), (2, 3, 2)),
                                              ((12,), (12,)), ((-1,), (12,))])
def test_reshape_is_numpys_reshape_with_one_inferred_size(target, expected):
    x = random_array(5, 3, 4)
    layer = layers.Reshape(target)
    outputs, _ = layer.forward(x, training=False)
    assert outputs.shape == (5,) + expected
    assert layer.compute_output_shape((None, 3, 4)) == (None,) + expected
    np.testing.assert_array_equal(outputs, x.reshape((5,) + expected))
    check_layer_gradients(layer, x)


def test_reshape_output_shape_with_unknown_sizes_and_errors():
    assert layers.Reshape((-1, 2)).compute_output_shape((None, None, 4)) == (None, None, 2)
    with pytest.raises(ValueError, match="at most one -1"):
        layers.Reshape((-1, -1))
    with pytest.raises(ValueError, match="positive sizes"):
        layers.Reshape((0, 3))
    with pytest.raises(ValueError, match=r"cannot reshape an input of shape \(2, 3, 4\) \(12 values a sample\) to "
                                         r"\(5, -1\)"):
        layers.Reshape((5, -1))(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match=r"\(12 values a sample\) to \(5, 2\)"):
        layers.Reshape((5, 2))(np.zeros((2, 3, 4), np.float32))


@pytest.mark.parametrize("dims", [(2, 1), (1, 2), (3, 1, 2), (2, 3, 1)])
def test_permute_is_numpys_transpose_of_the_sample_axes(dims):
    x = random_array(*((2, 3, 4) if len(dims) == 2 else (2, 3, 4, 5)))
    layer = layers.Permute(dims)
    outputs, _ = layer.forward(x, training=False)
    np.testing.assert_array_equal(outputs, x.transpose((0,) + dims))
    assert outputs.shape == layer.compute_output_shape(x.shape)
    check_layer_gradients(layer, x)


def test_permute_refuses_what_is_not_a_permutation():
    with pytest.raises(ValueError, match=r"permutation of 1\.\.2, received \(0, 1\)"):
        layers.Permute((0, 1))
    with pytest.raises(ValueError, match="expected input of rank 3"):
        layers.Permute((2, 1))(np.zeros((2, 3, 4, 5), np.float32))


def test_spatial_dropout_drops_whole_channels_and_backpropagates_through_the_same_mask():
    rate = 0.4
    layer = layers.SpatialDropout1D(rate, seed=3)
    x = random_array(64, 7, 16) + 5.0  # away from 0, so a zero output means a dropped entry
    outputs, ctx = layer.forward(x, training=True)
    kept = outputs != 0.0
    assert np.all(kept.all(axis=1) | (~kept).all(axis=1))  # per (sample, channel): every step or none
    np.testing.assert_allclose(outputs[kept], x[kept] / (1.0 - rate), rtol=1e-6)
    assert abs((~kept[:, 0, :]).mean() - rate) < 0.06  # 1,024 channels dropped with probability 0.4
    d_outputs = random_array(64, 7, 16, seed=1)
    d_x, _ = layer.backward(ctx, d_outputs)
    np.testing.assert_allclose(d_x, np.where(kept, d_outputs / (1.0 - rate), 0.0), rtol=1e-6)
    np.testing.assert_array_equal(layer.forward(x, training=False)[0], x)


def test_spatial_dropout_config_keeps_keras_keys_and_masks_pass_through():
    config = layers.SpatialDropout1D(0.3, seed=5, name="sd").get_config()
    assert {"rate": 0.3, "seed": 5, "name": "sd"}.items() <= config.items() and "noise_shape" not in config
    assert layers.SpatialDropout1D.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="expected input of rank 3"):
        layers.SpatialDropout1D(0.3).forward(np.zeros((2, 3), np.float32), training=True)
    x, mask = np.zeros((2, 4, 3), np.float32), np.array([[1, 1, 0, 0], [1, 0, 0, 0]], bool)
    np.testing.assert_array_equal(layers.SpatialDropout1D(0.2).compute_mask(x, mask), mask)
    assert layers.Reshape((3, 4)).compute_mask(x, mask) is None and layers.Permute((2, 1)).compute_mask(x, mask) is None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_model_through_reshape_and_permute_trains(seed):
    rnnkit.random.set_random_seed(seed)  # the dropout draws: the result may not hang on the tests run before
    rng = np.random.default_rng(2)
    x = rng.standard_normal((256, 12)).astype(np.float32)
    y = x.reshape(256, 4, 3).sum(axis=2, keepdims=True).transpose(0, 2, 1)
    model = models.Sequential([layers.Input((12,)), layers.Reshape((4, 3)), layers.SpatialDropout1D(0.2),
                               layers.Dense(1, use_bias=False), layers.Permute((2, 1))])
    model.compile(optimizer=optimizers.Adam(0.02), loss="mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=40, batch_size=32, verbose=0)
    assert model.predict(x[:2], verbose=0).shape == (2, 1, 4)
    assert model.evaluate(x, y, verbose=0) < 0.15 * before
    # Under channel dropout at rate p the squared error is least with every weight at 1 - p, not 1.
    np.testing.assert_allclose(model.layers[2].get_weights()[0].ravel(), [0.8, 0.8, 0.8], atol=0.08)
