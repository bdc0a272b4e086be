"""RNN over a list of cells (StackedRNNCells) against Keras 3 on torch (the oracle): outputs and Keras' nested
states, masks, go_backwards, nested initial states, a training step, stateful calls, Bidirectional, an Embedding's
ids, and `.keras` archives both ways (cells listed out of alphabetical order, so the weight groups
`cell/cells/<class>` must be read in the stack's order)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

import rnnkit  # noqa: E402
from reference.keras_steps import assert_same_predictions_and_step, share_random_weights  # noqa: E402

pytestmark = pytest.mark.oracle

B, T, I = 3, 6, 4
MASK = np.array([[1, 1, 0, 1, 1, 1], [1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]], bool)


def cells(lib, kinds=("LSTMCell", "GRUCell", "SimpleRNNCell")):
    units = {"LSTMCell": 5, "GRUCell": 3, "SimpleRNNCell": 2}
    return [getattr(lib.layers, kind)(units[kind]) for kind in kinds]


def sequences(seed=0):
    x = np.random.default_rng(seed).standard_normal((B, T, I)).astype(np.float32)
    x[~MASK] = 0.0
    return x


def flat(outputs):
    return [leaf for item in outputs for leaf in (item if isinstance(item, (list, tuple)) else [item])]


def stacked_model(lib, kinds=("LSTMCell", "GRUCell", "SimpleRNNCell"), **options):
    inputs = lib.Input((T, I))
    outputs = lib.layers.RNN(cells(lib, kinds), **options)(lib.layers.Masking(0.0)(inputs))
    return lib.Model(inputs, flat(outputs) if options.get("return_state") else outputs)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_outputs_and_states_match_keras(go_backwards, return_sequences, zero_output_for_mask):
    options = dict(go_backwards=go_backwards, return_sequences=return_sequences, return_state=True,
                   zero_output_for_mask=zero_output_for_mask)
    theirs, ours = stacked_model(keras, **options), stacked_model(rnnkit, **options)
    share_random_weights(theirs, ours)
    x = sequences()
    predictions = ours.predict(x, verbose=0)
    assert len(predictions) == 1 + 2 + 1 + 1
    for mine, reference in zip(predictions, theirs.predict(x, verbose=0)):
        np.testing.assert_allclose(mine, np.asarray(reference), rtol=1e-5, atol=1e-6)


def test_states_are_nested_per_cell_as_keras_returns_them():
    """Keras' symbolic structure: a list for a cell with several states, a tensor for one; Keras' eager calls wrap
    the single states in lists too, rnnkit's keep the symbolic structure (docs/differences.md)."""
    for lib in (keras, rnnkit):
        layer = lib.layers.RNN(cells(lib), return_state=True)
        output, lstm_states, gru_state, simple_state = layer(lib.Input((T, I)))
        assert [tuple(s.shape) for s in lstm_states] == [(None, 5), (None, 5)]
        assert tuple(gru_state.shape) == (None, 3) and tuple(simple_state.shape) == (None, 2)
        assert tuple(output.shape) == (None, 2)
    output, lstm_states, gru_state, simple_state = layer(sequences())
    assert [s.shape for s in lstm_states] == [(B, 5), (B, 5)] and gru_state.shape == (B, 3)
    assert simple_state.shape == (B, 2) and output.shape == (B, 2)
    assert layer.cell.state_size == [[5, 5], 3, 2]


