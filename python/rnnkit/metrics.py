"""rnnkit.metrics: Keras 3 stateful metrics (update_state / result / reset_state) and compile's metric lookup.

Metrics only count and average on the host; the per-sample values of MSE/MAE come from the loss kernels. The
base classes live in metrics_base, the confusion-matrix metrics in metrics_confusion and metrics_auc, the means of
the other losses in metrics_losses.
"""
import difflib

import numpy as np

from rnnkit import losses as losses_module
from rnnkit.layers.layer import to_snake_case
from rnnkit.metrics_auc import AUC
from rnnkit.metrics_base import Mean, MeanMetricWrapper, Metric, Sum, masked_sample_weight
from rnnkit.metrics_confusion import (FalseNegatives, FalsePositives, Precision, Recall, TrueNegatives,
                                      TruePositives)
from rnnkit.metrics_losses import (BinaryCrossentropy, CategoricalCrossentropy, CategoricalHinge, CosineSimilarity,
                                   Hinge, KLDivergence, LogCoshError, MeanAbsolutePercentageError,
                                   MeanSquaredLogarithmicError, Poisson, SparseCategoricalCrossentropy, SquaredHinge)
from rnnkit.metrics_scores import F1Score, FBetaScore, R2Score

# The loss functions Keras 3 exports as metric functions too: the same functions.
LOSS_FUNCTIONS = ("mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
                  "mean_squared_logarithmic_error", "binary_crossentropy", "binary_focal_crossentropy",
                  "categorical_crossentropy", "sparse_categorical_crossentropy", "categorical_hinge", "hinge",
                  "squared_hinge", "huber", "kl_divergence", "log_cosh", "poisson")
__all__ = ["Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy",
           "MeanSquaredError", "MeanAbsoluteError", "RootMeanSquaredError", "TruePositives", "FalsePositives",
           "TrueNegatives", "FalseNegatives", "Precision", "Recall", "AUC", "MeanAbsolutePercentageError",
           "MeanSquaredLogarithmicError", "LogCoshError", "Poisson", "KLDivergence", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Hinge", "SquaredHinge", "CategoricalHinge",
           "CosineSimilarity", "F1Score", "FBetaScore", "R2Score", "accuracy", "binary_accuracy",
           "categorical_accuracy", "sparse_categorical_accuracy", "top_k_categorical_accuracy",
           "sparse_top_k_categorical_accuracy", "get", "serialize", "deserialize", *LOSS_FUNCTIONS]


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


def _in_top_k(labels, y_pred, k):
    """1.0 where each label's prediction is at least the k-th largest of its row (ties at the k-th value
    count as in the top k, as in Keras' in_top_k); rows are y_pred's last axis, labels match its other axes."""
    labels = np.asarray(labels)
    y_pred = np.asarray(y_pred, np.float32)
    rows = y_pred.reshape(-1, y_pred.shape[-1])
    flat = labels.reshape(-1).astype(np.int64)
    if len(flat) != len(rows):
        raise ValueError(f"{labels.shape} labels do not match y_pred of shape {y_pred.shape}")
    k = min(k, rows.shape[1])  # k beyond the classes keeps them all (TF's in_top_k; torch's top_k would fail)
    kth_largest = np.partition(rows, rows.shape[1] - k, axis=1)[:, rows.shape[1] - k]
    return (rows[np.arange(len(rows)), flat] >= kth_largest).astype(np.float32).reshape(labels.shape)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the argmax of the one-hot y_true is among the k largest predictions."""
    return _in_top_k(np.argmax(np.asarray(y_true), axis=-1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 where the integer label is among the k largest predictions; with ``from_sorted_ids`` y_pred holds
    class ids sorted by score, and the label must be among the first k. The result has y_true's shape."""
    y_true = np.asarray(y_true)
    if not from_sorted_ids:
        return _in_top_k(y_true, y_pred, k)
    y_pred = np.asarray(y_pred)
    ids = y_pred.reshape(-1, y_pred.shape[-1])[:, :k]
    return np.any(ids == y_true.reshape(-1, 1), axis=1).astype(np.float32).reshape(y_true.shape)


globals().update({name: getattr(losses_module, name) for name in LOSS_FUNCTIONS})  # metrics.hinge, ...


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


class TopKCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None, from_sorted_ids=False):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k,
                         from_sorted_ids=from_sorted_ids)
        self.k = k
        self.from_sorted_ids = from_sorted_ids

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype, "k": self.k}
        return {**config, "from_sorted_ids": True} if self.from_sorted_ids else config


class RootMeanSquaredError(Mean):
    """sqrt of the weighted mean squared error. As in Keras it is a Mean of squared errors, not a wrapper, so
    compile's training loop does not hand it the output mask (Keras does not weight masked steps out of it)."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None, mask=None):
        y_true, y_pred = _same_rank(np.asarray(y_true, np.float32), np.asarray(y_pred, np.float32))
        squared = np.square(y_pred.astype(np.float64) - y_true)
        super().update_state(squared, sample_weight=masked_sample_weight(sample_weight, mask))

    def result(self):
        return np.float32(np.sqrt(super().result()))


_CLASSES = {cls.__name__: cls for cls in (
    Mean, Sum, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError, RootMeanSquaredError, TruePositives,
    FalsePositives, TrueNegatives, FalseNegatives, Precision, Recall, AUC, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, LogCoshError, Poisson, KLDivergence, BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy, Hinge, SquaredHinge, CategoricalHinge, CosineSimilarity, F1Score, FBetaScore,
    R2Score)}
# Keras' lookup knows each class by its name and its snake-case name ("auc", "binary_accuracy": the class, not
# the function of that name), and a few short aliases.
_ALIASES = {"mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
            "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
            "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError, "bce": BinaryCrossentropy,
            "BCE": BinaryCrossentropy}
_BY_NAME = {**_CLASSES, **{to_snake_case(name): cls for name, cls in _CLASSES.items()}, **_ALIASES}


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
