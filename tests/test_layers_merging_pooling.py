"""Concatenate, Add and global 1-D pooling: values, gradients and Keras 3's mask rules."""
import numpy as np
import pytest
from reference.gradient_check import check_layer_gradients

import rnnkit
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


MASK_A = np.array([[1, 1, 0], [1, 0, 0]], bool)  # (batch 2, steps 3)
MASK_B = np.array([[1, 0, 0], [0, 1, 0]], bool)


@pytest.mark.parametrize("masks", [None, [MASK_A, MASK_B], [MASK_A, None]])
def test_multiply_values_masks_and_gradients(masks):
    """Keras 3: a masked step of an input counts as 1; with every input masked, steps none keeps are 0."""
    a, b = random_array(6, 2, 3, 4), random_array(7, 2, 3, 4)
    multiply = layers.Multiply()
    factors = [x.astype(np.float64) if m is None else np.where(m[..., None], x, 1.0)
               for x, m in zip((a, b), masks or [None, None])]
    expected = factors[0] * factors[1]
    if masks is not None and all(m is not None for m in masks):
        expected = np.where((masks[0] | masks[1])[..., None], expected, 0.0)
    np.testing.assert_allclose(multiply.forward([a, b], training=False, mask=masks)[0], expected, rtol=1e-6)
    check_layer_gradients(multiply, [a, b], mask=masks)
    three = [a, b, random_array(8, 1, 3, 4)]
    np.testing.assert_allclose(multiply.forward(three, training=False)[0],
                               a.astype(np.float64) * b * three[2], rtol=1e-6)
    check_layer_gradients(multiply, three)


@pytest.mark.parametrize("layer, op", [(layers.Maximum, np.maximum), (layers.Minimum, np.minimum)])
@pytest.mark.parametrize("masks", [None, [MASK_A, MASK_B, MASK_A], [None, MASK_B, MASK_A]])
def test_maximum_and_minimum_follow_keras_pairwise_mask_rule(layer, op, masks):
    xs = [random_array(seed, 2, 3, 4) for seed in (9, 10, 11)]
    merge = layer()
    # Keras' loop, in float64: masked entries of the next input take the running output, and the other way round.
    output, output_mask = xs[0].astype(np.float64), None if masks is None else masks[0]
    for i in (1, 2):
        x, m = xs[i].astype(np.float64), None if masks is None else masks[i]
        if m is not None:
            x = np.where(m[..., None], x, output)
        if output_mask is not None:
            output = np.where(output_mask[..., None], output, x)
        output_mask = None if m is None or output_mask is None else output_mask | m
        output = op(output, x)
    np.testing.assert_array_equal(merge.forward(xs, training=False, mask=masks)[0], output.astype(np.float32))
    check_layer_gradients(merge, xs, mask=masks)


def test_maximum_splits_the_gradient_of_equal_values():
    """As PyTorch's maximum (Keras on torch): two equal entries each get half of the gradient."""
    a = np.array([[1.0, 2.0, 3.0]], np.float32)
    b = np.array([[1.0, 5.0, 0.0]], np.float32)
    maximum = layers.Maximum()
    _, ctx = maximum.forward([a, b], training=True)
    d_a, d_b = maximum.backward(ctx, np.ones((1, 3), np.float32))[0]
    np.testing.assert_array_equal(d_a, [[0.5, 0.0, 1.0]])
    np.testing.assert_array_equal(d_b, [[0.5, 1.0, 0.0]])


@pytest.mark.parametrize("shapes, axes, output", [
    (((2, 3, 4), (2, 5, 4)), (2, 2), (2, 3, 5)), (((2, 3, 4), (2, 4, 5)), (2, 1), (2, 3, 5)),
    (((2, 3, 4), (2, 3, 6)), 1, (2, 4, 6)), (((2, 3, 4), (2, 4)), (-1, -1), (2, 3)),
    (((2, 4), (2, 4)), 1, (2, 1)), (((2, 4), (2, 3, 4)), (1, 2), (2, 3))])
