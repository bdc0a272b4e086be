"""Merge layers over a list of inputs: Concatenate, Add, Subtract and Average, with Keras 3's mask rules."""
import numpy as np

from rnnkit.layers._validation import float_input
from rnnkit.layers.layer import Layer


def _expect_input_list(layer, inputs):
    if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
        raise ValueError(f"{layer}: expected a list of at least 2 inputs, received {type(inputs).__name__}"
                         f"{'' if not isinstance(inputs, (list, tuple)) else f' of length {len(inputs)}'}")


def _unbroadcast(gradient, shape):
    """Sum a gradient over the axes along which an input of ``shape`` was broadcast."""
    extra = gradient.ndim - len(shape)
    gradient = gradient.sum(axis=tuple(range(extra))) if extra else gradient
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and gradient.shape[i] != 1)
    return gradient.sum(axis=axes, keepdims=True) if axes else gradient


class Concatenate(Layer):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)
        self.supports_masking = True

    def compute_output_shape(self, input_shape):
        _expect_input_list(self.name, input_shape)
        output = list(input_shape[0])
        sizes = [s[self.axis] for s in input_shape]
        output[self.axis] = None if any(d is None for d in sizes) else sum(sizes)
        return tuple(output)

    def _check_shapes(self, shapes):
        rank = len(shapes[0])
        axis = self.axis % rank if rank else 0
        for shape in shapes:
            others = [d for i, d in enumerate(shape) if i != axis]
            reference = [d for i, d in enumerate(shapes[0]) if i != axis]
            if len(shape) != rank or others != reference:
                raise ValueError(f"{self.name}: inputs must match in every axis but the concatenation axis "
                                 f"{self.axis}; received shapes {[tuple(s) for s in shapes]}")

    def forward(self, inputs, *, training=False, mask=None):
        _expect_input_list(self.name, inputs)
        arrays = [float_input(self.name, x) for x in inputs]
        self._check_shapes([a.shape for a in arrays])
        sizes = [a.shape[self.axis] for a in arrays]
        return np.concatenate(arrays, axis=self.axis), (sizes if training else None)

    def backward(self, ctx, d_outputs):
        splits = np.cumsum(ctx)[:-1]
        parts = np.split(np.asarray(d_outputs, dtype=np.float32), splits, axis=self.axis)
        return [np.ascontiguousarray(p) for p in parts], []

    def compute_mask(self, inputs, mask=None):
        if mask is None or all(m is None for m in mask):
            return None
        expanded = []
        for x, m in zip(inputs, mask):
            if m is None:
                expanded.append(np.ones(np.shape(x), dtype=bool))
            elif np.ndim(m) < np.ndim(x):
                expanded.append(np.broadcast_to(np.asarray(m, dtype=bool)[..., None], np.shape(x)))
            else:
                expanded.append(np.asarray(m, dtype=bool))
        return np.any(np.concatenate(expanded, axis=self.axis), axis=-1)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Add(Layer):
    """The element-wise sum of its inputs (broadcast against each other); Subtract and Average reuse it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_output_shape(self, input_shape):
        _expect_input_list(self.name, input_shape)
        rank = max(len(s) for s in input_shape)
        padded = [(1,) * (rank - len(s)) + tuple(s) for s in input_shape]
        output = []
        for sizes in zip(*padded):
            known = {d for d in sizes if d not in (None, 1)}
            if len(known) > 1:
                raise ValueError(f"{self.name}: input shapes {list(input_shape)} cannot be added")
            output.append(known.pop() if known else (None if None in sizes else 1))
        return tuple(output)

    def forward(self, inputs, *, training=False, mask=None):
        _expect_input_list(self.name, inputs)
        arrays = [float_input(self.name, x) for x in inputs]
        try:
            total = np.add.reduce(np.broadcast_arrays(*arrays))
        except ValueError:
            raise ValueError(f"{self.name}: input shapes {[a.shape for a in arrays]} cannot be added") from None
        return total.astype(np.float32), ([a.shape for a in arrays] if training else None)

    def backward(self, ctx, d_outputs):
        d_y = np.asarray(d_outputs, dtype=np.float32)
        return [np.ascontiguousarray(_unbroadcast(d_y, shape)) for shape in ctx], []

    def compute_mask(self, inputs, mask=None):
        if mask is None or any(m is None for m in mask):
            return None
        return np.logical_or.reduce([np.asarray(m, dtype=bool) for m in mask])


class Subtract(Add):
    """inputs[0] - inputs[1], exactly two inputs."""

    def _check_count(self, inputs):
        if isinstance(inputs, (list, tuple)) and len(inputs) != 2:
            raise ValueError(f"{self.name}: expected exactly 2 inputs, received {len(inputs)}")

    def compute_output_shape(self, input_shape):
        self._check_count(input_shape)
        return super().compute_output_shape(input_shape)

    def forward(self, inputs, *, training=False, mask=None):
        self._check_count(inputs)
        _expect_input_list(self.name, inputs)
        first, second = (float_input(self.name, x) for x in inputs)
        try:
            difference = np.subtract(first, second)
        except ValueError:
            raise ValueError(f"{self.name}: input shapes {[first.shape, second.shape]} cannot be subtracted") from None
        return difference.astype(np.float32), ([first.shape, second.shape] if training else None)

    def backward(self, ctx, d_outputs):
        d_first, d_second = super().backward(ctx, d_outputs)[0]
        return [d_first, np.negative(d_second)], []


class Average(Add):
    """The element-wise mean of its inputs."""

    def forward(self, inputs, *, training=False, mask=None):
        total, ctx = super().forward(inputs, training=training, mask=mask)
        return (total / np.float32(len(inputs))).astype(np.float32), ctx

    def backward(self, ctx, d_outputs):
        return super().backward(ctx, np.asarray(d_outputs, dtype=np.float32) / np.float32(len(ctx)))
