"""Operations on symbolic tensors against Keras 3 on torch (the oracle): shapes Keras infers, `.keras` archives
both ways with the same predictions, and one training step to the same weights."""
import numpy as np
import pytest

pytest.importorskip("h5py", reason="`.keras` archives need h5py (pip install '.[h5]')")
torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

import rnnkit  # noqa: E402
from rnnkit import saving  # noqa: E402
from rnnkit.engine import graph  # noqa: E402

KEYS = [(slice(None), -1), (slice(None), slice(1, None, 2)), (Ellipsis, None, slice(1, 3)), (slice(None), 0, None),
        (slice(None), slice(None, None, -1), 2), 0, (slice(None), -2, slice(None, -1))]


@pytest.mark.parametrize("steps", [7, None])
@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_indexing_shapes_are_keras_shapes(key, steps):
    ours = rnnkit.layers.Input((steps, 4))[key].shape
    theirs = keras.Input((steps, 4))[key].shape
    assert ours == tuple(theirs)


def build(lib, cell="LSTM"):
    """The same graph in either library: ids sliced into an Embedding, a recurrent layer read at two steps, mixed
    with numbers and each other."""
    ids = lib.Input((8,), dtype="int32")
    embedded = lib.layers.Embedding(12, 4)(ids[:, 1:])
    hidden = getattr(lib.layers, cell)(5, return_sequences=True)(embedded)
    last, first = hidden[:, -1], hidden[:, 0]
    mixed = (last + 1.0) * first - last / 2.0 + 0.5 * (2.0 - first)
    return lib.Model(ids, -lib.layers.Dense(3)(mixed))


def build_with_functions(lib):
    """The same graph in either library through the ops functions (keras.ops / rnnkit.ops)."""
    ops = lib.ops
    inputs = lib.Input((6, 3))
    hidden = lib.layers.GRU(4, return_sequences=True)(inputs)
    pooled = ops.concatenate([ops.mean(hidden, axis=1), ops.max(hidden, axis=1), ops.min(hidden, axis=-1)], axis=-1)
    gated = ops.sigmoid(pooled) * ops.tanh(pooled) + ops.relu(pooled) - ops.abs(ops.minimum(pooled, 0.1))
    scaled = ops.sqrt(ops.square(gated) + 1.0) + ops.log(ops.exp(gated) + 1.0) - ops.maximum(gated, -0.2)
    steps = ops.sum(ops.transpose(ops.expand_dims(hidden, -1), (0, 2, 1, 3)), axis=(2, 3))
    attended = ops.matmul(ops.softmax(ops.matmul(hidden, ops.transpose(hidden, (0, 2, 1))), axis=-1), hidden)
    flat = ops.reshape(ops.stack([attended, hidden], axis=1), (-1, 48))
    head = lib.layers.Dense(2)(ops.concatenate([scaled, ops.squeeze(ops.expand_dims(steps, 1), 1),
                                                ops.cast(flat, "float32")], axis=1))
    return lib.Model(inputs, ops.divide(head, 2.0))


def build_with_conditions(lib):
    """Comparisons, logical operators, where, clip and powers (functions and operators) in either library."""
    ops = lib.ops
    inputs = lib.Input((6, 3))
    hidden = lib.layers.LSTM(4, return_sequences=True)(inputs)
    inside = (hidden > -0.2) & ~(hidden >= 0.3) | ops.equal(hidden, 0.0) ^ (hidden < -0.4)
    chosen = ops.where(inside, hidden ** 2, ops.clip(hidden, -0.1, 0.1)) + ops.where(hidden < 0.0, 1.0, hidden)
    counted = ops.cast(ops.logical_or(ops.less_equal(hidden, -0.3), ops.not_equal(hidden, hidden[:, :1])),
                       "float32")
    flags = ops.cast(ops.logical_and(ops.greater(hidden, 0.0), ops.logical_not(ops.less(hidden, 0.1))), "float32") \
        + ops.cast(ops.logical_xor(hidden > -0.1, hidden < 0.2), "float32")
    powered = ops.power(ops.square(hidden) + 1.0, 0.5) - 2.0 ** hidden + ops.power(1.5, ops.abs(hidden))
    mixed = ops.mean(chosen * counted + flags + powered, axis=1) + ops.sum(ops.greater_equal(hidden, 0.2), axis=1)
    return lib.Model(inputs, lib.layers.Dense(2)(mixed))


