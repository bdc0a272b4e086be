"""The `%` and `//` operators on symbolic tensors and variables, and numpy arrays as constant operands (Keras keeps
them as constants of the graph): values against numpy float64, the gradient that reaches a weight through them, a
saved model, and the same model in Keras 3 on torch (the oracle)."""
import numpy as np
import pytest

import rnnkit
from rnnkit import layers

X = np.random.default_rng(0).uniform(-3, 3, (4, 3)).astype(np.float32)
OFFSET = np.array([0.5, -1.0, 2.0], np.float32)


def build(lib):
    inputs = lib.Input((3,))
    shifted = inputs + OFFSET  # a numpy array operand
    return lib.Model(inputs, [shifted % 1.5, shifted // 2.0, 7.0 % (shifted * shifted + 1.0), inputs * np.ones(3)])


def test_operators_and_array_operands_compute_as_numpy():
    model = build(rnnkit)
    shifted = X.astype(np.float64) + OFFSET
    expected = [np.mod(shifted, 1.5), np.floor_divide(shifted, 2.0), np.mod(7.0, shifted ** 2 + 1), X]
    for ours, reference in zip(model.predict(X, verbose=0), expected):
        np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-6)
    saved = OFFSET.copy()
    OFFSET[0] = 100.0  # the graph kept its own copy
    try:
        np.testing.assert_allclose(model.predict(X, verbose=0)[0], expected[0], rtol=1e-5, atol=1e-6)
    finally:
        OFFSET[:] = saved
    assert isinstance(np.ones(3) * rnnkit.Input((3,)), rnnkit.layers.input_layer.KerasTensor)  # not an object array


def test_a_saved_model_keeps_the_array_constants(tmp_path):
    model = build(rnnkit)
    model.save(tmp_path / "m.rnnkit")
    for ours, reference in zip(rnnkit.saving.load_model(tmp_path / "m.rnnkit").predict(X, verbose=0),
                               model.predict(X, verbose=0)):
        np.testing.assert_allclose(ours, reference, rtol=1e-6)


def test_a_weight_trains_through_mod():
    class Wrapped(layers.Layer):
        def build(self, input_shape):
            self.scale = self.add_weight(shape=(), initializer="ones", name="scale")

        def call(self, inputs):
            return (inputs * self.scale) % 4.0

    inputs = rnnkit.Input((3,))
    model = rnnkit.Model(inputs, Wrapped()(inputs))
    model.compile(optimizer=rnnkit.optimizers.SGD(0.1), loss="mse")
    y = np.zeros_like(X)
    model.train_on_batch(X, y)
    # d(x*s mod 4)/ds = x where the result is not at a jump: the mse gradient pulled back through it.
    prediction = np.mod(X.astype(np.float64), 4.0)
    expected = 1.0 - 0.1 * np.mean(2 * prediction * X)
    assert float(model.layers[1].scale.numpy()) == pytest.approx(expected, rel=1e-5)


def test_oracle_keras_computes_the_same():
    keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")
    pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
    for ours, reference in zip(build(rnnkit).predict(X, verbose=0), build(keras).predict(X, verbose=0)):
        np.testing.assert_allclose(ours, np.asarray(reference), rtol=1e-5, atol=1e-6)
