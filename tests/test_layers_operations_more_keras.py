"""The ops of test_layers_operations_more.py against Keras 3 on torch (the oracle): each op's symbolic shapes, dtypes
and config, its values and input gradient (PyTorch's at kinks: zeros, ties, constant rows, half-way rounding), its
eager result on arrays, `.keras` archives of it both ways; then the same models built with keras.ops and rnnkit.ops
(a functional model through every op, a Lambda, a custom layer with captured constants): predictions, one SGD step,
archives. Tolerances: rtol 1e-5 / atol 1e-5 on values and gradients (float32 both), the shared step checks'."""
import inspect
import json
import math

import numpy as np
import pytest

pytest.importorskip("h5py", reason="`.keras` archives need h5py (pip install '.[h5]')")
torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

import rnnkit  # noqa: E402
from reference.keras_steps import assert_same_predictions_and_step, share_random_weights  # noqa: E402
from reference.operations_more import (every_op_data, every_op_model, mix_steps,  # noqa: E402
                                       top_k_pooling_class)
from rnnkit import saving  # noqa: E402
from rnnkit.engine import graph  # noqa: E402

pytestmark = pytest.mark.oracle


def kinked_floats():
    """(4, 5, 3) floats with the kinks: zeros (a whole row among them), ties in a row and a column, a row constant
    along axis 1, integers and halves (floor, ceil, round)."""
    x = np.random.default_rng(5).standard_normal((4, 5, 3)).astype(np.float32) * 2
    x[0, 0] = [0.0, 0.0, 1.5]
    x[0, 3] = 0.0
    x[1, 2] = [2.5, 2.5, -0.5]
    x[1, :, 2] = 0.75
    x[2, :, 1] = x[2, :, 0]
    x[3, 0] = [-1.0, 2.0, 0.5]
    return x


def smooth_floats():
    return np.random.default_rng(6).standard_normal((4, 5, 3)).astype(np.float32)


def integers():
    return np.array([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3], [0, 7, 7, 2, 8], [-4, 0, 3, 3, -1]], np.int32)


DATA = {"kinked": (kinked_floats, (5, 3), "float32"), "smooth": (smooth_floats, (5, 3), "float32"),
        "int": (integers, (5,), "int32")}

# Where Keras 3.15.1 on torch fails to run an op.
KERAS_RUNTIME_BUGS = {
    "repeat_counts": "Keras' torch repeat() calls its own ops.all on the list of counts: 'Invalid dtype: object'",
}

