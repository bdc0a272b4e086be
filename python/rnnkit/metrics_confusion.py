"""Keras 3's confusion-matrix metrics: weighted true/false positive/negative counts at thresholds, accumulated
over batches, and Precision and Recall built on them. Public through rnnkit.metrics.

A prediction is positive at threshold t when it is > t, a label when it is non-zero. Keras compares in float32,
so predictions and thresholds are compared as float32 here too; the counts are float64 sums of the weights.
"""
import numpy as np

from rnnkit.losses import _same_rank
from rnnkit.metrics_base import Metric, masked_sample_weight

# Keras' metrics_utils.NEG_INF: what top_k gives the predictions it drops, and the default threshold with top_k.
NEG_INF = -1e10


def parse_thresholds(thresholds, default):
    """The thresholds as a list of floats (``default`` when None), each checked to lie in [0, 1]."""
    if thresholds is None:
        return [default]
    values = [float(t) for t in np.ravel(thresholds)]
    invalid = [t for t in values if not 0.0 <= t <= 1.0]
    if invalid:
        raise ValueError(f"Threshold values must be in [0, 1]. Received: {invalid}")
    return values


def evenly_spaced(thresholds):
    """Keras' test for thresholds i / (n - 1), i = 0..n-1 (n >= 3): for those it buckets predictions instead of
    comparing them, which can round a prediction at a threshold differently, so the test is Keras' own."""
    count = len(thresholds)
    if count < 3:
        return False
    return bool(np.allclose(thresholds, np.arange(count, dtype=np.float32) / (count - 1), atol=1e-7))


def confusion_counts(y_true, y_pred, thresholds, sample_weight=None, *, top_k=None, class_id=None,
                     label_weights=None, multi_label=False, evenly=False):
    """Weighted (tp, fp, tn, fn) at each of the ascending ``thresholds``: arrays of shape (thresholds,), or
    (thresholds, labels) with ``multi_label`` (y_pred of shape (samples, labels), one curve per label).
    ``sample_weight`` broadcasts over y_pred from its leading axes, ``label_weights`` over its last axis."""
    y_true, y_pred = _same_rank(np.asarray(y_true), np.asarray(y_pred, np.float32))
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true of shape {y_true.shape} does not match y_pred of shape {y_pred.shape}")
    y_true = np.asarray(y_true, np.float32) != 0
    weights = np.ones(y_pred.shape)
    if sample_weight is not None:
        weights = np.broadcast_to(_aligned_sample_weight(sample_weight, y_true), y_pred.shape).astype(np.float64)
    if top_k is not None:
        y_pred = _keep_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError("When class_id is provided, y_pred must be a 2D array with shape (num_samples, "
                             f"num_classes), found shape: {y_pred.shape}")
        y_true, y_pred, weights = (a[..., class_id, None] for a in (y_true, y_pred, weights))
    if label_weights is not None:
        weights = weights * np.asarray(label_weights, np.float64)
    exceeded = _thresholds_exceeded(y_pred, np.asarray(thresholds, np.float32), evenly)
    if multi_label:
        exceeded, y_true, weights = exceeded.T, y_true.T, weights.T
    else:
        exceeded, y_true, weights = exceeded.reshape(1, -1), y_true.reshape(1, -1), weights.reshape(1, -1)
    positives = _histogram(exceeded, np.where(y_true, weights, 0.0), len(thresholds))
    negatives = _histogram(exceeded, np.where(y_true, 0.0, weights), len(thresholds))
    # Bin k holds the predictions above exactly k thresholds: those above threshold i are in the bins > i.
    above = [np.cumsum(h[:, ::-1], axis=1)[:, ::-1][:, 1:] for h in (positives, negatives)]
    below = [np.cumsum(h, axis=1)[:, :-1] for h in (positives, negatives)]
    counts = (above[0], above[1], below[1], below[0])
    return tuple(c.T if multi_label else c[0] for c in counts)


def _aligned_sample_weight(sample_weight, y_true):
    """Keras' alignment (a trailing axis added unless that puts the weights one rank above the labels), then
    trailing axes up to the labels' rank so that the weights apply from the leading (batch) axes."""
    weights = np.asarray(sample_weight, np.float64)[..., None]
    if weights.ndim == y_true.ndim + 1:
        weights = weights[..., 0]
    return weights.reshape(weights.shape + (1,) * (y_true.ndim - weights.ndim))


def _keep_top_k(y_pred, k):
    """The k largest predictions of the last axis as they are, the others NEG_INF (Keras' _filter_top_k)."""
    if k > y_pred.shape[-1]:
        raise ValueError(f"top_k={k} is larger than the {y_pred.shape[-1]} classes of y_pred")
    top = np.argsort(-y_pred, axis=-1, kind="stable")[..., :k]
    keep = np.zeros(y_pred.shape, bool)
    np.put_along_axis(keep, top, True, axis=-1)
    return np.where(keep, y_pred, np.float32(NEG_INF))


