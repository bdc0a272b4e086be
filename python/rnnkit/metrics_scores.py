"""Keras 3's F-beta / F1 scores over (batch, classes) predictions and the R2 score over (batch, outputs) ones, from
per-class sums over the samples seen (so processes' updates add up). Public through rnnkit.metrics."""
import warnings

import numpy as np

from rnnkit.metrics_base import Metric

_EPSILON = 1e-7  # Keras' backend.epsilon() in the ratios


def _two_dimensional(metric, y_true, y_pred):
    y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    if y_true.ndim != 2 or y_pred.ndim != 2:
        raise ValueError(f"{type(metric).__name__} expects 2D inputs with shape (batch_size, output_dim), received "
                         f"y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}")
    return y_true, y_pred


def _column_weights(sample_weight, shape):
    if sample_weight is None:
        return np.ones(shape)
    weights = np.asarray(sample_weight, np.float64)
    return np.broadcast_to(weights[:, None] if weights.ndim == 1 else weights, shape)


class FBetaScore(Metric):
    """F-beta of each class (average=None) or their mean ("macro"), support-weighted mean ("weighted") or the score
    of the pooled counts ("micro"). A prediction counts as positive above ``threshold``, or, without one, where it
    is its row's largest (and not 0)."""

    additive_state = ("true_positives", "false_positives", "false_negatives", "intermediate_weights")

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError("Invalid `average` argument value. Expected one of: {None, 'micro', 'macro', "
                             f"'weighted'}}. Received: average={average}")
        if not isinstance(beta, float) or beta <= 0.0:
            raise ValueError(f"Invalid `beta` argument value: expected a Python float > 0, received {beta!r}")
        if threshold is not None and (not isinstance(threshold, float) or not 0.0 < threshold <= 1.0):
            raise ValueError(f"Invalid `threshold` argument value: expected a Python float in (0, 1], received "
                             f"{threshold!r}")
        self.average, self.beta, self.threshold = average, beta, threshold
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        self.true_positives = self.false_positives = self.false_negatives = self.intermediate_weights = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _two_dimensional(self, y_true, y_pred)
        if self.threshold is None:
            predicted = (y_pred >= y_pred.max(axis=-1, keepdims=True)) & (np.abs(y_pred) > 1e-9)
        else:
            predicted = y_pred > self.threshold
        predicted = predicted.astype(np.float64)
        weights = _column_weights(sample_weight, y_true.shape)
        axis = None if self.average == "micro" else 0
        sums = [np.sum(values * weights, axis=axis) for values in
                (predicted * y_true, predicted * (1 - y_true), (1 - predicted) * y_true, y_true)]
        if self.true_positives is None:
            self.true_positives, self.false_positives, self.false_negatives, self.intermediate_weights = sums
        else:
            self.true_positives = self.true_positives + sums[0]
            self.false_positives = self.false_positives + sums[1]
            self.false_negatives = self.false_negatives + sums[2]
            self.intermediate_weights = self.intermediate_weights + sums[3]

    def result(self):
        if self.true_positives is None:
            return np.float32(0.0)
        precision = self.true_positives / (self.true_positives + self.false_positives + _EPSILON)
        recall = self.true_positives / (self.true_positives + self.false_negatives + _EPSILON)
        beta2 = self.beta ** 2
        score = (1 + beta2) * precision * recall / (beta2 * precision + recall + _EPSILON)
        if self.average == "weighted":
            weights = self.intermediate_weights / (np.sum(self.intermediate_weights) + _EPSILON)
            score = np.sum(score * weights)
        elif self.average is not None:
            score = np.mean(score)
        return np.asarray(score, np.float32) if np.ndim(score) else np.float32(score)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config


class R2Score(Metric):
    """The coefficient of determination of each output column, averaged uniformly ("uniform_average"), by the
    columns' variances ("variance_weighted_average") or not (None); adjusted for ``num_regressors``."""

    additive_state = ("sum", "squared_sum", "total_mse", "count", "num_samples")

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None):
        if class_aggregation not in (None, "uniform_average", "variance_weighted_average"):
            raise ValueError("Invalid value for argument `class_aggregation`. Expected one of (None, "
                             "'uniform_average', 'variance_weighted_average'). Received: "
                             f"class_aggregation={class_aggregation}")
        if num_regressors < 0:
            raise ValueError(f"Invalid value for argument `num_regressors`: expected >= 0, received {num_regressors}")
        self.class_aggregation, self.num_regressors = class_aggregation, num_regressors
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        self.sum = self.squared_sum = self.total_mse = self.count = None
        self.num_samples = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
        if y_true.ndim == 1 and y_pred.ndim == 2 and y_pred.shape[1] == 1:
            y_true = y_true[:, None]
        y_true, y_pred = _two_dimensional(self, y_true, y_pred)
        weights = _column_weights(sample_weight, y_true.shape)
        sums = [np.sum(y_true * weights, axis=0), np.sum(y_true * y_true * weights, axis=0),
                np.sum((y_true - y_pred) ** 2 * weights, axis=0), np.sum(weights, axis=0)]
        if self.sum is None:
            self.sum, self.squared_sum, self.total_mse, self.count = sums
        else:
            self.sum, self.squared_sum, self.total_mse, self.count = (
                old + new for old, new in zip((self.sum, self.squared_sum, self.total_mse, self.count), sums))
        self.num_samples += y_true.size

    def result(self):
        if self.sum is None:
            return np.float32(0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            total = self.squared_sum - self.sum * (self.sum / self.count)
            scores = 1 - self.total_mse / total
        scores = np.where(np.isinf(scores), 0.0, scores)
        if self.class_aggregation == "uniform_average":
            score = np.mean(scores)
        elif self.class_aggregation == "variance_weighted_average":
            score = np.sum(total * scores) / np.sum(total)
        else:
            score = scores
        if self.num_regressors:
            n, p = self.num_samples, self.num_regressors
            if p >= n - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 score (or as many as "
                              "datapoints minus one): falling back to the standard R2 score.", stacklevel=2)
            else:
                score = 1 - (1 - score) * (n - 1) / (n - p - 1)
        return np.asarray(score, np.float32) if np.ndim(score) else np.float32(score)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}
