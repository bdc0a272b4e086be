"""Weight regularizers and constraints against Keras 3 on torch (the oracle): the same penalties (model.losses),
evaluated and trained losses and weights for Embedding, LSTM, Conv1D, GRU and Dense regularizers, the same weights
after Adam steps with constraints, and `.keras` archives that keep them, both ways."""
import numpy as np
import pytest

pytest.importorskip("h5py", reason="`.keras` archives need h5py (pip install '.[h5]')")
torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

import rnnkit  # noqa: E402
from reference.keras_steps import share_random_weights  # noqa: E402


def build(lib):
    layers, regularizers = lib.layers, lib.regularizers
    ids = lib.Input((6,), dtype="int32")
    hidden = layers.Embedding(20, 4, embeddings_regularizer=regularizers.L1(0.01))(ids)
    hidden = layers.LSTM(5, return_sequences=True, kernel_regularizer="l2",
                         recurrent_regularizer=regularizers.L1L2(l1=0.001, l2=0.002),
                         bias_regularizer=regularizers.L2(0.05))(hidden)
    hidden = layers.Conv1D(3, 2, kernel_regularizer=regularizers.L2(0.02), bias_regularizer="l1")(hidden)
    hidden = layers.GRU(4, kernel_regularizer=regularizers.L1(0.003))(hidden)
    return lib.Model(ids, layers.Dense(2, kernel_regularizer=regularizers.L2(0.1),
                                       bias_regularizer=regularizers.L1(0.2))(hidden))


def penalty(model):
    return sum(float(keras.ops.convert_to_numpy(loss)) for loss in model.losses)


def data():
    rng = np.random.default_rng(0)
    return rng.integers(1, 20, (16, 6)).astype(np.int32), rng.standard_normal((16, 2)).astype(np.float32)


def test_penalties_losses_and_training_match_keras():
    theirs, ours = build(keras), build(rnnkit)
    share_random_weights(theirs, ours)
    x, y = data()
    assert penalty(ours) == pytest.approx(penalty(theirs), rel=1e-6)
    for model, lib in ((theirs, keras), (ours, rnnkit)):
        model.compile(optimizer=lib.optimizers.SGD(0.1), loss="mse")
    assert ours.evaluate(x, y, verbose=0) == pytest.approx(float(theirs.evaluate(x, y, verbose=0)), rel=1e-6)
    theirs_history = theirs.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    ours_history = ours.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    np.testing.assert_allclose(ours_history["loss"], theirs_history["loss"], rtol=1e-5)
    for mine, reference in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, np.asarray(reference), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("writer", ["keras", "rnnkit"])
def test_keras_archives_keep_the_regularizers_both_ways(tmp_path, writer):
    source = build(keras if writer == "keras" else rnnkit)
    share_random_weights(source, source)
    source.save(tmp_path / "model.keras")
    target = (rnnkit.saving.load_model if writer == "keras" else keras.models.load_model)(tmp_path / "model.keras")
    assert penalty(target) == pytest.approx(penalty(source), rel=1e-6)
    assert [type(layer).__name__ for layer in target.layers] == [type(layer).__name__ for layer in source.layers]


def build_constrained(lib):
    layers, constraints = lib.layers, lib.constraints
    ids = lib.Input((6,), dtype="int32")
    hidden = layers.Embedding(20, 4, embeddings_constraint=constraints.UnitNorm(axis=1))(ids)
    hidden = layers.LSTM(5, kernel_constraint=constraints.MaxNorm(0.5), recurrent_constraint="non_neg",
                         bias_constraint=constraints.MinMaxNorm(0.1, 0.3, rate=0.5), return_sequences=True)(hidden)
    hidden = layers.Conv1D(3, 2, kernel_constraint=constraints.MaxNorm(1.0, axis=[0, 1]))(hidden)
    return lib.Model(ids, layers.Dense(2, kernel_constraint=constraints.UnitNorm(), bias_constraint="non_neg")(
        layers.GRU(4)(hidden)))


def test_constraints_after_each_step_match_keras(tmp_path):
    theirs, ours = build_constrained(keras), build_constrained(rnnkit)
    share_random_weights(theirs, ours)
    x, y = data()
    for model, lib in ((theirs, keras), (ours, rnnkit)):
        model.compile(optimizer=lib.optimizers.Adam(0.05), loss="mse")
    theirs_history = theirs.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    ours_history = ours.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    np.testing.assert_allclose(ours_history["loss"], theirs_history["loss"], rtol=1e-5)
    for mine, reference in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, np.asarray(reference), rtol=1e-4, atol=2e-5)
    ours.save(tmp_path / "rnnkit.keras")
    back = keras.models.load_model(tmp_path / "rnnkit.keras")
    assert back.layers[-1].get_config()["kernel_constraint"]["class_name"] == "UnitNorm"
