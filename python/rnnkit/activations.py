"""Activation functions with Keras 3 names, computed by the C++ core (``rnnkit.ops.activation``).

Each function takes an array and returns float32. With Keras 3's default arguments (leaky_relu's slope 0.2, the
exact gelu, softmax over the last axis, ...) the core computes it; the arguments Keras 3's functions take besides
(relu's negative_slope / max_value / threshold, elu's alpha, gelu's approximate, softmax's axis, ...) are honoured
too, element-wise in numpy or by moving the axis, and so are ``glu`` and ``threshold``. ``get`` resolves a name or one
of these functions, ``serialize`` gives back the name Keras 3 writes into configs. Gradients go through
:func:`gradient` (default arguments): from the activation's output, and for the few whose derivative is not a
function of it (``NEEDS_INPUT``) from its input too."""
import difflib

import numpy as np

# The activations the recurrent cells take (vectorised in the core), then those only layers take.
CELL_NAMES = ("linear", "relu", "sigmoid", "tanh", "hard_sigmoid", "elu", "selu", "softplus", "softsign",
              "exponential")
NAMES = CELL_NAMES + ("softmax", "log_softmax", "sparsemax", "leaky_relu", "relu6", "hard_tanh", "celu",
                      "hard_shrink", "soft_shrink", "sparse_plus", "sparse_sigmoid", "log_sigmoid", "squareplus",
                      "tanh_shrink", "gelu", "silu", "mish", "hard_silu")
NEEDS_INPUT = frozenset({"tanh_shrink", "gelu", "silu", "mish", "hard_silu"})
# Keras 3 exports silu and hard_silu under these names too: the same functions, serialised as silu / hard_silu.
_ALIASES = {None: "linear", "swish": "silu", "hard_swish": "hard_silu"}


def _ops():
    from rnnkit import ops  # the recurrent-ops module; imported late so importing activations stays cheap

    return ops


def _core(name, x):
    return _ops().activation(name, np.asarray(x, dtype=np.float32))


def _is_symbolic(x):
    from rnnkit.layers.input_layer import KerasTensor

    return isinstance(x, KerasTensor)


def _apply(name, x, arguments=None, array_form=None, symbolic_form=None):
    """Activation `name` of x. Arrays: with Keras' default arguments (`arguments` maps each to (value, default)),
    the core; with others, array_form(float32 x, **values). A symbolic tensor of a functional model: an Activation
    layer, or symbolic_form(x, **values) where the arguments differ (rnnkit's ReLU / ELU layers, its ops)."""
    values = {key: value for key, (value, _) in (arguments or {}).items()}
    defaults = all(value is default or value == default for value, default in (arguments or {}).values())
    if _is_symbolic(x):
        if defaults:
            from rnnkit.layers import Activation

            return Activation(name)(x)
        if symbolic_form is None:
            raise NotImplementedError(
                f"rnnkit.activations.{name} with {values} takes arrays; a functional model takes it with its "
                f"default arguments only")
        return symbolic_form(x, **values)
    if defaults:
        return _core(name, x)
    return array_form(np.asarray(x, dtype=np.float32), **values)


def _make(name):
    def activation(x):
        return _apply(name, x)

    activation.__name__ = activation.__qualname__ = name
    activation.__doc__ = f"Keras 3's `{name}` activation (element-wise; softmax, log_softmax and sparsemax over the " \
                         "last axis)."
    return activation


_FUNCTIONS = {name: _make(name) for name in NAMES}
globals().update(_FUNCTIONS)  # rnnkit.activations.relu, .gelu, ... as in keras.activations


def relu_with_arguments(x, negative_slope, max_value, threshold):
    """Keras' relu for float32 x: x above threshold (and 0, and at most max_value when set), else 0, minus
    negative_slope * (threshold - x) below threshold."""
    positive = np.where(x > threshold, x, np.float32(0)) if threshold else np.maximum(x, np.float32(0))
    if max_value is not None:
        positive = np.clip(positive, np.float32(0), np.float32(max_value))
    return (positive - np.float32(negative_slope) * np.maximum(np.float32(threshold) - x, np.float32(0))).astype(
        np.float32)


def _layer(class_name):
    def symbolic_form(x, **values):
        from rnnkit import layers

        return getattr(layers, class_name)(**values)(x)

    return symbolic_form


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    return _apply("relu", x, {"negative_slope": (negative_slope, 0.0), "max_value": (max_value, None),
                              "threshold": (threshold, 0.0)}, relu_with_arguments, _layer("ReLU"))


def leaky_relu(x, negative_slope=0.2):
    return _apply("leaky_relu", x, {"negative_slope": (negative_slope, 0.2)},
                  lambda x, negative_slope: np.where(x >= 0, x, np.float32(negative_slope) * x).astype(np.float32),
                  lambda x, negative_slope: _ops().leaky_relu(x, negative_slope))


def elu(x, alpha=1.0):
    return _apply("elu", x, {"alpha": (alpha, 1.0)},
                  lambda x, alpha: np.where(x > 0, x, np.float32(alpha) * np.expm1(np.minimum(x, np.float32(0))))
                  .astype(np.float32), _layer("ELU"))


def _forms(form):
    """(array form, symbolic form) of form(m, x, **arguments), written once over numpy's and rnnkit.ops' functions of
    the same names (where, maximum, minimum, expm1, sqrt, abs)."""
    return (lambda x, **values: np.asarray(form(np, x, **values), np.float32),
            lambda x, **values: form(_ops(), x, **values))


