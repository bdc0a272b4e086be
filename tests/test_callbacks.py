"""Callbacks driven by real fit runs on a small linear model."""
import csv

import numpy as np
import pytest

import rnnkit
from rnnkit import callbacks, layers
from rnnkit.models import Sequential
from engine_stand_ins import SGD, MeanSquaredError


def _model(learning_rate=0.05):
    model = Sequential([layers.Input(shape=(2,)), layers.Dense(1)])
    model.compile(optimizer=SGD(learning_rate), loss=MeanSquaredError())
    return model


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 2)).astype(np.float32)
    return x, (x @ np.array([[1.0], [-1.0]], np.float32)).astype(np.float32)


class _ScriptedLoss(callbacks.Callback):
    """Overwrites the epoch's monitored value so the callbacks under test see a known sequence."""

    def __init__(self, values, key="val_loss"):
        super().__init__()
        self.values, self.key = values, key

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


class _WeightsLog(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


def test_early_stopping_stops_after_patience_and_restores_best_weights():
    x, y = _data()
    model, weights_log = _model(), _WeightsLog()
    stopper = callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = model.fit(x, y, epochs=10, verbose=0, validation_data=(x, y), batch_size=4,
                        callbacks=[_ScriptedLoss([5.0, 3.0, 4.0, 4.5, 1.0, 0.5]), weights_log, stopper])
    assert history.epoch == [0, 1, 2, 3]
    for restored, best in zip(model.get_weights(), weights_log.weights[1]):
        np.testing.assert_array_equal(restored, best)


def test_early_stopping_restores_best_weights_when_training_runs_to_the_end():
    """Keras 3 restores the best epoch at the end of fit whether or not it stopped early."""
    x, y = _data()
    model, weights_log = _model(), _WeightsLog()
    stopper = callbacks.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)
    history = model.fit(x, y, epochs=4, verbose=0, validation_data=(x, y), batch_size=4,
                        callbacks=[_ScriptedLoss([5.0, 2.0, 4.0, 4.5]), weights_log, stopper])
    assert history.epoch == [0, 1, 2, 3] and stopper.stopped_epoch == 0 and stopper.best_epoch == 1
    for restored, best in zip(model.get_weights(), weights_log.weights[1]):
        np.testing.assert_array_equal(restored, best)


def test_early_stopping_min_delta_and_max_mode():
    x, y = _data()
    stopper = callbacks.EarlyStopping(monitor="score", mode="max", min_delta=0.5, patience=1)
    history = _model().fit(x, y, epochs=10, verbose=0,
                           callbacks=[_ScriptedLoss([1.0, 1.2, 1.4, 3.0], key="score"), stopper])
    assert history.epoch == [0, 1]


def test_model_checkpoint_save_best_only_writes_only_on_improvement(tmp_path):
    x, y = _data()
    model = _model()
    saved = []
    model.save_weights = saved.append
    checkpoint = callbacks.ModelCheckpoint(str(tmp_path / "w_{epoch:02d}_{val_loss:.1f}.weights"),
                                           save_best_only=True, save_weights_only=True)
    model.fit(x, y, epochs=4, verbose=0, validation_data=(x, y),
              callbacks=[_ScriptedLoss([2.0, 3.0, 1.0, 1.5]), checkpoint])
    assert saved == [str(tmp_path / "w_01_2.0.weights"), str(tmp_path / "w_03_1.0.weights")]


def test_model_checkpoint_without_save_best_only_saves_the_model_every_epoch(tmp_path):
    x, y = _data()
    model = _model()
    saved = []
    model.save = saved.append
    model.fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.ModelCheckpoint(str(tmp_path / "m{epoch}.rnnkit"))])
    assert saved == [str(tmp_path / "m1.rnnkit"), str(tmp_path / "m2.rnnkit")]


def checkpoint_paths_every_two_batches(lib, model, x, y):
    """The paths a ModelCheckpoint(save_freq=2) writes over 2 epochs of 3 batches (model.save recorded, not run)."""
    saved = []
    model.save = lambda path, *args, **kwargs: saved.append(str(path))
    checkpoint = lib.callbacks.ModelCheckpoint("m_{epoch}_{batch}.keras", monitor="loss", save_freq=2)
    model.fit(x, y, batch_size=6, epochs=2, shuffle=False, verbose=0, callbacks=[checkpoint])
    return saved


def test_model_checkpoint_every_few_batches_counts_them_across_epochs():
    x, y = _data()
    # Batches of 6, 6 and 4 rows; a save after every second batch, counted across epochs, as Keras counts them.
    assert checkpoint_paths_every_two_batches(rnnkit, _model(), x, y) == [
        "m_1_2.keras", "m_2_1.keras", "m_2_3.keras"]
    with pytest.raises(ValueError, match="save_freq"):
        callbacks.ModelCheckpoint("m.keras", save_freq="batch")


def test_oracle_model_checkpoint_batch_saves_match_keras():
    keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")
    x, y = _data()
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    assert checkpoint_paths_every_two_batches(keras, model, x, y) == checkpoint_paths_every_two_batches(
        rnnkit, _model(), x, y)


