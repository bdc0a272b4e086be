"""The ops of test_layers_operations_more.py in models: a Lambda and a custom layer written with them (values against
float64 numpy references, gradients to inputs and weights against central finite differences; tolerances as there),
a training step checked against the graph's own gradients, constants captured in traces (what Keras does with
ops.ones and the like), config round trips, .rnnkit files, and the C++ model API's refusal by name."""
import json

import numpy as np
import pytest

import rnnkit
from reference.gradient_check import reference_gradients
from reference.operations_more import (every_op_data, every_op_model, mix_steps, mix_steps_reference,
                                       top_k_pooling_class, top_k_pooling_reference)
from rnnkit import _core, layers, ops, saving

RNG = np.random.default_rng(41)
TopKPooling = top_k_pooling_class(rnnkit)


def test_a_lambda_with_the_new_ops_and_constants_matches_numpy():
    inputs = layers.Input((6, 4))
    model = rnnkit.Model(inputs, layers.Lambda(lambda h: mix_steps(ops, h))(inputs))
    h = RNG.standard_normal((3, 6, 4)).astype(np.float32)
    y = model.predict(h, verbose=0)
    np.testing.assert_allclose(y, mix_steps_reference(h.astype(np.float64)), rtol=1e-5, atol=1e-5)
    weights = RNG.standard_normal(y.shape)
    _, ctx = model.forward(h, training=True)
    d_h, _ = model.backward(ctx, weights.astype(np.float32))
    (numeric,) = reference_gradients(mix_steps_reference, [h], weights)
    np.testing.assert_allclose(d_h, numeric, rtol=1e-4, atol=1e-5)


def test_a_custom_layer_with_the_new_ops_matches_numpy_for_inputs_and_weights():
    """Its kernel is read through ops.convert_to_tensor: inside the trace that is the Variable's tensor, which gets
    its gradient, not its value captured as a constant."""
    layer = TopKPooling(3, 2)
    inputs = layers.Input((6, 4))
    model = rnnkit.Model(inputs, layer(inputs))
    x = RNG.standard_normal((4, 6, 4)).astype(np.float32)
    params = [layer.w.value.astype(np.float64), layer.kernel.value.astype(np.float64)]

    def reference(v, w, kernel):
        return top_k_pooling_reference(v, w, kernel, 3)

    y = model.predict(x, verbose=0)
    np.testing.assert_allclose(y, reference(x.astype(np.float64), *params), rtol=1e-5, atol=1e-6)
    weights = RNG.standard_normal(y.shape)
    _, ctx = model.forward(x, training=True)
    d_x, d_params = model.backward(ctx, weights.astype(np.float32))
    numeric = reference_gradients(reference, [x] + params, weights)
    for analytic, expected in zip([d_x] + list(d_params), numeric):
        np.testing.assert_allclose(analytic, expected, rtol=1e-4, atol=1e-5)


def recurrent_model():
    inputs = layers.Input((6, 4))
    hidden = layers.GRU(4, return_sequences=True)(inputs)
    mixed = layers.Lambda(lambda h: mix_steps(ops, h))(hidden)
    return rnnkit.Model(inputs, layers.Dense(1)(TopKPooling(3, 2, name="pool")(mixed)))


def test_one_training_step_applies_the_graphs_gradients():
    """One SGD step moves every weight by -learning rate x its gradient from the graph's backward (mse's
    gradient 2 (y_pred - y) / size), the Lambda's and the custom layer's operations in between."""
    model = recurrent_model()
    x = RNG.standard_normal((8, 6, 4)).astype(np.float32)
    y = RNG.standard_normal((8, 1)).astype(np.float32)
    before = [w.numpy() for w in model.trainable_weights]
    predictions, ctx = model.forward(x, training=True)
    _, gradients = model.backward(ctx, (2.0 * (predictions - y) / y.size).astype(np.float32))
    model.compile(optimizer=rnnkit.optimizers.SGD(0.1), loss="mse")
    loss = model.train_on_batch(x, y)
    assert np.isclose(loss, np.mean((predictions - y) ** 2), rtol=1e-5)
    assert all(np.abs(g).max() > 0 for g in gradients)  # every weight, the custom layer's included, learns
    for variable, start, gradient in zip(model.trainable_weights, before, gradients):
        np.testing.assert_allclose(variable.numpy(), start - 0.1 * gradient, rtol=1e-5, atol=1e-6)


