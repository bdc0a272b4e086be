"""Operations on symbolic tensors (x[:, -1], x + y, 1.0 - x, x * y, x / 2, -x) as nodes of a functional graph:
values against numpy float64 references, gradients against float64 finite differences, shapes, errors, and the
config round trip through get_config and .rnnkit files, and what the C++ loader refuses."""
import json

import numpy as np
import pytest

import rnnkit
from reference.gradient_check import reference_gradients
from rnnkit import _core, layers, ops, saving

RNG = np.random.default_rng(11)


def floats(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


# Each case: per-sample input shape, the expression on a symbolic tensor, the same expression on a float64 array.
CASES = {
    "last_step": ((5, 3), lambda x: x[:, -1], lambda x: x[:, -1]),
    "slices_with_steps": ((6, 4), lambda x: x[:, 1::2, :-1], lambda x: x[:, 1::2, :-1]),
    "negative_slice_and_int": ((6, 4), lambda x: x[:, -3:, 2], lambda x: x[:, -3:, 2]),
    "new_axis_and_ellipsis": ((5, 3), lambda x: x[..., None, 1:], lambda x: x[..., None, 1:]),
    "int_key": ((5, 3), lambda x: x[0], lambda x: x[0]),
    "arithmetic_with_numbers": ((5, 3), lambda x: (2.0 * x - 1.0) / 4.0 + 0.5,
                                lambda x: (2.0 * x - 1.0) / 4.0 + 0.5),
    "numbers_on_the_left": ((5, 3), lambda x: 1.0 - 3.0 / (x * x + 2.0), lambda x: 1.0 - 3.0 / (x * x + 2.0)),
    "tensor_with_tensor_broadcast": ((5, 3), lambda x: x * x[:, -1:, :] + x[:, :, :1] / (x[:, :1] * x[:, :1] + 1.0),
                                     lambda x: x * x[:, -1:, :] + x[:, :, :1] / (x[:, :1] * x[:, :1] + 1.0)),
    "negative": ((5, 3), lambda x: -x[:, 2] - x[:, 1], lambda x: -x[:, 2] - x[:, 1]),
}



def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


# rnnkit.ops' Keras functions on symbolic tensors; the references use numpy directly. Inputs stay away from the
# kinks of max, min, abs and relu (spaced values, see spaced()), and positive where log and sqrt need it.
CASES.update({
    "mean_sum": ((5, 3), lambda x: ops.mean(x, axis=1) + ops.sum(x, axis=(1, 2), keepdims=True)[:, 0],
                 lambda x: x.mean(axis=1) + x.sum(axis=(1, 2), keepdims=True)[:, 0]),
    "max_min": ((5, 3), lambda x: ops.max(x, axis=-1) * ops.min(x, axis=1, keepdims=True)[:, 0, :1],
                lambda x: x.max(axis=-1) * x.min(axis=1, keepdims=True)[:, 0, :1]),
    "reduce_everything": ((5, 3), lambda x: ops.mean(x) + x, lambda x: x.mean() + x),
    "unary_math": ((5, 3), lambda x: ops.tanh(x) + ops.sigmoid(x) * ops.relu(x) - ops.abs(x) + ops.square(x),
                   lambda x: np.tanh(x) + _sigmoid(x) * np.maximum(x, 0) - np.abs(x) + np.square(x)),
    "exp_log_sqrt": ((5, 3), lambda x: ops.log(ops.exp(x) + 1.0) * ops.sqrt(x * x + 1.0),
                     lambda x: np.log(np.exp(x) + 1.0) * np.sqrt(x * x + 1.0)),
    "maximum_minimum": ((5, 3), lambda x: ops.maximum(x, x[:, ::-1]) - ops.minimum(0.1, x),
                        lambda x: np.maximum(x, x[:, ::-1]) - np.minimum(0.1, x)),
    "expand_squeeze_transpose": ((5, 3), lambda x: ops.transpose(ops.squeeze(ops.expand_dims(x, -1), -1), (0, 2, 1)),
                                 lambda x: np.transpose(x, (0, 2, 1))),
    "concatenate": ((5, 3), lambda x: ops.concatenate([x, ops.negative(x[:, :2])], axis=1),
                    lambda x: np.concatenate([x, -x[:, :2]], axis=1)),
    "divide_functions": ((5, 3), lambda x: ops.divide(x, 4.0) + ops.true_divide(2.0, x * x + 1.0)
                         + ops.add(x, 1.0) * ops.subtract(1.0, x) * ops.multiply(x, 0.5),
                         lambda x: x / 4.0 + 2.0 / (x * x + 1.0) + (x + 1.0) * (1.0 - x) * (x * 0.5)),
    "matmul_softmax": ((5, 3), lambda x: ops.softmax(ops.matmul(x, ops.transpose(x, (0, 2, 1))), axis=1),
                       lambda x: _softmax(x @ np.transpose(x, (0, 2, 1)), axis=1)),
    "reshape_stack_cast": ((5, 3), lambda x: ops.cast(ops.reshape(ops.stack([x, -x], axis=1), (-1, 30)), "float32"),
                           lambda x: np.stack([x, -x], axis=1).reshape(-1, 30)),
    "power": ((5, 3), lambda x: (x * x + 1.0) ** 1.5 + ops.power(2.0, x) - ops.power(x * x + 0.5, x[:, :1]),
              lambda x: (x * x + 1.0) ** 1.5 + np.power(2.0, x) - np.power(x * x + 0.5, x[:, :1])),
    "clip": ((5, 3), lambda x: ops.clip(x, -0.2, 0.3) * x, lambda x: np.clip(x, -0.2, 0.3) * x),
    "where_comparisons": ((5, 3), lambda x: ops.where(x > 0.1, x * x, -x) + ops.where(ops.less_equal(x, -0.2), 1.0, x)
                          + ops.cast(ops.greater_equal(x, 0.0), "float32") * ops.where(x < x[:, ::-1], x, 2.0),
                          lambda x: np.where(x > 0.1, x * x, -x) + np.where(x <= -0.2, 1.0, x)
                          + (x >= 0) * np.where(x < x[:, ::-1], x, 2.0)),
    "logical": ((5, 3), lambda x: ops.where((x > -0.3) & ~(x > 0.4) | ops.equal(x, x[:, :1]) ^ (x > 0.6), x, 0.5 * x)
                + ops.cast(ops.logical_and(x != 0.0, ops.logical_or(x < -1.0, ops.logical_not(x < 1.0))), "float32")
                + ops.cast(ops.logical_xor(x > 0.0, x < 0.5), "float32"),
                lambda x: np.where((x > -0.3) & ~(x > 0.4) | (x == x[:, :1]) ^ (x > 0.6), x, 0.5 * x)
                + ((x > 0) ^ (x < 0.5)).astype(np.float64)
                + ((x != 0) & ((x < -1) | ~(x < 1))).astype(np.float64)),
})


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def spaced(shape):
    """Values 0.05 apart in a random order: no ties, none within the finite differences' step of another."""
    values = (np.arange(int(np.prod(shape))) - np.prod(shape) / 2) * 0.05 + 0.013
    return RNG.permutation(values).reshape(shape).astype(np.float32)


def model_of(case):
    shape, symbolic, _ = CASES[case]
    inputs = layers.Input(shape)
    return rnnkit.Model(inputs, symbolic(inputs))


@pytest.mark.parametrize("case", sorted(CASES))
def test_values_shapes_and_gradients_match_numpy(case):
    shape, _, reference = CASES[case]
    model = model_of(case)
    x = spaced((4, *shape))
    y = model.predict(x, verbose=0)
    expected = reference(x.astype(np.float64))
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)
    symbolic_shape = model.outputs[0].shape
    assert len(symbolic_shape) == y.ndim and all(s is None or s == d for s, d in zip(symbolic_shape, y.shape))
    assert symbolic_shape[1:] == y.shape[1:] or case == "int_key"  # x[0] indexes the batch axis itself

    # d(sum(w * y))/dx by the graph's backward against central differences of the float64 reference.
    weights = RNG.standard_normal(y.shape)
    _, ctx = model.forward(x, training=True)
    d_x, _ = model.backward(ctx, weights.astype(np.float32))
    (numeric,) = reference_gradients(reference, [x], weights)
    np.testing.assert_allclose(d_x, numeric, rtol=1e-4, atol=1e-5)


