"""Lambda layers: the function traced into operations computes values against numpy float64 references and
gradients against float64 finite differences; eager calls, several inputs and outputs, saving (the traced graph,
no code run when loading), and clear errors for what cannot be traced or saved."""
import marshal
import re

import numpy as np
import pytest

import rnnkit
from reference.gradient_check import reference_gradients
from rnnkit import _core, layers, ops, saving

RNG = np.random.default_rng(5)


def spaced(shape):
    """Values 0.05 apart in a random order: none within the finite differences' step of a kink or of another."""
    values = (np.arange(int(np.prod(shape))) - np.prod(shape) / 2) * 0.05 + 0.013
    return RNG.permutation(values).reshape(shape).astype(np.float32)


def reference(x):
    return np.where(x > 0.1, x[:, -1:] * x, -x) + np.mean(x, axis=1, keepdims=True) ** 2


def test_values_and_gradients_match_numpy():
    inputs = layers.Input((4, 3))
    lam = layers.Lambda(lambda x: ops.where(x > 0.1, x[:, -1:] * x, -x) + ops.mean(x, axis=1, keepdims=True) ** 2)
    model = rnnkit.Model(inputs, lam(inputs))
    x = spaced((2, 4, 3))
    y = model.predict(x, verbose=0)
    np.testing.assert_allclose(y, reference(x.astype(np.float64)), rtol=1e-6, atol=1e-6)
    weights = RNG.standard_normal(y.shape)
    _, ctx = model.forward(x, training=True)
    d_x, _ = model.backward(ctx, weights.astype(np.float32))
    (numeric,) = reference_gradients(reference, [x], weights)
    np.testing.assert_allclose(d_x, numeric, rtol=1e-4, atol=1e-5)


