"""Tensors of known values in graphs: rnnkit.ops' creators (ones, zeros, full, eye, arange, linspace), full_like, and
the Constant arrays they make.

Keras computes its creators at once, inside a traced call() too, and an operation given such a value keeps it among
its node's arguments, written {"class_name": "__tensor__", ...} in configs. rnnkit does the same with Constant
arrays: what rnnkit.ops computes on values (its creators, convert_to_tensor, any of its functions called on arrays)
is a Constant, which operations on symbolic tensors take as a constant operand. A bare numpy array stays refused as
an operand, as it was before creators existed (rnnkit.ops.convert_to_tensor makes one a Constant).
"""
import numpy as np

from rnnkit.layers.operations import Operation

# The dtypes rnnkit computes in (as ops.cast's), plus bool for masks.
DTYPES = ("float32", "int32", "int64", "bool")


class Constant(np.ndarray):
    """A numpy array made by rnnkit.ops, which operations on symbolic tensors capture as a constant operand. numpy
    arithmetic on Constants gives Constants (ops.ones((3,)) * 2.0 is one too)."""


def constant(value, dtype=None):
    """A copy of `value` as a Constant, so that later changes to the source do not reach graphs holding it."""
    return np.array(value, dtype=dtype).view(Constant)


def as_constants(result):
    """What rnnkit.ops computed on values, as Constants (a list of them for split and top_k)."""
    if isinstance(result, (list, tuple)):
        return type(result)(as_constants(item) for item in result)
    return np.asarray(result).view(Constant)


def serialize(value):
    """Keras' form of a tensor among a node's arguments."""
    return {"class_name": "__tensor__", "config": {"value": value.tolist(), "dtype": value.dtype.name}}


def deserialize(config):
    """A constant written as Keras' __tensor__ (its own tensors) or __numpy__ (numpy arrays given to an op)."""
    return constant(config["value"], np.dtype(config["dtype"]))


def checked_dtype(function, dtype, default):
    if dtype is None:
        return default
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in DTYPES:
        raise ValueError(f"{function}: rnnkit's tensors are {DTYPES}, received dtype={dtype!r}")
    return name


def _checked_shape(function, shape):
    sizes = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0 for s in sizes):
        raise ValueError(f"{function}: expected a shape of known sizes >= 0, received {shape!r}")
    return tuple(int(s) for s in sizes)


def _float_or_int(*values):
    """Keras' result type of Python numbers (and arrays): float32 if any is a float, else int32."""
    return "float32" if any(np.asarray(v).dtype.kind == "f" for v in values if v is not None) else "int32"


def ones(shape, dtype=None):
    return constant(np.ones(_checked_shape("ones", shape)), checked_dtype("ones", dtype, "float32"))


def zeros(shape, dtype=None):
    return constant(np.zeros(_checked_shape("zeros", shape)), checked_dtype("zeros", dtype, "float32"))


def full(shape, fill_value, dtype=None):
    """As Keras: float32 unless dtype says otherwise, whatever the fill value (an array broadcasts)."""
    from rnnkit.layers.input_layer import KerasTensor

    if isinstance(fill_value, KerasTensor):
        raise TypeError("full: rnnkit takes a number or an array as fill_value; for a symbolic tensor's shape use "
                        "full_like")
    return constant(np.full(_checked_shape("full", shape), fill_value), checked_dtype("full", dtype, "float32"))


def eye(N, M=None, k=0, dtype=None):  # noqa: N803 (Keras' names)
    return constant(np.eye(N, M, k=0 if k is None else k), checked_dtype("eye", dtype, "float32"))


def arange(start, stop=None, step=None, dtype=None):
    """Integers (int32) unless an argument is a float, as Keras' result type of its arguments."""
    dtype = checked_dtype("arange", dtype, _float_or_int(start, stop, step))
    if stop is None:
        start, stop = 0, start
    return constant(np.arange(start, stop, 1 if step is None else step), dtype)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    samples, step = np.linspace(start, stop, num, endpoint=endpoint, retstep=True, axis=axis)
    samples = constant(samples, checked_dtype("linspace", dtype, "float32"))
    return (samples, step) if retstep else samples


class FullLike(Operation):
    """ops.full_like(x, fill_value, dtype=None): x's shape filled with a number (or a Constant broadcast to it);
    no gradient reaches x, as in Keras."""

    def __init__(self, dtype=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.target = checked_dtype("FullLike", dtype, None)

    def output_dtype(self, input_dtypes):
        return self.target or input_dtypes[0]

    def output_shape(self, values):
        if len(self._tensor_positions) > 1:
            raise TypeError(f"{self.name}: rnnkit takes a number or a constant as fill_value, not a symbolic tensor")
        return tuple(values[0])

    def forward(self, inputs, *, training=False, mask=None):
        x, fill_value = self._values(inputs)
        return np.full_like(np.asarray(x), fill_value, dtype=self.target), None

    def backward(self, ctx, d_outputs):
        return [None], []

    def get_config(self):
        return {"name": self.name, "dtype": self.target}


OPERATIONS = {"FullLike": FullLike}