def test_numpy_scalars_are_numbers():
    x = layers.Input((3,))
    model = rnnkit.Model(x, x * np.float32(2.0) + np.int64(1))
    assert model.get_config()["layers"][1]["inbound_nodes"][0]["args"][1] == 2.0
    np.testing.assert_array_equal(model.predict(np.ones((2, 3), np.float32), verbose=0), np.full((2, 3), 3.0))


def test_unknown_sizes_stay_unknown_and_known_ones_are_computed():
    x = layers.Input((None, 6))
    assert x[:, -1].shape == (None, 6)
    assert x[:, :3, ::2].shape == (None, None, 3)  # a slice of an unknown axis is unknown, as in Keras
    assert x[:, 0, None, 1:-1].shape == (None, 1, 4)
    assert (x[:, :1] + x).shape == (None, None, 6)
    assert (x + layers.Input((1, 1))).shape == (None, None, 6)
    ids = layers.Input((7,), dtype="int32")
    assert ids[:, 1:].dtype == "int32" and (ids + 1).dtype == "int32"
    assert (ids + 1.0).dtype == "float32" and (ids / 2).dtype == "float32"
    assert ops.cast(ids, "float32").dtype == "float32" and ops.cast(x, "int32").dtype == "int32"
    assert ops.matmul(x, layers.Input((6, 2))).shape == (None, None, 2)
    assert ops.reshape(x, (-1, 3, 2)).shape == (None, 3, 2) and ops.stack([x, x]).shape == (2, None, None, 6)


