"""Keras 3 callbacks: hooks the training loop calls around epochs and batches."""
import csv
import math
import warnings

import numpy as np


class Callback:
    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass  # noqa: E704 -- hooks are no-ops unless overridden
    def on_train_end(self, logs=None): pass  # noqa: E704
    def on_epoch_begin(self, epoch, logs=None): pass  # noqa: E704
    def on_epoch_end(self, epoch, logs=None): pass  # noqa: E704
    def on_train_batch_begin(self, batch, logs=None): pass  # noqa: E704
    def on_train_batch_end(self, batch, logs=None): pass  # noqa: E704
    def on_test_begin(self, logs=None): pass  # noqa: E704
    def on_test_end(self, logs=None): pass  # noqa: E704
    def on_predict_begin(self, logs=None): pass  # noqa: E704
    def on_predict_end(self, logs=None): pass  # noqa: E704


class CallbackList:
    """Forwards every hook to each callback in order."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks or [])
        for callback in self.callbacks:
            callback.set_model(model)
            callback.set_params(params)

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call_all(*args, **kwargs):
            for callback in self.callbacks:
                getattr(callback, hook)(*args, **kwargs)
        return call_all


class History(Callback):
    """``history.history``: metric name -> list of per-epoch values; ``history.epoch``: epoch indices."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(value)


def _monitor_op(mode, monitor, name):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{name}: mode must be 'auto', 'min' or 'max', received {mode!r}")
    if mode == "auto":
        mode = "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"
    return np.greater if mode == "max" else np.less


class _Verbose:
    """Keras' messages of a callback made with verbose > 0."""

    def _say(self, message):
        if self.verbose:
            print(message)


class _Monitoring(Callback, _Verbose):
    def __init__(self, monitor, mode, min_delta, name):
        super().__init__()
        self.monitor = monitor
        self.monitor_op = _monitor_op(mode, monitor, name)
        self.min_delta = abs(min_delta) if self.monitor_op is np.greater else -abs(min_delta)
        self.best = -np.inf if self.monitor_op is np.greater else np.inf

    def is_improvement(self, current):
        return bool(self.monitor_op(current - self.min_delta, self.best))