def test_in_a_sequential_model_it_trains_summarises_and_saves(tmp_path, capsys):
    model = rnnkit.Sequential([layers.Input((6, 3)), layers.LSTM(5, return_sequences=True),
                               layers.Lambda(lambda h: h[:, -1] + ops.max(h, axis=1)), layers.Dense(1)])
    model.summary()
    assert re.search(r"lambda(_\d+)? \(Lambda\)", capsys.readouterr().out) and model.layers[1].count_params() == 0
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 6, 3)).astype(np.float32)
    y = np.tanh(x[:, -1, :1] + x[:, 0, 1:2])
    model.compile(optimizer=rnnkit.optimizers.Adam(0.02), loss="mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.5 * before
    model.save(tmp_path / "m.rnnkit")
    loaded = saving.load_model(tmp_path / "m.rnnkit")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_loading_runs_no_code_from_the_file(tmp_path, monkeypatch):
    inputs = layers.Input((3,))
    model = rnnkit.Model(inputs, layers.Lambda(lambda x: x * 2.0 - 1.0)(inputs))
    model.save(tmp_path / "m.rnnkit")
    config = model.get_config()["layers"][1]["config"]
    assert config["function"]["class_name"] == "__lambda__" and "graph" in config  # Keras' form and the trace

    def refuse(*args):
        raise AssertionError("marshal.loads called while loading")

    monkeypatch.setattr(marshal, "loads", refuse)
    loaded = saving.load_model(tmp_path / "m.rnnkit")
    np.testing.assert_array_equal(loaded.predict(np.ones((2, 3), np.float32), verbose=0), np.ones((2, 3)))
    assert loaded.layers[1].function is None
    loaded.save(tmp_path / "again.rnnkit")  # the function's saved form is kept for the next save
    assert saving.load_model(tmp_path / "again.rnnkit").get_config()["layers"][1]["config"]["function"] == \
        config["function"]


def test_eager_calls_several_inputs_and_outputs():
    lam = layers.Lambda(lambda pair, scale: [pair[0] * scale + pair[1], pair[0] > pair[1]], arguments={"scale": 3.0})
    np.testing.assert_array_equal(layers.Lambda(lambda x: ops.sum(x, axis=1))(np.ones((2, 3), np.float32)), [3, 3])
    a, b = layers.Input((2,)), layers.Input((2,))
    summed, greater = lam([a, b])
    assert summed.dtype == "float32" and greater.dtype == "bool" and summed.shape == (None, 2)
    model = rnnkit.Model([a, b], [summed, greater])
    x1, x2 = spaced((3, 2)), spaced((3, 2))
    got_sum, got_greater = model.predict([x1, x2], verbose=0)
    np.testing.assert_allclose(got_sum, x1 * 3.0 + x2, rtol=1e-6)
    np.testing.assert_array_equal(got_greater, x1 > x2)


def test_what_cannot_be_traced_or_saved_is_refused_clearly():
    x = layers.Input((4, 3))
    with pytest.raises(TypeError, match="written with rnnkit.ops and tensor operators"):
        layers.Lambda(lambda t: np.sum(t.numpy(), axis=1))(x)
    with pytest.raises(TypeError, match="expected symbolic tensors computed from the input"):
        layers.Lambda(lambda t: 1.0)(x)
    with pytest.raises(ValueError, match=r"calls layers with weights \(\['inner_dense'\]\)"):
        layers.Lambda(lambda t: layers.Dense(2, name="inner_dense")(t))(x)
    with pytest.raises(NotImplementedError, match=r"a function taking \['training'\] is not supported"):
        layers.Lambda(lambda t, training=False: t)
    with pytest.raises(NotImplementedError, match="mask= is not supported"):
        layers.Lambda(lambda t: t, mask=lambda t, m: m)
    with pytest.raises(ValueError, match="disagrees with the shape"):
        layers.Lambda(lambda t: t[:, -1], output_shape=(4,))(x)
    assert layers.Lambda(lambda t: t[:, -1], output_shape=(3,))(x).shape == (None, 3)
    shared = layers.Lambda(lambda t: t * 2.0)
    shared(x)
    with pytest.raises(ValueError, match=r"traced for inputs of shapes \[\(4, 3\)\]"):
        shared(layers.Input((5, 3)))
    scale = np.array([2.0], np.float32)  # a closure over an array, which Keras' form (JSON) cannot hold
    closure_model = rnnkit.Model(x, layers.Lambda(lambda t: t * float(scale[0]))(x))
    with pytest.raises(ValueError, match="cannot be saved in Keras' form"):
        closure_model.get_config()


def test_a_keras_lambda_without_the_traced_graph_is_refused():
    config = {"name": "lam", "function": {"class_name": "__lambda__", "config": {"code": "AAAA", "defaults": None,
                                                                               "closure": None}}, "arguments": {}}
    with pytest.raises(ValueError, match="does not run from a file"):
        layers.Lambda.from_config(config)


def test_the_cpp_model_api_runs_the_traced_graph_and_refuses_code_only(tmp_path):
    """(Its predictions are checked against Python's in test_model_cpp_parity.py.)"""
    inputs = layers.Input((3,))
    model = rnnkit.Model(inputs, layers.Dense(2)(layers.Lambda(lambda t: t + 1.0)(inputs)))
    model.save(tmp_path / "m.rnnkit")
    cpp = _core.CppModel(str(tmp_path / "m.rnnkit"))
    np.testing.assert_allclose(cpp.predict(np.ones((2, 3), np.float32)), model.predict(np.ones((2, 3)), verbose=0),
                               rtol=1e-6)
    from rnnkit.saving.file_format import read_model_file, write_model_file

    with pytest.raises(ValueError, match=r"only Sequential models without operations \(or Lambda layers\)"):
        cpp.save(str(tmp_path / "from_cpp.rnnkit"))
    header, tensors = read_model_file(tmp_path / "m.rnnkit")
    header["model_config"]["config"]["layers"][1]["config"].pop("graph")  # what Keras writes: the code only
    with open(tmp_path / "code_only.rnnkit", "wb") as stream:
        write_model_file(stream, tensors, model_config=header["model_config"], weights=header["weights"])
    with pytest.raises(ValueError, match="holds its function only as Python code"):
        _core.CppModel(str(tmp_path / "code_only.rnnkit"))


def test_a_traced_graph_with_weights_in_a_file_is_refused():
    inputs = layers.Input((3,))
    config = rnnkit.Model(inputs, layers.Lambda(lambda t: t + 1.0)(inputs)).get_config()["layers"][1]["config"]
    weighted = layers.Input((3,))
    config["graph"] = rnnkit.Model(weighted, layers.Dense(2, name="smuggled")(weighted)).get_config()
    with pytest.raises(ValueError, match=r"calls layers with weights \(\['smuggled'\]\)"):
        layers.Lambda.from_config(config)


def test_weightless_layers_in_a_lambda_run_in_python_and_are_refused_by_cpp(tmp_path):
    inputs = layers.Input((4,))
    model = rnnkit.Model(inputs, layers.Lambda(lambda t: layers.Activation("relu")(t) * 2.0)(inputs))
    x = spaced((3, 4))
    np.testing.assert_allclose(model.predict(x, verbose=0), np.maximum(x, 0) * 2.0, rtol=1e-6)
    model.save(tmp_path / "m.rnnkit")
    with pytest.raises(ValueError, match="runs Lambda layers whose function only calls operations"):
        _core.CppModel(str(tmp_path / "m.rnnkit"))