def test_bad_expressions_are_refused_when_written():
    x = layers.Input((5, 3))
    with pytest.raises(ValueError, match="out of range for an axis of size 5"):
        x[:, 5]
    with pytest.raises(ValueError, match="an index of 4 axes"):
        x[:, 0, 0, 0]
    with pytest.raises(TypeError, match="integers, slices, None and Ellipsis"):
        x[:, [0, 1]]
    with pytest.raises(TypeError, match="slices of integers"):
        x[:, 0.5:]
    with pytest.raises(ValueError, match="slice step cannot be zero"):
        layers.Input((None, 3))[:, ::0]
    with pytest.raises(ValueError, match="one Ellipsis"):
        x[..., 0, ...]
    with pytest.raises(TypeError, match="tensors and Python numbers"):
        x + "three"
    with pytest.raises(ValueError, match="cannot broadcast"):
        x + layers.Input((4, 3))
    with pytest.raises(TypeError, match="cannot be iterated"):
        list(x)


def test_a_batch_that_breaks_a_lazy_shape_is_refused_when_run():
    x = layers.Input((None, 3))
    model = rnnkit.Model(x, x[:, 4])
    with pytest.raises(ValueError, match=r"cannot index an array of shape \(2, 3, 3\)"):
        model.predict(floats(2, 3, 3), verbose=0)


def lstm_head_model():
    inputs = layers.Input((6, 3))
    hidden = layers.LSTM(4, return_sequences=True)(inputs)
    last = hidden[:, -1]
    mixed = (last + 1.0) * hidden[:, 0] - last / 2.0
    return rnnkit.Model(inputs, -layers.Dense(2)(mixed))


def test_operations_are_not_layers_but_appear_in_the_summary(capsys):
    model = lstm_head_model()
    assert [layer.name.split("_")[0] for layer in model.layers] == ["input", "lstm", "dense"]
    assert model.count_params() == 4 * (3 + 4 + 1) * 4 + (4 + 1) * 2
    model.summary()
    summary = capsys.readouterr().out
    for name in ("(GetItem)", "(Add)", "(Multiply)", "(Subtract)", "(TrueDivide)", "(Negative)"):
        assert name in summary


def test_models_with_operations_train():
    model = lstm_head_model()
    model.compile(optimizer=rnnkit.optimizers.Adam(0.02), loss="mse")
    x = floats(64, 6, 3)
    y = np.tanh(x[:, -1, :2] - x[:, 0, 1:])  # reachable through both read-outs of the LSTM's sequence
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=40, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.3 * before


def test_config_and_file_round_trips_keep_the_operations(tmp_path):
    model = lstm_head_model()
    x = floats(3, 6, 3)
    config = model.get_config()
    entries = {entry["name"]: entry for entry in config["layers"]}
    get_item = next(entry for name, entry in entries.items() if name.startswith("get_item"))
    assert get_item["module"] == "keras.src.ops.numpy" and get_item["class_name"] == "GetItem"
    assert get_item["inbound_nodes"][0]["args"][1] == [
        {"class_name": "__slice__", "config": {"start": None, "stop": None, "step": None}}, -1]
    rebuilt = rnnkit.Model.from_config(json.loads(json.dumps(config)))
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_array_equal(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0))
    path = tmp_path / "operations.rnnkit"
    model.save(path)
    np.testing.assert_array_equal(saving.load_model(path).predict(x, verbose=0), model.predict(x, verbose=0))


