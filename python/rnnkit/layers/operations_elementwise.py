"""Element-wise operations over tensors and numbers, broadcast as numpy: x + y, x - y, x * y, x / y, -x, x ** y,
x > y (and <, <=, >=, !=), x & y, x | y, x ^ y, ~x and rnnkit.ops' maximum, minimum, tanh, sigmoid, relu, exp, log,
sqrt, square, abs, power, clip, where, greater ... not_equal, logical_and, logical_or, logical_xor, logical_not (Keras'
classes of the same names). Gradients as Keras on torch computes them: ties of maximum/minimum share it half and half,
|x| and relu have slope 0 at 0, clip passes it on at its bounds, comparisons and logical operations pass none."""
import numpy as np

from rnnkit.layers.merging import _unbroadcast
from rnnkit.layers.operations import _TENSOR, NN_MODULE, Operation, constant_dtype


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
    """compute(*values) and gradients(d_y, y, *values) -> one partial per argument, numpy broadcasting."""

    def output_shape(self, values):
        # Tensors' shapes are tuples; constants (numbers, Constant arrays) broadcast with theirs.
        return _broadcast_shape(self.name, [v if isinstance(v, tuple) else np.shape(v) for v in values])

    def forward(self, inputs, *, training=False, mask=None):
        values = [np.asarray(v) if not isinstance(v, (int, float)) else v for v in self._values(inputs)]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # inf and NaN as Keras gives them
            y = np.asarray(self.compute(*values))
        if y.dtype.kind == "f":
            y = y.astype(np.float32, copy=False)
        return y, ((y, values) if training else None)

    def backward(self, ctx, d_outputs):
        y, values = ctx
        d_y = np.asarray(d_outputs, np.float32)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            partials = self.gradients(d_y, y, *values)
        # np.array, not ascontiguousarray, which would make a 0-d gradient (of ops.mean(x)) 1-d.
        return [np.array(_unbroadcast(np.broadcast_to(partials[i], y.shape), np.shape(values[i])), np.float32)
                for i in self._tensor_positions], []


class Add(_Elementwise):
    @staticmethod
    def compute(a, b):
        return a + b

    @staticmethod
    def gradients(d_y, y, a, b):
        return d_y, d_y


class Subtract(_Elementwise):
    @staticmethod
    def compute(a, b):
        return a - b

    @staticmethod
    def gradients(d_y, y, a, b):
        return d_y, -d_y


class Multiply(_Elementwise):
    @staticmethod
    def compute(a, b):
        return a * b

    @staticmethod
    def gradients(d_y, y, a, b):
        return d_y * b, d_y * a


class TrueDivide(_Elementwise):
    def output_dtype(self, input_dtypes):
        return "float32"

    @staticmethod
    def compute(a, b):
        return np.true_divide(a, b)

    @staticmethod
    def gradients(d_y, y, a, b):
        d_a = d_y / b
        return d_a, -d_a * a / b


class Divide(TrueDivide):
    """ops.divide: the same math as `/`, under Keras' other class name."""


class _Extremum(_Elementwise):
    """maximum / minimum: the winner takes the gradient, a tie shares it half and half (PyTorch's rule)."""

    def gradients(self, d_y, y, a, b):
        a_wins, tie = self.wins(a, b), np.equal(a, b)
        share = np.where(tie, 0.5, 1.0).astype(np.float32)
        return d_y * share * (a_wins | tie), d_y * share * (~a_wins | tie)


class Maximum(_Extremum):
    compute = staticmethod(np.maximum)
    wins = staticmethod(np.greater)


class Minimum(_Extremum):
    compute = staticmethod(np.minimum)
    wins = staticmethod(np.less)


class _Unary(_Elementwise):
    def output_dtype(self, input_dtypes):
        return "float32"


class Negative(_Elementwise):
    @staticmethod
    def compute(a):
        return -a

    @staticmethod
    def gradients(d_y, y, a):
        return (-d_y,)


class Tanh(_Unary):
    @staticmethod
    def compute(a):
        return np.tanh(a)

    @staticmethod
    def gradients(d_y, y, a):
        return (d_y * (1 - y * y),)


class Sigmoid(_Unary):
    module = NN_MODULE

    @staticmethod
    def compute(a):
        return 1.0 / (1.0 + np.exp(-np.asarray(a, np.float64)))  # exp(1000) is inf: 1 / inf is 0, as it should

    @staticmethod
    def gradients(d_y, y, a):
        return (d_y * y * (1 - y),)


class Relu(_Unary):
    module = NN_MODULE

    @staticmethod
    def compute(a):
        return np.maximum(a, 0)

    @staticmethod
    def gradients(d_y, y, a):
        return (d_y * (np.asarray(a) > 0),)


