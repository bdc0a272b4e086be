"""Activation functions with Keras 3 names, computed by the C++ core (``rnnkit.ops.activation``).

Each function takes an array and returns float32; ``get`` resolves a name or one of these functions, ``serialize``
gives back the name Keras 3 writes into configs. Gradients go through :func:`gradient`, which needs only the
activation's output.
"""
import difflib

import numpy as np

# Names the core computes, with their derivative expressed through the output alone.
NAMES = ("linear", "relu", "sigmoid", "tanh", "softmax", "hard_sigmoid", "elu", "selu", "softplus", "softsign",
         "exponential")
_ALIASES = {None: "linear"}


def _ops():
    from rnnkit import ops  # the recurrent-ops module; imported late so importing activations stays cheap

    return ops


def _make(name):
    def activation(x):
        return _ops().activation(name, np.asarray(x, dtype=np.float32))

    activation.__name__ = activation.__qualname__ = name
    activation.__doc__ = f"Keras 3's `{name}` activation, element-wise (softmax: over the last axis)."
    return activation


_FUNCTIONS = {name: _make(name) for name in NAMES}
linear, relu, sigmoid, tanh, softmax = (_FUNCTIONS[n] for n in ("linear", "relu", "sigmoid", "tanh", "softmax"))
hard_sigmoid, elu, selu, softplus = (_FUNCTIONS[n] for n in ("hard_sigmoid", "elu", "selu", "softplus"))
softsign, exponential = _FUNCTIONS["softsign"], _FUNCTIONS["exponential"]


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


def gradient(name, output, d_output):
    """dL/dx of activation ``name`` given its output y = f(x) and dL/dy."""
    return _ops().activation_grad(name, output, d_output)
