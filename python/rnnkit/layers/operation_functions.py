"""Keras 3's ops on tensors (keras.ops.<name>), re-exported by rnnkit.ops: called on symbolic tensors of a
functional model each adds an operation node to the graph (rnnkit.layers.operations); called on numpy arrays it
computes at once, giving Constants (operations_constants.py). Names shadow Python's builtins (sum, max, min, abs,
any, all, round) as Keras' do."""
from rnnkit.layers.operations import call
from rnnkit.layers.operations_constants import arange, eye, full, linspace, ones, zeros  # noqa: F401

# ops.<name> and its operation class (operations_math.py): one operand, or two for logaddexp, arctan2, hypot.
_ELEMENTWISE_MATH = [(name, name.capitalize()) for name in (
    "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "arcsinh", "arccosh", "arctanh", "log1p",
    "expm1", "log2", "log10", "exp2", "cbrt", "reciprocal", "deg2rad", "rad2deg", "trunc", "rsqrt", "erf", "isnan",
    "isinf", "isfinite", "logaddexp", "arctan2", "hypot")]

__all__ = ["add", "subtract", "multiply", "divide", "true_divide", "negative", "maximum", "minimum", "tanh",
           "sigmoid", "relu", "exp", "log", "sqrt", "square", "abs", "absolute", "mean", "sum", "max", "min",
           "expand_dims", "squeeze", "transpose", "concatenate", "matmul", "softmax", "reshape", "stack", "cast",
           "power", "clip", "where", "greater", "greater_equal", "less", "less_equal", "equal", "not_equal",
           "logical_and", "logical_or", "logical_xor", "logical_not", "silu", "swish", "relu6", "softplus", "selu",
           "hard_sigmoid", "softsign", "elu", "leaky_relu", "gelu", "log_softmax", "argmax", "argmin", "one_hot",
           "cumsum",
           "zeros_like", "ones_like", "sign", "floor", "ceil", "round", "floor_divide", "mod", "prod", "std", "var",
           "norm", "any", "all", "flip", "roll", "tile", "repeat", "broadcast_to", "take", "take_along_axis", "split",
           "pad", "dot", "einsum", "top_k", "sort", "argsort", "tril", "triu", "ones", "zeros", "full", "full_like",
           "eye", "arange", "linspace", "logsumexp", "moveaxis", "swapaxes", "stop_gradient"] + [
               name for name, _ in _ELEMENTWISE_MATH]


def add(x1, x2):
    return call("Add", x1, x2)


def subtract(x1, x2):
    return call("Subtract", x1, x2)


def multiply(x1, x2):
    return call("Multiply", x1, x2)


def divide(x1, x2):
    return call("Divide", x1, x2)


def true_divide(x1, x2):
    return call("TrueDivide", x1, x2)


def negative(x):
    return call("Negative", x)


def maximum(x1, x2):
    return call("Maximum", x1, x2)


def minimum(x1, x2):
    return call("Minimum", x1, x2)


def tanh(x):
    return call("Tanh", x)


def sigmoid(x):
    return call("Sigmoid", x)


def relu(x):
    return call("Relu", x)


def exp(x):
    return call("Exp", x)


def log(x):
    return call("Log", x)


def sqrt(x):
    return call("Sqrt", x)


def square(x):
    return call("Square", x)


def absolute(x):
    return call("Absolute", x)


abs = absolute  # noqa: A001 (Keras' name)


def mean(x, axis=None, keepdims=False):
    return call("Mean", x, axis=axis, keepdims=keepdims)