def _thresholds_exceeded(y_pred, thresholds, evenly):
    """Per prediction, the number of thresholds it exceeds, counted on the ascending order of the thresholds."""
    if evenly:
        # Keras' bucketing: ceil(p * (n - 1)) in float32 after clipping p to [0, 1]; thresholds that lie just
        # outside [0, 1] (AUC's) make the lowest one catch every prediction.
        count = len(thresholds)
        exceeded = np.ceil(np.clip(y_pred, 0, 1) * np.float32(count - 1))
        if thresholds[0] < 0 or thresholds[-1] > 1:
            exceeded = np.maximum(exceeded, 1)
    else:
        exceeded = np.searchsorted(thresholds, y_pred, side="left")
    return np.where(np.isnan(y_pred), 0, exceeded).astype(np.int64)


def _histogram(exceeded, weights, count):
    """Per row, the weights summed by the number of thresholds exceeded: shape (rows, count + 1)."""
    rows = exceeded.shape[0]
    bins = exceeded + (count + 1) * np.arange(rows)[:, None]
    return np.bincount(bins.ravel(), weights.ravel(), minlength=rows * (count + 1)).reshape(rows, count + 1)


def ratio(numerator, denominator):
    """numerator / denominator, 0 where the denominator is 0 (Keras' divide_no_nan)."""
    numerator, denominator = np.asarray(numerator, np.float64), np.asarray(denominator, np.float64)
    return np.divide(numerator, denominator, out=np.zeros(np.broadcast(numerator, denominator).shape),
                     where=denominator != 0)


class _ThresholdCounts(Metric):
    """Confusion counts at ``thresholds``, in the order given; the result is one value per threshold, a scalar
    for a single one. Subclasses keep their counts in the attributes of ``additive_state``."""

    _COUNTS = {}  # each attribute -> which of confusion_counts' (tp, fp, tn, fn) it accumulates

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        self.thresholds = parse_thresholds(thresholds, 0.5 if top_k is None else NEG_INF)
        self._ascending = np.argsort(self.thresholds, kind="stable")
        self._evenly = evenly_spaced(self.thresholds)
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        for attribute in self.additive_state:
            setattr(self, attribute, np.zeros(len(self.thresholds)))

    def update_state(self, y_true, y_pred, sample_weight=None, mask=None):
        """``mask``, the output mask of a sequence output, gives masked steps a weight of 0."""
        counts = confusion_counts(y_true, y_pred, np.asarray(self.thresholds)[self._ascending],
                                  masked_sample_weight(sample_weight, mask), top_k=self.top_k,
                                  class_id=self.class_id, evenly=self._evenly)
        for attribute, index in self._COUNTS.items():
            getattr(self, attribute)[self._ascending] += counts[index]

    def _per_threshold(self, values):
        return np.float32(values[0]) if len(self.thresholds) == 1 else np.asarray(values, np.float32)


class _ConditionCount(_ThresholdCounts):
    additive_state = ("accumulator",)

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(thresholds=thresholds, name=name, dtype=dtype)

    def result(self):
        return self._per_threshold(self.accumulator)

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConditionCount):
    """Weighted count of positive labels predicted positive (prediction > threshold), default threshold 0.5."""
    _COUNTS = {"accumulator": 0}


class FalsePositives(_ConditionCount):
    """Weighted count of negative labels predicted positive."""
    _COUNTS = {"accumulator": 1}


class TrueNegatives(_ConditionCount):
    """Weighted count of negative labels predicted negative (prediction <= threshold)."""
    _COUNTS = {"accumulator": 2}


class FalseNegatives(_ConditionCount):
    """Weighted count of positive labels predicted negative."""
    _COUNTS = {"accumulator": 3}


class _PrecisionOrRecall(_ThresholdCounts):
    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


class Precision(_PrecisionOrRecall):
    """tp / (tp + fp) at each threshold (0 when nothing is predicted positive). ``top_k`` counts only the k
    largest predictions of each sample as positive; ``class_id`` looks at one column of y_pred."""
    additive_state = ("true_positives", "false_positives")
    _COUNTS = {"true_positives": 0, "false_positives": 1}

    def result(self):
        return self._per_threshold(ratio(self.true_positives, self.true_positives + self.false_positives))


class Recall(_PrecisionOrRecall):
    """tp / (tp + fn) at each threshold (0 when there is no positive label); ``top_k`` and ``class_id`` as in
    Precision."""
    additive_state = ("true_positives", "false_negatives")
    _COUNTS = {"true_positives": 0, "false_negatives": 3}

    def result(self):
        return self._per_threshold(ratio(self.true_positives, self.true_positives + self.false_negatives))
