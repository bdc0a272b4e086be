"""Keras 3's UnitNormalization (x over its L2 norm) and RMSNormalization (x over its root mean square, times a
learned scale) over one axis or several. Each forward beside its backward; numpy, a few array passes."""
import numpy as np

from rnnkit.layers._gradients import for_trainable_weights
from rnnkit.layers._validation import float_input
from rnnkit.layers.layer import Layer
from rnnkit.layers.operations_shape import _axes as _positive_axes

# Keras' lower bound on the norm UnitNormalization divides by.
_UNIT_NORM_FLOOR = 1e-12


def _axes(layer, axis):
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    if not axes or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axes):
        raise TypeError(f"{layer}: invalid value for `axis`: expected an int or a list/tuple of ints, received "
                        f"axis={axis!r}")
    return [int(a) for a in axes]


class UnitNormalization(Layer):
    """x / max(||x||, 1e-12), the L2 norm taken over `axis`."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self._axes = _axes(self.name, axis)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else int(axis)
        self.supports_masking = True

    def compute_output_shape(self, input_shape):
        _positive_axes(self.name, self._axes, len(input_shape))
        return tuple(input_shape)

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        axes = _positive_axes(self.name, self._axes, x.ndim)
        inverse = np.minimum(1.0 / np.sqrt(np.sum(np.square(x, dtype=np.float64), axis=axes, keepdims=True)),
                             1.0 / _UNIT_NORM_FLOOR)
        y = (x * inverse).astype(np.float32)
        return y, ((y, inverse, axes) if training else None)

    def backward(self, ctx, d_outputs):
        y, inverse, axes = ctx
        d_y = np.asarray(d_outputs, dtype=np.float64)
        clamped = inverse >= 1.0 / _UNIT_NORM_FLOOR  # a constant factor there, no projection
        along = np.where(clamped, 0.0, np.sum(d_y * y, axis=axes, keepdims=True))
        return (inverse * (d_y - y * along)).astype(np.float32), []

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class RMSNormalization(Layer):
    """x / sqrt(mean(x², over `axis`) + epsilon) * scale, scale a weight over the normalised axes (ones at first)."""

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self._axes = _axes(self.name, axis)
        self.axis = axis
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        axes = _positive_axes(self.name, self._axes, len(input_shape))
        if any(input_shape[a] is None for a in axes):
            raise ValueError(f"{self.name}: the normalised axes must have known sizes, received input shape "
                             f"{tuple(input_shape)}")
        self.scale = self.add_weight(tuple(input_shape[a] for a in axes), "ones", name="scale")
        self.axis = sorted(self._axes) if isinstance(self.axis, (list, tuple)) else [self.axis]  # as Keras' build
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _broadcast_scale(self, axes, rank):
        shape = [1] * rank
        for a, size in zip(axes, self.scale.value.shape):
            shape[a] = size
        return self.scale.value.reshape(shape)

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        axes = _positive_axes(self.name, self._axes, x.ndim)
        inverse = 1.0 / np.sqrt(np.mean(np.square(x, dtype=np.float64), axis=axes, keepdims=True) + self.epsilon)
        normalised = x * inverse
        y = (normalised * self._broadcast_scale(axes, x.ndim)).astype(np.float32)
        return y, ((normalised, inverse, axes) if training else None)

    def backward(self, ctx, d_outputs):
        normalised, inverse, axes = ctx
        d_y = np.asarray(d_outputs, dtype=np.float64)
        others = tuple(a for a in range(d_y.ndim) if a not in axes)
        d_scale = np.sum(d_y * normalised, axis=others).reshape(self.scale.value.shape).astype(np.float32)
        d_normalised = d_y * self._broadcast_scale(axes, d_y.ndim)
        d_x = inverse * (d_normalised - normalised * np.mean(d_normalised * normalised, axis=axes, keepdims=True))
        return d_x.astype(np.float32), for_trainable_weights(self, [(self.scale, d_scale)])

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}
