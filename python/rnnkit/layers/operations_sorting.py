"""rnnkit.ops' sort, argsort and top_k (Keras' Sort and Argsort in keras.src.ops.numpy, TopK in keras.src.ops.math).
Ties keep their order (a stable sort; top_k's equal values come first index first), so indices are reproducible,
where torch's sort and topk may order equal values either way. Sorted values carry the gradient back to the elements
they came from; indices carry none. top_k always returns its values sorted, largest first: with sorted=False Keras
leaves the order to the backend."""
import math

import numpy as np

from rnnkit.layers.operations import Operation, checked_axes
from rnnkit.layers.operations_shape import _axes

MATH_MODULE = "keras.src.ops.math"


class _Ordering(Operation):
    """Along one axis (-1 by default), or the flattened tensor with axis=None."""

    def __init__(self, axis=-1, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.axis = checked_axes(type(self).__name__, "axis", axis, several=False)

    def output_shape(self, values):
        (shape,) = values
        if self.axis is None:
            return (None if None in shape else math.prod(shape),)
        _axes(self.name, self.axis, len(shape))
        return tuple(shape)

    def _order(self, x):
        """x as sorted (flattened without an axis), the axis, and the stable ascending order along it."""
        x = np.asarray(x)
        x = x.reshape(-1) if self.axis is None else x
        axis = -1 if self.axis is None else self.axis
        return x, axis, np.argsort(x, axis=axis, kind="stable")

    def get_config(self):
        return {"name": self.name, "axis": self.axis}


class Sort(_Ordering):
    def output_dtype(self, input_dtypes):
        return input_dtypes[0]

    def forward(self, inputs, *, training=False, mask=None):
        (x,) = self._values(inputs)
        flat, axis, order = self._order(x)
        return np.take_along_axis(flat, order, axis), ((np.shape(x), order, axis) if training else None)

    def backward(self, ctx, d_outputs):
        shape, order, axis = ctx
        d_x = np.zeros(order.shape, np.float32)
        np.put_along_axis(d_x, order, np.asarray(d_outputs, np.float32), axis)  # a permutation: each element once
        return [d_x.reshape(shape)], []


class Argsort(_Ordering):
    def output_dtype(self, input_dtypes):
        return "int32"

    def forward(self, inputs, *, training=False, mask=None):
        (x,) = self._values(inputs)
        return self._order(x)[2].astype(np.int32), None

    def backward(self, ctx, d_outputs):
        return [None], []


class TopK(Operation):
    """ops.top_k(x, k, sorted=True): the k largest values along the last axis and their indices (int32)."""

    module = MATH_MODULE

    def __init__(self, k, sorted=True, name=None, **kwargs):  # noqa: A002 (Keras' name)
        super().__init__(name=name, **kwargs)
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ValueError(f"TopK: expected k to be an integer >= 0, received {k!r}")
        self.k, self.sorted = k, bool(sorted)

    def output_shape(self, values):
        (shape,) = values
        if not shape or (shape[-1] is not None and shape[-1] < self.k):
            raise ValueError(f"{self.name}: cannot take the top {self.k} of the last axis of shape {tuple(shape)}")
        return [tuple(shape[:-1]) + (self.k,)] * 2

    def output_dtype(self, input_dtypes):
        return [input_dtypes[0], "int32"]

    def forward(self, inputs, *, training=False, mask=None):
        (x,) = self._values(inputs)
        x = np.asarray(x)
        if x.ndim == 0 or x.shape[-1] < self.k:
            raise ValueError(f"{self.name}: cannot take the top {self.k} of the last axis of shape {x.shape}")
        # Descending, ties first index first: a stable sort of the negated values (bools as integers).
        order = np.argsort(-x.astype(np.int8) if x.dtype == bool else -x, axis=-1, kind="stable")[..., :self.k]
        return [np.take_along_axis(x, order, -1), order.astype(np.int32)], ((x.shape, order) if training else None)

    def backward(self, ctx, d_outputs):
        shape, order = ctx
        d_x = np.zeros(shape, np.float32)
        if d_outputs[0] is not None:  # the indices' gradient (of a cast of them) is no gradient of x
            np.put_along_axis(d_x, order, np.asarray(d_outputs[0], np.float32), -1)
        return [d_x], []

    def get_config(self):
        return {"name": self.name, "k": self.k, "sorted": self.sorted}


OPERATIONS = {cls.__name__: cls for cls in (Sort, Argsort, TopK)}
