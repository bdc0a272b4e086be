"""Model: a Layer with compile / fit / evaluate / predict over a graph of layers (see functional.py)."""
import contextlib
from typing import NamedTuple

import numpy as np

from rnnkit import callbacks as callbacks_module
from rnnkit import distribution
from rnnkit import random as rnnkit_random
from rnnkit.engine import data, graph
from rnnkit.engine.progbar import Progbar
from rnnkit.layers.layer import Layer
from rnnkit.layers.rnn import token_table
from rnnkit.models import auto_config
from rnnkit.models.subclassed import SubclassedGraph


class _CompiledMetric(NamedTuple):
    index: int  # the output it measures
    metric: object
    role: str  # "loss" (an output's unweighted loss), "plain" (compile's metrics) or "weighted" (weighted_metrics)
    name: str  # its name in the logs


class Model(SubclassedGraph, Layer):
    """``Model(inputs, outputs)`` builds a functional model; a subclass either provides the graph (Functional,
    Sequential) or defines call() (a subclassed model, SubclassedGraph)."""

    def __new__(cls, *args, **kwargs):
        if cls is Model:
            from rnnkit.models.functional import Functional

            return super().__new__(Functional)  # Python then runs Functional.__init__ on it, once
        model = super().__new__(cls)
        if hasattr(cls, "call"):  # a subclassed model: its config is its __init__ arguments unless it says otherwise
            model._init_arguments = auto_config.init_arguments(cls, args, kwargs)
        return model

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if hasattr(cls, "call"):
            return cls(**auto_config.accepted(cls, config))
        from rnnkit.models.functional import Functional

        return Functional.from_config(config, custom_objects)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None

    # -- compile ---------------------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True, **unsupported):
        """As Keras: ``metrics`` see no sample or class weights (masks only); ``weighted_metrics`` see them too.
        ``run_eagerly``, ``steps_per_execution``, ``jit_compile`` and ``auto_scale_loss`` are taken and have no
        effect: there is no graph to compile (the C++ core runs every step as it is), callbacks see every batch,
        and everything computes in float32."""
        del run_eagerly, steps_per_execution, jit_compile, auto_scale_loss
        if unsupported:
            raise TypeError(f"Model '{self.name}'.compile: unsupported argument(s) {sorted(unsupported)}")
        if isinstance(optimizer, (str, dict)):
            from rnnkit import optimizers

            optimizer = optimizers.get(optimizer)
        self.optimizer = optimizer
        self.loss = loss
        self._metric_identifiers = metrics
        self._weighted_metric_identifiers = weighted_metrics
        self._loss_weights_argument = loss_weights
        self._resolve_per_output_losses()
        self._metrics = None
        self.compiled = True

    def _resolve_per_output_losses(self):
        """Each output's loss and loss weight from compile's arguments (again once a subclassed model's first
        trace shows how many outputs it has)."""
        self._losses = [_resolve_loss(item) for item in self._per_output(self.loss, "loss")]
        self._loss_weights = [1.0 if w is None else float(w)
                              for w in self._per_output(self._loss_weights_argument, "loss_weights")]

    @property
    def compile_config(self):
        """JSON-able compile arguments for the saving module (None before compile)."""
        if not self.compiled:
            return None
        from rnnkit import losses, metrics, optimizers

        return {"optimizer": optimizers.serialize(self.optimizer), "loss": _serialize(self.loss, losses),
                "metrics": _serialize(self._metric_identifiers, metrics), "loss_weights": self._loss_weights_argument,
                "weighted_metrics": _serialize(self._weighted_metric_identifiers, metrics)}

    def _per_output(self, value, what):
        names = self.output_names
        if isinstance(value, dict):
            return [value.get(name) for name in names]
        if isinstance(value, (list, tuple)):
            if len(value) != len(names):
                raise ValueError(f"Model '{self.name}': {what} has {len(value)} entries for {len(names)} outputs")
            return list(value)
        return [value] * len(names)

    def _metrics_per_output(self, identifiers, argument):
        # Keras: a flat list (["accuracy", "mae"]) applies to every output; nested lists or a dict go per output.
        flat = isinstance(identifiers, (list, tuple)) and not any(isinstance(i, (list, tuple)) for i in identifiers)
        return [list(identifiers)] * len(self.output_names) if flat else self._per_output(identifiers, argument)

    def _ensure_metrics(self, y, y_pred):
        """self._metrics: a _CompiledMetric per metric in Keras' log order: with several losses each output's
        unweighted loss (role "loss", logged as <output>_loss), then the metrics ("plain"), then the weighted
        metrics ("weighted"). With several outputs a metric is logged under its output's name, as in Keras; the
        metric object (perhaps the caller's) keeps its own name."""
        if self._metrics is not None:
            return
        from rnnkit import metrics as metrics_module

        self._metrics = []
        with_loss = [index for index, loss in enumerate(self._losses) if loss is not None]
        if len(with_loss) > 1:
            self._metrics += [_CompiledMetric(index, metrics_module.Mean(name=f"{self.output_names[index]}_loss"),
                                              "loss", f"{self.output_names[index]}_loss") for index in with_loss]
        several = len(self.output_names) > 1
        for identifiers, role in ((self._metric_identifiers, "plain"), (self._weighted_metric_identifiers, "weighted")):
            if not identifiers:
                continue
            per_output = self._metrics_per_output(identifiers, "weighted_metrics" if role == "weighted" else "metrics")
            for index, output_identifiers in enumerate(per_output):
                output_identifiers = [output_identifiers] if isinstance(output_identifiers, str) else output_identifiers
                prefix = f"{self.output_names[index]}_" if several else ""
                for identifier in output_identifiers or []:
                    metric = metrics_module.get(identifier, y[index], y_pred[index], self._losses[index])
                    name = prefix + metric.name
                    if role == "weighted" and any(m.name == name for m in self._metrics):
                        name = f"{prefix}weighted_{metric.name}"  # Keras' name beside an unweighted twin
                    self._metrics.append(_CompiledMetric(index, metric, role, name))

    def _require_compiled(self, method):
        if not self.compiled:
            raise ValueError(f"Model '{self.name}': call compile() before {method}()")

    # -- one batch -------------------------------------------------------------------------------------------
    def _batch_loss(self, y, y_pred, masks, sample_weight, with_grad):
        """(total loss, its gradients per output, each output's unweighted loss or None)."""
        total, grads, values = 0.0, [], []
        for index, loss in enumerate(self._losses):
            weight = None if sample_weight is None else sample_weight[min(index, len(sample_weight) - 1)]
            if loss is None:
                grads.append(None)
                values.append(None)
                continue
            value, grad = loss.value_and_grad(y[index], y_pred[index], sample_weight=weight, mask=masks[index])
            loss_weight = self._loss_weights[index]
            total += loss_weight * float(value)
            values.append(float(value))
            if with_grad:
                grad = np.asarray(grad, np.float32)
                grads.append(grad if loss_weight == 1.0 else grad * np.float32(loss_weight))  # no copy for 1
            else:
                grads.append(None)
        return total, grads, values

    def _train_step(self, x, y, sample_weight):
        """(loss, samples) of one batch: over the global batch when several processes share it."""
        shared = distribution.active()
        if shared is not None:
            return shared.train_step(self, x, y, sample_weight)
        self._ensure_built(x)
        activity = graph.ActivityLosses(with_gradients=True)
        y_pred, masks, state = self._forward(x, training=True, activity=activity)
        self._ensure_metrics(y, y_pred)
        loss, d_outputs, output_losses = self._batch_loss(y, y_pred, masks, sample_weight, with_grad=True)
        loss += activity.total
        weight_grads = self._backward(state, d_outputs, activity)
        variables = self.trainable_variables
        penalty, penalty_grads = self._weight_penalties(variables)
        grads = [_with_penalty(_gradient_or_zeros(weight_grads, v), penalty_grads, v) for v in variables]
        self.optimizer.apply(grads, variables)
        self._update_metrics(y, y_pred, sample_weight, masks, output_losses)
        return loss + penalty, len(x[0])

    def _weight_penalties(self, variables=None):
        """Keras' regularization losses (model.losses): the summed penalty of the regularized trainable weights
        (`variables`, the model's trainable ones when not given), which the reported loss includes, and each such
        weight's gradient of it (by variable id), taken before the update."""
        penalty, grads = 0.0, {}
        for variable in self.trainable_variables if variables is None else variables:
            if variable.regularizer is not None:
                penalty += variable.regularizer(variable.value)
                grads[id(variable)] = variable.regularizer.gradient(variable.value)
        return penalty, grads

    def _test_step(self, x, y, sample_weight):
        shared = distribution.active()
        if shared is not None:
            return shared.test_step(self, x, y, sample_weight)
        self._ensure_built(x)
        activity = graph.ActivityLosses(with_gradients=False)
        y_pred, masks, _ = self._forward(x, training=False, activity=activity)
        self._ensure_metrics(y, y_pred)
        loss, _, output_losses = self._batch_loss(y, y_pred, masks, sample_weight, with_grad=False)
        self._update_metrics(y, y_pred, sample_weight, masks, output_losses)
        return loss + activity.total + self._weight_penalties()[0], len(x[0])

    def _update_metrics(self, y, y_pred, sample_weight, masks, output_losses):
        """output_losses: each output's unweighted loss on this batch (None without a loss), or None when the
        caller updates the per-output loss metrics itself (a distributed step, after its reduction)."""
        from rnnkit.metrics import MeanMetricWrapper

        for index, metric, role, _ in self._metrics:
            if role == "loss":  # the batch's mean, weighted by its sample count as Keras does
                if output_losses is not None:
                    metric.update_state([output_losses[index]], sample_weight=[len(y_pred[index])])
                continue
            weight = None if sample_weight is None or role != "weighted" else sample_weight[
                min(index, len(sample_weight) - 1)]
            # As in Keras, an output mask zero-weights masked timesteps in the built-in metrics.
            mask = None if masks is None else masks[index]
            extra = {"mask": mask} if mask is not None and isinstance(metric, MeanMetricWrapper) else {}
            metric.update_state(y[index], y_pred[index], sample_weight=weight, **extra)

    def _reset_metrics(self):
        for compiled in self._metrics or []:
            compiled.metric.reset_state()

    def _logs(self, loss_sum, sample_sum):
        logs = {"loss": loss_sum / max(sample_sum, 1)}
        for compiled in self._metrics or []:
            value = compiled.metric.result()  # one value per threshold for Precision(thresholds=[...]) and its kin
            logs[compiled.name] = float(value) if np.ndim(value) == 0 else np.asarray(value, np.float32)
        return logs

    # -- data --------------------------------------------------------------------------------------------------
    def _batches(self, x, y, sample_weight, batch_size, shuffle):
        """Batches of this process: with a distribution, its slices of the global batches."""
        shared = distribution.active()
        if data.is_dataset(x):
            batches = (self._dataset_batch(batch) for batch in x)
            yield from batches if shared is None else shared.dataset_batches(batches)
            return
        batches = data.array_batches if shared is None else shared.array_batches
        yield from batches(x, y, sample_weight, batch_size, shuffle, rnnkit_random.generator())

    def _dataset_batch(self, batch):
        bx, by, bw = (tuple(batch) + (None,))[:3] if isinstance(batch, (tuple, list)) else (batch, None, None)
        x = self._built_on(data.as_array_list(bx, self.input_names, self.name, "input"))
        return (x, data.as_array_list(by, self.output_names, self.name, "target"),
                data.as_array_list(bw, self.output_names, self.name, "sample_weight"))

    def _built_on(self, x):
        """x, once the model is built on it: the targets' count is the outputs' (a subclassed model's first trace
        tells it)."""
        if not self.built and x:
            self._ensure_built(x)
        return x

    def _arrays(self, x, y, sample_weight):
        if data.is_dataset(x):
            return x, None, None
        x = self._built_on(data.as_array_list(x, self.input_names, self.name, "input"))
        y = data.as_array_list(y, self.output_names, self.name, "target")
        if sample_weight is not None:
            sample_weight = data.as_array_list(sample_weight, self.output_names, self.name, "sample_weight")
        data.sample_count(self.name, x, y)
        return x, y, sample_weight

    # -- public training API -------------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Trains for ``epochs`` epochs; returns the History. Stateful RNNs: pass ``shuffle=False``
        so batch i of every epoch continues the sequences of batch i of the previous one. ``validation_steps``
        batches of the validation data at most are evaluated after an epoch (all of them when None)."""
        self._require_compiled("fit")
        batch_size = batch_size or 32
        x, y, sample_weight = self._arrays(x, y, sample_weight)
        if validation_split and validation_data is None:
            if data.is_dataset(x):
                raise ValueError(f"Model '{self.name}': validation_split needs arrays, not a dataset")
            (x, y, sample_weight), validation_data = data.split_validation(x, y, sample_weight, validation_split)
        if class_weight is not None:  # the training samples only, as in Keras: validation is unweighted by class
            sample_weight = _class_weights(y, class_weight, sample_weight)
        verbose = 1 if verbose == "auto" else verbose
        shared = distribution.active()
        if shared is not None:
            verbose, callbacks = shared.begin_fit(self, verbose, callbacks)
        steps = steps_per_epoch or data.batches_per_epoch(x, batch_size)
        self.history = callbacks_module.History()
        callback_list = callbacks_module.CallbackList(list(callbacks or []) + [self.history], self,
                                                      {"epochs": epochs, "steps": steps, "verbose": verbose})
        self.stop_training = self._fit_interrupted = False
        self._initial_epoch = None
        callback_list.on_train_begin()
        initial_epoch = self._initial_epoch or initial_epoch  # where BackupAndRestore resumes
        try:
            for epoch in range(initial_epoch, epochs):
                if verbose:
                    print(f"Epoch {epoch + 1}/{epochs}")
                if hasattr(x, "on_epoch_begin"):  # a PyDataset
                    x.on_epoch_begin()
                validates = validation_data is not None and _validates_after(epoch, validation_freq)
                self._fit_epoch(epoch, x, y, sample_weight, batch_size, shuffle, steps, verbose, callback_list,
                                validation_data if validates else None, validation_batch_size or batch_size,
                                steps_per_epoch, validation_steps)
                if hasattr(x, "on_epoch_end"):
                    x.on_epoch_end()
                if shared is not None:
                    self.stop_training = shared.agree(self.stop_training)
                if self.stop_training:
                    break
        except KeyboardInterrupt:
            self._fit_interrupted = True
            if shared is not None:
                # Ctrl-C reaches the processes at different points of a step; continuing would pair unrelated
                # collectives and hang, so the exception ends the MPI job (see rnnkit.distribution).
                raise
            # Ctrl-C (in a batch, validation or a callback) ends training: the weights stay as the last optimizer
            # step left them and History keeps the completed epochs.
            self.stop_training = True
        except BaseException:
            self._fit_interrupted = True  # on_train_end (below) must know that training did not finish
            raise
        finally:
            callback_list.on_train_end()
        return self.history

    def _fit_epoch(self, epoch, x, y, sample_weight, batch_size, shuffle, steps, verbose, callback_list,
                   validation_data, validation_batch_size, steps_per_epoch=None, validation_steps=None):
        # `steps` (the progress bar's target) may come from a dataset's len(); only the user's steps_per_epoch
        # cuts an epoch short, so processes whose datasets differ in length still meet in the same collectives.
        callback_list.on_epoch_begin(epoch)
        self._reset_metrics()
        progbar = Progbar(steps, verbose=verbose)
        loss_sum, sample_sum, step = 0.0, 0, 0
        for step, (bx, by, bw) in enumerate(self._batches(x, y, sample_weight, batch_size, shuffle), start=1):
            callback_list.on_train_batch_begin(step - 1)
            loss, count = self._train_step(bx, by, bw)
            loss_sum, sample_sum = loss_sum + loss * count, sample_sum + count
            logs = self._logs(loss_sum, sample_sum)
            callback_list.on_train_batch_end(step - 1, dict(logs))
            progbar.update(step, logs)
            if self.stop_training or (steps_per_epoch is not None and step >= steps_per_epoch):
                break
        logs = self._logs(loss_sum, sample_sum)
        if validation_data is not None:
            val_logs = self.evaluate(**_validation_arguments(validation_data), batch_size=validation_batch_size,
                                     verbose=0, steps=validation_steps, return_dict=True)
            logs.update({f"val_{name}": value for name, value in val_logs.items()})
        progbar.target = step
        progbar.update(step, logs, finalize=True)
        callback_list.on_epoch_end(epoch, logs)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        self._require_compiled("evaluate")
        x, y, sample_weight = self._arrays(x, y, sample_weight)
        self._reset_metrics()
        loss_sum, sample_sum = 0.0, 0
        with self._weights_fixed_unless_dataset(x):
            for step, (bx, by, bw) in enumerate(self._batches(x, y, sample_weight, batch_size or 32, False), start=1):
                loss, count = self._test_step(bx, by, bw)
                loss_sum += loss * count
                sample_sum += count
                if steps is not None and step >= steps:
                    break
        logs = self._logs(loss_sum, sample_sum)
        if return_dict:
            return logs
        values = self._values_in_keras_order(logs)
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        batches = self._predict_inputs(x, batch_size or 32)
        shared = distribution.active()
        with self._weights_fixed_unless_dataset(x):
            chunks = ([self.predict_on_batch(batch) for batch in batches] if shared is None
                      else shared.predict_chunks(self, batches, data.is_dataset(x)))
        chunks = [self._output_list(chunk) for chunk in chunks]
        return self._structured_outputs([np.concatenate([chunk[i] for chunk in chunks], axis=0)
                                         for i in range(len(self.output_names))])

    @staticmethod
    def _weights_fixed_unless_dataset(x):
        """Inference over arrays runs its batches back to back (token_table.weights_fixed); a data set's iterator
        runs between them, and may change the weights."""
        return contextlib.nullcontext() if data.is_dataset(x) else token_table.weights_fixed()

    def _predict_inputs(self, x, size):
        """Lists of input arrays, one per batch."""
        if data.is_dataset(x):
            for batch in x:
                yield data.as_array_list(batch[0] if isinstance(batch, (tuple, list)) else batch, self.input_names,
                                         self.name, "input")
            return
        x = data.as_array_list(x, self.input_names, self.name, "input")
        # Zero samples still run one (empty) batch, so the result has the outputs' shapes as in Keras.
        for start in range(0, max(data.sample_count(self.name, x, None, minimum=0), 1), size):
            yield [a[start:start + size] for a in x]

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        self._require_compiled("train_on_batch")
        x, y, sample_weight = self._arrays(x, y, sample_weight)
        if class_weight is not None:
            sample_weight = _class_weights(y, class_weight, sample_weight)
        self._reset_metrics()
        loss, _ = self._train_step(x, y, sample_weight)
        return self._single_batch_result(loss, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._require_compiled("test_on_batch")
        x, y, sample_weight = self._arrays(x, y, sample_weight)
        self._reset_metrics()
        loss, _ = self._test_step(x, y, sample_weight)
        return self._single_batch_result(loss, return_dict)

    def _single_batch_result(self, loss, return_dict):
        logs = {"loss": loss, **{m.name: float(m.metric.result()) for m in self._metrics or []}}
        if return_dict:
            return logs
        return loss if len(logs) == 1 else self._values_in_keras_order(logs)

    def _values_in_keras_order(self, logs):
        """Keras' list order: the loss, each output's loss, the metrics it knows by their log names (a single
        output's, weighted twins aside), then every other log in sorted order (several outputs' metrics)."""
        known = ["loss"] + [m.name for m in self._metrics or [] if m.role == "loss"]
        if len(self.output_names) == 1:
            known += [m.name for m in self._metrics or [] if m.role == "plain" or (m.role == "weighted" and
                                                                                    m.name == m.metric.name)]
        return [logs[name] for name in known if name in logs] + [logs[k] for k in sorted(logs) if k not in known]

    def _structured_outputs(self, outputs):
        """Per-output values as the model gives them: one value, or a list (a functional model: as its outputs)."""
        return outputs[0] if len(outputs) == 1 else list(outputs)

    def _output_list(self, value):
        """_structured_outputs' value as a list in output_names' order."""
        if isinstance(value, dict):
            return [value[name] for name in self.output_names]
        return list(value) if isinstance(value, list) else [value]

    def predict_on_batch(self, x):
        x = data.as_array_list(x, self.input_names, self.name, "input")
        self._ensure_built(x)
        outputs, _, _ = self._forward(x, training=False)
        return self._structured_outputs(outputs)

    def __call__(self, inputs, training=None, mask=None, **kwargs):
        from rnnkit.layers.layer import _is_symbolic

        if _is_symbolic(inputs):
            return super().__call__(inputs, training=training, mask=mask, **kwargs)
        arrays = data.as_array_list(inputs, self.input_names, self.name, "input")
        self._ensure_built(arrays)
        outputs, _, _ = self._forward(arrays, training=bool(training))
        return self._structured_outputs(outputs)

    def get_layer(self, name=None, index=None):
        """The layer called ``name``, or the one at ``index`` in ``self.layers`` (Keras 3: exactly one of them)."""
        if (name is None) == (index is None):
            raise ValueError(f"Model '{self.name}': get_layer takes exactly one of name= or index=")
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"Model '{self.name}': layer index {index} out of range, the model has "
                                 f"{len(self.layers)} layers")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"Model '{self.name}': no layer named {name!r}; layers: {[l.name for l in self.layers]}")

    def reset_states(self):
        for layer in self.layers:
            if hasattr(layer, "reset_states"):
                layer.reset_states()

    @property
    def trainable_variables(self):
        return self.trainable_weights

    @property
    def metrics_names(self):
        return ["loss"] + [m.name for m in self._metrics or []]

    # -- saving (the saving module owns the format) ----------------------------------------------------------------
    def to_json(self, **kwargs):
        """The model's architecture as JSON in Keras 3's form (what model_from_json reads, Keras' too; json.dumps'
        keyword arguments)."""
        import json

        from rnnkit.saving.keras_archive import keras_model_config

        return json.dumps(keras_model_config(self), **kwargs)

    def save(self, filepath, overwrite=True, zipped=None):
        if not _writes_files():
            return None
        from rnnkit import saving

        return saving.save_model(self, filepath, overwrite, zipped)

    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        if not _writes_files():
            return None
        from rnnkit import saving

        return saving.save_weights(self, filepath, overwrite, max_shard_size)

    def load_weights(self, filepath, skip_mismatch=False):
        if not self.built:  # a subclassed model's layers make their weights when call() first runs
            raise ValueError(f"Model '{self.name}' is not built yet, so it has no weights to load into: call it on "
                             "data or call model.build(input_shape) first (as Keras requires)")
        from rnnkit import saving

        return saving.load_weights(self, filepath, skip_mismatch)

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None):
        from rnnkit.models.summary import print_summary

        print_summary(self, line_length, positions, print_fn, expand_nested, show_trainable, layer_range)


def _writes_files():
    """False on all but rank 0 when several processes train one model: they hold the same weights, and rank 0
    alone writes them."""
    shared = distribution.active()
    return shared is None or shared.is_chief


def _gradient_or_zeros(weight_grads, variable):
    """The variable's gradient, or zeros when nothing it feeds reached the loss (allocated only then)."""
    gradient = weight_grads.get(id(variable))
    return np.zeros(variable.shape, np.float32) if gradient is None else gradient


