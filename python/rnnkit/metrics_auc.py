"""Keras 3's AUC: the area under the ROC or precision-recall curve, summed over the confusion counts of fixed
thresholds accumulated over batches. Public through rnnkit.metrics."""
import numpy as np

from rnnkit import backend
from rnnkit.metrics_base import Metric, masked_sample_weight
from rnnkit.metrics_confusion import confusion_counts, evenly_spaced, ratio

# The spellings Keras accepts, each to its canonical value (the one get_config gives).
_CURVES = {"ROC": "ROC", "roc": "ROC", "PR": "PR", "pr": "PR", "PRGAIN": "PRGAIN", "prgain": "PRGAIN"}
_SUMMATIONS = {name: name.lower() for name in ("interpolation", "Interpolation", "majoring", "Majoring",
                                                "minoring", "Minoring")}


def _choice(value, choices, what):
    if value not in choices:
        raise ValueError(f'Invalid AUC {what} value: "{value}". Expected values are '
                         f"{sorted(set(choices.values()))}")
    return choices[value]


class AUC(Metric):
    """Area under the curve of ``num_thresholds`` thresholds evenly spaced over [0, 1] (or the ``thresholds``
    given, plus 0 and 1), the end ones moved out by backend.epsilon() so that they catch every prediction.

    ``curve``: "ROC" (recall over false positive rate), "PR" (precision over recall) or "PRGAIN".
    ``summation_method``: "interpolation" (trapezoids; for PR, Davis & Goadrich's interpolation of the counts),
    "minoring" or "majoring" (the lower or higher end of each interval). With ``multi_label`` each column of a
    (samples, labels) y_pred has its own curve and the result is their mean, weighted by ``label_weights``;
    without it ``label_weights`` weight the columns' counts. ``from_logits`` applies a sigmoid to y_pred.
    """

    additive_state = ("true_positives", "false_positives", "true_negatives", "false_negatives")

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None, dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        self.curve = _choice(curve, _CURVES, "curve")
        self.summation_method = _choice(summation_method, _SUMMATIONS, "summation_method")
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            self.num_thresholds = len(inner) + 2
            self._evenly = evenly_spaced([0.0] + inner + [1.0])
        else:
            if num_thresholds <= 1:
                raise ValueError(f"Argument `num_thresholds` must be an integer > 1. Received: "
                                 f"num_thresholds={num_thresholds}")
            self.num_thresholds = num_thresholds
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._evenly = True
        self._thresholds = np.array([0.0 - backend.epsilon()] + inner + [1.0 + backend.epsilon()])
        if num_labels and not multi_label:
            raise ValueError("`num_labels` is needed only when `multi_label` is True.")
        self.multi_label = multi_label
        self.num_labels = num_labels
        self.label_weights = None if label_weights is None else np.asarray(label_weights, np.float32)
        self._from_logits = from_logits
        # A multi-label curve needs the number of labels: from num_labels, else from the first y_pred.
        self._num_labels = num_labels if multi_label else None
        super().__init__(name=name, dtype=dtype)

    @property
    def thresholds(self):
        return list(self._thresholds)

    def reset_state(self):
        shape = (self.num_thresholds,) if not self.multi_label else (self.num_thresholds, self._num_labels)
        for attribute in self.additive_state:
            setattr(self, attribute, None if None in shape else np.zeros(shape))

    def update_state(self, y_true, y_pred, sample_weight=None, mask=None):
        """``mask``, the output mask of a sequence output, gives masked steps a weight of 0."""
        y_pred = np.asarray(y_pred, np.float32)
        if self.multi_label and self.true_positives is None:
            if y_pred.ndim != 2:
                raise ValueError(f"`y_pred` must have rank 2 when `multi_label=True`. Found rank {y_pred.ndim}. "
                                 f"Full shape received for `y_pred`: {y_pred.shape}")
            self._num_labels = y_pred.shape[1]
            self.reset_state()
        if self._from_logits:
            with np.errstate(over="ignore"):  # exp overflows to inf for very negative logits: sigmoid 0
                y_pred = 1 / (1 + np.exp(-y_pred))
        counts = confusion_counts(y_true, y_pred, self._thresholds, masked_sample_weight(sample_weight, mask),
                                  label_weights=None if self.multi_label else self.label_weights,
                                  multi_label=self.multi_label, evenly=self._evenly)
        for attribute, count in zip(self.additive_state, counts):
            getattr(self, attribute)[...] += count

    def result(self):
        if self.true_positives is None:
            return np.float32(0.0)
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._average(self._interpolated_pr_areas())
        x, y = self._curve()
        lower, upper = y[:-1], y[1:]
        heights = {"interpolation": (lower + upper) / 2, "minoring": np.minimum(lower, upper),
                   "majoring": np.maximum(lower, upper)}[self.summation_method]
        return self._average(np.sum((x[:-1] - x[1:]) * heights, axis=0))

    def _curve(self):
        """(x, y) of each threshold's point, thresholds ascending (so both run from the curve's far end)."""
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        recall = ratio(tp, tp + fn)
        if self.curve == "ROC":
            return ratio(fp, fp + tn), recall
        if self.curve == "PR":
            return recall, ratio(tp, tp + fp)
        # Precision-recall gain (Flach & Kull); where tp = 0 the gains are set to (0, 1), and a negative recall
        # gain to 0, as Keras does.
        scale = ratio(tp + fn, tn + fp)
        recall_gain = np.where(tp == 0, 0.0, 1.0 - scale * ratio(fn, tp))
        precision_gain = np.where(tp == 0, 1.0, 1.0 - scale * ratio(fp, tp))
        return np.maximum(recall_gain, 0.0), precision_gain

    def _interpolated_pr_areas(self):
        """Davis & Goadrich: between two thresholds tp grows linearly with the predicted positives p, so the
        precision tp / p integrates in closed form over recall = tp / (tp + fn)."""
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        predicted = tp + fp
        d_tp = tp[:-1] - tp[1:]
        d_predicted = predicted[:-1] - predicted[1:]
        slope = ratio(d_tp, np.maximum(d_predicted, 0))
        intercept = tp[1:] - slope * predicted[1:]
        both_positive = (predicted[:-1] > 0) & (predicted[1:] > 0)
        p_ratio = np.where(both_positive, ratio(predicted[:-1], np.maximum(predicted[1:], 0)), 1.0)
        areas = ratio(slope * (d_tp + intercept * np.log(p_ratio)), np.maximum(tp[1:] + fn[1:], 0))
        return np.sum(areas, axis=0)

    def _average(self, areas):
        """A multi-label AUC is the (label_weights-weighted) mean of the labels' areas."""
        if not self.multi_label:
            return np.float32(areas)
        if self.label_weights is None:
            return np.float32(np.mean(areas))
        return np.float32(ratio(np.sum(areas * self.label_weights), np.sum(self.label_weights)))

    def get_config(self):
        config = {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels,
                  "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
                  "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = [float(t) for t in self._thresholds[1:-1]]
        return config
