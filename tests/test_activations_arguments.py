"""Keras 3's activation functions with their arguments (relu's negative_slope / max_value / threshold, elu's alpha,
softmax's axis, ...), glu and threshold: against float64 references and the values Keras documents; then, where
Keras 3 is installed, signatures and values against Keras itself."""
import inspect
import math

import numpy as np
import pytest

from rnnkit import activations, ops

X = np.linspace(-6.0, 6.0, 1201).astype(np.float32)
X64 = X.astype(np.float64)


def test_relu_arguments_give_kerass_documented_values():
    # The examples of keras.activations.relu's docstring.
    x = np.array([-10, -5, 0.0, 5, 10], np.float32)
    np.testing.assert_array_equal(activations.relu(x), [0, 0, 0, 5, 10])
    np.testing.assert_array_equal(activations.relu(x, negative_slope=0.5), [-5, -2.5, 0, 5, 10])
    np.testing.assert_array_equal(activations.relu(x, max_value=5.0), [0, 0, 0, 5, 5])
    np.testing.assert_array_equal(activations.relu(x, threshold=5.0), [0, 0, 0, 0, 10])


@pytest.mark.parametrize("negative_slope, max_value, threshold", [
    (0.1, None, 0.0), (0.0, 2.5, 0.0), (0.0, None, 1.5), (0.2, 4.0, 1.0), (0.3, None, -1.0), (0.0, 6.0, 0.0)])
def test_relu_arguments_match_float64(negative_slope, max_value, threshold):
    above = np.where(X64 > threshold, X64, 0.0)
    if max_value is not None:
        above = np.minimum(np.maximum(above, 0.0), max_value)
    expected = above - negative_slope * np.maximum(threshold - X64, 0.0)
    got = activations.relu(X, negative_slope=negative_slope, max_value=max_value, threshold=threshold)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name, kwargs, reference", [
    ("leaky_relu", {"negative_slope": 0.05}, lambda x: np.where(x >= 0, x, 0.05 * x)),
    ("elu", {"alpha": 0.5}, lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
    ("celu", {"alpha": 2.0}, lambda x: np.maximum(x, 0) + np.minimum(0, 2.0 * np.expm1(x / 2.0))),
    ("gelu", {"approximate": True},
     lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    ("soft_shrink", {"threshold": 1.25}, lambda x: np.where(x > 1.25, x - 1.25, np.where(x < -1.25, x + 1.25, 0))),
    ("hard_shrink", {"threshold": 2.0}, lambda x: np.where(np.abs(x) > 2.0, x, 0)),
    ("squareplus", {"b": 1.0}, lambda x: (x + np.sqrt(x * x + 1.0)) / 2),
])
def test_element_wise_arguments_match_float64(name, kwargs, reference):
    got = getattr(activations, name)(X, **kwargs)
    assert got.dtype == np.float32 and got.shape == X.shape
    np.testing.assert_allclose(got, reference(X64), rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("name, kwargs", [
    ("relu", {"negative_slope": 0.0, "max_value": None, "threshold": 0.0}), ("leaky_relu", {"negative_slope": 0.2}),
    ("elu", {"alpha": 1.0}), ("celu", {"alpha": 1.0}), ("gelu", {"approximate": False}),
    ("soft_shrink", {"threshold": 0.5}), ("hard_shrink", {"threshold": 0.5}), ("squareplus", {"b": 4}),
    ("softmax", {"axis": -1}), ("log_softmax", {"axis": -1}), ("sparsemax", {"axis": -1})])
def test_default_arguments_are_the_cores_activation(name, kwargs):
    x = np.random.default_rng(0).standard_normal((5, 7)).astype(np.float32)
    np.testing.assert_array_equal(getattr(activations, name)(x, **kwargs), ops.activation(name, x))


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "sparsemax"])
@pytest.mark.parametrize("axis", [0, 1, -2])
def test_axis_normalises_that_axis(name, axis):
    x = (2.0 * np.random.default_rng(1).standard_normal((4, 6, 5))).astype(np.float32)
    got = getattr(activations, name)(x, axis=axis)
    moved = np.moveaxis(x, axis, -1)
    expected = np.moveaxis(ops.activation(name, np.ascontiguousarray(moved)), -1, axis)
    np.testing.assert_array_equal(got, expected)
    if name == "softmax":
        shifted = x.astype(np.float64) - x.max(axis=axis, keepdims=True)
        exact = np.exp(shifted) / np.exp(shifted).sum(axis=axis, keepdims=True)
        np.testing.assert_allclose(got, exact, rtol=2e-6, atol=1e-7)


def test_axis_beyond_the_input_is_refused():
    with pytest.raises(ValueError, match="axis"):
        activations.softmax(np.zeros((2, 3), np.float32), axis=2)
    with pytest.raises(ValueError, match="axis"):
        activations.softmax(np.zeros((2, 3), np.float32), axis=(0, 1))


def test_glu_gates_the_first_half_by_the_second():
    x = np.random.default_rng(2).standard_normal((3, 8)).astype(np.float32)
    a, b = x[:, :4].astype(np.float64), x[:, 4:].astype(np.float64)
    np.testing.assert_allclose(activations.glu(x), a / (1 + np.exp(-b)), rtol=2e-6, atol=1e-7)
    tall = np.ascontiguousarray(x.T)  # (8, 3): halves along axis 0
    np.testing.assert_allclose(activations.glu(tall, axis=0), (a / (1 + np.exp(-b))).T, rtol=2e-6, atol=1e-7)
    with pytest.raises(ValueError, match="even"):
        activations.glu(np.zeros((3, 5), np.float32))