def _with_penalty(gradient, penalty_grads, variable):
    """A weight's loss gradient plus its regularizer's, when it has one."""
    extra = penalty_grads.get(id(variable))
    return gradient if extra is None else gradient + extra


def _validates_after(epoch, validation_freq):
    """Keras' validation_freq: an int N validates after every N-th epoch, a collection after the epochs it names
    (1-based)."""
    if isinstance(validation_freq, int):
        if validation_freq < 1:
            raise ValueError(f"validation_freq must be a positive integer, received {validation_freq}")
        return (epoch + 1) % validation_freq == 0
    return epoch + 1 in validation_freq


def _resolve_loss(identifier):
    from rnnkit import losses

    return losses.get(identifier)


def _serialize(value, module):
    """compile's argument with every object in it (per output, in lists or dicts) in its serialized form."""
    if value is None or isinstance(value, str) or (isinstance(value, dict) and "class_name" in value):
        return value
    if isinstance(value, dict):
        return {key: _serialize(item, module) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_serialize(item, module) for item in value]
    return module.serialize(value)


def _validation_arguments(validation_data):
    """evaluate() arguments from fit's validation_data: a dataset, (x, y) or (x, y, sample_weight)."""
    if data.is_dataset(validation_data):
        return {"x": validation_data}
    x, y, sample_weight = (tuple(validation_data) + (None,))[:3]
    return {"x": x, "y": y, "sample_weight": sample_weight}


def _class_weights(y, class_weight, sample_weight):
    """Per-sample weights from Keras' ``class_weight`` (index -> weight) on the first output's labels."""
    labels = y[0]
    labels = np.argmax(labels, axis=-1) if labels.ndim > 1 and labels.shape[-1] > 1 else labels.reshape(len(labels))
    weights = np.array([class_weight.get(int(label), 1.0) for label in labels], dtype=np.float32)
    if sample_weight is not None:
        weights = weights * sample_weight[0]
    return [weights] * len(y)
