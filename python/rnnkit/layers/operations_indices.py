"""Keras 3's argmax, argmin, one_hot, cumsum, zeros_like and ones_like as operations on tensors (their Keras class
names and configs). Indices and one-hot codes pass no gradient, as in Keras; cumsum passes the reversed cumulative
sum of its output gradient. The C++ model API does not run these (it refuses them by name)."""
import numpy as np

from rnnkit.layers.operations import NN_MODULE, Operation, checked_axes


class _NoGradient(Operation):
    def backward(self, ctx, d_outputs):
        return [None], []


class _ArgExtreme(_NoGradient):
    def __init__(self, axis=None, keepdims=False, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.axis = checked_axes(type(self).__name__, "axis", axis, several=False)
        self.keepdims = bool(keepdims)

    def output_dtype(self, input_dtypes):
        return "int32"

    def output_shape(self, values):
        (shape,) = values
        if self.axis is None:
            return tuple(1 for _ in shape) if self.keepdims else ()
        axis = self.axis % len(shape)
        return tuple(1 if i == axis else s for i, s in enumerate(shape) if self.keepdims or i != axis)

    def forward(self, inputs, *, training=False, mask=None):
        (x,) = self._values(inputs)
        return self.find(np.asarray(x), axis=self.axis, keepdims=self.keepdims).astype(np.int32), None

    def get_config(self):
        return {"name": self.name, "axis": self.axis, "keepdims": self.keepdims}


class Argmax(_ArgExtreme):
    find = staticmethod(np.argmax)


class Argmin(_ArgExtreme):
    find = staticmethod(np.argmin)


class OneHot(_NoGradient):
    module = NN_MODULE

    def __init__(self, num_classes, axis=-1, dtype=None, sparse=False, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"OneHot: expected num_classes to be a positive integer, received {num_classes!r}")
        if sparse:
            raise ValueError("OneHot: rnnkit has no sparse tensors, received sparse=True")
        if dtype not in (None, "float32"):
            raise ValueError(f"OneHot: rnnkit's one-hot codes are float32, received dtype={dtype!r}")
        self.num_classes = num_classes
        self.axis = checked_axes("OneHot", "axis", axis, several=False, optional=False)

    def output_dtype(self, input_dtypes):
        return "float32"

    def output_shape(self, values):
        (shape,) = values
        shape = list(shape)
        shape.insert(self.axis % (len(shape) + 1), self.num_classes)
        return tuple(shape)

    def forward(self, inputs, *, training=False, mask=None):
        (x,) = self._values(inputs)
        ids = np.asarray(x).astype(np.int64)
        codes = (ids[..., None] == np.arange(self.num_classes)).astype(np.float32)  # out-of-range ids: all zeros
        return np.moveaxis(codes, -1, self.axis % codes.ndim), None

    def get_config(self):
        return {"name": self.name, "num_classes": self.num_classes, "axis": self.axis, "dtype": "float32",
                "sparse": False}


class Cumsum(Operation):
    def __init__(self, axis=None, dtype=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.axis = checked_axes("Cumsum", "axis", axis, several=False)
        if dtype is not None:
            raise ValueError(f"Cumsum: dtype= is not supported by rnnkit, received {dtype!r}")

    def output_shape(self, values):
        (shape,) = values
        if self.axis is None:  # numpy's and Keras' flattening
            return (None if None in shape else int(np.prod(shape)),)
        return tuple(shape)

    def forward(self, inputs, *, training=False, mask=None):
        (x,) = self._values(inputs)
        x = np.asarray(x)
        return np.cumsum(x, axis=self.axis, dtype=x.dtype), (x.shape if training else None)

    def backward(self, ctx, d_outputs):
        d_y = np.asarray(d_outputs, np.float32)
        axis = 0 if self.axis is None else self.axis
        d_x = np.flip(np.cumsum(np.flip(d_y, axis), axis=axis), axis)
        return [np.ascontiguousarray(d_x.reshape(ctx))], []

    def get_config(self):
        return {"name": self.name, "axis": self.axis, "dtype": None}


class _Filled(_NoGradient):
    def __init__(self, dtype=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if dtype is not None:
            raise ValueError(f"{type(self).__name__}: dtype= is not supported by rnnkit, received {dtype!r}")

    def output_shape(self, values):
        return tuple(values[0])

    def forward(self, inputs, *, training=False, mask=None):
        (x,) = self._values(inputs)
        return np.full(np.shape(x), self.fill, dtype=np.asarray(x).dtype), None

    def get_config(self):
        return {"name": self.name, "dtype": None}


class ZerosLike(_Filled):
    fill = 0


class OnesLike(_Filled):
    fill = 1


OPERATIONS = {cls.__name__: cls for cls in (Argmax, Argmin, OneHot, Cumsum, ZerosLike, OnesLike)}
