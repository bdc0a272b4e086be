"""Keras 3's activation layers with arguments: ReLU, LeakyReLU, ELU, PReLU and Softmax. Element-wise numpy (no loop
over steps); the backward reads the layer's input. Each keeps its input's mask."""
import numpy as np

from rnnkit import activations, constraints, initializers, regularizers
from rnnkit.layers._gradients import for_trainable_weights
from rnnkit.layers._validation import float_input
from rnnkit.layers.layer import Layer


class _ElementwiseActivation(Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _value(self, x):
        raise NotImplementedError

    def _slope(self, x):
        raise NotImplementedError

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        return self._value(x).astype(np.float32), (x if training else None)

    def backward(self, ctx, d_outputs):
        return (np.asarray(d_outputs, dtype=np.float32) * self._slope(ctx)).astype(np.float32), []


def _number(layer, name, value):
    """A float argument that Keras refuses as None (its default is not taken for an explicit None)."""
    if value is None:
        raise ValueError(f"{layer}: {name} must be a number, received None")
    return float(value)


def _non_negative(layer, name, value):
    value = _number(layer, name, value)
    if value < 0:
        raise ValueError(f"{layer}: {name} must be >= 0, received {name}={value}")
    return value


class ReLU(_ElementwiseActivation):
    """Keras' relu with arguments: x above threshold (0 and up to max_value when it is set), else 0, minus
    negative_slope * (threshold - x) below threshold."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = None if max_value is None else _non_negative(self.name, "max_value", max_value)
        self.negative_slope = _non_negative(self.name, "negative_slope", negative_slope)
        self.threshold = _non_negative(self.name, "threshold", threshold)

    def _value(self, x):
        return activations.relu_with_arguments(x, self.negative_slope, self.max_value, self.threshold)

    def _slope(self, x):
        passes = (x > self.threshold) & (x > 0.0)
        if self.max_value is not None:
            passes &= x < self.max_value
        return passes + self.negative_slope * (x < self.threshold)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class LeakyReLU(_ElementwiseActivation):
    """x above 0, negative_slope * x below (Keras 3's layer defaults to 0.3; the "leaky_relu" activation to 0.2)."""

    def __init__(self, negative_slope=0.3, **kwargs):
        negative_slope = kwargs.pop("alpha", negative_slope)  # Keras 2's name, still in older configs
        super().__init__(**kwargs)
        self.negative_slope = _non_negative(self.name, "negative_slope", negative_slope)

    def _value(self, x):
        return np.where(x > 0.0, x, np.float32(self.negative_slope) * x)

    def _slope(self, x):
        return np.where(x > 0.0, 1.0, self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ELU(_ElementwiseActivation):
    """x above 0, alpha * (e^x - 1) below."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = _number(self.name, "alpha", alpha)

    def _value(self, x):
        return np.where(x > 0.0, x, np.float32(self.alpha) * np.expm1(np.minimum(x, 0.0)))

    def _slope(self, x):
        return np.where(x > 0.0, 1.0, self.alpha * np.exp(np.minimum(x, 0.0)))

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class PReLU(_ElementwiseActivation):
    """x above 0, alpha * x below, with alpha a learned weight of the input's shape without the batch axis (size 1
    along `shared_axes`, counted from 1 for the axis after the batch's)."""

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        axes = [] if shared_axes is None else list(shared_axes) if isinstance(shared_axes, (list, tuple)) \
            else [shared_axes]
        if any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) or a < 1 for a in axes):
            raise ValueError(f"{self.name}: shared_axes are input axes after the batch's (1, 2, ...), received "
                             f"{shared_axes!r}")
        self.shared_axes = None if shared_axes is None else [int(a) for a in axes]

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or []:
            if axis > len(shape):
                raise ValueError(f"{self.name}: shared axis {axis} is beyond the input's rank {len(input_shape)}")
            shape[axis - 1] = 1
        if any(size is None for size in shape):
            raise ValueError(f"{self.name}: every axis not in shared_axes must have a known size, received input "
                             f"shape {tuple(input_shape)}")
        self.alpha = self.add_weight(tuple(shape), self.alpha_initializer, name="alpha",
                                     regularizer=self.alpha_regularizer, constraint=self.alpha_constraint)
        self.built = True

    def _value(self, x):
        return np.maximum(x, np.float32(0)) + self.alpha.value * np.minimum(x, np.float32(0))

    def backward(self, x, d_outputs):
        d_y = np.asarray(d_outputs, dtype=np.float32)
        d_x = np.where(x > 0, d_y, self.alpha.value * d_y).astype(np.float32)
        d_alpha = d_y * np.minimum(x, np.float32(0))
        summed = tuple(axis for axis in range(x.ndim) if axis == 0 or x.shape[axis] != 1 and
                       self.alpha.value.shape[axis - 1] == 1)
        d_alpha = d_alpha.sum(axis=summed, keepdims=True).reshape(self.alpha.value.shape).astype(np.float32)
        return d_x, for_trainable_weights(self, [(self.alpha, d_alpha)])

    def get_config(self):
        return {**super().get_config(), "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
                "alpha_constraint": constraints.serialize(self.alpha_constraint), "shared_axes": self.shared_axes}


# What Keras adds to the masked logits of a float32 softmax.
_MASKED_LOGIT = np.float32(-1e9)


class Softmax(Layer):
    """Softmax over the last axis. A mask of the input's shape keeps the masked entries out (Keras adds -1e9 to
    their logits); a mask of lower rank (a sequence's steps) is passed on and leaves the values alone."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if len(axes) != 1:
            raise ValueError(f"{self.name}: rnnkit's Softmax takes one axis, the last; received axis={axis!r}")
        self.axis = int(axes[0])
        self.supports_masking = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        if self.axis not in (-1, x.ndim - 1):
            raise ValueError(f"{self.name}: rnnkit's Softmax normalises the last axis only; received axis="
                             f"{self.axis} for an input of shape {x.shape}")
        if mask is not None and np.shape(mask) == x.shape:
            x = x + (1.0 - np.asarray(mask, dtype=np.float32)) * _MASKED_LOGIT
        y = activations.softmax(x)
        return y, (y if training else None)

    def backward(self, ctx, d_outputs):
        return activations.gradient("softmax", ctx, np.asarray(d_outputs, dtype=np.float32)), []

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
