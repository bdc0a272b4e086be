"""Weight constraints (Keras 3's MaxNorm, MinMaxNorm, NonNeg, UnitNorm) against float64 numpy references: values,
their application after each optimizer step, configs; the C++ model API refuses them. Keras itself is compared in
test_regularizers_keras.py."""
import numpy as np
import pytest

import rnnkit
from rnnkit import _core, constraints, layers, saving


def weights(seed, shape=(3, 4)):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def column_norms(w, axis=0):
    return np.sqrt(np.square(w.astype(np.float64)).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("constraint, reference", [
    (constraints.MaxNorm(1.5), lambda w: w * np.minimum(column_norms(w), 1.5) / (1e-7 + column_norms(w))),
    (constraints.MaxNorm(1.0, axis=[0, 1]),
     lambda w: w * np.minimum(column_norms(w, (0, 1)), 1.0) / (1e-7 + column_norms(w, (0, 1)))),
    (constraints.MinMaxNorm(0.5, 1.0, rate=0.5),
     lambda w: w * (0.5 * np.clip(column_norms(w), 0.5, 1.0) + 0.5 * column_norms(w)) / (1e-7 + column_norms(w))),
    (constraints.UnitNorm(axis=1), lambda w: w / (1e-7 + column_norms(w, 1))),
    (constraints.NonNeg(), lambda w: np.maximum(w, 0.0)),
])
def test_constrained_values_match_numpy(constraint, reference):
    w = weights(0)
    constrained = constraint(w)
    assert constrained.dtype == np.float32 and constrained.shape == w.shape
    np.testing.assert_allclose(constrained, reference(w), rtol=1e-6, atol=1e-7)


def test_each_optimizer_step_ends_with_the_constraint_of_the_new_value():
    inputs = layers.Input((3,))
    dense = layers.Dense(4, kernel_constraint=constraints.MaxNorm(0.2), bias_constraint="non_neg")
    model = rnnkit.Model(inputs, dense(inputs))
    model.compile(optimizer=rnnkit.optimizers.SGD(0.5), loss="mse")
    x, y = weights(1, (6, 3)), weights(2, (6, 4))
    kernel, bias = dense.get_weights()
    error = x.astype(np.float64) @ kernel + bias - y
    d_out = 2 * error / error.size
    stepped_kernel, stepped_bias = kernel - 0.5 * (x.T @ d_out), bias - 0.5 * d_out.sum(0)
    model.train_on_batch(x, y)
    expected_kernel = stepped_kernel * np.minimum(column_norms(stepped_kernel), 0.2) / (
        1e-7 + column_norms(stepped_kernel))
    np.testing.assert_allclose(dense.kernel.numpy(), expected_kernel, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dense.bias.numpy(), np.maximum(stepped_bias, 0.0), rtol=1e-5, atol=1e-6)
    assert (column_norms(dense.kernel.numpy()) <= 0.2 + 1e-6).all()


def test_names_configs_saving_and_the_cpp_refusal(tmp_path):
    assert isinstance(constraints.get("max_norm"), constraints.MaxNorm) and constraints.get("max_norm").max_value == 2
    config = constraints.serialize(constraints.MinMaxNorm(0.1, 0.9, rate=0.5, axis=1))
    assert config == {"module": "keras.constraints", "class_name": "MinMaxNorm", "registered_name": None,
                      "config": {"min_value": 0.1, "max_value": 0.9, "rate": 0.5, "axis": 1}}
    with pytest.raises(ValueError, match="Could not interpret constraint"):
        constraints.get("positive")
    model = rnnkit.Sequential([layers.Input((5, 2)), layers.LSTM(3, recurrent_constraint=constraints.UnitNorm()),
                               layers.Dense(1, kernel_constraint="non_neg")])
    model.save(tmp_path / "m.rnnkit")
    back = saving.load_model(tmp_path / "m.rnnkit")
    assert isinstance(back.layers[0].cell.recurrent_constraint, constraints.UnitNorm)
    assert isinstance(back.layers[1].kernel_constraint, constraints.NonNeg)
    with pytest.raises(ValueError, match="lstm.*recurrent_constraint is not supported by the C\\+\\+ model API"):
        _core.CppModel(str(tmp_path / "m.rnnkit"))
