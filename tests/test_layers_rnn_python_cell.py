"""RNN over a cell of one's own (Keras' MinimalRNNCell pattern: a Layer with state_size and call(inputs, states)
written with ops): a numpy float64 reference of the forward pass, Keras 3 on torch as the oracle of outputs and of
one SGD step (its autodiff against rnnkit's traced backward through time), masked steps included, initial and
stateful states, saving, and the refusals."""
import numpy as np
import pytest

import rnnkit
from rnnkit import layers

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 6, 3)).astype(np.float32)


def cells(lib):
    """A one-state tanh cell and a two-state cell (a gated memory) written against `lib`'s Layer and ops."""
    ops = lib.ops

    class TanhCell(lib.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel")

        def call(self, inputs, states):
            output = ops.tanh(ops.matmul(inputs, self.kernel) + ops.matmul(states[0], self.recurrent_kernel))
            return output, [output]

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    class GatedMemoryCell(lib.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = [units, units]
            self.output_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], 2 * self.units), name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, 2 * self.units), name="recurrent_kernel")

        def call(self, inputs, states):
            h, memory = states
            z = ops.matmul(inputs, self.kernel) + ops.matmul(h, self.recurrent_kernel)
            gate, candidate = ops.sigmoid(z[:, :self.units]), ops.tanh(z[:, self.units:])
            memory = gate * memory + (1.0 - gate) * candidate
            output = ops.tanh(memory) * gate
            return output, [output, memory]

    return TanhCell, GatedMemoryCell


def model(lib, cell_kind, **options):
    cell = dict(zip(("tanh", "gated"), cells(lib)))[cell_kind](4)
    inputs = lib.Input((6, 3))
    outputs = lib.layers.RNN(cell, **options)(inputs)
    return lib.Model(inputs, outputs)


def set_weights(net, seed=1):
    weights = [np.random.default_rng(seed + k).standard_normal(w.shape).astype(np.float32) * 0.5
               for k, w in enumerate(net.get_weights())]
    net.set_weights(weights)
    return weights


