"""Shape-only layers: Flatten, RepeatVector, Reshape and Permute."""
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


class Reshape(Layer):
    """(batch, ...) -> (batch, *target_shape); one entry of target_shape may be -1, inferred from the size. Like
    Keras 3 it drops an incoming mask."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if any(d == 0 or d < -1 for d in self.target_shape) or self.target_shape.count(-1) > 1:
            raise ValueError(f"{self.name}: expected target_shape of positive sizes and at most one -1, received "
                             f"{tuple(target_shape)}")

    def _resolved(self, input_shape):
        rest = input_shape[1:]
        if -1 not in self.target_shape:
            if None not in rest and math.prod(rest) != math.prod(self.target_shape):
                raise ValueError(f"{self.name}: cannot reshape an input of shape {tuple(input_shape)} "
                                 f"({math.prod(rest)} values a sample) to {self.target_shape}")
            return self.target_shape
        if None in rest:
            return tuple(None if d == -1 else d for d in self.target_shape)
        known = -math.prod(self.target_shape)
        if math.prod(rest) % known:
            raise ValueError(f"{self.name}: cannot reshape an input of shape {tuple(input_shape)} "
                             f"({math.prod(rest)} values a sample) to {self.target_shape}")
        return tuple(math.prod(rest) // known if d == -1 else d for d in self.target_shape)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._resolved(tuple(input_shape))

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        expect_min_rank(self.name, x.shape, 1)
        return x.reshape((x.shape[0],) + self._resolved(x.shape)), (x.shape if training else None)

    def backward(self, ctx, d_outputs):
        return np.asarray(d_outputs, dtype=np.float32).reshape(ctx), []

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


class Permute(Layer):
    """Reorders the non-batch axes: dims is a permutation of 1..rank-1 (Keras' 1-indexed form). Like Keras 3 it drops
    an incoming mask."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"{self.name}: expected dims to be a permutation of 1..{len(self.dims)}, received "
                             f"{tuple(dims)}")

    def compute_output_shape(self, input_shape):
        expect_rank(self.name, input_shape, len(self.dims) + 1)
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        expect_rank(self.name, x.shape, len(self.dims) + 1)
        return np.ascontiguousarray(x.transpose((0,) + self.dims)), (True if training else None)

    def backward(self, ctx, d_outputs):
        inverse = np.argsort((0,) + self.dims)
        return np.ascontiguousarray(np.asarray(d_outputs, dtype=np.float32).transpose(inverse)), []

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}
