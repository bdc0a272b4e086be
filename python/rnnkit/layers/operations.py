"""Operations on symbolic tensors: ``x[:, -1]``, ``x + y``, ``1.0 - x``, ``x * y``, ``x / 2``, ``-x``.

Keras 3 records each such expression in a functional graph as a node of an operation (module keras.src.ops.numpy:
GetItem, Add, Subtract, Multiply, TrueDivide, Negative), whose constant operands (a number, the indexing key) sit in
the node's arguments beside the tensors. rnnkit does the same, so such models run, train, save and load, and
Keras' own configs of them load. As in Keras, an operation's output carries no mask.
"""
import numpy as np

from rnnkit.layers.layer import Layer
from rnnkit.layers.merging import _unbroadcast

MODULE = "keras.src.ops.numpy"


def _is_tensor(value):
    from rnnkit.layers.input_layer import KerasTensor

    return isinstance(value, KerasTensor)


class Operation(Layer):
    """One call of an operation on `arguments`, some of them tensors (the node's inputs, in order) and the rest
    constants kept here: a node's arguments are its operation's, as in Keras, so each call makes a new one."""

    def __init__(self, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.built = True
        self._arguments = None

    def __call__(self, *arguments):
        if self._arguments is not None:
            raise ValueError(f"operation '{self.name}' was already called; each call is a new operation")
        self._arguments = [self._check_constant(a) if not _is_tensor(a) else a for a in arguments]
        tensors = [a for a in self._arguments if _is_tensor(a)]
        if not tensors:
            raise TypeError(f"operation '{self.name}': expected at least one symbolic tensor among its arguments")
        # The node reads the tensors positionally; the constants stay in _arguments, the tensors' places as None.
        self._arguments = [None if _is_tensor(a) else a for a in self._arguments]
        self._tensor_positions = [i for i, a in enumerate(arguments) if _is_tensor(a)]
        output = self._call_symbolic(tensors)
        output.dtype = self.output_dtype([tensor.dtype for tensor in tensors])
        return output

    def _check_constant(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"operation '{self.name}': expected tensors and Python numbers as operands, received "
                            f"{value!r}")
        return value

    def _values(self, tensors):
        values = list(self._arguments)
        for position, value in zip(self._tensor_positions, tensors):
            values[position] = value
        return values

    def node_arguments(self, tensor_refs):
        """The inbound node's args as Keras writes them: the tensors' references in their places among the
        constants."""
        return [_serialize_constant(value) for value in self._values(tensor_refs)]

    def compute_output_shape(self, input_shape):
        return self.output_shape(self._values(input_shape))

    def output_dtype(self, input_dtypes):
        """Integers stay integers (ids[:, 1:], ids + 1); anything with a float in it is float32."""
        values = self._values(input_dtypes)
        return "float32" if any(v == "float32" or isinstance(v, float) for v in values) else input_dtypes[0]

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(name=config.get("name"))


class GetItem(Operation):
    """``x[key]`` with integers, slices, None (a new axis) and one Ellipsis, as numpy's basic indexing."""

    def _check_constant(self, key):
        items = key if isinstance(key, (tuple, list)) else (key,)
        for item in items:
            if not (item is None or item is Ellipsis or isinstance(item, slice)
                    or (isinstance(item, int) and not isinstance(item, bool))):
                raise TypeError(f"{self.name}: expected an index of integers, slices, None and Ellipsis, received "
                                f"{key!r}")
            if isinstance(item, slice) and not all(
                    v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in (item.start, item.stop,
                                                                                          item.step)):
                raise TypeError(f"{self.name}: expected slices of integers, received {item!r}")
            if isinstance(item, slice) and item.step == 0:
                raise ValueError(f"{self.name}: slice step cannot be zero, received {key!r}")
        if sum(item is Ellipsis for item in items) > 1:
            raise ValueError(f"{self.name}: an index may hold one Ellipsis, received {key!r}")
        return tuple(key) if isinstance(key, list) else key

    def node_arguments(self, tensor_refs):
        # Keras' GetItem takes an integer or a list as its key: a lone slice, None or Ellipsis goes in a list.
        key = self._arguments[1]
        key = list(key) if isinstance(key, tuple) else (key if isinstance(key, int) else [key])
        return [tensor_refs[0], [_serialize_constant(item) for item in key] if isinstance(key, list) else key]

    def output_shape(self, values):
        shape, key = values
        items = list(key) if isinstance(key, tuple) else [key]
        if Ellipsis not in items:
            items.append(Ellipsis)
        consumed = sum(item is not None and item is not Ellipsis for item in items)
        if consumed > len(shape):
            raise ValueError(f"{self.name}: an index of {consumed} axes for a tensor of shape {tuple(shape)}")
        remaining, output = list(shape), []
        for item in items:
            if item is Ellipsis:
                span = len(remaining) - sum(i is not None and i is not Ellipsis for i in items[items.index(item) + 1:])
                output += remaining[:span]
                remaining = remaining[span:]
            elif item is None:
                output.append(1)
            else:
                size = remaining.pop(0)
                if isinstance(item, slice):
                    output.append(None if size is None else len(range(*item.indices(size))))
                elif size is not None and not -size <= item < size:
                    raise ValueError(f"{self.name}: index {item} is out of range for an axis of size {size} "
                                     f"(tensor shape {tuple(shape)})")
        return tuple(output)

    def forward(self, inputs, *, training=False, mask=None):
        x, key = self._values(inputs)
        x = np.asarray(x)
        try:
            y = x[key]
        except IndexError as error:
            raise ValueError(f"{self.name}: cannot index an array of shape {x.shape} with {key!r}: {error}") from None
        return np.ascontiguousarray(y), (x.shape if training else None)

    def backward(self, ctx, d_outputs):
        d_x = np.zeros(ctx, np.float32)
        d_x[self._arguments[1]] = d_outputs  # basic indexing: each element of x at most once
        return [d_x], []


def _broadcast_shape(name, shapes):
    """numpy's broadcast of shapes whose sizes may be None (unknown): an unknown size broadcast against a known one
    above 1 is that one (the other must equal it at run time)."""
    rank = max(len(shape) for shape in shapes)
    padded = [(1,) * (rank - len(shape)) + tuple(shape) for shape in shapes]
    output = []
    for sizes in zip(*padded):
        known = {size for size in sizes if size is not None and size != 1}
        if len(known) > 1:
            raise ValueError(f"{name}: cannot broadcast shapes {[tuple(s) for s in shapes]} against each other")
        output.append(known.pop() if known else (None if None in sizes else 1))
    return tuple(output)


class _Elementwise(Operation):
    """An element-wise operation over tensors and numbers, broadcast as numpy does."""

    def output_shape(self, values):
        return _broadcast_shape(self.name, [v for v in values if isinstance(v, tuple)])

    def forward(self, inputs, *, training=False, mask=None):
        values = [np.asarray(v) if not isinstance(v, (int, float)) else v for v in self._values(inputs)]
        with np.errstate(divide="ignore", invalid="ignore"):  # 1/0 is inf, 0/0 NaN, as in Keras
            y = np.asarray(self.compute(*values))
        if y.dtype.kind == "f":
            y = y.astype(np.float32, copy=False)
        return y, (values if training else None)

    def backward(self, ctx, d_outputs):
        d_y = np.asarray(d_outputs, np.float32)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            partials = self.gradients(d_y, *ctx)
        return [np.ascontiguousarray(_unbroadcast(partials[i], np.shape(ctx[i])), dtype=np.float32)
                for i in self._tensor_positions], []


class Add(_Elementwise):
    @staticmethod
    def compute(a, b):
        return a + b

    @staticmethod
    def gradients(d_y, a, b):
        return d_y, d_y


class Subtract(_Elementwise):
    @staticmethod
    def compute(a, b):
        return a - b

    @staticmethod
    def gradients(d_y, a, b):
        return d_y, -d_y


class Multiply(_Elementwise):
    @staticmethod
    def compute(a, b):
        return a * b

    @staticmethod
    def gradients(d_y, a, b):
        return d_y * b, d_y * a


class TrueDivide(_Elementwise):
    def output_dtype(self, input_dtypes):
        return "float32"

    @staticmethod
    def compute(a, b):
        return np.true_divide(a, b)

    @staticmethod
    def gradients(d_y, a, b):
        d_a = d_y / b
        return d_a, -d_a * a / b


class Negative(_Elementwise):
    @staticmethod
    def compute(a):
        return -a

    @staticmethod
    def gradients(d_y, a):
        return (-d_y,)


# Keras' classes by the names its configs give them; Divide is ops.divide, the same math as `/`.
OPERATIONS = {"GetItem": GetItem, "Add": Add, "Subtract": Subtract, "Multiply": Multiply, "TrueDivide": TrueDivide,
              "Divide": TrueDivide, "Negative": Negative}


def serialize(operation):
    name = type(operation).__name__
    return {"module": MODULE, "class_name": name, "config": operation.get_config(), "registered_name": name}


def deserialize(config):
    name = config.get("class_name")
    if name not in OPERATIONS:
        raise ValueError(f"Keras operation {name!r} is not supported by rnnkit (supported: {sorted(OPERATIONS)})")
    return OPERATIONS[name].from_config(dict(config.get("config") or {}))


def _serialize_constant(value):
    if isinstance(value, slice):
        return {"class_name": "__slice__", "config": {"start": value.start, "stop": value.stop, "step": value.step}}
    if value is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(value, tuple):
        return [_serialize_constant(item) for item in value]
    return value


def deserialize_constant(value):
    """A constant of a config's inbound node: Keras' slice and Ellipsis dicts, lists (indexing keys) as tuples."""
    if isinstance(value, dict) and value.get("class_name") == "__slice__":
        config = value.get("config") or {}
        return slice(config.get("start"), config.get("stop"), config.get("step"))
    if isinstance(value, dict) and value.get("class_name") == "__ellipsis__":
        return Ellipsis
    if isinstance(value, list):
        return tuple(deserialize_constant(item) for item in value)
    return value
