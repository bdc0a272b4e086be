"""Adaptive pooling over the steps axis (AdaptiveAveragePooling1D, AdaptiveMaxPooling1D): a fixed number of output
steps whatever the input's length. Output step t pools the input steps [floor(t * L / n), ceil((t + 1) * L / n)), the
bins Keras 3 takes from PyTorch; neighbouring bins may overlap. Like Keras these layers drop an incoming mask."""
import numpy as np

from rnnkit import _core
from rnnkit.layers import _windows
from rnnkit.layers._validation import expect_rank, float_input
from rnnkit.layers.layer import Layer


def _output_size(layer, value):
    if not isinstance(value, (int, np.integer, tuple, list)) or isinstance(value, bool):
        raise TypeError(f"{layer}: expected output_size to be an int or a tuple of one int, received {value!r} of "
                        f"type {type(value).__name__}")
    return _windows.one_int(layer, "output_size", value)


class _AdaptivePooling1D(Layer):
    def __init__(self, output_size, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.output_size = (_output_size(self.name, output_size),)
        self.data_format = _windows.data_format_name(self.name, data_format)

    def compute_output_shape(self, input_shape):
        expect_rank(self.name, input_shape, 3)
        _, channels = _windows.steps_and_channels(input_shape, self.data_format)
        return _windows.output_shape(input_shape, self.output_size[0], channels, self.data_format)

    def _input(self, inputs):
        x = float_input(self.name, inputs)
        expect_rank(self.name, x.shape, 3)
        x = _windows.steps_middle(x, self.data_format)
        if x.shape[1] == 0:
            raise ValueError(f"{self.name}: cannot pool an input of 0 steps to {self.output_size[0]} (input shape "
                             f"{np.shape(inputs)})")
        return x

    def _gradient_in(self, d_outputs):
        return _windows.steps_middle(np.asarray(d_outputs, dtype=np.float32), self.data_format)

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size, "data_format": self.data_format}


class AdaptiveAveragePooling1D(_AdaptivePooling1D):
    """The mean of each bin."""

    def forward(self, inputs, *, training=False, mask=None):
        x = self._input(inputs)
        y = _core.adaptive_average_pool_1d_forward(x, self.output_size[0])
        return _windows.steps_middle(y, self.data_format), (x.shape[1] if training else None)

    def backward(self, ctx, d_outputs):
        d_x = _core.adaptive_average_pool_1d_backward(self._gradient_in(d_outputs), ctx)
        return _windows.steps_middle(d_x, self.data_format), []


class AdaptiveMaxPooling1D(_AdaptivePooling1D):
    """The maximum of each bin (the first NaN wins); the gradient goes to the first step holding it."""

    def forward(self, inputs, *, training=False, mask=None):
        x = self._input(inputs)
        y, argmax = _core.adaptive_max_pool_1d_forward(x, self.output_size[0], training)
        return _windows.steps_middle(y, self.data_format), ((argmax, x.shape[1]) if training else None)

    def backward(self, ctx, d_outputs):
        argmax, steps = ctx
        d_x = _core.adaptive_max_pool_1d_backward(self._gradient_in(d_outputs), argmax, steps)
        return _windows.steps_middle(d_x, self.data_format), []
