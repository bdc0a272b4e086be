"""Nothing lost (issue 8): NaN/Inf in training, atomic saves under injected failures, Ctrl-C during fit."""
import os
import signal

import numpy as np
import pytest

from rnnkit import activations, callbacks, layers, saving
from rnnkit import random as rnnkit_random
from rnnkit.models import Sequential
from rnnkit.saving import atomic, file_format
from rnnkit.losses import MeanSquaredError
from rnnkit.optimizers import SGD


def _model(learning_rate=0.05):
    rnnkit_random.set_random_seed(0)
    model = Sequential([layers.Input(shape=(4, 2)), layers.GRU(3), layers.Dense(1)], name="net")
    model.compile(optimizer=SGD(learning_rate), loss=MeanSquaredError())
    return model


def _data(samples=16):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((samples, 4, 2)).astype(np.float32)
    return x, x.sum(axis=(1, 2))[:, None].astype(np.float32)


def _same_weights(a, b):
    return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))


class _AtEpochBegin(callbacks.Callback):
    def __init__(self, epoch, action):
        super().__init__()
        self.target, self.action = epoch, action

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.target:
            self.action()


class _WeightsAtEpochEnd(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


# -- NaN / Inf -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("relu", [False, True])
def test_nan_inputs_stay_in_their_own_samples(relu):
    model, (x, _) = _model(), _data()
    if relu:  # relu once turned NaN into 0 and the diverged sample into a plausible number
        rnnkit_random.set_random_seed(0)
        model = Sequential([layers.Input(shape=(4, 2)), layers.SimpleRNN(3, activation="relu"),
                            layers.Dense(2, activation="relu")])
    clean = model.predict(x, verbose=0)
    x[3, 2, 1] = np.nan
    x[5, 0, 0] = np.inf
    dirty = model.predict(x, verbose=0)
    assert np.isnan(dirty[3]).all()
    others = [i for i in range(len(x)) if i not in (3, 5)]
    np.testing.assert_array_equal(dirty[others], clean[others])


def test_activations_of_infinities_are_their_limits():
    x = np.array([np.inf, -np.inf], np.float32)
    np.testing.assert_array_equal(activations.tanh(x), [1, -1])
    np.testing.assert_allclose(activations.sigmoid(x), [1, 0], rtol=0, atol=1e-30)  # exp is clamped at -88
    np.testing.assert_array_equal(activations.relu(x), [np.inf, 0])


# With all-ones weights a +-inf input drives every gate to its limit: the states stay finite and follow exactly.
SATURATED = {  # layer -> (outputs for x = +inf at steps 1..3, outputs for x = -inf)
    "simple_rnn": ([1, 1, 1], [-1, -1, -1]),
    "lstm": (np.tanh([1.0, 2.0, 3.0]), [0, 0, 0]),  # i = f = o = 1, c~ = 1: c_t = t  |  i = f = o = 0: c = h = 0
    "gru": ([0, 0, 0], [-1, -1, -1]),  # z = 1 keeps h0 = 0  |  z = 0 takes h~ = tanh(-inf) = -1
}


@pytest.mark.parametrize("kind", list(SATURATED))
def test_infinite_inputs_saturate_the_recurrent_gates(kind):
    layer_class = {"simple_rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}[kind]
    layer = layer_class(2, return_sequences=True, kernel_initializer="ones", recurrent_initializer="ones")
    x = np.empty((2, 3, 1), np.float32)
    x[0], x[1] = np.inf, -np.inf
    out = layer(x)
    expected = np.array(SATURATED[kind], np.float32)[:, :, None].repeat(2, axis=2)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("save_weights_only", [False, True])
def test_terminate_on_nan_stops_and_the_last_good_checkpoint_is_kept(tmp_path, save_weights_only):
    model, (x, y) = _model(), _data()
    path = tmp_path / ("ckpt.weights.rnnkit" if save_weights_only else "ckpt.rnnkit")
    seen = _WeightsAtEpochEnd()

    def poison_targets():
        y[::2] = np.nan  # a corrupted data source from epoch 2 on

    with pytest.warns(RuntimeWarning, match="epoch 3 .*non-finite.*last good checkpoint is kept"):
        history = model.fit(x, y, batch_size=4, epochs=6, shuffle=False, verbose=0, callbacks=[
            _AtEpochBegin(2, poison_targets), callbacks.TerminateOnNaN(), seen,
            callbacks.ModelCheckpoint(str(path), monitor="loss", save_weights_only=save_weights_only)])
    assert history.epoch == [0, 1, 2], "TerminateOnNaN must stop in the first NaN epoch"
    assert np.isnan(history.history["loss"][2]) and np.isfinite(history.history["loss"][:2]).all()
    assert any(not np.isfinite(w).all() for w in model.get_weights()), "the NaN step really reached the weights"

    restored = _model()
    restored.load_weights(str(path))
    assert _same_weights(restored.get_weights(), seen.weights[1]), "the checkpoint holds epoch 2's good weights"
    assert sorted(os.listdir(tmp_path)) == [path.name]


def test_checkpoint_with_an_epoch_pattern_skips_only_the_nan_epoch(tmp_path):
    model, (x, y) = _model(), _data()
    with pytest.warns(RuntimeWarning, match="m3.rnnkit"):
        model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0, callbacks=[
            _AtEpochBegin(2, lambda: y.fill(np.inf)), callbacks.TerminateOnNaN(),
            callbacks.ModelCheckpoint(str(tmp_path / "m{epoch}.rnnkit"), monitor="loss")])
    assert sorted(os.listdir(tmp_path)) == ["m1.rnnkit", "m2.rnnkit"]


# -- atomic saves --------------------------------------------------------------------------------------------------
def _failing_writer(monkeypatch, error=OSError("No space left on device")):
    """The tensor writer writes part of the data, then fails as a full disk would."""
    real = file_format.write_tensor_data

    def write_half_then_fail(stream, arrays):
        arrays = list(arrays)
        real(stream, arrays[: len(arrays) // 2])
        stream.write(b"\x01" * 10)
        raise error

    monkeypatch.setattr(file_format, "write_tensor_data", write_half_then_fail)


@pytest.mark.parametrize("save", ["model.save", "model.save_weights", "saving.save_model"])
@pytest.mark.parametrize("error", [OSError("No space left on device"), KeyboardInterrupt()],
                         ids=["disk_full", "ctrl_c"])
def test_a_failure_mid_write_leaves_the_previous_file_intact_and_no_temp_file(tmp_path, monkeypatch, save, error):
    model, (x, _) = _model(), _data()
    path = tmp_path / ("m.weights.rnnkit" if save == "model.save_weights" else "m.rnnkit")
    write = {"model.save": model.save, "model.save_weights": model.save_weights,
             "saving.save_model": lambda p: saving.save_model(model, p)}[save]
    write(str(path))
    before, old_weights = path.read_bytes(), model.get_weights()
    model.set_weights([w + 1 for w in old_weights])
    _failing_writer(monkeypatch, error)
    with pytest.raises(type(error)):
        write(str(path))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == [path.name], "the temporary file must be removed"
    monkeypatch.undo()
    reloaded = _model()
    reloaded.load_weights(str(path))
    assert _same_weights(reloaded.get_weights(), old_weights)


@pytest.mark.parametrize("failing", ["fsync", "replace", "fchmod"])
def test_failures_around_the_write_leave_no_temp_file(tmp_path, monkeypatch, failing):
    path = tmp_path / "m.rnnkit"
    path.write_bytes(b"previous")

    def fail(*args, **kwargs):
        raise OSError(f"injected {failing} failure")

    open_files = len(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(atomic.os, failing, fail)
    with pytest.raises(OSError, match=f"injected {failing}"):
        with atomic.atomic_write(path) as stream:
            stream.write(b"new content")
    monkeypatch.undo()
    assert path.read_bytes() == b"previous" and os.listdir(tmp_path) == ["m.rnnkit"]
    assert len(os.listdir("/proc/self/fd")) == open_files, "the temporary file's descriptor leaked"


def test_atomic_write_keeps_the_mode_of_the_replaced_file(tmp_path):
    path = tmp_path / "m.rnnkit"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    with atomic.atomic_write(path) as stream:
        stream.write(b"new")
    assert path.read_bytes() == b"new" and (os.stat(path).st_mode & 0o777) == 0o640


def test_a_failing_checkpoint_during_fit_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model, (x, y) = _model(), _data()
    path = tmp_path / "ckpt.rnnkit"
    seen = _WeightsAtEpochEnd()
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[seen, callbacks.ModelCheckpoint(str(path))])
    before = path.read_bytes()
    _failing_writer(monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[callbacks.ModelCheckpoint(str(path))])
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ckpt.rnnkit"]
    monkeypatch.undo()
    assert _same_weights(saving.load_model(str(path), compile=False).get_weights(), seen.weights[0])


# -- Ctrl-C --------------------------------------------------------------------------------------------------------
class _CtrlC(callbacks.Callback):
    """Delivers a real SIGINT (Python raises KeyboardInterrupt) at the end of batch `batch` of epoch `epoch`."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.target, self.epoch = (epoch, batch), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.target:
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_during_fit_keeps_completed_epochs_and_a_usable_model(tmp_path):
    model, (x, y) = _model(), _data()
    seen = _WeightsAtEpochEnd()
    history = model.fit(x, y, batch_size=4, epochs=10, shuffle=False, verbose=0,
                        validation_data=(x, y), callbacks=[seen, _CtrlC(epoch=3, batch=1)])
    assert history is model.history and history.epoch == [0, 1, 2]
    assert len(history.history["loss"]) == len(history.history["val_loss"]) == 3
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert not _same_weights(model.get_weights(), seen.weights[-1]), "two batches of epoch 4 were applied"

    # Usable: predicts, evaluates, saves, reloads and trains on.
    prediction = model.predict(x, verbose=0)
    assert np.isfinite(prediction).all()
    loss = model.evaluate(x, y, verbose=0)
    model.save(str(tmp_path / "after.rnnkit"))
    np.testing.assert_array_equal(saving.load_model(str(tmp_path / "after.rnnkit"), compile=False)
                                  .predict(x, verbose=0), prediction)
    again = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    assert again.epoch == [0, 1] and again.history["loss"][-1] < loss


def test_ctrl_c_during_validation_also_keeps_the_completed_epochs():
    model, (x, y) = _model(), _data()

    class _CtrlCInValidation:
        """A validation dataset whose second pass is interrupted."""

        def __init__(self):
            self.passes = 0

        def __iter__(self):
            self.passes += 1
            if self.passes == 2:
                raise KeyboardInterrupt
            yield x, y

    history = model.fit(x, y, batch_size=4, epochs=5, verbose=0, validation_data=_CtrlCInValidation())
    assert history.epoch == [0]
    assert np.isfinite(model.predict(x, verbose=0)).all()


def test_ctrl_c_inside_the_optimizer_step_leaves_a_usable_model():
    model, (x, y) = _model(), _data()
    real_apply, calls = model.optimizer.apply, []

    def apply_then_interrupt(grads, variables):
        calls.append(1)
        if len(calls) == 6:  # the second batch of epoch 2, half of the variables updated
            half = len(variables) // 2
            real_apply(grads[:half], variables[:half])
            raise KeyboardInterrupt
        real_apply(grads, variables)

    model.optimizer.apply = apply_then_interrupt
    history = model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0)
    assert history.epoch == [0]
    model.optimizer.apply = real_apply
    assert np.isfinite(model.predict(x, verbose=0)).all()
    assert model.fit(x, y, batch_size=4, epochs=1, verbose=0).epoch == [0]