def ids(seed):
    return np.random.default_rng(seed).integers(0, 12, size=(6, 8)).astype(np.int32)


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_keras_archive_with_operations_loads_and_predicts_as_keras(tmp_path, cell):
    model = build(keras, cell)
    model.set_weights([np.random.default_rng(1).standard_normal(w.shape) * 0.5 for w in model.get_weights()])
    model.save(tmp_path / "keras_made.keras")
    loaded = saving.load_model(tmp_path / "keras_made.keras")
    np.testing.assert_allclose(loaded.predict(ids(2), verbose=0), model.predict(ids(2), verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_rnnkit_archive_with_operations_loads_in_keras(tmp_path):
    model = build(rnnkit)
    model.save(tmp_path / "rnnkit_made.keras")
    loaded = keras.models.load_model(tmp_path / "rnnkit_made.keras")
    np.testing.assert_allclose(loaded.predict(ids(3), verbose=0), model.predict(ids(3), verbose=0),
                               rtol=1e-5, atol=1e-6)


def floats(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("builder", [build_with_functions, build_with_conditions])
def test_keras_archive_with_ops_functions_loads_and_predicts_as_keras(tmp_path, builder):
    model = builder(keras)
    model.save(tmp_path / "keras_ops.keras")
    loaded = saving.load_model(tmp_path / "keras_ops.keras")
    np.testing.assert_allclose(loaded.predict(floats(6, 5, 6, 3), verbose=0),
                               model.predict(floats(6, 5, 6, 3), verbose=0), rtol=1e-5, atol=1e-6)
    ours = builder(rnnkit)
    ours.save(tmp_path / "rnnkit_ops.keras")
    theirs = keras.models.load_model(tmp_path / "rnnkit_ops.keras")
    np.testing.assert_allclose(theirs.predict(floats(7, 5, 6, 3), verbose=0),
                               ours.predict(floats(7, 5, 6, 3), verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("function", ["mean", "sum", "max", "min"])
@pytest.mark.parametrize("axis,keepdims", [(1, False), ((1, 2), True), (-1, False), (None, False)])
def test_reduction_shapes_are_keras_shapes(function, axis, keepdims):
    ours = getattr(rnnkit.ops, function)(rnnkit.layers.Input((None, 4)), axis=axis, keepdims=keepdims).shape
    assert ours == tuple(getattr(keras.ops, function)(keras.Input((None, 4)), axis=axis, keepdims=keepdims).shape)


@pytest.mark.parametrize("builder,data", [(build, lambda seed: ids(seed)),
                                          (build_with_functions, lambda seed: floats(seed, 6, 6, 3)),
                                          (build_with_conditions, lambda seed: floats(seed, 6, 6, 3))])
def test_one_training_step_moves_the_weights_as_keras_does(builder, data):
    theirs, ours = builder(keras), builder(rnnkit)
    ours.set_weights(theirs.get_weights())
    x = data(4)
    y = np.random.default_rng(5).standard_normal((6,) + tuple(theirs.output_shape[1:])).astype(np.float32)
    for model, lib in ((theirs, keras), (ours, rnnkit)):
        model.compile(optimizer=lib.optimizers.SGD(0.5), loss="mse")
        model.train_on_batch(x, y)
    for mine, reference in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, reference, rtol=1e-4, atol=1e-6)


ACTIVATION_OPS = [("silu", {}), ("swish", {}), ("relu6", {}), ("softplus", {}), ("selu", {}), ("hard_sigmoid", {}),
                  ("softsign", {}), ("elu", {"alpha": 0.5}), ("leaky_relu", {"negative_slope": 0.1}), ("gelu", {}),
                  ("gelu", {"approximate": False}), ("log_softmax", {"axis": 1})]


@pytest.mark.parametrize("name,kwargs", ACTIVATION_OPS, ids=lambda v: str(v))
def test_activation_operations_match_keras_values_gradients_and_configs(name, kwargs, tmp_path):
    """Each op's values and input gradient against Keras on torch (the kinks included: 0, 6, -3, 3), and a model
    using it saved by either library loads in the other."""
    x = np.random.default_rng(5).standard_normal((3, 8)).astype(np.float32) * 4
    x[0, :6] = [0.0, 6.0, -3.0, 3.0, 25.0, -25.0]
    projection = np.random.default_rng(6).standard_normal(x.shape).astype(np.float32)
    tensor = torch.tensor(x, requires_grad=True)
    theirs = getattr(keras.ops, name)(tensor, **kwargs)
    (theirs * torch.tensor(projection)).sum().backward()
    inputs = rnnkit.Input((8,))
    model = rnnkit.Model(inputs, getattr(rnnkit.ops, name)(inputs, **kwargs))
    outputs, _, contexts = graph.run_forward(model._nodes, model.inputs, [x], model.outputs, training=True)
    _, d_inputs = graph.run_backward(model._nodes, contexts, model.inputs, model.outputs, [projection])
    np.testing.assert_allclose(outputs[0], theirs.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d_inputs[0], tensor.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(getattr(rnnkit.ops, name)(x, **kwargs), theirs.detach().numpy(), rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "rnnkit.keras")
    keras_inputs = keras.Input((8,))
    keras.Model(keras_inputs, getattr(keras.ops, name)(keras_inputs, **kwargs)).save(tmp_path / "keras.keras")
    for loaded in (keras.models.load_model(tmp_path / "rnnkit.keras"), saving.load_model(tmp_path / "keras.keras")):
        np.testing.assert_allclose(np.asarray(keras.ops.convert_to_numpy(loaded.predict(x, verbose=0))),
                                   theirs.detach().numpy(), rtol=1e-5, atol=1e-6)


INDEX_OPS = [("argmax", "float", {"axis": -1}), ("argmin", "float", {"axis": 1, "keepdims": True}),
             ("argmax", "float", {}), ("one_hot", "ids", {"num_classes": 6}),
             ("one_hot", "ids", {"num_classes": 6, "axis": 1}), ("cumsum", "float", {"axis": 1}),
             ("cumsum", "float", {}), ("zeros_like", "float", {}), ("ones_like", "ids", {})]


@pytest.mark.parametrize("name,kind,kwargs", INDEX_OPS, ids=lambda v: str(v))
def test_index_operations_match_keras_values_shapes_and_configs(name, kind, kwargs):
    x = (np.random.default_rng(7).standard_normal((3, 5, 4)).astype(np.float32) if kind == "float"
         else np.array([[1, 0, 5, 2], [3, 3, -1, 0]], np.int32))  # a negative id: zeros, in both
    theirs = keras.ops.convert_to_numpy(getattr(keras.ops, name)(x, **kwargs))
    ours = getattr(rnnkit.ops, name)(x, **kwargs)
    assert ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)
    symbolic_theirs = getattr(keras.ops, name)(keras.Input(x.shape[1:], dtype=str(x.dtype)), **kwargs)
    symbolic_ours = getattr(rnnkit.ops, name)(rnnkit.Input(x.shape[1:], dtype=str(x.dtype)), **kwargs)
    assert symbolic_ours.shape == tuple(symbolic_theirs.shape) and symbolic_ours.dtype == symbolic_theirs.dtype
    config = symbolic_ours.node.layer.get_config()
    assert {k: v for k, v in config.items() if k != "name"} == {
        k: v for k, v in symbolic_theirs._keras_history[0].get_config().items() if k != "name"}


def test_cumsum_gradient_and_a_model_with_index_operations_both_ways(tmp_path):
    x = np.random.default_rng(8).standard_normal((2, 5, 3)).astype(np.float32)
    projection = np.random.default_rng(9).standard_normal(x.shape).astype(np.float32)
    tensor = torch.tensor(x, requires_grad=True)
    (keras.ops.cumsum(tensor, axis=1) * torch.tensor(projection)).sum().backward()
    inputs = rnnkit.Input((5, 3))
    model = rnnkit.Model(inputs, rnnkit.ops.cumsum(inputs, axis=1))
    _, _, contexts = graph.run_forward(model._nodes, model.inputs, [x], model.outputs, training=True)
    _, d_inputs = graph.run_backward(model._nodes, contexts, model.inputs, model.outputs, [projection])
    np.testing.assert_allclose(d_inputs[0], tensor.grad.numpy(), rtol=1e-5, atol=1e-6)

    def build(lib):
        values = lib.Input((5, 3))
        scores = lib.layers.Dense(4)(lib.ops.cumsum(values, axis=1))
        best = lib.ops.one_hot(lib.ops.argmax(scores, axis=-1), 4)
        return lib.Model(values, scores * best + lib.ops.ones_like(scores))

    for writer, reader in ((keras, rnnkit.saving.load_model), (rnnkit, keras.models.load_model)):
        source = build(writer)
        source.save(tmp_path / f"{writer.__name__}.keras")
        target = reader(tmp_path / f"{writer.__name__}.keras")
        np.testing.assert_allclose(np.asarray(keras.ops.convert_to_numpy(target.predict(x, verbose=0))),
                                   np.asarray(keras.ops.convert_to_numpy(source.predict(x, verbose=0))), rtol=1e-5,
                                   atol=1e-6)
