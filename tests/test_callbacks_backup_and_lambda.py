"""BackupAndRestore: a fit that dies resumes from its last finished epoch to the same weights and optimizer state
as an uninterrupted fit (shuffle=False: the batch order is the only randomness), the backup is deleted when
training ends and kept when it does not; LambdaCallback calls its functions at Keras' hooks."""
import json
import os

import numpy as np
import pytest

import rnnkit


class DiesAtEpoch(rnnkit.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError(f"the process died in epoch {epoch}")


def model_and_data():
    rnnkit.utils.set_random_seed(3)
    model = rnnkit.Sequential([rnnkit.Input((5, 3)), rnnkit.layers.GRU(4), rnnkit.layers.Dense(1)])
    model.compile(optimizer=rnnkit.optimizers.Adam(0.01), loss="mse")
    rng = np.random.default_rng(0)
    return model, rng.standard_normal((24, 5, 3)).astype(np.float32), rng.standard_normal((24, 1)).astype(np.float32)


def fit(model, x, y, callbacks, epochs=4):
    return model.fit(x, y, epochs=epochs, batch_size=8, shuffle=False, verbose=0, callbacks=callbacks)


def test_a_fit_that_died_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path):
    reference, x, y = model_and_data()
    fit(reference, x, y, [])
    model, _, _ = model_and_data()
    backup = rnnkit.callbacks.BackupAndRestore(tmp_path / "backup")
    with pytest.raises(RuntimeError, match="died in epoch 2"):
        fit(model, x, y, [backup, DiesAtEpoch(2)])
    assert os.path.exists(tmp_path / "backup" / "latest.rnnkit")  # kept: training did not finish
    resumed, _, _ = model_and_data()  # a new process: fresh weights, restored from the backup
    history = fit(resumed, x, y, [rnnkit.callbacks.BackupAndRestore(tmp_path / "backup")])
    assert history.epoch == [2, 3]
    for ours, expected in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-7)
    assert int(resumed.optimizer.iterations) == int(reference.optimizer.iterations) == 12
    assert not os.path.exists(tmp_path / "backup")  # finished: deleted


def test_the_backup_is_kept_after_ctrl_c_and_on_request(tmp_path):
    model, x, y = model_and_data()

    def interrupt(batch, logs):
        if model.optimizer.iterations.value == 4:
            raise KeyboardInterrupt

    fit(model, x, y, [rnnkit.callbacks.BackupAndRestore(tmp_path / "a"), rnnkit.callbacks.LambdaCallback(
        on_train_batch_end=interrupt)])
    assert os.path.exists(tmp_path / "a" / "latest.rnnkit")
    model, _, _ = model_and_data()
    fit(model, x, y, [rnnkit.callbacks.BackupAndRestore(tmp_path / "b", delete_checkpoint=False)], epochs=1)
    assert os.path.exists(tmp_path / "b" / "training_metadata.json")


def test_backups_every_few_batches_resume_the_epoch_they_were_made_in(tmp_path):
    # 3 batches an epoch, a backup every 2 batches counted across epochs (as Keras 3 counts them): after batch 1 of
    # epoch 0, then batches 0 and 2 of epoch 1; the fit dies as epoch 2 begins.
    model, x, y = model_and_data()
    seen = {}

    def remember(batch, logs):
        seen[(len(seen) // 3, batch)] = model.get_weights()

    backup = rnnkit.callbacks.BackupAndRestore(tmp_path / "backup", save_freq=2)
    with pytest.raises(RuntimeError, match="died in epoch 2"):
        fit(model, x, y, [rnnkit.callbacks.LambdaCallback(on_train_batch_end=remember), backup, DiesAtEpoch(2)])
    with open(tmp_path / "backup" / "training_metadata.json", encoding="utf-8") as stream:
        assert json.load(stream) == {"epoch": 0, "batch": 2}  # epoch 0 the last finished one
    resumed, _, _ = model_and_data()
    restored = []
    history = fit(resumed, x, y, [rnnkit.callbacks.BackupAndRestore(tmp_path / "backup", save_freq=2),
                                  rnnkit.callbacks.LambdaCallback(  # after the restore: callbacks run in order
                                      on_train_begin=lambda logs: restored.append(resumed.get_weights()))])
    assert history.epoch == [1, 2, 3]  # epoch 1 again, from the weights of its last backup
    for ours, expected in zip(restored[0], seen[(1, 2)]):
        np.testing.assert_array_equal(ours, expected)
    assert int(resumed.optimizer.iterations) == 6 + 9


def test_backup_save_freq_must_be_epoch_or_a_positive_count():
    for wrong in ("batch", 0, 1.5, True):
        with pytest.raises(ValueError, match="save_freq"):
            rnnkit.callbacks.BackupAndRestore("unused", save_freq=wrong)


def test_lambda_callback_calls_its_functions_at_the_hooks():
    model, x, y = model_and_data()
    calls = []
    fit(model, x, y, [rnnkit.callbacks.LambdaCallback(
        on_train_begin=lambda logs: calls.append("begin"),
        on_epoch_end=lambda epoch, logs: calls.append((epoch, round(logs["loss"], 3) > 0)),
        on_train_batch_end=lambda batch, logs: calls.append(batch),
        on_train_end=lambda logs: calls.append("end"))], epochs=2)
    assert calls == ["begin", 0, 1, 2, (0, True), 0, 1, 2, (1, True), "end"]
    with pytest.raises(TypeError, match="unexpected hook"):
        rnnkit.callbacks.LambdaCallback(on_batch_finished=print)