def test_the_tanh_cell_runs_its_recurrence_as_numpy_does():
    net = model(rnnkit, "tanh", return_sequences=True, go_backwards=True)
    kernel, recurrent = (w.astype(np.float64) for w in set_weights(net))
    h, expected = np.zeros((4, 4)), []
    for t in reversed(range(6)):  # processing order, as Keras returns go_backwards outputs
        h = np.tanh(X[:, t] @ kernel + h @ recurrent)
        expected.append(h)
    np.testing.assert_allclose(net.predict(X, verbose=0), np.stack(expected, axis=1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell_kind", ["tanh", "gated"])
@pytest.mark.parametrize("options", [{}, {"return_sequences": True}, {"return_state": True, "go_backwards": True}])
def test_oracle_outputs_and_an_sgd_step_match_keras(cell_kind, options):
    keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")
    nets = {lib: model(lib, cell_kind, **options) for lib in (keras, rnnkit)}
    for net in nets.values():
        set_weights(net)
    outputs = {lib: net.predict(X, verbose=0) for lib, net in nets.items()}
    for ours, theirs in zip(*(list(o) if isinstance(o, (list, tuple)) else [o] for o in outputs.values())):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    first = outputs[keras][0] if isinstance(outputs[keras], (list, tuple)) else outputs[keras]
    target = np.random.default_rng(9).standard_normal(first.shape).astype(np.float32)
    for lib, net in nets.items():
        out = net.outputs[0] if len(net.outputs) > 1 else net.output
        trainable = lib.Model(net.input, out)
        trainable.compile(optimizer=lib.optimizers.SGD(0.5), loss="mse")
        trainable.train_on_batch(X, target)
    for ours, theirs in zip(nets[rnnkit].get_weights(), nets[keras].get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_initial_states_and_their_gradients_reach_the_cell(tmp_path):
    TanhCell, _ = cells(rnnkit)
    inputs, start = rnnkit.Input((6, 3)), rnnkit.Input((4,))
    net = rnnkit.Model([inputs, start], layers.RNN(TanhCell(4))(inputs, initial_state=[start]))
    kernel, recurrent = (w.astype(np.float64) for w in set_weights(net))
    h0 = RNG.standard_normal((4, 4)).astype(np.float32)
    h = h0.astype(np.float64)
    for t in range(6):
        h = np.tanh(X[:, t] @ kernel + h @ recurrent)
    np.testing.assert_allclose(net.predict([X, h0], verbose=0), h, rtol=1e-5, atol=1e-6)
    net.compile(optimizer="sgd", loss="mse")
    before = [w.copy() for w in net.get_weights()]
    net.fit([X, h0], np.zeros((4, 4), np.float32), epochs=1, verbose=0)
    assert all(not np.allclose(a, b) for a, b in zip(before, net.get_weights()))


def test_a_registered_cell_saves_and_loads(tmp_path):
    TanhCell, _ = cells(rnnkit)
    registered = rnnkit.saving.register_keras_serializable(package="tests_python_cell")(TanhCell)
    inputs = rnnkit.Input((6, 3))
    net = rnnkit.Model(inputs, layers.RNN(registered(4), return_sequences=True)(inputs))
    set_weights(net)
    net.save(tmp_path / "cell.keras")
    loaded = rnnkit.saving.load_model(tmp_path / "cell.keras")
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), net.predict(X, verbose=0))


@pytest.mark.parametrize("cell_kind", ["tanh", "gated"])
@pytest.mark.parametrize("options", [{}, {"return_sequences": True, "go_backwards": True}])
def test_oracle_masked_steps_match_keras(cell_kind, options):
    keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")
    ids = np.random.default_rng(4).integers(1, 10, size=(4, 6))
    ids[0, :2] = 0  # padding first, in the middle, at the end and a row of padding only
    ids[1, 3] = 0
    ids[2, 4:] = 0
    ids[3, :] = 0
    target_shape = (4, 6, 4) if options else (4, 4)
    target = np.random.default_rng(5).standard_normal(target_shape).astype(np.float32)
    nets = {}
    for lib in (keras, rnnkit):
        cell = dict(zip(("tanh", "gated"), cells(lib)))[cell_kind](4)
        tokens = lib.Input((6,), dtype="int32")
        embedded = lib.layers.Embedding(10, 3, mask_zero=True)(tokens)
        nets[lib] = lib.Model(tokens, lib.layers.RNN(cell, **options)(embedded))
        set_weights(nets[lib])
    np.testing.assert_allclose(nets[rnnkit].predict(ids, verbose=0), nets[keras].predict(ids, verbose=0),
                               rtol=1e-5, atol=1e-6)
    for lib, net in nets.items():
        net.compile(optimizer=lib.optimizers.SGD(0.5), loss="mse")
        net.train_on_batch(ids, target)
    for ours, theirs in zip(nets[rnnkit].get_weights(), nets[keras].get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_wrong_state_counts_and_other_layers_are_refused():
    TanhCell, _ = cells(rnnkit)

    class TwoStatesClaimed(TanhCell):
        def __init__(self, units, **kwargs):
            super().__init__(units, **kwargs)
            self.state_size = [units, units]

    with pytest.raises((TypeError, ValueError), match="returned 1 state"):
        layers.RNN(TwoStatesClaimed(4))(X)
    with pytest.raises(TypeError, match="a cell of your own"):
        layers.RNN(layers.Dense(3))


def test_a_stateful_layer_carries_its_states_from_call_to_call():
    _, GatedMemoryCell = cells(rnnkit)
    inputs = rnnkit.Input((3, 3), batch_size=4)
    stateful = rnnkit.Model(inputs, layers.RNN(GatedMemoryCell(4), stateful=True, return_sequences=True)(inputs))
    whole = model(rnnkit, "gated", return_sequences=True)
    whole.set_weights(set_weights(stateful))
    halves = np.concatenate([stateful.predict(X[:, :3], verbose=0), stateful.predict(X[:, 3:], verbose=0)], axis=1)
    np.testing.assert_allclose(halves, whole.predict(X, verbose=0), rtol=1e-6, atol=1e-6)


def test_oracle_bidirectional_over_a_registered_cell_matches_keras():
    keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")
    nets = {}
    for lib in (keras, rnnkit):  # Bidirectional makes its backward copy from the layer's config, as Keras does
        TanhCell, _ = cells(lib)
        registered = lib.saving.register_keras_serializable(package=f"tests_bidirectional_{lib.__name__}")(TanhCell)
        inputs = lib.Input((6, 3))
        nets[lib] = lib.Model(inputs, lib.layers.Bidirectional(lib.layers.RNN(registered(4), return_sequences=True))(
            inputs))
        set_weights(nets[lib])
    np.testing.assert_allclose(nets[rnnkit].predict(X, verbose=0), nets[keras].predict(X, verbose=0),
                               rtol=1e-5, atol=1e-6)
