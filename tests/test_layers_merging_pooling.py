"""Concatenate, Add and global 1-D pooling: values, gradients and Keras 3's mask rules."""
import numpy as np
import pytest
from reference.gradient_check import check_layer_gradients

from rnnkit import layers


def random_array(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("axis", [-1, 1])
def test_concatenate_values_and_gradients(axis):
    a, b = random_array(0, 2, 3, 4), random_array(1, 2, 3, 4)
    concatenate = layers.Concatenate(axis=axis)
    outputs, _ = concatenate.forward([a, b], training=False)
    np.testing.assert_array_equal(outputs, np.concatenate([a, b], axis=axis))
    check_layer_gradients(concatenate, [a, b])


def test_concatenate_shapes_and_errors():
    concatenate = layers.Concatenate(name="join")
    assert concatenate.compute_output_shape([(None, 3, 4), (None, 3, 2)]) == (None, 3, 6)
    with pytest.raises(ValueError, match="join"):
        concatenate.forward([np.zeros((2, 3)), np.zeros((3, 3))], training=False)
    with pytest.raises(ValueError, match="list"):
        concatenate.forward(np.zeros((2, 3)), training=False)


def test_concatenate_mask_is_the_or_of_feature_masks():
    concatenate = layers.Concatenate()
    a, b = np.zeros((2, 3, 4)), np.zeros((2, 3, 2))
    mask_a = np.array([[1, 0, 0], [1, 1, 0]], bool)
    mask_b = np.array([[0, 0, 1], [1, 1, 0]], bool)
    np.testing.assert_array_equal(concatenate.compute_mask([a, b], [mask_a, mask_b]), mask_a | mask_b)
    np.testing.assert_array_equal(concatenate.compute_mask([a, b], [mask_a, None]), np.ones((2, 3), bool))
    assert concatenate.compute_mask([a, b], [None, None]) is None


def test_add_values_gradients_and_broadcasting():
    a, b, c = random_array(2, 2, 3), random_array(3, 2, 3), random_array(4, 1, 3)
    add = layers.Add()
    outputs, _ = add.forward([a, b, c], training=False)
    np.testing.assert_allclose(outputs, a.astype(np.float64) + b + c, rtol=1e-6)
    check_layer_gradients(add, [a, b, c])
    assert add.compute_output_shape([(None, 3), (None, 3)]) == (None, 3)


def test_subtract_and_average_values_gradients_and_broadcasting():
    a, b, c = random_array(2, 2, 3), random_array(3, 1, 3), random_array(4, 2, 3)
    subtract, average = layers.Subtract(), layers.Average()
    np.testing.assert_allclose(subtract.forward([a, b], training=False)[0], a.astype(np.float64) - b, rtol=1e-6)
    np.testing.assert_allclose(average.forward([a, b, c], training=False)[0], (a.astype(np.float64) + b + c) / 3,
                               rtol=1e-6)
    check_layer_gradients(subtract, [a, b])
    check_layer_gradients(average, [a, b, c])
    with pytest.raises(ValueError, match="expected exactly 2 inputs, received 3"):
        subtract.forward([a, b, c], training=False)
    m1, m2 = np.array([[1, 0, 0]], bool), np.array([[0, 1, 0]], bool)
    np.testing.assert_array_equal(average.compute_mask([None, None], [m1, m2]), m1 | m2)


def test_add_mask_needs_every_mask():
    add = layers.Add()
    m1, m2 = np.array([[1, 0, 0]], bool), np.array([[0, 1, 0]], bool)
    np.testing.assert_array_equal(add.compute_mask([None, None], [m1, m2]), m1 | m2)
    assert add.compute_mask([None, None], [m1, None]) is None


def test_global_average_pooling_masked_mean_and_gradient():
    x = random_array(5, 3, 4, 2)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 1]], bool)
    pooling = layers.GlobalAveragePooling1D()
    outputs, _ = pooling.forward(x, training=False, mask=mask)
    weights = mask / mask.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(outputs, np.einsum("bt,btf->bf", weights, x.astype(np.float64)), rtol=1e-6)
    check_layer_gradients(pooling, x, mask=mask)
    assert pooling.compute_mask(x, mask) is None


def test_global_average_pooling_without_mask_channels_first_and_keepdims():
    x = random_array(6, 2, 3, 5)
    plain, _ = layers.GlobalAveragePooling1D().forward(x, training=False)
    np.testing.assert_allclose(plain, x.mean(axis=1), rtol=1e-6)
    channels_first = layers.GlobalAveragePooling1D(data_format="channels_first", keepdims=True)
    outputs, _ = channels_first.forward(x, training=False)
    np.testing.assert_allclose(outputs, x.mean(axis=2, keepdims=True), rtol=1e-6)
    assert channels_first.compute_output_shape((None, 3, 5)) == (None, 3, 1)
    check_layer_gradients(channels_first, x)


def test_global_max_pooling_value_and_gradient():
    x = random_array(7, 2, 5, 3)
    pooling = layers.GlobalMaxPooling1D()
    outputs, _ = pooling.forward(x, training=False)
    np.testing.assert_array_equal(outputs, x.max(axis=1))
    check_layer_gradients(pooling, x)
    assert pooling.compute_output_shape((None, 5, 3)) == (None, 3)


def test_global_max_pooling_keeps_nan():
    """A NaN step is the maximum, as in Keras (torch.max): the sample's diverged state shows in the output, and
    the gradient goes to the first NaN step."""
    x = random_array(8, 2, 5, 3)
    x[0, 1, 0] = x[0, 3, 0] = np.nan
    x[1, 4, 2] = np.nan
    pooling = layers.GlobalMaxPooling1D()
    outputs, ctx = pooling.forward(x, training=True)
    assert np.isnan(outputs[0, 0]) and np.isnan(outputs[1, 2])
    finite = np.isfinite(outputs)
    np.testing.assert_array_equal(outputs[finite], x.max(axis=1)[finite])
    d_x, _ = pooling.backward(ctx, np.ones_like(outputs))
    assert d_x[0, 1, 0] == 1 and d_x[0, 3, 0] == 0 and d_x[1, 4, 2] == 1


def test_pooling_rejects_wrong_rank():
    with pytest.raises(ValueError, match="rank 3"):
        layers.GlobalMaxPooling1D().forward(np.zeros((2, 3), np.float32), training=False)
