"""Normalization: Keras 3's feature standardisation, (x - mean) / max(sqrt(variance), 1e-7) per position of the
kept axes (the last by default), with the mean and variance given or learnt by adapt(data); invert=True undoes it.

Built, it holds Keras' three non-trainable weights, mean, variance and count (count, an integer in Keras, is a float
here and, as in Keras, stays 0). Given mean and variance, it holds none.
"""
import numpy as np

from rnnkit.layers._validation import float_input
from rnnkit.layers.layer import Layer

_EPSILON = np.float32(1e-7)


class Normalization(Layer):
    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = () if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)
        self.supports_masking = True
        if (mean is None) != (variance is None):
            raise ValueError(f"{self.name}: when setting values directly, both `mean` and `variance` must be set. "
                             f"Received: mean={mean} and variance={variance}")
        if mean is not None and np.shape(mean) != np.shape(variance):
            raise ValueError(f"{self.name}: `mean` and `variance` must have the same shape, received "
                             f"{np.shape(mean)} and {np.shape(variance)}")
        self._build_input_shape = None

    def build(self, input_shape):
        rank = len(input_shape)
        if any(not -rank <= a < rank for a in self.axis):
            raise ValueError(f"{self.name}: all `axis` values must be in the range [-ndim, ndim), received inputs "
                             f"with ndim={rank} and axis={self.axis}")
        self._keep_axis = tuple(sorted(a % rank for a in self.axis))
        if any(input_shape[a] is None for a in self._keep_axis):
            raise ValueError(f"{self.name}: the kept axes {self.axis} need known sizes, received {tuple(input_shape)}")
        self._reduce_axis = tuple(a for a in range(rank) if a not in self._keep_axis)
        self._broadcast_shape = tuple(input_shape[a] if a in self._keep_axis else 1 for a in range(rank))
        self._build_input_shape = tuple(input_shape)
        if self.input_mean is None:
            shape = tuple(input_shape[a] for a in self._keep_axis)
            self.adapt_mean = self.add_weight(shape, "zeros", trainable=False, name="mean")
            self.adapt_variance = self.add_weight(shape, "ones", trainable=False, name="variance")
            self.count = self.add_weight((), "zeros", trainable=False, name="count")
        self.built = True

    def _statistics(self):
        """(mean, variance) broadcast against the input."""
        if self.input_mean is None:
            return (self.adapt_mean.value.reshape(self._broadcast_shape),
                    self.adapt_variance.value.reshape(self._broadcast_shape))
        mean, variance = (np.asarray(v, np.float32) for v in (self.input_mean, self.input_variance))
        if mean.ndim:  # the kept axes' sizes, the others 1
            shape = [1] * len(self._broadcast_shape)
            for offset in range(1, mean.ndim + 1):
                shape[self._keep_axis[-offset]] = mean.shape[-offset]
            mean, variance = mean.reshape(shape), variance.reshape(shape)
        return np.broadcast_to(mean, self._broadcast_shape), np.broadcast_to(variance, self._broadcast_shape)

    def adapt(self, data):
        """The mean and variance of `data` (an array, or an iterable of batches, combined as Keras does) over every
        axis but the kept ones."""
        batches = [np.asarray(data)] if isinstance(data, np.ndarray) or np.isscalar(data) else \
            [np.asarray(b[0] if isinstance(b, tuple) else b) for b in data]
        if not batches:
            raise ValueError(f"{self.name}: adapt() received no data")
        if not self.built:
            self.build(batches[0].shape)
        if self.input_mean is not None:
            raise ValueError(f"{self.name}: adapt() cannot change a mean and variance given to the constructor")
        mean = variance = None
        total = 0
        for batch in batches:
            batch = batch.astype(np.float64)
            if any(batch.shape[a] != self._build_input_shape[a] for a in self._keep_axis):
                raise ValueError(f"{self.name}: adapt() received a batch of shape {batch.shape}; the kept axes must "
                                 f"match {self._build_input_shape}")
            batch_mean, batch_variance = batch.mean(axis=self._reduce_axis), batch.var(axis=self._reduce_axis)
            count = int(np.prod([batch.shape[a] for a in self._reduce_axis])) if self._reduce_axis else 1
            if mean is None:
                mean, variance, total = batch_mean, batch_variance, count
                continue
            total += count
            weight = count / total
            new_mean = mean * (1 - weight) + batch_mean * weight
            variance = ((variance + (mean - new_mean) ** 2) * (1 - weight)
                        + (batch_variance + (batch_mean - new_mean) ** 2) * weight)
            mean = new_mean
        self.adapt_mean.assign(mean)
        self.adapt_variance.assign(variance)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        mean, variance = self._statistics()
        scale = np.maximum(np.sqrt(variance), _EPSILON)
        y = mean + x * scale if self.invert else (x - mean) / scale
        return y.astype(np.float32), ((scale, x.shape) if training else None)

    def backward(self, ctx, d_outputs):
        scale, shape = ctx
        d_y = np.asarray(d_outputs, np.float32)
        d_x = d_y * scale if self.invert else d_y / scale
        return np.broadcast_to(d_x, shape).astype(np.float32), [None] * len(self.trainable_weights)

    def get_config(self):
        listed = lambda value: None if value is None else np.asarray(value).tolist()  # noqa: E731
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": listed(self.input_mean), "variance": listed(self.input_variance)}
