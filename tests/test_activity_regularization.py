"""Activity regularizers (Keras 3: each output of a layer adds regularizer(output) / batch size to the loss) and the
ActivityRegularization layer: against float64 numpy references, then against Keras 3 on torch (the oracle) for
the loss, a training step and `.keras` archives. Tolerances: 1e-6 relative on losses, 1e-5 on weights."""
import numpy as np
import pytest

import rnnkit
from rnnkit import layers, regularizers


def dense_model(lib, **dense_options):
    inputs = lib.Input((3,))
    return lib.Model(inputs, lib.layers.Dense(2, **dense_options)(inputs))


def data(seed=0, batch=5):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, 3)).astype(np.float32), rng.standard_normal((batch, 2)).astype(np.float32)


def test_penalty_is_the_regularizer_of_the_outputs_over_the_batch():
    model = dense_model(rnnkit, activity_regularizer=regularizers.L1L2(l1=0.01, l2=0.1))
    model.compile(optimizer=rnnkit.optimizers.SGD(0.1), loss="mse")
    x, y = data()
    kernel, bias = (np.asarray(w, np.float64) for w in model.get_weights())
    out = x.astype(np.float64) @ kernel + bias
    penalty = (0.01 * np.abs(out).sum() + 0.1 * np.square(out).sum()) / len(x)
    mse = np.mean((out - y) ** 2)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(mse + penalty, rel=1e-6)
    # One SGD step: d(mse + penalty)/d(out) pulled back through the Dense, in float64.
    d_out = 2 * (out - y) / out.size + (0.01 * np.sign(out) + 0.2 * out) / len(x)
    expected = [kernel - 0.1 * x.astype(np.float64).T @ d_out, bias - 0.1 * d_out.sum(0)]
    assert model.train_on_batch(x, y) == pytest.approx(mse + penalty, rel=1e-6)
    for ours, reference in zip(model.get_weights(), expected):
        np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-7)


def test_activity_regularization_layer_passes_values_and_adds_its_penalty():
    inputs = rnnkit.Input((3,))
    model = rnnkit.Model(inputs, layers.ActivityRegularization(l1=0.5)(layers.Dense(2)(inputs)))
    model.compile(optimizer="sgd", loss="mse")
    x, y = data(1)
    out = model.predict(x, verbose=0)
    np.testing.assert_array_equal(out, model.layers[1](x))
    assert model.evaluate(x, y, verbose=0) == pytest.approx(
        np.mean((out - y) ** 2, dtype=np.float64) + 0.5 * np.abs(out).sum(dtype=np.float64) / len(x), rel=1e-6)
    config = model.layers[2].get_config()
    assert config["l1"] == 0.5 and config["l2"] == 0.0 and "activity_regularizer" not in config
    assert layers.ActivityRegularization.from_config(config).activity_regularizer.l1 == 0.5


def test_embedding_with_an_activity_regularizer_is_not_folded_into_the_recurrent_layer():
    """The Embedding -> LSTM fold skips the embedded values that the Embedding's penalty needs."""
    inputs = rnnkit.Input((6,), dtype="int32")
    embedded = layers.Embedding(10, 4, activity_regularizer="l2")(inputs)
    model = rnnkit.Model(inputs, layers.Dense(1)(layers.LSTM(3)(embedded)))
    model.compile(optimizer="sgd", loss="mse")
    ids = np.random.default_rng(2).integers(0, 10, (8, 6))
    y = np.zeros((8, 1), np.float32)
    table = model.layers[1].get_weights()[0].astype(np.float64)
    penalty = 0.01 * np.square(table[ids]).sum() / len(ids)
    prediction = model.predict(ids, verbose=0).astype(np.float64)
    assert model.evaluate(ids, y, verbose=0) == pytest.approx(np.mean(prediction ** 2) + penalty, rel=1e-5)


def test_config_round_trip_keeps_the_regularizer():
    layer = layers.LSTM(3, activity_regularizer=regularizers.L2(0.3))
    clone = layers.LSTM.from_config(layer.get_config())
    assert isinstance(clone.activity_regularizer, regularizers.L2) and clone.activity_regularizer.l2 == 0.3
    assert layers.Dense(2).get_config().get("activity_regularizer") is None


def test_data_parallel_refuses_activity_regularizers_with_a_clear_error():
    from types import SimpleNamespace

    from rnnkit.distribution import DataParallel

    parallel = object.__new__(DataParallel)  # a rank of two, without MPI: the check comes before any exchange
    parallel.comm = SimpleNamespace(rank=0, size=2)
    model = dense_model(rnnkit, activity_regularizer="l2")
    model.compile(optimizer="sgd", loss="mse")
    x, y = data()
    for step in (parallel.train_step, parallel.test_step):
        with pytest.raises(ValueError, match=r"layer\(s\) \['dense.*activity_regularizer"):
            step(model, [x], [y], None)


# ---- oracle: Keras 3 on the torch backend --------------------------------------------------------------------------
def sequence_model(lib):
    inputs = lib.Input((5, 3))
    hidden = lib.layers.LSTM(4, return_sequences=True, activity_regularizer=lib.regularizers.L2(0.05))(inputs)
    hidden = lib.layers.Conv1D(3, 2, activity_regularizer=lib.regularizers.L1(0.02))(hidden)
    hidden = lib.layers.ActivityRegularization(l1=0.01, l2=0.02)(lib.layers.GRU(3)(hidden))
    return lib.Model(inputs, lib.layers.Dense(2, activity_regularizer="l1l2")(hidden))


def test_oracle_losses_and_training_step_match_keras():
    keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")
    pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
    from reference.keras_steps import share_random_weights

    theirs, ours = sequence_model(keras), sequence_model(rnnkit)
    share_random_weights(theirs, ours)
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((6, 5, 3)).astype(np.float32), rng.standard_normal((6, 2)).astype(np.float32)
    for model, lib in ((theirs, keras), (ours, rnnkit)):
        model.compile(optimizer=lib.optimizers.SGD(0.2), loss="mse")
    assert ours.evaluate(x, y, verbose=0) == pytest.approx(theirs.evaluate(x, y, verbose=0), rel=1e-5)
    losses = [model.train_on_batch(x, y) for model in (theirs, ours)]
    assert losses[1] == pytest.approx(float(losses[0]), rel=1e-5)
    for mine, reference in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, np.asarray(reference), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("writer", ["keras", "rnnkit"])
def test_oracle_keras_archives_keep_the_regularizers(tmp_path, writer):
    keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")
    pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
    pytest.importorskip("h5py", reason="`.keras` archives need h5py (pip install '.[h5]')")
    source = sequence_model(keras if writer == "keras" else rnnkit)
    source.compile(optimizer="sgd", loss="mse")
    source.save(tmp_path / "m.keras")
    target = (rnnkit.saving.load_model if writer == "keras" else keras.models.load_model)(tmp_path / "m.keras")
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((6, 5, 3)).astype(np.float32), rng.standard_normal((6, 2)).astype(np.float32)
    assert target.evaluate(x, y, verbose=0) == pytest.approx(source.evaluate(x, y, verbose=0), rel=1e-5)