def test_threshold_replaces_values_at_or_below_it():
    x = np.array([-2.0, 0.5, 1.0, 1.5, 3.0], np.float32)
    np.testing.assert_array_equal(activations.threshold(x, 1.0, -7.0), [-7.0, -7.0, -7.0, 1.5, 3.0])


def test_functions_with_arguments_still_resolve_and_serialise_by_name():
    for name in ("relu", "leaky_relu", "elu", "gelu", "softmax"):
        function = getattr(activations, name)
        assert activations.get(name) is function and activations.serialize(function) == name


class TestAgainstKeras:
    """Oracle: the same functions in Keras 3 on the torch backend."""

    @pytest.fixture(autouse=True, scope="class")
    def keras(self):
        pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
        return pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

    pytestmark = pytest.mark.oracle

    def test_every_shared_function_has_kerass_parameters(self, keras):
        shared = [name for name in dir(keras.activations) if not name.startswith("_")
                  and name not in ("get", "serialize", "deserialize") and hasattr(activations, name)]
        assert {"relu", "softmax", "glu", "threshold", "gelu"} <= set(shared)
        for name in shared:
            theirs = inspect.signature(getattr(keras.activations, name))
            ours = inspect.signature(getattr(activations, name))
            assert [(p.name, p.default) for p in ours.parameters.values()] == \
                [(p.name, p.default) for p in theirs.parameters.values()], name

    @pytest.mark.parametrize("name, kwargs", [("relu", {"max_value": 1.0, "negative_slope": 0.1}), ("gelu", {}),
                                              ("softmax", {"axis": 1}), ("elu", {"alpha": 0.5}),
                                              ("celu", {"alpha": 2.0}), ("glu", {}),
                                              ("soft_shrink", {"threshold": 0.3})])
    def test_functional_model_matches_keras(self, keras, name, kwargs):
        import rnnkit

        def build(lib):
            inputs = lib.Input((3, 4))
            return lib.Model(inputs, getattr(lib.activations, name)(lib.layers.Dense(4)(inputs), **kwargs))

        theirs, ours = build(keras), build(rnnkit)
        ours.set_weights([np.asarray(w) for w in theirs.get_weights()])
        x = np.random.default_rng(5).standard_normal((5, 3, 4)).astype(np.float32)
        np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)

    # Not sparsemax: Keras up to 3.15 computes its threshold wrongly (keras-team/keras#23425; docs/differences.md),
    # so it is checked above against the definition instead.
    @pytest.mark.parametrize("name, kwargs", [
        ("relu", {"negative_slope": 0.1}), ("relu", {"max_value": 2.5}), ("relu", {"threshold": 1.5}),
        ("relu", {"negative_slope": 0.2, "max_value": 4.0, "threshold": 1.0}), ("relu", {"max_value": 6.0}),
        ("leaky_relu", {"negative_slope": 0.05}), ("elu", {"alpha": 0.5}), ("celu", {"alpha": 2.0}),
        ("gelu", {"approximate": True}), ("soft_shrink", {"threshold": 1.25}), ("hard_shrink", {"threshold": 2.0}),
        ("squareplus", {"b": 1.0}), ("softmax", {"axis": 0}), ("log_softmax", {"axis": 1}),
        ("glu", {"axis": 1}), ("glu", {}),
        ("threshold", {"threshold": 0.5, "default_value": -1.0}),
    ])
    def test_values_match_keras(self, keras, name, kwargs):
        x = (2.5 * np.random.default_rng(3).standard_normal((6, 8))).astype(np.float32)
        expected = keras.ops.convert_to_numpy(getattr(keras.activations, name)(x, **kwargs))
        np.testing.assert_allclose(getattr(activations, name)(x, **kwargs), expected, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("name, kwargs", [
    ("relu", {}), ("relu", {"max_value": 1.0, "negative_slope": 0.1}), ("leaky_relu", {"negative_slope": 0.05}),
    ("elu", {"alpha": 0.5}), ("gelu", {}), ("gelu", {"approximate": True}), ("softmax", {}), ("softmax", {"axis": 1}),
    ("log_softmax", {"axis": 1}), ("tanh", {}), ("mish", {}), ("celu", {"alpha": 2.0}),
    ("soft_shrink", {"threshold": 0.3}), ("hard_shrink", {"threshold": 0.3}), ("squareplus", {"b": 1.0}),
    ("glu", {}), ("glu", {"axis": 2}), ("threshold", {"threshold": 0.1, "default_value": -1.0})])
def test_functional_models_take_the_functions_on_symbolic_tensors(name, kwargs):
    import rnnkit

    inputs = rnnkit.Input((3, 4))
    hidden = rnnkit.layers.Dense(4)(inputs)
    model = rnnkit.Model(inputs, getattr(activations, name)(hidden, **kwargs))
    x = np.random.default_rng(4).standard_normal((5, 3, 4)).astype(np.float32)
    before = rnnkit.Model(inputs, hidden).predict(x, verbose=0)
    expected = getattr(activations, name)(before, **kwargs)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_arguments_without_a_symbolic_form_are_refused_on_symbolic_tensors():
    import rnnkit

    hidden = rnnkit.Input((4,))
    with pytest.raises(NotImplementedError, match="sparsemax"):
        activations.sparsemax(hidden, axis=0)
    with pytest.raises(ValueError, match="even size"):
        activations.glu(rnnkit.Input((3,)))
