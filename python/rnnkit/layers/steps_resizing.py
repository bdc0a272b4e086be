"""Layers that resize the steps axis of a (batch, steps, features) input: ZeroPadding1D, Cropping1D and
UpSampling1D, and the Identity layer. Each output step is a copy of one input step or zeros, so the gradient of an
input step is the sum of its copies' (``_source_steps``). As in Keras 3 the three drop an incoming mask."""
import numpy as np

from rnnkit.layers._validation import expect_rank, float_input, positive_int
from rnnkit.layers.layer import Layer


def _pair(layer, arg, value):
    """Keras' int-or-pair argument as (before, after) non-negative ints."""
    pair = (value, value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else tuple(value)
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0 for v in pair):
        raise ValueError(f"{layer}: expected {arg} to be a non-negative int or a pair of them, received {value!r}")
    return int(pair[0]), int(pair[1])


class _StepsResizing(Layer):
    """Rank-3 input; the resized axis is ``_axis`` (1, or 2 for ZeroPadding1D's channels_first)."""

    _axis = 1

    def _output_length(self, length):
        raise NotImplementedError

    def _source_steps(self, length):
        """For each output position along the axis, the input position it copies, or -1 for zeros."""
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        expect_rank(self.name, input_shape, 3)
        shape = list(input_shape)
        if shape[self._axis] is not None:
            shape[self._axis] = self._output_length(shape[self._axis])
        return tuple(shape)

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        expect_rank(self.name, x.shape, 3)
        source = self._source_steps(x.shape[self._axis])
        taken = np.take(x, np.maximum(source, 0), axis=self._axis)
        keep = (source >= 0).reshape([-1 if axis == self._axis else 1 for axis in range(3)])
        return np.where(keep, taken, np.float32(0.0)).astype(np.float32), (x.shape, source) if training else None

    def backward(self, ctx, d_outputs):
        shape, source = ctx
        d_y = np.moveaxis(np.asarray(d_outputs, np.float32), self._axis, 0)
        d_x = np.zeros((shape[self._axis],) + d_y.shape[1:], np.float32)
        np.add.at(d_x, source[source >= 0], d_y[source >= 0])
        return np.ascontiguousarray(np.moveaxis(d_x, 0, self._axis)), []


class ZeroPadding1D(_StepsResizing):
    """Zeros before and after the steps: ``padding`` an int (both sides) or (before, after)."""

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pair(self.name, "padding", padding)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(f"{self.name}: expected data_format 'channels_last' or 'channels_first', "
                             f"received {data_format!r}")
        self.data_format = data_format or "channels_last"
        self._axis = 2 if self.data_format == "channels_first" else 1

    def _output_length(self, length):
        return length + sum(self.padding)

    def _source_steps(self, length):
        return np.concatenate([np.full(self.padding[0], -1), np.arange(length), np.full(self.padding[1], -1)])

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class Cropping1D(_StepsResizing):
    """Drops steps at the start and the end: ``cropping`` an int (both ends) or (start, end)."""

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pair(self.name, "cropping", cropping)

    def _output_length(self, length):
        if sum(self.cropping) >= length:
            raise ValueError(f"{self.name}: cropping {self.cropping} leaves no step of {length}")
        return length - sum(self.cropping)

    def _source_steps(self, length):
        return np.arange(self.cropping[0], self.cropping[0] + self._output_length(length))

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping}


class UpSampling1D(_StepsResizing):
    """Repeats each step ``size`` times."""

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = positive_int(self.name, "size", size)

    def _output_length(self, length):
        return length * self.size

    def _source_steps(self, length):
        return np.repeat(np.arange(length), self.size)

    def get_config(self):
        return {**super().get_config(), "size": self.size}


class Identity(Layer):
    """Its input, and its mask, unchanged."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, inputs, *, training=False, mask=None):
        return np.asarray(inputs), None  # any dtype: token ids pass too

    def backward(self, ctx, d_outputs):
        return np.asarray(d_outputs, np.float32), []