def test_lone_slice_keys_are_written_as_keras_lists():
    x = layers.Input((5, 3))
    model = rnnkit.Model(x, x[1:][..., None])
    args = [entry["inbound_nodes"][0]["args"][1] for entry in model.get_config()["layers"][1:]]
    assert args == [[{"class_name": "__slice__", "config": {"start": 1, "stop": None, "step": None}}],
                    [{"class_name": "__ellipsis__", "config": {}}, None]]
    x_value = floats(4, 5, 3)
    rebuilt = rnnkit.Model.from_config(model.get_config())
    np.testing.assert_array_equal(rebuilt.predict(x_value, verbose=0), x_value[1:][..., None])


def test_cpp_loader_refuses_what_it_cannot_run(tmp_path):
    """The C++ graph keeps the batch axis first, and broadcasts tensors of equal rank only (its predictions for
    models with operations are checked in test_model_cpp_parity.py)."""
    inputs = layers.Input((4, 3))
    for outputs, message in ((inputs[0], "keeps the batch axis"),
                             (inputs + inputs[:, 0], "tensors of equal rank"),
                             (ops.mean(inputs), "reduce over given feature axes"),
                             (ops.transpose(inputs), "keeps the batch axis first"),
                             (ops.log(inputs) * inputs[0, 0, 0], "keeps the batch axis"),
                             (ops.reshape(inputs, (2, -1)), r"reshapes to \(-1, sizes...\)"),
                             (ops.softmax(inputs, axis=0), "takes the softmax along a feature axis")):
        path = tmp_path / "operation.rnnkit"
        rnnkit.Model(inputs, outputs).save(path)
        with pytest.raises(ValueError, match=message):
            _core.CppModel(str(path))


