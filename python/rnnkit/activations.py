"""Activation functions with Keras 3 names, computed by the C++ core (``rnnkit.ops.activation``).

Each function takes an array and returns float32 with Keras 3's default arguments (leaky_relu's slope 0.2, the
exact gelu, ...); ``get`` resolves a name or one of these functions, ``serialize`` gives back the name Keras 3 writes
into configs. Gradients go through :func:`gradient`: from the activation's output, and for the few whose
derivative is not a function of it (``NEEDS_INPUT``) from its input too.
"""
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


def _make(name):
    def activation(x):
        return _ops().activation(name, np.asarray(x, dtype=np.float32))

    activation.__name__ = activation.__qualname__ = name
    activation.__doc__ = f"Keras 3's `{name}` activation with its default arguments (element-wise; softmax, " \
                         "log_softmax and sparsemax over the last axis)."
    return activation


_FUNCTIONS = {name: _make(name) for name in NAMES}
globals().update(_FUNCTIONS)  # rnnkit.activations.relu, .gelu, ... as in keras.activations
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