@pytest.mark.parametrize("normalize", [False, True])
def test_dot_is_keras_batch_dot(shapes, axes, output, normalize):
    x1, x2 = random_array(12, *shapes[0]), random_array(13, *shapes[1])
    dot = layers.Dot(axes=axes, normalize=normalize)
    a1, a2 = (axes, axes) if isinstance(axes, int) else axes
    a1, a2 = a1 % len(shapes[0]), a2 % len(shapes[1])
    left, right = x1.astype(np.float64), x2.astype(np.float64)
    if normalize:
        left = left / np.sqrt(np.sum(left ** 2, axis=a1, keepdims=True))
        right = right / np.sqrt(np.sum(right ** 2, axis=a2, keepdims=True))
    expected = np.stack([np.tensordot(left[i], right[i], axes=(a1 - 1, a2 - 1)) for i in range(2)])
    got = dot.forward([x1, x2], training=False)[0]
    assert got.shape == output == (2,) + dot.compute_output_shape([(None,) + s[1:] for s in shapes])[1:]
    np.testing.assert_allclose(got, expected.reshape(output), rtol=1e-5, atol=1e-6)
    check_layer_gradients(dot, [x1, x2])
    assert dot.compute_mask([x1, x2], [None, None]) is None


def test_dot_normalize_leaves_a_zero_slice_zero_and_refuses_bad_axes():
    x1, x2 = random_array(14, 2, 3, 4), random_array(15, 2, 5, 4)
    x1[0, 1] = 0.0
    dot = layers.Dot(axes=2, normalize=True)
    output = dot.forward([x1, x2], training=False)[0]
    np.testing.assert_array_equal(output[0, 1], np.zeros(5, np.float32))
    assert np.all(np.isfinite(output))
    with pytest.raises(ValueError, match="sizes 3 and 5 along axes"):
        layers.Dot(axes=1).forward([x1, x2], training=False)
    with pytest.raises(ValueError, match="do not name a non-batch axis"):
        layers.Dot(axes=0).forward([x1, x2], training=False)
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        layers.Dot(axes=2).forward([x1, x2, x2], training=False)
    with pytest.raises(ValueError, match="axes must be an int or a list of two ints"):
        layers.Dot(axes=[1, 2, 3])
    with pytest.raises(TypeError, match="axes must be an int or a list of two ints"):
        layers.Dot(axes="2")


def test_multiply_and_dot_in_a_trained_and_saved_model(tmp_path):
    """A Luong-style attention block (scores = Dot, weights = softmax, context = Dot) gated by Multiply: trains,
    and a saved copy predicts the same."""
    from rnnkit import models, saving
    inputs = layers.Input((6, 4))
    states = layers.LSTM(5, return_sequences=True)(inputs)
    scores = layers.Dot(axes=(2, 2))([states, states])
    context = layers.Dot(axes=(2, 1))([layers.Softmax()(scores), states])
    gated = layers.Multiply()([context, layers.Dense(5, activation="sigmoid")(states)])
    merged = layers.Maximum()([gated, layers.Minimum()([states, context])])
    model = models.Model(inputs, layers.Dense(1)(layers.Flatten()(merged)))
    model.compile(optimizer="adam", loss="mse")
    x, y = random_array(16, 32, 6, 4), random_array(17, 32, 1)
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=5, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before
    saving.save_model(model, str(tmp_path / "m.rnnkit"))
    np.testing.assert_array_equal(saving.load_model(str(tmp_path / "m.rnnkit")).predict(x, verbose=0),
                                  model.predict(x, verbose=0))


def test_functional_merge_forms_make_and_call_the_layers():
    rng = np.random.default_rng(3)
    a, b = (rng.standard_normal((2, 3, 4)).astype(np.float32) for _ in range(2))
    np.testing.assert_allclose(layers.add([a, b]), a + b, rtol=1e-6)
    np.testing.assert_allclose(layers.subtract([a, b]), a - b, rtol=1e-6)
    np.testing.assert_allclose(layers.average([a, b]), (a + b) / 2, rtol=1e-6)
    np.testing.assert_allclose(layers.multiply([a, b]), a * b, rtol=1e-6)
    np.testing.assert_allclose(layers.maximum([a, b]), np.maximum(a, b), rtol=1e-6)
    np.testing.assert_allclose(layers.minimum([a, b]), np.minimum(a, b), rtol=1e-6)
    np.testing.assert_allclose(layers.concatenate([a, b], axis=1), np.concatenate([a, b], 1), rtol=1e-6)
    np.testing.assert_allclose(layers.dot([a, b], axes=2), np.einsum("btf,bsf->bts", a, b), rtol=1e-5, atol=1e-6)
    x, y = layers.Input((3, 4)), layers.Input((3, 4))
    merged = layers.concatenate([layers.add([x, y], name="summed"), y])
    model = rnnkit.Model([x, y], merged)
    assert [type(layer).__name__ for layer in model.layers][2:] == ["Add", "Concatenate"]
    assert model.get_layer("summed").name == "summed"
    np.testing.assert_allclose(model.predict([a, b], verbose=0), np.concatenate([a + b, b], -1), rtol=1e-6)