# id, data, function of (ops, x): the last op called is the one under test.
SPECS = [
    ("sign", "kinked", lambda o, x: o.sign(x)), ("sign_int", "int", lambda o, x: o.sign(x)),
    ("floor", "kinked", lambda o, x: o.floor(x)), ("floor_int", "int", lambda o, x: o.floor(x)),
    ("ceil", "kinked", lambda o, x: o.ceil(x)), ("round", "kinked", lambda o, x: o.round(x)),
    ("round_decimals", "smooth", lambda o, x: o.round(x, 1)), ("round_int", "int", lambda o, x: o.round(x * 7, -1)),
    ("floor_divide", "kinked", lambda o, x: o.floor_divide(x, 2.0)),
    ("floor_divide_left", "smooth", lambda o, x: o.floor_divide(3.0, x)),
    ("floor_divide_int", "int", lambda o, x: o.floor_divide(x, 3)),
    ("mod", "smooth", lambda o, x: o.mod(x * 3.0, 0.7)), ("mod_divisor", "smooth", lambda o, x: o.mod(2.0, x)),
    ("mod_int", "int", lambda o, x: o.mod(x, 3)),
    ("prod", "kinked", lambda o, x: o.prod(x, axis=1)), ("prod_int", "int", lambda o, x: o.prod(x, axis=-1)),
    ("prod_all_keepdims", "smooth", lambda o, x: o.prod(x, axis=(1, 2), keepdims=True)),
    ("std", "kinked", lambda o, x: o.std(x, axis=1)), ("std_everything", "smooth", lambda o, x: o.std(x)),
    ("var", "kinked", lambda o, x: o.var(x, axis=[1, 2], keepdims=True)), ("var_int", "int", lambda o, x: o.var(x)),
    ("norm", "kinked", lambda o, x: o.norm(x, axis=-1)), ("norm_one", "kinked", lambda o, x: o.norm(x, ord=1, axis=1)),
    ("norm_inf", "kinked", lambda o, x: o.norm(x, ord=math.inf, axis=-1, keepdims=True)),
    ("norm_minus_inf", "kinked", lambda o, x: o.norm(x, ord=-math.inf, axis=2)),
    ("norm_three", "kinked", lambda o, x: o.norm(x, ord=3, axis=-1)),
    ("norm_zero", "kinked", lambda o, x: o.norm(x, ord=0, axis=-1)),
    ("norm_everything", "smooth", lambda o, x: o.norm(x)), ("norm_int", "int", lambda o, x: o.norm(x, axis=1)),
    ("norm_fro", "kinked", lambda o, x: o.norm(x, ord="fro", axis=(1, 2))),
    ("norm_nuc", "smooth", lambda o, x: o.norm(x, ord="nuc", axis=(1, 2))),
    ("norm_spectral", "smooth", lambda o, x: o.norm(x, ord=2, axis=(1, 2))),
    ("norm_smallest_singular", "smooth", lambda o, x: o.norm(x, ord=-2, axis=(1, 2))),
    ("norm_columns", "kinked", lambda o, x: o.norm(x, ord=1, axis=(1, 2))),
    ("norm_rows_reversed", "kinked", lambda o, x: o.norm(x, ord=math.inf, axis=(2, 1))),
    ("norm_least_rows", "kinked", lambda o, x: o.norm(x, ord=-math.inf, axis=(1, 2))),
    ("any", "kinked", lambda o, x: o.any(x, axis=1)), ("all", "int", lambda o, x: o.all(x, axis=-1, keepdims=True)),
    ("flip", "kinked", lambda o, x: o.flip(x, axis=1)), ("flip_everything", "kinked", lambda o, x: o.flip(x)),
    ("roll", "kinked", lambda o, x: o.roll(x, 2, axis=1)), ("roll_flattened", "kinked", lambda o, x: o.roll(x, -4)),
    ("roll_axes", "kinked", lambda o, x: o.roll(x, (1, 2), axis=(1, 2))),
    ("tile", "kinked", lambda o, x: o.tile(x, (1, 2, 1))), ("tile_last", "int", lambda o, x: o.tile(x, 2)),
    ("tile_more_axes", "kinked", lambda o, x: o.tile(x, (2, 1, 1, 2))),
    ("repeat", "kinked", lambda o, x: o.repeat(x, 2, axis=1)),
    ("repeat_counts", "kinked", lambda o, x: o.repeat(x, [1, 0, 2, 1, 3], axis=1)),
    ("repeat_flattened", "int", lambda o, x: o.repeat(x, 2)),
    ("broadcast_to", "kinked", lambda o, x: o.broadcast_to(x[:, :1], (4, 5, 3))),
    ("take", "kinked", lambda o, x: o.take(x, [[0, 4], [4, 2]], axis=1)),
    # (Keras on torch offsets a negative index by the first axis's size when axis=None: numpy's -1 is tested in
    # test_layers_operations_more.py.)
    ("take_flattened", "kinked", lambda o, x: o.take(x, [5, 0, 7])),
    ("take_one", "int", lambda o, x: o.take(x, 2, axis=-1)),
    ("take_tensor_indices", "int", lambda o, x: o.take(o.cast(x, "float32") * 0.5, o.mod(x, 4), axis=1)),
    ("take_along_axis", "kinked", lambda o, x: o.take_along_axis(x, o.argsort(x, axis=1), axis=1)),
    ("take_along_axis_broadcast", "kinked",
     lambda o, x: o.take_along_axis(x, o.convert_to_tensor(np.array([[[0], [2], [1], [0], [2]]])), axis=2)),
    ("split", "kinked", lambda o, x: o.split(x, 3, axis=-1)),
    ("split_at", "kinked", lambda o, x: o.split(x, [1, 3], axis=1)),
    ("pad", "kinked", lambda o, x: o.pad(x, ((0, 0), (1, 2), (0, 1)))),
    ("pad_constant_values", "kinked", lambda o, x: o.pad(x, ((0, 0), (1, 2), (0, 1)), constant_values=0.5)),
    ("pad_reflect", "kinked", lambda o, x: o.pad(x, ((0, 0), (1, 1), (1, 1)), mode="reflect")),
    ("pad_int", "int", lambda o, x: o.pad(x, ((0, 0), (2, 1)))),
    ("sort", "kinked", lambda o, x: o.sort(x, axis=1)), ("sort_flattened", "smooth", lambda o, x: o.sort(x, axis=None)),
    ("sort_int", "int", lambda o, x: o.sort(x)), ("argsort", "kinked", lambda o, x: o.argsort(x)),
    ("argsort_flattened", "int", lambda o, x: o.argsort(x, axis=None)),
    # torch.topk orders tied integers differently from one call to another: the integers here have no ties.
    ("top_k", "kinked", lambda o, x: o.top_k(x, 2)), ("top_k_int", "int", lambda o, x: o.top_k(x * 8 + o.arange(5), 3)),
    ("tril", "kinked", lambda o, x: o.tril(x, -1)), ("triu", "kinked", lambda o, x: o.triu(x)),
    ("triu_above", "kinked", lambda o, x: o.triu(x, 1)),
    ("einsum", "smooth", lambda o, x: o.einsum("bij,bkj->bik", x, x)),
    ("einsum_implicit", "smooth", lambda o, x: o.einsum("...ij,...ik", x, x)),
    ("einsum_broadcast", "smooth", lambda o, x: o.einsum("...ij,...ij->...j", x, x[:, :1])),
    ("einsum_one_operand", "smooth", lambda o, x: o.einsum("bij->bj", x)),
    ("einsum_constant", "smooth", lambda o, x: o.einsum("bij,jk->bik", x, o.ones((3, 2)))),
    ("einsum_int", "int", lambda o, x: o.einsum("bi,bi->b", x, x)),
    ("dot_matrix", "smooth", lambda o, x: o.dot(x, o.eye(3, 2))),
    ("dot_vector", "smooth", lambda o, x: o.dot(x, x[0, 0])),
    ("dot_scalar", "smooth", lambda o, x: o.dot(x, 2.0)), ("dot_int", "int", lambda o, x: o.dot(x, o.arange(5))),
    ("full_like", "kinked", lambda o, x: o.full_like(x, 3.0)),
    ("full_like_int", "int", lambda o, x: o.full_like(x, 2.5)),
    ("full_like_dtype", "kinked", lambda o, x: o.full_like(x, 2, dtype="int32")),
    ("captured_constants", "smooth", lambda o, x: x * o.arange(3) + o.eye(5, 3, k=1) + o.linspace(0.0, 1.0, 3)
     - o.full((3,), 2) + o.zeros((3,)) + o.ones((5, 1), dtype="int32")),
    # Unary math (operations_math.py), each on inputs inside its domain.
    ("sin", "smooth", lambda o, x: o.sin(x)), ("cos", "smooth", lambda o, x: o.cos(x)),
    ("tan", "smooth", lambda o, x: o.tan(x * 0.4)), ("arcsin", "smooth", lambda o, x: o.arcsin(o.tanh(x) * 0.9)),
    ("arccos", "smooth", lambda o, x: o.arccos(o.tanh(x) * 0.9)), ("arctan", "smooth", lambda o, x: o.arctan(x)),
    ("sinh", "smooth", lambda o, x: o.sinh(x)), ("cosh", "smooth", lambda o, x: o.cosh(x)),
    ("arcsinh", "smooth", lambda o, x: o.arcsinh(x)), ("arccosh", "smooth", lambda o, x: o.arccosh(x * x + 1.5)),
    ("arctanh", "smooth", lambda o, x: o.arctanh(o.tanh(x) * 0.9)), ("log1p", "smooth", lambda o, x: o.log1p(x * x)),
    ("expm1", "smooth", lambda o, x: o.expm1(x)), ("log2", "smooth", lambda o, x: o.log2(x * x + 0.5)),
    ("log10", "smooth", lambda o, x: o.log10(x * x + 0.5)), ("exp2", "smooth", lambda o, x: o.exp2(x)),
    ("cbrt", "smooth", lambda o, x: o.cbrt(x * x + 0.5)),
    ("reciprocal", "smooth", lambda o, x: o.reciprocal(x * x + 0.5)),
    ("deg2rad", "smooth", lambda o, x: o.deg2rad(x)), ("rad2deg", "smooth", lambda o, x: o.rad2deg(x)),
    ("trunc", "kinked", lambda o, x: o.trunc(x * 1.3)), ("rsqrt", "smooth", lambda o, x: o.rsqrt(x * x + 0.5)),
    ("erf", "smooth", lambda o, x: o.erf(x)), ("isnan", "kinked", lambda o, x: o.isnan(o.log(x))),
    ("isinf", "kinked", lambda o, x: o.isinf(o.log(o.abs(x)))),
    ("isfinite", "kinked", lambda o, x: o.isfinite(o.log(x))),
    ("logsumexp", "smooth", lambda o, x: o.logsumexp(x, axis=1)),
    ("logsumexp_keepdims", "smooth", lambda o, x: o.logsumexp(x * 30.0, axis=(1, 2), keepdims=True)),
    ("moveaxis", "smooth", lambda o, x: o.moveaxis(x, 1, 2)),
    ("moveaxis_int", "int", lambda o, x: o.moveaxis(x, 0, 1)),
    ("swapaxes", "smooth", lambda o, x: o.swapaxes(x, -1, 1)),
    ("logaddexp", "smooth", lambda o, x: o.logaddexp(x, x * x)),
    ("arctan2", "smooth", lambda o, x: o.arctan2(x, x * x + 0.5)),
    ("hypot", "smooth", lambda o, x: o.hypot(x, x * x + 0.7)),
    ("stop_gradient", "smooth", lambda o, x: o.stop_gradient(x) * x),
]