def test_ops_compute_at_once_on_arrays():
    """rnnkit.ops' Keras functions on numpy arrays give numpy's results (Keras' eager ops)."""
    x, y = spaced((3, 4)), spaced((3, 4))
    np.testing.assert_allclose(ops.mean(x, axis=1, keepdims=True), x.astype(np.float64).mean(axis=1, keepdims=True),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(ops.max(x, axis=0), x.max(axis=0))
    np.testing.assert_allclose(ops.maximum(x, y) + ops.sigmoid(x), np.maximum(x, y) + _sigmoid(x.astype(np.float64)),
                               rtol=1e-6)
    np.testing.assert_array_equal(ops.concatenate([x, y], axis=1), np.concatenate([x, y], axis=1))
    np.testing.assert_array_equal(ops.transpose(ops.expand_dims(x, 0)), np.transpose(x[None]))
    assert ops.add(x, 1.0).dtype == np.float32 and ops.sum(np.arange(4)) == 6


def test_ops_refuse_what_keras_refuses():
    x = layers.Input((5, 3))
    with pytest.raises(ValueError, match="axis 3 is out of range for a tensor of rank 3"):
        ops.mean(x, axis=3)
    with pytest.raises(ValueError, match="cannot squeeze axis 1 of size 5"):
        ops.squeeze(x, axis=1)
    with pytest.raises(ValueError, match="not a permutation"):
        ops.transpose(x, (0, 1, 1))
    with pytest.raises(ValueError, match="differ off axis"):
        ops.concatenate([x, layers.Input((4, 2))], axis=1)
    with pytest.raises(ValueError, match="initial= is not supported"):
        ops.max(x, initial=0.0)
    with pytest.raises(ValueError, match="inner sizes 3 and 4"):
        ops.matmul(x, layers.Input((4, 2)))
    with pytest.raises(ValueError, match=r"cannot reshape \(2, 5, 3\) to \(-1, 4\)"):
        ops.reshape(layers.Input((5, 3), batch_size=2), (-1, 4))
    with pytest.raises(ValueError, match=r"cannot reshape an array of shape \(2, 5, 3\)"):
        ops.reshape(np.ones((2, 5, 3), np.float32), (-1, 4))
    with pytest.raises(ValueError, match="Mean: expected axis to be an integer, a list of integers or None"):
        ops.mean(x, axis="1")
    with pytest.raises(ValueError, match="Softmax: expected axis to be an integer, received"):
        ops.softmax(x, axis=None)
    with pytest.raises(ValueError, match="casts to"):
        ops.cast(x, "float64")
    with pytest.raises(ValueError, match="cannot reduce an empty axis"):
        ops.max(np.zeros((0, 3), np.float32), axis=0)


def test_squeeze_without_axis_keeps_a_batch_of_one():
    """ops.squeeze(x) drops the axes the graph knows to be 1, not a batch (or other unknown axis) that happens to
    be 1 when the model runs."""
    x = layers.Input((1, 3))
    model = rnnkit.Model(x, ops.squeeze(x))
    assert model.outputs[0].shape == (None, 3)
    assert model.predict(np.ones((1, 1, 3), np.float32), verbose=0).shape == (1, 3)
    assert ops.squeeze(np.ones((1, 1, 3))).shape == (3,)  # on an array, every axis of 1, as numpy


def test_comparisons_logic_where_clip_and_power_dtypes_and_refusals():
    x, ids = layers.Input((5, 3)), layers.Input((7,), dtype="int32")
    assert (x > 0).dtype == "bool" and ops.equal(ids, 0).dtype == "bool" and (~(x < 1) & (x > 0)).dtype == "bool"
    assert ops.where(x > 0, x, 0).dtype == "float32" and ops.where(ids > 2, ids, 0).dtype == "int32"
    assert ops.where(ids > 2, ids, 0.5).dtype == "float32" and ops.where(x > 0, x, 0).shape == (None, 5, 3)
    assert ops.clip(ids, 1, 4).dtype == "int32" and ops.clip(ids > 1, 0, 1).dtype == "int32"
    assert (x ** 2).dtype == "float32" and (ids ** 2).dtype == "int32" and (2 ** x).shape == (None, 5, 3)
    assert abs(x).node.layer.__class__.__name__ == "Absolute" and (x @ layers.Input((3, 2))).shape == (None, 5, 2)
    assert x == x and not (x == layers.Input((5, 3)))  # == stays identity, as in Keras: tensors are dict keys
    with pytest.raises(TypeError, match="cannot be used as a boolean"):
        bool(x > 0)
    with pytest.raises(ValueError, match="takes both x1 and x2"):
        ops.where(x > 0)
    with pytest.raises(ValueError, match="Clip: expected x_min to be a number"):
        ops.clip(x, "0", 1)
    model = rnnkit.Model([x, ids], [ops.where(x > 0.0, x, -1.0), ops.clip(ids, 2, 5), ids > 3])
    values, tokens = spaced((2, 5, 3)), np.arange(14, dtype=np.int32).reshape(2, 7)
    where, clipped, above = model.predict([values, tokens], verbose=0)
    np.testing.assert_array_equal(where, np.where(values > 0, values, -1.0))
    assert clipped.dtype == np.int32 and above.dtype == np.bool_
    np.testing.assert_array_equal(clipped, np.clip(tokens, 2, 5))
    np.testing.assert_array_equal(above, tokens > 3)
    rebuilt = rnnkit.Model.from_config(json.loads(json.dumps(model.get_config())))
    for ours, theirs in zip(rebuilt.predict([values, tokens], verbose=0), (where, clipped, above)):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(ops.where(values > 0, 1.0, values), np.where(values > 0, 1.0, values))
    np.testing.assert_array_equal(ops.logical_not(values > 0), values <= 0)


def test_index_operations_against_numpy_and_the_cpp_refusal(tmp_path):
    from reference.gradient_check import check_layer_gradients

    x = np.random.default_rng(10).standard_normal((3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(rnnkit.ops.argmax(x, axis=1), np.argmax(x, axis=1))
    np.testing.assert_array_equal(rnnkit.ops.argmin(x, axis=-1, keepdims=True), np.argmin(x, -1)[..., None])
    ids = np.array([[0, 2, -1], [4, 1, 1]])
    expected = np.zeros((2, 3, 3), np.float32)  # ids outside [0, 3) give rows of zeros
    for (row, column), value in np.ndenumerate(ids):
        if 0 <= value < 3:
            expected[row, column, value] = 1.0
    np.testing.assert_array_equal(rnnkit.ops.one_hot(ids, 3), expected)
    np.testing.assert_allclose(rnnkit.ops.cumsum(x, axis=2), np.cumsum(x.astype(np.float64), axis=2), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_array_equal(rnnkit.ops.zeros_like(x), np.zeros_like(x))
    inputs = rnnkit.Input((4, 5))
    cumsum = rnnkit.ops.cumsum(inputs, axis=1).node.layer
    check_layer_gradients(cumsum, [x])
    model = rnnkit.Model(inputs, rnnkit.layers.Dense(2)(rnnkit.ops.cumsum(inputs, axis=1)))
    rnnkit.saving.save_model(model, tmp_path / "m.rnnkit")
    with pytest.raises(ValueError, match="operation Cumsum is not supported by the C\\+\\+ model API"):
        _core.CppModel(str(tmp_path / "m.rnnkit"))