def sum(x, axis=None, keepdims=False):  # noqa: A001
    return call("Sum", x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    return call("Max", x, axis=axis, keepdims=keepdims, initial=initial)


def min(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    return call("Min", x, axis=axis, keepdims=keepdims, initial=initial)


def expand_dims(x, axis):
    return call("ExpandDims", x, axis=axis)


def squeeze(x, axis=None):
    return call("Squeeze", x, axis=axis)


def transpose(x, axes=None):
    return call("Transpose", x, axes=axes)


def concatenate(xs, axis=0):
    return call("Concatenate", list(xs), axis=axis)


def matmul(x1, x2):
    return call("Matmul", x1, x2)


def softmax(x, axis=-1):
    return call("Softmax", x, axis=axis)


def reshape(x, newshape):
    return call("Reshape", x, newshape=newshape)


def stack(x, axis=0):
    return call("Stack", list(x), axis=axis)


def cast(x, dtype):
    return call("Cast", x, dtype=dtype)


def power(x1, x2):
    return call("Power", x1, x2)


def clip(x, x_min, x_max):
    return call("Clip", x, x_min=x_min, x_max=x_max)


def where(condition, x1=None, x2=None):
    if x1 is None or x2 is None:
        raise ValueError("where: rnnkit takes both x1 and x2 (Keras' where(condition) alone, the indices of its "
                         "true elements, has a shape the data decide)")
    return call("Where", condition, x1, x2)


def greater(x1, x2):
    return call("Greater", x1, x2)


def greater_equal(x1, x2):
    return call("GreaterEqual", x1, x2)


def less(x1, x2):
    return call("Less", x1, x2)


def less_equal(x1, x2):
    return call("LessEqual", x1, x2)


def equal(x1, x2):
    return call("Equal", x1, x2)


def not_equal(x1, x2):
    return call("NotEqual", x1, x2)


def logical_and(x1, x2):
    return call("LogicalAnd", x1, x2)


def logical_or(x1, x2):
    return call("LogicalOr", x1, x2)


def logical_xor(x1, x2):
    return call("LogicalXor", x1, x2)


def logical_not(x):
    return call("LogicalNot", x)


def silu(x):
    return call("Silu", x)


swish = silu


def relu6(x):
    return call("Relu6", x)


def softplus(x):
    return call("Softplus", x)


def selu(x):
    return call("Selu", x)


def hard_sigmoid(x):
    return call("HardSigmoid", x)


def softsign(x):
    return call("Softsign", x)


def elu(x, alpha=1.0):
    return call("Elu", x, alpha=alpha)


def leaky_relu(x, negative_slope=0.2):
    return call("LeakyRelu", x, negative_slope=negative_slope)


def gelu(x, approximate=True):
    return call("Gelu", x, approximate=approximate)


def log_softmax(x, axis=-1):
    return call("LogSoftmax", x, axis=axis)


def argmax(x, axis=None, keepdims=False):
    return call("Argmax", x, axis=axis, keepdims=keepdims)


def argmin(x, axis=None, keepdims=False):
    return call("Argmin", x, axis=axis, keepdims=keepdims)


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    return call("OneHot", x, num_classes=num_classes, axis=axis, dtype=dtype, sparse=sparse)


def cumsum(x, axis=None, dtype=None):
    return call("Cumsum", x, axis=axis, dtype=dtype)


def zeros_like(x, dtype=None):
    return call("ZerosLike", x, dtype=dtype)


def ones_like(x, dtype=None):
    return call("OnesLike", x, dtype=dtype)


def sign(x):
    return call("Sign", x)


def floor(x):
    return call("Floor", x)


def ceil(x):
    return call("Ceil", x)


def round(x, decimals=0):  # noqa: A001
    return call("Round", x, decimals=decimals)


def floor_divide(x1, x2):
    return call("FloorDivide", x1, x2)


def mod(x1, x2):
    return call("Mod", x1, x2)


def prod(x, axis=None, keepdims=False, dtype=None):
    return call("Prod", x, axis=axis, keepdims=keepdims, dtype=dtype)


def std(x, axis=None, keepdims=False):
    return call("Std", x, axis=axis, keepdims=keepdims)


def var(x, axis=None, keepdims=False):
    return call("Var", x, axis=axis, keepdims=keepdims)


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002
    return call("Norm", x, ord=ord, axis=axis, keepdims=keepdims)


def any(x, axis=None, keepdims=False):  # noqa: A001
    return call("Any", x, axis=axis, keepdims=keepdims)


def all(x, axis=None, keepdims=False):  # noqa: A001
    return call("All", x, axis=axis, keepdims=keepdims)


def flip(x, axis=None):
    return call("Flip", x, axis=axis)


def roll(x, shift, axis=None):
    return call("Roll", x, shift=shift, axis=axis)


def tile(x, repeats):
    return call("Tile", x, repeats=repeats)


def repeat(x, repeats, axis=None):
    return call("Repeat", x, repeats=repeats, axis=axis)


def broadcast_to(x, shape):
    return call("BroadcastTo", x, shape=shape)


def take(x, indices, axis=None):
    return call("Take", x, indices, axis=axis)


def take_along_axis(x, indices, axis=None):
    return call("TakeAlongAxis", x, indices, axis=axis)


def split(x, indices_or_sections, axis=0):
    return call("Split", x, indices_or_sections=indices_or_sections, axis=axis)


def pad(x, pad_width, mode="constant", constant_values=None):
    # constant_values goes among the node's arguments (none when it is None, Keras' default): see Pad.
    return call("Pad", x, *([] if constant_values is None else [constant_values]), pad_width=pad_width, mode=mode)


def dot(x1, x2):
    return call("Dot", x1, x2)


def einsum(subscripts, *operands, **kwargs):
    if kwargs:
        raise TypeError(f"einsum: rnnkit takes the subscripts and operands only, received {sorted(kwargs)}")
    return call("Einsum", *operands, subscripts=subscripts)


def top_k(x, k, sorted=True):  # noqa: A002
    values, indices = call("TopK", x, k=k, sorted=sorted)
    return values, indices


def sort(x, axis=-1):
    return call("Sort", x, axis=axis)


def argsort(x, axis=-1):
    return call("Argsort", x, axis=axis)


def tril(x, k=0):
    return call("Tril", x, k=k)


def triu(x, k=0):
    return call("Triu", x, k=k)


def full_like(x, fill_value, dtype=None):
    return call("FullLike", x, fill_value, dtype=dtype)


def _elementwise_math(class_name, name):
    if name in ("logaddexp", "arctan2", "hypot"):
        def function(x1, x2):
            return call(class_name, x1, x2)
    else:
        def function(x):
            return call(class_name, x)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"Keras' ops.{name}, element-wise."
    return function


globals().update({name: _elementwise_math(class_name, name) for name, class_name in _ELEMENTWISE_MATH})


def logsumexp(x, axis=None, keepdims=False):
    return call("Logsumexp", x, axis=axis, keepdims=keepdims)


def moveaxis(x, source, destination):
    return call("Moveaxis", x, source=source, destination=destination)


def swapaxes(x, axis1, axis2):
    return call("Swapaxes", x, axis1=axis1, axis2=axis2)


def stop_gradient(variable):
    return call("StopGradient", variable)
