"""rnnkit.ops' matmul, softmax, reshape, stack and cast on symbolic tensors, as Keras' classes of the same names
(Matmul, Reshape and Stack in keras.src.ops.numpy, Softmax in keras.src.ops.nn, Cast in keras.src.ops.core)."""
import math

import numpy as np

from rnnkit.layers.merging import _unbroadcast
from rnnkit.layers.operations import NN_MODULE, Operation, checked_axes
from rnnkit.layers.operations_elementwise import _broadcast_shape
from rnnkit.layers.operations_shape import _Reshaping

CORE_MODULE = "keras.src.ops.core"


class _TensorsOnly(Operation):
    def _check_constant(self, value):
        raise TypeError(f"{self.name}: expected tensors as its operands, received {value!r}")


class Matmul(_TensorsOnly):
    """numpy's matmul of tensors of rank 2 or more: the last two axes multiply, the others broadcast. An operand
    may be a Constant (x @ ops.eye(3)), as Keras keeps a tensor among a node's arguments."""

    def _check_constant(self, value):
        from rnnkit.layers.operations_constants import Constant

        return value if isinstance(value, Constant) else super()._check_constant(value)

    def output_dtype(self, input_dtypes):
        return "float32"

    def output_shape(self, values):
        a, b = (v if isinstance(v, tuple) else np.shape(v) for v in values)
        if len(a) < 2 or len(b) < 2:
            raise ValueError(f"{self.name}: rnnkit multiplies tensors of rank 2 or more, received {a} and {b}")
        if a[-1] is not None and b[-2] is not None and a[-1] != b[-2]:
            raise ValueError(f"{self.name}: cannot multiply shapes {a} and {b} (inner sizes {a[-1]} and {b[-2]})")
        return _broadcast_shape(self.name, [a[:-2], b[:-2]]) + (a[-2], b[-1])

    def forward(self, inputs, *, training=False, mask=None):
        a, b = (np.asarray(v, np.float32) for v in self._values(inputs))
        try:
            y = np.matmul(a, b)
        except ValueError as error:
            raise ValueError(f"{self.name}: cannot multiply arrays of shapes {a.shape} and {b.shape}: {error}") \
                from None
        return y, ((a, b) if training else None)

    def backward(self, ctx, d_outputs):
        a, b = ctx
        d_y = np.asarray(d_outputs, np.float32)
        d_a = np.matmul(d_y, np.swapaxes(b, -1, -2))
        d_b = np.matmul(np.swapaxes(a, -1, -2), d_y)
        gradients = [np.array(_unbroadcast(d_a, a.shape), np.float32), np.array(_unbroadcast(d_b, b.shape), np.float32)]
        return [gradients[i] for i in self._tensor_positions], []


