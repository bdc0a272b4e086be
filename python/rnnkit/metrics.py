"""rnnkit.metrics: Keras 3 stateful metrics (update_state / result / reset_state) and compile's metric lookup.

Metrics only count and average on the host; the per-sample values of MSE/MAE come from the loss kernels.
"""
import difflib

import numpy as np

from rnnkit import losses as losses_module

__all__ = ["Metric", "Mean", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError", "accuracy", "binary_accuracy",
           "categorical_accuracy", "sparse_categorical_accuracy", "mean_squared_error", "mean_absolute_error",
           "get", "serialize", "deserialize"]


class Metric:
    """Base class: subclasses implement update_state, result and reset_state."""

    def __init__(self, name=None, dtype=None):
        self.name = name or type(self).__name__.lower()
        self.dtype = dtype or "float32"
        self.reset_state()

    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset_state(self):
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _samplewise(values, sample_weight):
    """Keras' reduce_to_samplewise_values with mean: (per-sample values * weights, per-sample weights or None)."""
    values = np.asarray(values, np.float64)
    if sample_weight is not None:
        weights = np.asarray(sample_weight, np.float64)
        if weights.ndim == values.ndim + 1 and weights.shape[-1] == 1:
            weights = weights[..., 0]
        elif values.ndim == weights.ndim + 1 and values.shape[-1] == 1:
            values = values[..., 0]
        if values.ndim > weights.ndim:
            values = values.mean(axis=tuple(range(weights.ndim, values.ndim)))
        weights = np.broadcast_to(weights, values.shape)
        values = values * weights
        if weights.ndim > 1:
            weights = weights.mean(axis=tuple(range(1, weights.ndim)))
    else:
        weights = None
    if values.ndim > 1:
        values = values.mean(axis=tuple(range(1, values.ndim)))
    return values, weights


class Mean(Metric):
    """Weighted mean of the per-sample values seen since the last reset (0 before any update)."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None):
        values, weights = _samplewise(values, sample_weight)
        self.total += float(np.sum(values))
        if weights is not None:
            self.count += float(np.sum(weights))
        else:
            self.count += values.shape[0] if values.ndim >= 1 else 1

    def result(self):
        return np.float32(0.0 if self.count == 0 else self.total / self.count)


class MeanMetricWrapper(Mean):
    """Mean of ``fn(y_true, y_pred, **kwargs)``; ``mask`` (the output mask) zero-weights masked positions."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        self._fn = fn
        self._fn_kwargs = kwargs
        super().__init__(name=name or getattr(fn, "__name__", "mean_metric_wrapper"), dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None, mask=None):
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        if mask is not None:
            mask = np.asarray(mask, np.float64)
            if sample_weight is None:
                sample_weight = mask
            else:
                sample_weight = np.asarray(sample_weight, np.float64)
                sample_weight = sample_weight.reshape(sample_weight.shape + (1,) * (mask.ndim - sample_weight.ndim))
                sample_weight = sample_weight * mask
        super().update_state(values, sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _same_rank(y_true, y_pred):
    return losses_module._same_rank(np.asarray(y_true), np.asarray(y_pred))


def accuracy(y_true, y_pred):
    """1.0 where y_true == y_pred exactly."""
    y_true, y_pred = _same_rank(y_true, y_pred)
    return (y_true.astype(np.float32) == y_pred.astype(np.float32)).astype(np.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where (y_pred > threshold) equals y_true."""
    y_true, y_pred = _same_rank(y_true, y_pred)
    return (y_true.astype(np.float32) == (y_pred > threshold).astype(np.float32)).astype(np.float32)


def categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_true) == argmax(y_pred) over the last axis."""
    return (np.argmax(np.asarray(y_true), axis=-1) == np.argmax(np.asarray(y_pred), axis=-1)).astype(np.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label equals argmax(y_pred) over the last axis."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    matches = (y_true.astype(np.float32) == np.argmax(y_pred, axis=-1).astype(np.float32)).astype(np.float32)
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = matches[..., 0]
    return matches


mean_squared_error = losses_module.mean_squared_error
mean_absolute_error = losses_module.mean_absolute_error


class Accuracy(MeanMetricWrapper):
    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class BinaryAccuracy(MeanMetricWrapper):
    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


_CLASSES = {cls.__name__: cls for cls in (Mean, Accuracy, BinaryAccuracy, CategoricalAccuracy,
                                          SparseCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError)}
_FUNCTIONS = {fn.__name__: fn for fn in (accuracy, binary_accuracy, categorical_accuracy,
                                         sparse_categorical_accuracy, mean_squared_error, mean_absolute_error)}
# Keras maps these names to the metric classes (metrics.get("mse") is a MeanSquaredError instance).
_ALIASES = {"mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError}
_BY_NAME = {**_CLASSES, **_FUNCTIONS, **_ALIASES}


def serialize(metric):
    if isinstance(metric, Metric):
        return {"module": "keras.metrics", "class_name": type(metric).__name__, "config": metric.get_config(),
                "registered_name": None}
    return metric.__name__


def deserialize(config, custom_objects=None):
    if isinstance(config, str):
        return _resolve_name(config, custom_objects)
    cls = (custom_objects or {}).get(config.get("class_name")) or _CLASSES.get(config.get("class_name"))
    if cls is None:
        raise ValueError(f"Could not interpret serialized metric: {config!r}")
    return cls.from_config(dict(config.get("config") or {}))


def _resolve_name(name, custom_objects=None):
    obj = (custom_objects or {}).get(name) or _BY_NAME.get(name)
    if obj is None:
        close = difflib.get_close_matches(name, sorted(_BY_NAME) + ["accuracy", "acc"], n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ValueError(f"Could not interpret metric identifier: {name!r}.{hint}")
    return obj() if isinstance(obj, type) else obj


def _is_binary_or_sparse(y_true, y_pred):
    """Keras compile's test on the target and prediction shapes."""
    true_shape, pred_shape = np.shape(y_true), np.shape(y_pred)
    pred_last = pred_shape[-1] if pred_shape else 1
    true_last = true_shape[-1] if true_shape else 1
    is_binary = pred_last == 1
    is_sparse = len(true_shape) < len(pred_shape) or (true_last == 1 and pred_last > 1)
    return is_binary, is_sparse


def get(identifier, y_true=None, y_pred=None, loss=None):
    """A Metric for ``compile(metrics=[...])``: 'accuracy'/'acc' pick binary, sparse categorical or categorical
    accuracy from the shapes of y_true and y_pred as Keras 3 compile does; names of strings are kept ("acc")."""
    if identifier is None:
        raise ValueError("Expected metric, received `None`")
    if str(identifier).lower() in ("accuracy", "acc"):
        if y_true is None or y_pred is None:
            return Accuracy(name=str(identifier))
        is_binary, is_sparse = _is_binary_or_sparse(y_true, y_pred)
        if is_binary:
            return BinaryAccuracy(name=str(identifier))
        if is_sparse:
            return SparseCategoricalAccuracy(name=str(identifier))
        return CategoricalAccuracy(name=str(identifier))
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):
        metric = deserialize(identifier)
    elif isinstance(identifier, str):
        metric = _resolve_name(identifier)
    elif isinstance(identifier, type) and issubclass(identifier, Metric):
        metric = identifier()
    elif callable(identifier):
        metric = identifier
    else:
        raise ValueError(f"Could not interpret metric identifier: {identifier!r}")
    if not isinstance(metric, Metric):
        metric = MeanMetricWrapper(metric)
    if isinstance(identifier, str):
        metric.name = identifier
    return metric