class EarlyStopping(_Monitoring):
    """Stops training once ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta, "EarlyStopping")
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = -np.inf if self.monitor_op is np.greater else np.inf
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self.is_improvement(current):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self.is_improvement_over_baseline(current):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0:
            self._say(f"Epoch {self.stopped_epoch + 1}: early stopping")
        # Keras 3 restores the best epoch's weights at the end of every fit, stopped early or not.
        if self.restore_best_weights and self.best_weights is not None:
            self._say(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def is_improvement_over_baseline(self, current):
        return bool(self.monitor_op(current - self.min_delta, self.baseline))


class _SaveFrequency:
    """save_freq of Keras' saving callbacks: "epoch", or a number of batches between saves, counted across epochs
    as Keras counts them."""

    def __init__(self, save_freq, owner):
        if save_freq != "epoch" and (not isinstance(save_freq, int) or isinstance(save_freq, bool) or save_freq < 1):
            raise ValueError(f"{owner}: expected save_freq 'epoch' or a positive integer (batches), "
                             f"received {save_freq!r}")
        self.by_epoch = save_freq == "epoch"
        self.save_freq, self._batches = save_freq, 0

    def batch_ends(self):
        """Counts a finished batch; True when a save is due."""
        if self.by_epoch:
            return False
        self._batches += 1
        if self._batches < self.save_freq:
            return False
        self._batches = 0
        return True


class ModelCheckpoint(_Monitoring):
    """Saves the model (or its weights) after each epoch, or every ``save_freq`` batches; ``filepath`` may hold
    ``{epoch}``, ``{batch}`` (batch saves) and log names."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode, 0, "ModelCheckpoint")
        self._frequency = _SaveFrequency(save_freq, "ModelCheckpoint")
        self.save_freq = save_freq
        self.filepath = str(filepath)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self._epoch = 0
        if initial_value_threshold is not None:
            self.best = initial_value_threshold

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._frequency.batch_ends():
            self._save(self._epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self._frequency.by_epoch:
            self._save(epoch, None, logs)

    def _save(self, epoch, batch, logs):
        logs = logs or {}
        current = logs.get(self.monitor)
        if self.save_best_only and current is None:
            return
        numbers = {"epoch": epoch + 1} if batch is None or "batch" in logs else {"epoch": epoch + 1, "batch": batch + 1}
        path = self.filepath.format(**numbers, **logs)
        if self.save_best_only:
            best = "None" if np.isinf(self.best) else f"{self.best:.5f}"  # Keras 3 starts from None
            if not self.is_improvement(current):
                self._say(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
                return
            self._say(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to {current:.5f}, saving model to "
                      f"{path}")
            self.best = current
        else:
            self._say(f"\nEpoch {epoch + 1}: saving model to {path}")
        if not _finite_state(logs, self.model):
            # A NaN/Inf step must not overwrite the last good checkpoint: it is what the user resumes from.
            when = f"epoch {epoch + 1}" + ("" if batch is None else f", batch {batch + 1}")
            warnings.warn(f"ModelCheckpoint: {when} ended with a non-finite loss or weights; not writing {path!r}, "
                          "the last good checkpoint is kept", RuntimeWarning, stacklevel=2)
            return
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        self._say(f"\nEpoch {epoch + 1}: finished saving model to {path}")


def _finite_state(logs, model):
    loss = logs.get("loss")
    if loss is not None and not math.isfinite(loss):
        return False
    return all(np.isfinite(variable.value).all() for variable in model.weights)


class TerminateOnNaN(Callback):
    """Stops training after a batch whose loss is NaN or infinite; with raise_error=True (Keras 3.15) raises
    RuntimeError there instead."""

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and (math.isnan(loss) or math.isinf(loss)):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                                   "Terminating training immediately.")
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class CSVLogger(Callback):
    """One CSV row per epoch: ``epoch`` then the log names in sorted order."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = str(filename)
        self.separator = separator
        self.append = append

    def on_train_begin(self, logs=None):
        self.keys = None
        self.file = open(self.filename, "a" if self.append else "w", newline="")
        self.writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.writer is None:
            self.keys = sorted(logs)
            self.writer = csv.DictWriter(self.file, fieldnames=["epoch"] + self.keys, delimiter=self.separator)
            self.writer.writeheader()
        self.writer.writerow({"epoch": epoch, **{key: logs.get(key, "NA") for key in self.keys}})
        self.file.flush()

    def on_train_end(self, logs=None):
        self.file.close()


class LearningRateScheduler(Callback, _Verbose):
    """Sets ``optimizer.learning_rate = schedule(epoch, current_lr)`` before each epoch."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        learning_rate = self.schedule(epoch, float(self.model.optimizer.learning_rate))
        if not isinstance(learning_rate, (float, int, np.floating)):
            raise ValueError(f"LearningRateScheduler: the schedule must return a float, received {learning_rate!r}")
        self.model.optimizer.learning_rate = float(learning_rate)
        self._say(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {learning_rate}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class ReduceLROnPlateau(_Monitoring):
    """Multiplies the learning rate by ``factor`` after ``patience`` epochs without improvement."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        super().__init__(monitor, mode, min_delta, "ReduceLROnPlateau")
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1, received {factor}")
        self.factor = factor
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.min_lr = min_lr
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.is_improvement(current):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(self.model.optimizer.learning_rate)
                if old > self.min_lr:
                    self.model.optimizer.learning_rate = new = max(old * self.factor, self.min_lr)
                    self._say(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class LambdaCallback(Callback):
    """A callback made of functions: on_epoch_begin/on_epoch_end(epoch, logs), on_train_batch_begin/
    on_train_batch_end(batch, logs), on_train_begin/on_train_end(logs)."""

    _HOOKS = ("on_epoch_begin", "on_epoch_end", "on_train_begin", "on_train_end", "on_train_batch_begin",
              "on_train_batch_end")

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        functions = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end, "on_train_begin": on_train_begin,
                     "on_train_end": on_train_end, "on_train_batch_begin": on_train_batch_begin,
                     "on_train_batch_end": on_train_batch_end, **kwargs}
        unknown = sorted(set(functions) - set(self._HOOKS))
        if unknown:
            raise TypeError(f"LambdaCallback: unexpected hook(s) {unknown}")
        for hook, function in functions.items():
            if function is None:
                continue
            if hook in ("on_train_begin", "on_train_end"):  # Keras hands these their logs too
                setattr(self, hook, lambda logs=None, function=function: function(logs))
            else:
                setattr(self, hook, lambda index, logs=None, function=function: function(index, logs))


class BackupAndRestore(Callback):
    """Backs up the model (weights and optimizer state) at the end of every epoch, or every ``save_freq`` batches
    when it is an integer, so that a fit that died (an exception, a killed process) resumes when fit is called again
    with this callback: from the epoch after the last finished one, with the weights of the last backup (as Keras 3:
    a backup made within an epoch restarts that epoch from the weights it had then). The backup is deleted when
    training ends normally (``delete_checkpoint``), kept after Ctrl-C."""

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):
        super().__init__()
        self._frequency = _SaveFrequency(save_freq, "BackupAndRestore")
        if double_checkpoint:
            raise NotImplementedError("BackupAndRestore: double_checkpoint is not supported (each backup replaces "
                                      "the last one atomically)")
        self.backup_dir = str(backup_dir)
        self.save_freq, self.double_checkpoint, self.delete_checkpoint = save_freq, double_checkpoint, delete_checkpoint
        self._model_path = f"{self.backup_dir}/latest.rnnkit"
        self._epoch_path = f"{self.backup_dir}/training_metadata.json"
        self._epoch = 0

    def on_train_begin(self, logs=None):
        import json
        import os

        from rnnkit import saving

        if not self.model.built:
            raise ValueError("BackupAndRestore: the model must be built before fit (give it an Input)")
        if os.path.exists(self._model_path) and os.path.exists(self._epoch_path):
            saving.restore_model_state(self.model, self._model_path)
            with open(self._epoch_path, encoding="utf-8") as stream:
                self.model._initial_epoch = int(json.load(stream)["epoch"]) + 1

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._frequency.batch_ends():
            self._back_up(self._epoch - 1, batch)  # within epoch e: e - 1 is the last finished one

    def on_epoch_end(self, epoch, logs=None):
        if self._frequency.by_epoch:
            self._back_up(epoch, None)

    def _back_up(self, finished_epoch, batch):
        import json
        import os

        from rnnkit import distribution, saving
        from rnnkit.saving.atomic import atomic_write

        shared = distribution.active()
        if shared is not None and not shared.is_chief:
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        saving.save_model(self.model, self._model_path)
        with atomic_write(self._epoch_path) as stream:  # after the model: it never names a state not backed up
            stream.write(json.dumps({"epoch": finished_epoch, "batch": batch}).encode("utf-8"))

    def on_train_end(self, logs=None):
        import shutil

        from rnnkit import distribution

        shared = distribution.active()
        if self.delete_checkpoint and not getattr(self.model, "_fit_interrupted", False) and (
                shared is None or shared.is_chief):
            shutil.rmtree(self.backup_dir, ignore_errors=True)