def test_terminate_on_nan_stops_at_the_first_nan_batch():
    x, y = _data()
    y[5] = np.nan
    history = _model().fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0,
                           callbacks=[callbacks.TerminateOnNaN()])
    assert history.epoch == [0] and np.isnan(history.history["loss"][0])


def test_terminate_on_nan_with_raise_error_raises_at_the_nan_batch():
    x, y = _data()
    y[5] = np.nan  # batch 1 of batch size 4
    batches = []
    seen = callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: batches.append(batch))
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 1"):
        _model().fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0,
                     callbacks=[callbacks.TerminateOnNaN(raise_error=True), seen])
    assert batches == [0]  # the NaN batch's own hooks stop at TerminateOnNaN, listed first


def test_csv_logger_writes_a_header_and_one_row_per_epoch(tmp_path):
    x, y = _data()
    path = tmp_path / "log.csv"
    history = _model().fit(x, y, epochs=3, verbose=0, validation_data=(x, y),
                           callbacks=[callbacks.CSVLogger(str(path))])
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["epoch", "loss", "val_loss"]
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2]
    assert [float(row["loss"]) for row in rows] == pytest.approx(history.history["loss"])


def test_learning_rate_scheduler_sets_the_optimizer_rate_each_epoch():
    x, y = _data()
    model = _model(learning_rate=0.1)
    seen = []

    class _Record(callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(self.model.optimizer.learning_rate)

    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0,
                        callbacks=[callbacks.LearningRateScheduler(lambda epoch, lr: lr / 2), _Record()])
    assert seen == [0.05, 0.025, 0.0125]
    assert history.history["learning_rate"] == [0.05, 0.025, 0.0125]


def test_reduce_lr_on_plateau_multiplies_by_factor_after_patience():
    x, y = _data()
    model = _model(learning_rate=1.0)
    reducer = callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, min_lr=0.3)
    history = model.fit(x, y, epochs=6, verbose=0, validation_data=(x, y),
                        callbacks=[_ScriptedLoss([1.0, 1.0, 1.0, 1.0, 1.0, 1.0]), reducer])
    assert model.optimizer.learning_rate == 0.3
    assert history.history["learning_rate"] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.3]


class _Scripted:
    """A callback of `lib` that overwrites val_loss with a known sequence (Keras' or rnnkit's Callback base)."""

    @staticmethod
    def make(lib, values):
        class Scripted(lib.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                logs["val_loss"] = values[epoch]

        return Scripted()


def verbose_messages(lib, model, x, y, capsys, tmp_path):
    """The lines the four verbose callbacks print over a scripted fit (model.save_weights recorded, not run)."""
    model.save_weights = lambda *args, **kwargs: None
    scripted = [_Scripted.make(lib, [2.0, 3.0, 1.0, 1.5, 1.6, 1.7, 1.8])]
    made = [lib.callbacks.ModelCheckpoint(str(tmp_path / "w.weights.h5"), save_best_only=True,
                                          save_weights_only=True, verbose=1),
            lib.callbacks.EarlyStopping(patience=3, restore_best_weights=True, verbose=1),
            lib.callbacks.LearningRateScheduler(lambda epoch, lr: 0.5 ** epoch, verbose=1),
            lib.callbacks.ReduceLROnPlateau(factor=0.5, patience=2, verbose=1)]
    capsys.readouterr()
    model.fit(x, y, epochs=7, verbose=0, batch_size=16, validation_data=(x, y), callbacks=scripted + made)
    return [line for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_verbose_callbacks_say_what_they_do(capsys, tmp_path):
    x, y = _data()
    lines = verbose_messages(rnnkit, _model(), x, y, capsys, tmp_path)
    path = tmp_path / "w.weights.h5"
    assert f"Epoch 1: val_loss improved from None to 2.00000, saving model to {path}" in lines
    assert f"Epoch 1: finished saving model to {path}" in lines
    assert "Epoch 2: val_loss did not improve from 2.00000" in lines
    assert "Epoch 3: val_loss improved from 2.00000 to 1.00000, saving model to " + str(path) in lines
    assert "Epoch 2: LearningRateScheduler setting learning rate to 0.5." in lines
    assert "Epoch 6: early stopping" in lines
    assert "Restoring model weights from the end of the best epoch: 3." in lines
    assert any(line.startswith("Epoch 5: ReduceLROnPlateau reducing learning rate to ") for line in lines)


def test_callbacks_are_silent_without_verbose(capsys):
    x, y = _data()
    capsys.readouterr()
    _model().fit(x, y, epochs=4, verbose=0, validation_data=(x, y),
                 callbacks=[_ScriptedLoss([2.0, 3.0, 3.0, 3.0]), callbacks.EarlyStopping(patience=1),
                            callbacks.ReduceLROnPlateau(patience=1), callbacks.LearningRateScheduler(lambda e, lr: lr)])
    assert capsys.readouterr().out == ""


def test_oracle_verbose_callback_messages_match_keras(capsys, tmp_path):
    keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")
    x, y = _data()
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    theirs = verbose_messages(keras, model, x, y, capsys, tmp_path)
    assert verbose_messages(rnnkit, _model(), x, y, capsys, tmp_path) == theirs