class Exp(_Unary):
    @staticmethod
    def compute(a):
        return np.exp(a)

    @staticmethod
    def gradients(d_y, y, a):
        return (d_y * y,)


class Log(_Unary):
    @staticmethod
    def compute(a):
        return np.log(a)

    @staticmethod
    def gradients(d_y, y, a):
        return (d_y / a,)


class Sqrt(_Unary):
    @staticmethod
    def compute(a):
        return np.sqrt(a)

    @staticmethod
    def gradients(d_y, y, a):
        return (d_y / (2 * y),)


class Square(_Elementwise):
    @staticmethod
    def compute(a):
        return np.square(a)

    @staticmethod
    def gradients(d_y, y, a):
        return (2 * d_y * a,)


class Absolute(_Elementwise):
    @staticmethod
    def compute(a):
        return np.abs(a)

    @staticmethod
    def gradients(d_y, y, a):
        return (d_y * np.sign(a),)


class Power(_Elementwise):
    @staticmethod
    def compute(a, b):
        return np.power(a, b)

    @staticmethod
    def gradients(d_y, y, a, b):
        # PyTorch's masks: no gradient to the base where the exponent is 0 (0 * inf otherwise at a = 0), none to
        # the exponent where the base is 0 and the exponent not negative (log 0).
        a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
        d_a = np.where(b == 0, 0.0, d_y * b * np.power(a, b - 1))
        d_b = np.where((a == 0) & (b >= 0), 0.0, d_y * y * np.log(a))
        return d_a, d_b


class Clip(_Elementwise):
    """ops.clip(x, x_min, x_max): the bounds are the operation's config, as in Keras; the gradient passes where
    x_min <= x <= x_max, bounds included (PyTorch's clamp)."""

    def __init__(self, x_min, x_max, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        for key, value in (("x_min", x_min), ("x_max", x_max)):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise ValueError(f"Clip: expected {key} to be a number, received {value!r}")
        self.x_min, self.x_max = (v.item() if isinstance(v, np.generic) else v for v in (x_min, x_max))

    def output_dtype(self, input_dtypes):
        return "int32" if input_dtypes[0] == "bool" else input_dtypes[0]

    def compute(self, a):
        a = np.asarray(a)
        return np.clip(a, self.x_min, self.x_max).astype(np.int32 if a.dtype == bool else a.dtype)

    def gradients(self, d_y, y, a):
        return (d_y * ((np.asarray(a) >= self.x_min) & (np.asarray(a) <= self.x_max)),)

    def get_config(self):
        return {"name": self.name, "x_min": self.x_min, "x_max": self.x_max}


class Where(_Elementwise):
    """ops.where(condition, x1, x2): x1 where the condition holds (is non-zero), else x2; the gradient goes to the
    chosen operand, none to the condition."""

    def output_dtype(self, input_dtypes):
        dtypes = iter(input_dtypes)
        kinds = [next(dtypes) if argument is _TENSOR else constant_dtype(argument) for argument in self._arguments]
        return "float32" if "float32" in kinds[1:] else kinds[1]

    @staticmethod
    def compute(condition, a, b):
        return np.where(np.asarray(condition, bool), a, b)

    @staticmethod
    def gradients(d_y, y, condition, a, b):
        chosen = np.asarray(condition, bool)
        return np.zeros_like(d_y), d_y * chosen, d_y * ~chosen


class _NoGradient(_Elementwise):
    """Comparisons and logical operations: a bool tensor, through which no gradient flows."""

    def output_dtype(self, input_dtypes):
        return "bool"

    def backward(self, ctx, d_outputs):
        return [None] * len(self._tensor_positions), []


def _no_gradient(name, function):
    return type(name, (_NoGradient,), {"compute": staticmethod(function), "__module__": __name__})


Greater, GreaterEqual, Less, LessEqual, Equal, NotEqual, LogicalAnd, LogicalOr, LogicalXor, LogicalNot = (
    _no_gradient(name, function) for name, function in (
        ("Greater", np.greater), ("GreaterEqual", np.greater_equal), ("Less", np.less),
        ("LessEqual", np.less_equal), ("Equal", np.equal), ("NotEqual", np.not_equal),
        ("LogicalAnd", np.logical_and), ("LogicalOr", np.logical_or), ("LogicalXor", np.logical_xor),
        ("LogicalNot", np.logical_not)))


OPERATIONS = {cls.__name__: cls for cls in (Add, Subtract, Multiply, TrueDivide, Divide, Maximum, Minimum, Negative,
                                            Tanh, Sigmoid, Relu, Exp, Log, Sqrt, Square, Absolute, Power, Clip, Where,
                                            Greater, GreaterEqual, Less, LessEqual, Equal, NotEqual, LogicalAnd,
                                            LogicalOr, LogicalXor, LogicalNot)}