class Softmax(_TensorsOnly):
    module = NN_MODULE

    def __init__(self, axis=-1, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.axis = checked_axes("Softmax", "axis", axis, several=False, optional=False)

    def output_dtype(self, input_dtypes):
        return "float32"

    def output_shape(self, values):
        (shape,) = values
        if not -len(shape) <= self.axis < len(shape):
            raise ValueError(f"{self.name}: axis {self.axis} is out of range for a tensor of rank {len(shape)}")
        return tuple(shape)

    def forward(self, inputs, *, training=False, mask=None):
        (x,) = self._values(inputs)
        x = np.asarray(x, np.float32)
        e = np.exp(x - np.max(x, axis=self.axis, keepdims=True))
        y = e / np.sum(e, axis=self.axis, keepdims=True)
        return y, (y if training else None)

    def backward(self, ctx, d_outputs):
        y, d_y = ctx, np.asarray(d_outputs, np.float32)
        return [y * (d_y - np.sum(d_y * y, axis=self.axis, keepdims=True))], []

    def get_config(self):
        return {"name": self.name, "axis": self.axis}


class Reshape(_Reshaping, _TensorsOnly):
    """numpy's reshape to `newshape`, batch axis included (one size may be -1)."""

    def __init__(self, newshape, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.newshape = checked_axes("Reshape", "newshape", newshape, optional=False)
        self.newshape = [self.newshape] if isinstance(self.newshape, int) else self.newshape
        if sum(size == -1 for size in self.newshape) > 1 or any(size < -1 for size in self.newshape):
            raise ValueError(f"Reshape: expected sizes >= 0 and at most one -1, received {newshape!r}")

    def output_shape(self, values):
        (shape,) = values
        if None in shape:
            return tuple(None if size == -1 else size for size in self.newshape)
        total, known = math.prod(shape), math.prod(size for size in self.newshape if size != -1)
        if (-1 in self.newshape and (known == 0 or total % known)) or (-1 not in self.newshape and total != known):
            raise ValueError(f"{self.name}: cannot reshape {tuple(shape)} to {tuple(self.newshape)}")
        return tuple(total // known if size == -1 else size for size in self.newshape)

    def forward(self, inputs, *, training=False, mask=None):
        (x,) = self._values(inputs)
        try:
            y = np.reshape(x, self.newshape)
        except ValueError:
            raise ValueError(f"{self.name}: cannot reshape an array of shape {np.shape(x)} to "
                             f"{tuple(self.newshape)}") from None
        return y, (np.shape(x) if training else None)

    def get_config(self):
        return {"name": self.name, "newshape": list(self.newshape)}


class Stack(_TensorsOnly):
    """ops.stack(xs, axis=0): Keras' default axis, a new first axis before the batch."""

    def __init__(self, axis=0, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.axis = checked_axes("Stack", "axis", axis, several=False, optional=False)

    def output_dtype(self, input_dtypes):
        return "float32" if "float32" in input_dtypes else input_dtypes[0]

    def output_shape(self, values):
        (shapes,) = values
        shape = _broadcast_shape(self.name, shapes)
        if any(len(s) != len(shape) for s in shapes) or not -len(shape) - 1 <= self.axis <= len(shape):
            raise ValueError(f"{self.name}: cannot stack shapes {[tuple(s) for s in shapes]} on axis {self.axis}")
        axis = self.axis % (len(shape) + 1)
        return shape[:axis] + (len(shapes),) + shape[axis:]

    def forward(self, inputs, *, training=False, mask=None):
        (xs,) = self._values(inputs)
        try:
            y = np.stack(xs, axis=self.axis)
        except ValueError as error:
            raise ValueError(f"{self.name}: {error}") from None
        return y, (len(xs) if training else None)

    def backward(self, ctx, d_outputs):
        d_y = np.asarray(d_outputs, np.float32)
        return [np.ascontiguousarray(np.take(d_y, i, axis=self.axis)) for i in range(ctx)], []

    def get_config(self):
        return {"name": self.name, "axis": self.axis}


class Cast(_TensorsOnly):
    """ops.cast(x, dtype) to float32, int32 or int64 (rnnkit computes in float32); no gradient into integers."""

    module = CORE_MODULE
    DTYPES = ("float32", "int32", "int64")

    def __init__(self, dtype, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.target = dtype if isinstance(dtype, str) else np.dtype(dtype).name
        if self.target not in self.DTYPES:
            raise ValueError(f"Cast: rnnkit casts to {self.DTYPES}, received {dtype!r}")

    def output_dtype(self, input_dtypes):
        return self.target

    def output_shape(self, values):
        return tuple(values[0])

    def forward(self, inputs, *, training=False, mask=None):
        (x,) = self._values(inputs)
        return np.asarray(x).astype(self.target), (np.shape(x) if training else None)

    def backward(self, ctx, d_outputs):
        if self.target != "float32":
            return [None], []
        return [np.asarray(d_outputs, np.float32).reshape(ctx)], []

    def get_config(self):
        return {"name": self.name, "dtype": self.target}


OPERATIONS = {cls.__name__: cls for cls in (Matmul, Softmax, Reshape, Stack, Cast)}