def celu(x, alpha=1.0):
    return _apply("celu", x, {"alpha": (alpha, 1.0)}, *_forms(
        lambda m, x, alpha: m.maximum(x, 0.0) + m.minimum(0.0, alpha * m.expm1(x / alpha))))


def _tanh_gelu(x, approximate):
    x = x.astype(np.float64)  # the tanh form, rounded once
    return (0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))).astype(np.float32)


def gelu(x, approximate=False):
    return _apply("gelu", x, {"approximate": (approximate, False)}, _tanh_gelu,
                  lambda x, approximate: _ops().gelu(x, approximate=True))


def soft_shrink(x, threshold=0.5):
    return _apply("soft_shrink", x, {"threshold": (threshold, 0.5)}, *_forms(
        lambda m, x, threshold: m.where(x > threshold, x - threshold, m.where(x < -threshold, x + threshold, 0.0))))


def hard_shrink(x, threshold=0.5):
    return _apply("hard_shrink", x, {"threshold": (threshold, 0.5)}, *_forms(
        lambda m, x, threshold: m.where(m.abs(x) > threshold, x, 0.0)))


def squareplus(x, b=4):
    return _apply("squareplus", x, {"b": (b, 4)}, *_forms(lambda m, x, b: (x + m.sqrt(x * x + b)) / 2.0))


def _over_axis(name):
    """The form of activation `name` normalising another axis: the core normalises the last, so `axis` goes there
    and back."""

    def array_form(x, axis):
        if not isinstance(axis, (int, np.integer)) or not -x.ndim <= axis < max(x.ndim, 1):
            raise ValueError(f"{name}: axis must be one axis of the input's {x.ndim}, received axis={axis!r}")
        if x.ndim == 0 or axis % x.ndim == x.ndim - 1:
            return _core(name, x)
        moved = np.ascontiguousarray(np.moveaxis(x, axis, -1))
        return np.ascontiguousarray(np.moveaxis(_core(name, moved), -1, axis))

    return array_form


def softmax(x, axis=-1):
    return _apply("softmax", x, {"axis": (axis, -1)}, _over_axis("softmax"),
                  lambda x, axis: _ops().softmax(x, axis=axis))


def log_softmax(x, axis=-1):
    return _apply("log_softmax", x, {"axis": (axis, -1)}, _over_axis("log_softmax"),
                  lambda x, axis: _ops().log_softmax(x, axis=axis))


def sparsemax(x, axis=-1):
    return _apply("sparsemax", x, {"axis": (axis, -1)}, _over_axis("sparsemax"))


def glu(x, axis=-1):
    """Gated linear unit: x split in two halves along `axis`, the first times the sigmoid of the second."""
    symbolic = _is_symbolic(x)
    x = x if symbolic else np.asarray(x, dtype=np.float32)
    rank, size = len(x.shape), None
    if rank and -rank <= axis < rank:
        size = x.shape[axis]
    if size is None or size % 2:
        raise ValueError(f"glu: the input's axis {axis} must exist and have an even size, received shape "
                         f"{tuple(x.shape)}")
    if symbolic:
        a, b = _ops().split(x, 2, axis=axis)
        return a * _ops().sigmoid(b)
    a, b = np.split(x, 2, axis=axis)
    return (a * _core("sigmoid", b)).astype(np.float32)


def threshold(x, threshold, default_value):  # noqa: F811 - Keras' name for both the function and its argument
    """x where x > threshold, else default_value."""
    array_form, symbolic_form = _forms(lambda m, x, threshold, default_value: m.where(x > threshold, x, default_value))
    form = symbolic_form if _is_symbolic(x) else array_form
    return form(x if _is_symbolic(x) else np.asarray(x, np.float32), threshold=threshold, default_value=default_value)


for _function in (relu, leaky_relu, elu, celu, gelu, soft_shrink, hard_shrink, squareplus, softmax, log_softmax,
                  sparsemax):
    _function.__doc__ = (f"Keras 3's `{_function.__name__}` activation: with its default arguments the C++ core "
                         "computes it, with others numpy (rnnkit.ops on a symbolic tensor).")
    _FUNCTIONS[_function.__name__] = _function
swish, hard_swish = _FUNCTIONS["silu"], _FUNCTIONS["hard_silu"]


def _unknown(name):
    close = difflib.get_close_matches(str(name), NAMES, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ValueError(f"Unknown activation {name!r}{hint} Known: {list(NAMES)}")


def get(identifier):
    """The activation function for a name, ``None`` (linear) or one of this module's functions."""
    name = serialize_name(identifier)
    return _FUNCTIONS[name]


def serialize_name(identifier):
    """The Keras 3 name of an activation given as a name, ``None`` or one of this module's functions."""
    if identifier in _ALIASES:
        return _ALIASES[identifier]
    if isinstance(identifier, str):
        if identifier not in _FUNCTIONS:
            raise _unknown(identifier)
        return identifier
    if callable(identifier) and _FUNCTIONS.get(getattr(identifier, "__name__", None)) is identifier:
        return identifier.__name__
    raise TypeError(
        f"Could not interpret activation {identifier!r}: rnnkit takes an activation name or a function of "
        f"rnnkit.activations ({list(NAMES)})"
    )


def serialize(activation):
    return serialize_name(activation)


def deserialize(config):
    return get(config)


def gradient(name, output, d_output, inputs=None):
    """dL/dx of activation ``name`` given its output y = f(x) and dL/dy, and its input x when ``name`` is in
    ``NEEDS_INPUT``."""
    return _ops().activation_grad(name, output, d_output, inputs if name in NEEDS_INPUT else None)
