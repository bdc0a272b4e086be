"""RNN over a list of cells against the same cells as stacked layers (each with return_sequences, the later ones
reading the first one's outputs in its processing order): the reference is rnnkit's single-cell layer, which
tests/test_layers_rnn.py checks against numpy float64 references. Float32 both ways: tolerance 1e-6."""
import numpy as np
import pytest

import rnnkit
from rnnkit import layers

T, I = 6, 4
# Symmetric in time: a go_backwards layer's output keeps its input's mask in time order while its outputs are in
# processing order (Keras' rule), so only such masks weigh the loss the same on the stack and on the reference.
MASK = np.array([[1, 1, 0, 0, 1, 1], [1, 1, 1, 1, 1, 1], [0, 1, 1, 1, 1, 0]], bool)


def cells():
    return [layers.LSTMCell(5), layers.GRUCell(3, reset_after=False), layers.SimpleRNNCell(2)]


def padded(seed):
    x = np.random.default_rng(seed).standard_normal((3, T, I)).astype(np.float32)
    x[~MASK] = 0.0
    return x


def models(go_backwards):
    inputs = rnnkit.Input((T, I))
    y = layers.RNN(cells(), go_backwards=go_backwards, return_sequences=True)(layers.Masking(0.0)(inputs))
    stacked = rnnkit.Model(inputs, y)
    inputs = rnnkit.Input((T, I))
    y = layers.Masking(0.0)(inputs)
    for cell in cells():
        y = layers.RNN(cell, return_sequences=True)(y)
    return stacked, rnnkit.Model(inputs, y)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_stack_equals_the_cells_as_stacked_layers(go_backwards):
    """Going backwards, the stack processes x as the layers process x reversed in time (outputs, as Keras
    returns them, in processing order)."""
    stacked, layered = models(go_backwards)
    weights = [np.random.default_rng(k).standard_normal(w.shape).astype(np.float32) * 0.5
               for k, w in enumerate(stacked.get_weights())]
    stacked.set_weights(weights)
    layered.set_weights(weights)
    x = padded(1)
    x_layered = x[:, ::-1].copy() if go_backwards else x
    expected = layered.predict(x_layered, verbose=0)
    np.testing.assert_allclose(stacked.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-6)
    y = np.random.default_rng(2).standard_normal(expected.shape).astype(np.float32)
    for model, inputs in ((stacked, x), (layered, x_layered)):
        model.compile(optimizer=rnnkit.optimizers.SGD(0.5), loss="mse")
        model.train_on_batch(inputs, y)
    for ours, reference in zip(stacked.get_weights(), layered.get_weights()):
        np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-6)


def test_states_weights_config_and_errors():
    layer = layers.RNN(cells(), return_state=True, name="stack")
    output, (h, c), gru_state, simple_state = layer(padded(3))
    assert output.shape == (3, 2) and h.shape == c.shape == (3, 5)
    assert gru_state.shape == (3, 3) and simple_state.shape == (3, 2)
    np.testing.assert_array_equal(output, simple_state)  # the last cell's output is its state
    paths = [w.path for w in layer.weights]
    assert paths[0].startswith("stack/stacked_rnn_cells") and paths[0].endswith("/kernel") and len(paths) == 9
    clone = layers.RNN.from_config(layer.get_config())
    assert [type(cell) for cell in clone.cell.cells] == [type(cell) for cell in layer.cell.cells]
    with pytest.raises(TypeError, match="non-empty list"):
        layers.StackedRNNCells([])
    with pytest.raises(TypeError, match="non-empty list"):
        layers.RNN([layers.LSTMCell(2), layers.Dense(3)])
    with pytest.raises(ValueError, match="expected 4 initial state"):
        layer(padded(3), initial_state=[np.zeros((3, 5), np.float32)])
