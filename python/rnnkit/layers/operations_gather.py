"""rnnkit.ops' take and take_along_axis (Keras' Take and TakeAlongAxis): elements of x picked by integer indices, which
are a symbolic tensor (ids, argsort's output) or constant (an int, nested lists of ints, an integer array); negative
indices count from the end. The gradient adds up at every element picked, once per pick; indices get none."""
import numpy as np

from rnnkit.layers.operations import _TENSOR, Operation, checked_axes
from rnnkit.layers.operations_elementwise import _broadcast_shape
from rnnkit.layers.operations_shape import _axes


class _Gather(Operation):
    def __init__(self, axis=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.axis = checked_axes(type(self).__name__, "axis", axis, several=False)

    def _take_arguments(self, arguments, is_tensor):
        tensors = super()._take_arguments(arguments, is_tensor)
        if self._arguments[1] is _TENSOR and np.dtype(str(arguments[1].dtype)).kind not in "iu":
            raise TypeError(f"{self.name}: expected integer indices, received a {arguments[1].dtype} tensor")
        return tensors

    def _check_constant(self, value):
        """Constant indices, kept as an int or nested tuples (Keras writes them as lists), or a Constant."""
        from rnnkit.layers.operations_constants import Constant

        if isinstance(value, Constant):
            indices = value
        else:
            indices = np.asarray(value)
            if indices.dtype == object:
                raise TypeError(f"{self.name}: expected integer indices, received {value!r}")
        if indices.dtype.kind not in "iu" and indices.size:
            raise TypeError(f"{self.name}: expected integer indices, received {value!r}")
        if isinstance(value, Constant):
            return value
        listed = indices.astype(np.int64).tolist()
        return listed if isinstance(listed, int) else _tuples(listed)

    def _indices_shape(self, values):
        return tuple(values[1]) if self._arguments[1] is _TENSOR else np.shape(values[1])

    def output_dtype(self, input_dtypes):
        return input_dtypes[0]

    def forward(self, inputs, *, training=False, mask=None):
        x, indices = self._values(inputs)
        x, indices = np.asarray(x), np.asarray(indices, np.int64)
        where = self.picks(x.shape, indices)
        try:
            y = x.reshape(-1)[where] if self.axis is None else x[where]
        except IndexError as error:
            raise ValueError(f"{self.name}: indices out of range for an array of shape {x.shape}: {error}") from None
        return y, ((x.shape, where) if training else None)

    def backward(self, ctx, d_outputs):
        shape, where = ctx
        d_x = np.zeros(shape, np.float32)
        np.add.at(d_x.reshape(-1) if self.axis is None else d_x, where, np.asarray(d_outputs, np.float32))
        return [d_x] + [None] * (len(self._tensor_positions) - 1), []


def _tuples(listed):
    return tuple(_tuples(item) for item in listed) if isinstance(listed, list) else listed


class Take(_Gather):
    """numpy's take: the output is x with its axis replaced by the indices' axes (x flattened without an axis)."""

    def output_shape(self, values):
        shape, indices_shape = list(values[0]), list(self._indices_shape(values))
        if self.axis is None:
            return tuple(indices_shape)
        axis = _axes(self.name, self.axis, len(shape))[0]
        return tuple(shape[:axis] + indices_shape + shape[axis + 1:])

    def picks(self, shape, indices):
        """An index into x (flattened without an axis) that picks the output's elements."""
        if self.axis is None:
            return indices
        axis = self.axis % len(shape)
        return (slice(None),) * axis + (indices,)

    def get_config(self):
        return {"name": self.name, "axis": self.axis}


class TakeAlongAxis(_Gather):
    """numpy's take_along_axis: indices of x's rank pick along `axis`, their other axes broadcast with x's (x
    flattened and 1-D indices without an axis)."""

    def output_shape(self, values):
        shape, indices_shape = list(values[0]), list(self._indices_shape(values))
        if self.axis is None:
            shape = [None if None in shape else int(np.prod(shape))]
        if len(shape) != len(indices_shape):
            raise ValueError(f"{self.name}: x and indices must have the same rank, received shapes {tuple(shape)} "
                             f"and {tuple(indices_shape)}")
        axis = 0 if self.axis is None else _axes(self.name, self.axis, len(shape))[0]
        shape[axis] = indices_shape[axis]
        return _broadcast_shape(self.name, [shape, indices_shape])

    def picks(self, shape, indices):
        """The fancy index of x that numpy's take_along_axis uses: the indices along the axis, each other axis's
        positions (or 0 where x has size 1, broadcast)."""
        if self.axis is None:
            shape = (int(np.prod(shape)),)
        if indices.ndim != len(shape):
            raise ValueError(f"{self.name}: x and indices must have the same rank, received shapes {shape} and "
                             f"{indices.shape}")
        axis = 0 if self.axis is None else self.axis % len(shape)
        output = list(np.broadcast_shapes(tuple(1 if i == axis else n for i, n in enumerate(shape)), indices.shape))
        where = []
        for i, size in enumerate(shape):
            if i == axis:
                where.append(np.broadcast_to(indices, output))
            else:
                positions = np.arange(output[i]) if size == output[i] else np.zeros(output[i], np.int64)
                where.append(positions.reshape([-1 if j == i else 1 for j in range(len(shape))]))
        return tuple(where)

    def get_config(self):
        return {"name": self.name, "axis": self.axis}


OPERATIONS = {cls.__name__: cls for cls in (Take, TakeAlongAxis)}