def specs(runtime):
    """The specs as parameters; with `runtime`, those Keras cannot run are expected to fail (strictly)."""
    for name, kind, function in SPECS:
        bug = runtime and KERAS_RUNTIME_BUGS.get(name)
        yield pytest.param(name, kind, function, id=name,
                           marks=[pytest.mark.xfail(strict=True, reason=bug)] if bug else [])


def as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def model_of(lib, inputs, outputs):
    return lib.Model(inputs, outputs if len(outputs) > 1 else outputs[0])


def symbolic(lib, name, kind):
    _, shape, dtype = DATA[kind]
    inputs = lib.Input(shape, dtype=dtype)
    function = dict((spec[0], spec[2]) for spec in SPECS)[name]
    return inputs, as_list(function(lib.ops, inputs))


def normalised(config):
    """A config without its name, as JSON holds it (lists for tuples), ord=inf as rnnkit writes it."""
    config = {key: value for key, value in config.items() if key != "name"}
    if isinstance(config.get("ord"), float) and math.isinf(config["ord"]):
        config["ord"] = "inf" if config["ord"] > 0 else "-inf"
    return json.loads(json.dumps(config))


def same_dtype(name, index, mine, reference):
    """Keras types top_k's indices int32, as rnnkit makes them, but torch gives them as int64."""
    return mine.dtype == reference.dtype or (name.startswith("top_k") and index == 1 and mine.dtype == np.int32
                                             and reference.dtype == np.int64)


