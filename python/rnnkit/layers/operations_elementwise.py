"""Element-wise operations over tensors and numbers, broadcast as numpy: x + y, x - y, x * y, x / y, -x and
rnnkit.ops' maximum, minimum, tanh, sigmoid, relu, exp, log, sqrt, square, abs (Keras' classes of the same
names). Gradients as Keras on torch computes them: ties of maximum/minimum share it half and half, |x| and relu
have slope 0 at 0."""
import numpy as np

from rnnkit.layers.merging import _unbroadcast
from rnnkit.layers.operations import NN_MODULE, Operation


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
        return _broadcast_shape(self.name, [v for v in values if isinstance(v, tuple)])

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


OPERATIONS = {cls.__name__: cls for cls in (Add, Subtract, Multiply, TrueDivide, Divide, Maximum, Minimum, Negative,
                                            Tanh, Sigmoid, Relu, Exp, Log, Sqrt, Square, Absolute)}