def test_nested_initial_state_and_its_gradient_match_keras():
    rng = np.random.default_rng(3)
    initial = [[rng.standard_normal((B, 5)).astype(np.float32) for _ in range(2)],
               rng.standard_normal((B, 3)).astype(np.float32), rng.standard_normal((B, 2)).astype(np.float32)]

    def build(lib):
        x = lib.Input((T, I))
        states = [[lib.Input((5,)), lib.Input((5,))], lib.Input((3,)), lib.Input((2,))]
        y = lib.layers.RNN(cells(lib), return_sequences=True)(x, initial_state=states)
        return lib.Model([x, *flat(states)], lib.layers.Dense(1)(y))

    theirs, ours = build(keras), build(rnnkit)
    share_random_weights(theirs, ours)
    x = [sequences(1), *flat(initial)]
    y = np.random.default_rng(4).standard_normal((B, T, 1)).astype(np.float32)
    assert_same_predictions_and_step(theirs, ours, x, y, keras, rnnkit)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_training_step_with_mask_matches_keras(go_backwards):
    def build(lib):
        inputs = lib.Input((T, I))
        y = lib.layers.RNN(cells(lib, ("SimpleRNNCell", "LSTMCell", "GRUCell")), return_sequences=True,
                           go_backwards=go_backwards)(lib.layers.Masking(0.0)(inputs))
        return lib.Model(inputs, lib.layers.Dense(2)(y))

    theirs, ours = build(keras), build(rnnkit)
    share_random_weights(theirs, ours)
    y = np.random.default_rng(5).standard_normal((B, T, 2)).astype(np.float32)
    assert_same_predictions_and_step(theirs, ours, sequences(2), y, keras, rnnkit)


def test_embedding_ids_predict_and_training_step_match_keras():
    ids = np.random.default_rng(6).integers(1, 30, size=(8, 12)).astype(np.int32)
    ids[2, 7:] = 0

    def build(lib):
        inputs = lib.Input((12,), dtype="int32")
        embedded = lib.layers.Embedding(30, I, mask_zero=True)(inputs)
        return lib.Model(inputs, lib.layers.Dense(1)(lib.layers.RNN(cells(lib))(embedded)))

    theirs, ours = build(keras), build(rnnkit)
    share_random_weights(theirs, ours)
    y = np.random.default_rng(7).standard_normal((8, 1)).astype(np.float32)
    assert_same_predictions_and_step(theirs, ours, ids, y, keras, rnnkit)


def test_bidirectional_stack_matches_keras():
    def build(lib):
        inputs = lib.Input((T, I))
        layer = lib.layers.Bidirectional(lib.layers.RNN(cells(lib, ("GRUCell", "LSTMCell")), return_sequences=True))
        return lib.Model(inputs, lib.layers.Dense(1)(layer(lib.layers.Masking(0.0)(inputs))))

    theirs, ours = build(keras), build(rnnkit)
    share_random_weights(theirs, ours)
    y = np.random.default_rng(8).standard_normal((B, T, 1)).astype(np.float32)
    assert_same_predictions_and_step(theirs, ours, sequences(3), y, keras, rnnkit)


def test_stateful_stack_carries_every_cells_state_like_keras():
    def build(lib):
        inputs = lib.Input(batch_shape=(B, T, I))
        return lib.Model(inputs, lib.layers.RNN(cells(lib), stateful=True)(inputs))

    theirs, ours = build(keras), build(rnnkit)
    share_random_weights(theirs, ours)
    for seed in (9, 10):
        x = np.random.default_rng(seed).standard_normal((B, T, I)).astype(np.float32)
        np.testing.assert_allclose(ours.predict(x, verbose=0), np.asarray(theirs.predict(x, verbose=0)), rtol=1e-5,
                                   atol=1e-6)
    assert len(ours.layers[1].states) == 4
    ours.layers[1].reset_state()
    assert all(not state.numpy().any() for state in ours.layers[1].states)


@pytest.mark.parametrize("writer", ["keras", "rnnkit"])
def test_keras_archives_both_ways(tmp_path, writer):
    pytest.importorskip("h5py", reason="`.keras` archives need h5py (pip install '.[h5]')")
    kinds = ("SimpleRNNCell", "LSTMCell", "GRUCell", "LSTMCell")
    source = stacked_model(keras if writer == "keras" else rnnkit, kinds, return_sequences=True)
    share_random_weights(source, source)
    source.save(tmp_path / "model.keras")
    target = (rnnkit.saving.load_model if writer == "keras" else keras.models.load_model)(tmp_path / "model.keras")
    x = sequences(11)
    np.testing.assert_allclose(np.asarray(target.predict(x, verbose=0)), np.asarray(source.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-6)
    stack = target.layers[-1].cell
    assert [type(cell).__name__ for cell in stack.cells] == list(kinds)