def test_the_lambda_and_custom_layer_model_saves_and_loads(tmp_path):
    model = recurrent_model()
    x = RNG.standard_normal((5, 6, 4)).astype(np.float32)
    model.save(tmp_path / "m.rnnkit")
    loaded = saving.load_model(tmp_path / "m.rnnkit", custom_objects={"TopKPooling": TopKPooling})
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_every_op_survives_the_config_round_trip_and_rnnkit_files(tmp_path):
    model = every_op_model(rnnkit)
    data = every_op_data(1)
    expected = model.predict(data, verbose=0)
    config = model.get_config()
    classes = {entry["class_name"] for entry in config["layers"]}
    assert {"Sign", "Floor", "Ceil", "Round", "FloorDivide", "Mod", "Prod", "Std", "Var", "Norm", "Any", "All", "Flip",
            "Roll", "Tile", "Repeat", "Pad", "Split", "TopK", "Sort", "Argsort", "Tril", "Triu", "Take",
            "TakeAlongAxis", "Einsum", "Dot", "FullLike"} <= classes
    rebuilt = rnnkit.Model.from_config(json.loads(json.dumps(config)))
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_array_equal(rebuilt.predict(data, verbose=0), expected)
    model.save(tmp_path / "every_op.rnnkit")
    np.testing.assert_array_equal(saving.load_model(tmp_path / "every_op.rnnkit").predict(data, verbose=0), expected)


def test_constants_are_captured_in_keras_form_and_read_from_it():
    x = layers.Input((3,))
    model = rnnkit.Model(x, x * ops.arange(3) + ops.eye(3)[0] - ops.convert_to_tensor(np.array([1.0, 2.0, 3.0])))
    args = [entry["inbound_nodes"][0]["args"] for entry in model.get_config()["layers"][1:]]
    assert args[0][1] == {"class_name": "__tensor__", "config": {"value": [0, 1, 2], "dtype": "int32"}}
    assert args[1][1] == {"class_name": "__tensor__", "config": {"value": [1.0, 0.0, 0.0], "dtype": "float32"}}
    # Keras writes numpy arrays given to an op as __numpy__ (float64 here); they are constants too.
    config = json.loads(json.dumps(model.get_config()))
    config["layers"][3]["inbound_nodes"][0]["args"][1] = {"class_name": "__numpy__",
                                                          "config": {"value": [1.0, 2.0, 3.0], "dtype": "float64"}}
    value = RNG.standard_normal((2, 3)).astype(np.float32)
    expected = value * np.arange(3) + np.eye(3)[0] - np.array([1.0, 2.0, 3.0])
    for built in (model, rnnkit.Model.from_config(config)):
        np.testing.assert_allclose(built.predict(value, verbose=0), expected, rtol=1e-6)
    ids = layers.Input((3,), dtype="int32")
    assert (ids + ops.arange(3)).dtype == "int32" and (ids + ops.ones((3,))).dtype == "float32"
    assert ops.where(ids > 0, ops.ones((3,), dtype="int32"), 0).dtype == "int32"


def test_a_constant_in_a_traced_call_is_its_value_at_trace_time_and_variables_stay_weights():
    class Shifted(layers.Layer):
        def build(self, input_shape):
            self.scale = self.add_weight(shape=(), initializer="ones", name="scale")

        def call(self, inputs):
            offsets = ops.linspace(0.0, 1.0, inputs.shape[-1]) * 2.0  # numpy arithmetic: still a constant
            return inputs * ops.convert_to_tensor(self.scale) + offsets

    layer = Shifted()
    inputs = layers.Input((5,))
    model = rnnkit.Model(inputs, layer(inputs))
    layer.scale.assign(3.0)  # read when the model runs, unlike the constant
    x = RNG.standard_normal((2, 5)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), 3.0 * x + np.linspace(0, 2, 5), rtol=1e-6)
    _, ctx = model.forward(x, training=True)
    _, (d_scale,) = model.backward(ctx, np.ones_like(x))
    assert d_scale == pytest.approx(x.sum(), rel=1e-5)


def test_the_cpp_model_api_refuses_the_new_operations_by_name(tmp_path):
    inputs = layers.Input((4, 3))
    for outputs, message in ((layers.Dense(2)(ops.sort(inputs, axis=1)), "operation Sort is not supported"),
                             (ops.norm(inputs, ord=np.inf, axis=-1), "operation Norm is not supported"),
                             (ops.split(inputs, 2, axis=1)[1], "operation Split is not supported"),
                             (inputs + ops.ones((3,)), r"layer add\w* \(Add\): expects tensors and numbers")):
        path = tmp_path / "operation.rnnkit"
        rnnkit.Model(inputs, outputs).save(path)
        with pytest.raises(ValueError, match=message):
            _core.CppModel(str(path))