@pytest.mark.parametrize("name,kind,function", specs(runtime=False))
def test_symbolic_shapes_dtypes_and_configs_are_keras(name, kind, function):
    _, theirs = symbolic(keras, name, kind)
    _, ours = symbolic(rnnkit, name, kind)
    assert [(tuple(t.shape), t.dtype) for t in ours] == [(tuple(t.shape), t.dtype) for t in theirs]
    operation, reference = ours[0].node.layer, theirs[0]._keras_history[0]
    assert (operation.module, type(operation).__name__) == (type(reference).__module__, type(reference).__name__)
    assert normalised(operation.get_config()) == normalised(reference.get_config())


@pytest.mark.parametrize("name,kind,function", specs(runtime=True))
def test_values_and_gradients_are_keras_on_torch(name, kind, function):
    """The input gradient of sum(projection * output) over the float outputs: PyTorch's (zero where it has none),
    and rnnkit's (no gradient counts as zero)."""
    make, _, _ = DATA[kind]
    x = make()
    tensor = torch.tensor(x, requires_grad=x.dtype == np.float32)
    theirs = as_list(function(keras.ops, tensor))
    inputs, outputs = symbolic(rnnkit, name, kind)
    model = model_of(rnnkit, inputs, outputs)
    ours, _, contexts = graph.run_forward(model._nodes, model.inputs, [x], model.outputs, training=True)
    rng = np.random.default_rng(9)
    projections = [rng.standard_normal(tuple(t.shape)).astype(np.float32) if t.dtype.is_floating_point else None
                   for t in theirs]
    for index, (mine, reference) in enumerate(zip(ours, theirs)):
        reference = reference.detach().numpy()
        assert same_dtype(name, index, mine, reference) and mine.shape == reference.shape
        np.testing.assert_allclose(mine, reference, rtol=1e-5, atol=1e-5)
    if x.dtype != np.float32:
        return
    differentiable = name not in ("floor_divide", "floor_divide_left")  # PyTorch defines no derivative for it
    loss = sum((t * torch.tensor(p)).sum() for t, p in zip(theirs, projections) if p is not None and t.requires_grad)
    if differentiable and torch.is_tensor(loss):
        loss.backward()
    expected = tensor.grad.numpy() if tensor.grad is not None else np.zeros_like(x)
    _, (d_x,) = graph.run_backward(model._nodes, contexts, model.inputs, model.outputs, projections)
    np.testing.assert_allclose(np.zeros_like(x) if d_x is None else d_x, expected, rtol=1e-5, atol=1e-5)
    if not differentiable:
        assert d_x is None


