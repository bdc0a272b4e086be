"""Shape-only layers: Flatten and RepeatVector."""
import math

import numpy as np

from rnnkit.layers._validation import expect_min_rank, expect_rank, float_input, positive_int
from rnnkit.layers.layer import Layer


class Flatten(Layer):
    """(batch, d1, d2, ...) -> (batch, d1 * d2 * ...); channels_first inputs are moved to channels_last first."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(f"{self.name}: expected data_format 'channels_last' or 'channels_first', "
                             f"received {data_format!r}")
        self.data_format = data_format or "channels_last"

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if any(d is None for d in rest) else math.prod(rest))

    def _to_channels_last(self, x):
        if self.data_format == "channels_first" and x.ndim > 2:
            return np.moveaxis(x, 1, -1)
        return x

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        expect_min_rank(self.name, x.shape, 1)
        y = np.ascontiguousarray(self._to_channels_last(x)).reshape(x.shape[0], -1)
        return y, (x.shape if training else None)

    def backward(self, ctx, d_outputs):
        input_shape = ctx
        d_y = np.asarray(d_outputs, dtype=np.float32)
        if self.data_format == "channels_first" and len(input_shape) > 2:
            moved = (input_shape[0],) + tuple(input_shape[2:]) + (input_shape[1],)
            return np.ascontiguousarray(np.moveaxis(d_y.reshape(moved), -1, 1)), []
        return d_y.reshape(input_shape), []

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class RepeatVector(Layer):
    """(batch, features) -> (batch, n, features)."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = positive_int(self.name, "n", n)

    def compute_output_shape(self, input_shape):
        expect_rank(self.name, input_shape, 2)
        return (input_shape[0], self.n, input_shape[1])

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        expect_rank(self.name, x.shape, 2)
        return np.repeat(x[:, None, :], self.n, axis=1), (True if training else None)

    def backward(self, ctx, d_outputs):
        return np.asarray(d_outputs, dtype=np.float32).sum(axis=1), []

    def get_config(self):
        return {**super().get_config(), "n": self.n}
