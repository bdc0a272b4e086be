"""Pooling over the steps axis: windows (MaxPooling1D, AveragePooling1D) and the whole sequence
(GlobalAveragePooling1D, mask-aware, and GlobalMaxPooling1D)."""
import numpy as np

from rnnkit import _core
from rnnkit.layers import _windows
from rnnkit.layers._validation import expect_rank, float_input
from rnnkit.layers.layer import Layer


class _Pooling1D(Layer):
    """A window of pool_size steps moved strides steps at a time (strides None: pool_size). Positions in the padding
    of padding='same' are left out of each window. Like Keras it drops an incoming mask."""

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.pool_size = _windows.one_int(self.name, "pool_size", pool_size)
        self.strides = self.pool_size if strides is None else _windows.one_int(self.name, "strides", strides)
        self.padding = _windows.padding_name(self.name, padding, ("valid", "same"))
        self.data_format = _windows.data_format_name(self.name, data_format)

    def _steps_out(self, steps):
        return _windows.steps_out(self.name, steps, self.pool_size, self.strides, 1, self.padding,
                                  f"pool_size={self.pool_size}")

    def compute_output_shape(self, input_shape):
        expect_rank(self.name, input_shape, 3)
        steps, channels = _windows.steps_and_channels(input_shape, self.data_format)
        return _windows.output_shape(input_shape, self._steps_out(steps), channels, self.data_format)

    def _input(self, inputs):
        x = float_input(self.name, inputs)
        expect_rank(self.name, x.shape, 3)
        x = _windows.steps_middle(x, self.data_format)
        self._steps_out(x.shape[1])
        return x

    def _gradient_in(self, d_outputs):
        return _windows.steps_middle(np.asarray(d_outputs, dtype=np.float32), self.data_format)

    def get_config(self):
        return {**super().get_config(), "pool_size": (self.pool_size,), "padding": self.padding,
                "strides": (self.strides,), "data_format": self.data_format}


class MaxPooling1D(_Pooling1D):
    """The maximum of each window (the first NaN wins); the gradient goes to the first step holding it."""

    def forward(self, inputs, *, training=False, mask=None):
        x = self._input(inputs)
        y, argmax = _core.max_pool_1d_forward(x, self.pool_size, self.strides, self.padding, training)
        return _windows.steps_middle(y, self.data_format), ((argmax, x.shape[1]) if training else None)

    def backward(self, ctx, d_outputs):
        argmax, steps = ctx
        d_x = _core.max_pool_1d_backward(self._gradient_in(d_outputs), argmax, steps, self.pool_size, self.strides,
                                         self.padding)
        return _windows.steps_middle(d_x, self.data_format), []


class AveragePooling1D(_Pooling1D):
    """The mean of each window over the steps it covers inside the input."""

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size=pool_size, strides=strides, padding=padding, data_format=data_format, name=name,
                         **kwargs)

    def forward(self, inputs, *, training=False, mask=None):
        x = self._input(inputs)
        y = _core.average_pool_1d_forward(x, self.pool_size, self.strides, self.padding)
        return _windows.steps_middle(y, self.data_format), (x.shape[1] if training else None)

    def backward(self, ctx, d_outputs):
        d_x = _core.average_pool_1d_backward(self._gradient_in(d_outputs), ctx, self.pool_size, self.strides,
                                             self.padding)
        return _windows.steps_middle(d_x, self.data_format), []


class _GlobalPooling1D(Layer):
    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _windows.data_format_name(self.name, data_format)
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        expect_rank(self.name, input_shape, 3)
        batch = input_shape[0]
        features = input_shape[2] if self.data_format == "channels_last" else input_shape[1]
        if not self.keepdims:
            return (batch, features)
        return (batch, 1, features) if self.data_format == "channels_last" else (batch, features, 1)

    def _steps_last_to_middle(self, inputs):
        """The input as (batch, steps, features), whatever the data format."""
        x = float_input(self.name, inputs)
        expect_rank(self.name, x.shape, 3)
        return _windows.steps_middle(x, self.data_format)

    def _shape_output(self, pooled):
        if not self.keepdims:
            return pooled
        return pooled[:, None, :] if self.data_format == "channels_last" else pooled[:, :, None]

    def _shape_input_gradient(self, d_x):
        return _windows.steps_middle(d_x, self.data_format)

    def _pooled_gradient(self, d_outputs):
        d_y = np.asarray(d_outputs, dtype=np.float32)
        return np.ascontiguousarray(d_y.reshape(d_y.shape[0], -1))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling1D(_GlobalPooling1D):
    """Mean over the steps; with a mask, over the unmasked steps only. Its output carries no mask."""

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format=data_format, keepdims=keepdims, **kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None

    def forward(self, inputs, *, training=False, mask=None):
        x = self._steps_last_to_middle(inputs)
        kept = None if mask is None else np.ascontiguousarray(mask, dtype=np.uint8)
        pooled = _core.global_average_pool_1d_forward(x, kept)
        return self._shape_output(pooled), ((kept, x.shape[1]) if training else None)

    def backward(self, ctx, d_outputs):
        kept, steps = ctx
        d_x = _core.global_average_pool_1d_backward(self._pooled_gradient(d_outputs), kept, steps)
        return self._shape_input_gradient(d_x), []


class GlobalMaxPooling1D(_GlobalPooling1D):
    """Max over the steps (masks are not consulted, as in Keras 3). Ties send the gradient to the first step."""

    def forward(self, inputs, *, training=False, mask=None):
        x = self._steps_last_to_middle(inputs)
        pooled, argmax = _core.global_max_pool_1d_forward(x)
        return self._shape_output(pooled), ((argmax, x.shape[1]) if training else None)

    def backward(self, ctx, d_outputs):
        argmax, steps = ctx
        d_x = _core.global_max_pool_1d_backward(self._pooled_gradient(d_outputs), argmax, steps)
        return self._shape_input_gradient(d_x), []