@pytest.mark.parametrize("name,kind,function", specs(runtime=True))
def test_eager_results_on_arrays_are_keras(name, kind, function):
    x = DATA[kind][0]()
    theirs = as_list(function(keras.ops, keras.ops.convert_to_tensor(x)))
    for index, (mine, reference) in enumerate(zip(as_list(function(rnnkit.ops, x)), theirs)):
        reference = keras.ops.convert_to_numpy(reference)
        # (The operators of captured_constants are numpy's on arrays: float32 * int32 is float64 there.)
        assert same_dtype(name, index, mine, reference) or name == "captured_constants"
        np.testing.assert_allclose(mine, reference, rtol=1e-5, atol=1e-5)


def archive_cases():
    for name, kind, _ in SPECS:
        for writer in ("keras", "rnnkit"):
            reason = KERAS_RUNTIME_BUGS.get(name)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(name, kind, writer, marks=marks, id=f"{name}-{writer}")


@pytest.mark.parametrize("name,kind,writer", list(archive_cases()))
def test_keras_archives_of_each_op_load_in_the_other_library(name, kind, writer, tmp_path):
    source = keras if writer == "keras" else rnnkit
    inputs, outputs = symbolic(source, name, kind)
    model = model_of(source, inputs, outputs)
    model.save(tmp_path / "op.keras")
    loaded = (saving.load_model if writer == "keras" else keras.models.load_model)(tmp_path / "op.keras")
    x = DATA[kind][0]()
    # Called, not predict(): the reductions over every axis give 0-d outputs, which predict's batching refuses.
    # rnnkit's config lists a single input as a list of one, so Keras' model of it takes a list.
    for mine, reference in zip(as_list(loaded([x] if writer == "rnnkit" else x)), as_list(model(x))):
        np.testing.assert_allclose(np.asarray(keras.ops.convert_to_numpy(mine)),
                                   np.asarray(keras.ops.convert_to_numpy(reference)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("function", [lambda o: o.ones((2, 3)), lambda o: o.zeros(4, dtype="int32"),
                                      lambda o: o.full((2, 2), 7), lambda o: o.full((3,), 1.5, dtype="int32"),
                                      lambda o: o.eye(3), lambda o: o.eye(3, 4, k=-1), lambda o: o.arange(5),
                                      lambda o: o.arange(1, 2.5, 0.5), lambda o: o.arange(2, 11, 3, dtype="float32"),
                                      lambda o: o.linspace(0, 1, 5), lambda o: o.linspace(-1.0, 2.0, 4, endpoint=False),
                                      lambda o: o.linspace(0, 4, 3, dtype="int32")])
def test_creators_make_keras_values_and_dtypes(function):
    ours, theirs = function(rnnkit.ops), keras.ops.convert_to_numpy(function(keras.ops))
    assert ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


@pytest.mark.parametrize("steps", [None, 6])
def test_shapes_with_unknown_sizes_are_keras_shapes(steps):
    def calls(o, x):
        return [o.split(x, 2, axis=1), o.split(x, [1, 3], axis=1), o.repeat(x, 2, axis=1), o.tile(x, (1, 2, 1)),
                o.pad(x, ((0, 0), (1, 2), (0, 0))), o.take(x, [0, 1], axis=1), o.sort(x, axis=None),
                o.roll(x, 1, axis=1), o.einsum("btf,bsf->bts", x, x), o.dot(x, o.ones((4, 2))), o.norm(x, axis=1),
                o.top_k(x, 2), o.repeat(x, 2)]

    ours = calls(rnnkit.ops, rnnkit.Input((steps, 4)))
    theirs = calls(keras.ops, keras.Input((steps, 4)))
    for mine, reference in zip(ours, theirs):
        assert [t.shape for t in as_list(mine)] == [tuple(t.shape) for t in as_list(reference)]


def test_a_model_through_every_op_predicts_and_trains_as_keras():
    theirs, ours = every_op_model(keras), every_op_model(rnnkit)
    share_random_weights(theirs, ours)
    y = np.random.default_rng(3).standard_normal((5, 6, 2)).astype(np.float32)
    assert_same_predictions_and_step(theirs, ours, every_op_data(2), y, keras, rnnkit)


def test_the_every_op_model_archives_load_both_ways(tmp_path):
    data = every_op_data(4)
    theirs, ours = every_op_model(keras), every_op_model(rnnkit)
    share_random_weights(theirs, ours)
    theirs.save(tmp_path / "keras.keras")
    ours.save(tmp_path / "rnnkit.keras")
    expected = ours.predict(data, verbose=0)
    for loaded in (saving.load_model(tmp_path / "keras.keras"), keras.models.load_model(tmp_path / "rnnkit.keras")):
        np.testing.assert_allclose(np.asarray(keras.ops.convert_to_numpy(loaded.predict(data, verbose=0))), expected,
                                   rtol=1e-5, atol=1e-5)


def recurrent_model(lib):
    inputs = lib.Input((6, 4))
    hidden = lib.layers.GRU(4, return_sequences=True)(inputs)
    mixed = lib.layers.Lambda(lambda h: mix_steps(lib.ops, h))(hidden)
    return lib.Model(inputs, lib.layers.Dense(1)(top_k_pooling_class(lib)(3, 2, name="pool")(mixed)))


def test_a_lambda_and_a_custom_layer_with_constants_predict_and_train_as_keras(tmp_path):
    theirs, ours = recurrent_model(keras), recurrent_model(rnnkit)
    assert [w.path.split("/", 1)[1] for w in ours.weights] == [w.path.split("/", 1)[1] for w in theirs.weights]
    share_random_weights(theirs, ours)
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((8, 6, 4)).astype(np.float32), rng.standard_normal((8, 1)).astype(np.float32)
    assert_same_predictions_and_step(theirs, ours, x, y, keras, rnnkit)


def test_keras_archives_of_a_custom_layer_with_constants_both_ways(tmp_path):
    def build(lib):
        inputs = lib.Input((6, 4))
        return lib.Model(inputs, top_k_pooling_class(lib)(3, 2, name="pool")(inputs))

    theirs, ours = build(keras), build(rnnkit)
    share_random_weights(theirs, ours)
    x = np.random.default_rng(8).standard_normal((5, 6, 4)).astype(np.float32)
    ours.save(tmp_path / "rnnkit.keras")
    theirs.save(tmp_path / "keras.keras")
    from_ours = keras.models.load_model(tmp_path / "rnnkit.keras",
                                        custom_objects={"TopKPooling": top_k_pooling_class(keras)})
    from_theirs = saving.load_model(tmp_path / "keras.keras",
                                    custom_objects={"TopKPooling": top_k_pooling_class(rnnkit)})
    for loaded in (from_ours, from_theirs):
        np.testing.assert_allclose(np.asarray(keras.ops.convert_to_numpy(loaded.predict(x, verbose=0))),
                                   ours.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_every_shared_op_takes_kerass_parameters():
    from rnnkit.layers import operation_functions

    shared = [name for name in operation_functions.__all__ if hasattr(keras.ops, name)]
    assert len(shared) >= 120 and {"sin", "logsumexp", "moveaxis", "hypot", "stop_gradient"} <= set(shared)
    for name in shared:
        theirs = [(p.name, p.default) for p in inspect.signature(getattr(keras.ops, name)).parameters.values()]
        ours = [(p.name, p.default) for p in inspect.signature(getattr(rnnkit.ops, name)).parameters.values()]
        assert ours == theirs, name
