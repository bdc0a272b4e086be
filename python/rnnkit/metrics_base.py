"""The stateful metric protocol of Keras 3 (update_state / result / reset_state) and the weighted running mean
most metrics are built on. Public through rnnkit.metrics."""
import numpy as np

from rnnkit.layers.layer import to_snake_case, unique_name


class Metric:
    """Base class: subclasses implement update_state, result and reset_state.

    ``additive_state`` names the attributes (floats or float64 arrays) that are sums over the samples seen, so
    that several processes' updates of one global batch add up to the update of the whole batch."""

    additive_state = ()

    def __init__(self, dtype=None, name=None):  # Keras 3's order
        # Keras' auto_name: the snake-case class name, made unique per session (precision, precision_1, ...).
        self.name = name or unique_name(to_snake_case(type(self).__name__))
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


def masked_sample_weight(sample_weight, mask):
    """Sample weights with the output mask folded in (masked positions weigh 0). The mask (batch, time) aligns
    with the leading axes of the weights, so a per-sample weight applies to every kept step of its sample."""
    if mask is None:
        return sample_weight
    mask = np.asarray(mask, np.float64)
    if sample_weight is None:
        return mask
    sample_weight = np.asarray(sample_weight, np.float64)
    return sample_weight.reshape(sample_weight.shape + (1,) * (mask.ndim - sample_weight.ndim)) * mask


def _samplewise(values, sample_weight, reduce=np.mean):
    """Keras' reduce_to_samplewise_values with `reduce` (mean, or sum for Sum): (per-sample values * weights,
    per-sample weights or None)."""
    values = np.asarray(values, np.float64)
    if sample_weight is not None:
        weights = np.asarray(sample_weight, np.float64)
        if weights.ndim == values.ndim + 1 and weights.shape[-1] == 1:
            weights = weights[..., 0]
        elif values.ndim == weights.ndim + 1 and values.shape[-1] == 1:
            values = values[..., 0]
        if values.ndim > weights.ndim:
            values = reduce(values, axis=tuple(range(weights.ndim, values.ndim)))
        weights = np.broadcast_to(weights, values.shape)
        values = values * weights
        if weights.ndim > 1:
            weights = reduce(weights, axis=tuple(range(1, weights.ndim)))
    else:
        weights = None
    if values.ndim > 1:
        values = reduce(values, axis=tuple(range(1, values.ndim)))
    return values, weights


class Mean(Metric):
    """Weighted mean of the per-sample values seen since the last reset (0 before any update)."""

    additive_state = ("total", "count")

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


class Sum(Metric):
    """Weighted sum of the values seen since the last reset (each sample's values summed, then weighted)."""

    additive_state = ("total",)

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        self.total = 0.0

    def update_state(self, values, sample_weight=None):
        values, _ = _samplewise(values, sample_weight, np.sum)
        self.total += float(np.sum(values))

    def result(self):
        return np.float32(self.total)


class MeanMetricWrapper(Mean):
    """Mean of ``fn(y_true, y_pred, **kwargs)``; ``mask`` (the output mask) zero-weights masked positions."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        self._fn = fn
        self._fn_kwargs = kwargs
        super().__init__(name=name or getattr(fn, "__name__", "mean_metric_wrapper"), dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None, mask=None):
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        super().update_state(values, sample_weight=masked_sample_weight(sample_weight, mask))

    def get_config(self):
        return {**super().get_config(), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
