"""Argument and shape checks shared by the concrete layers; every error names the layer and what it received."""
import math
import sys

import numpy as np


def positive_int(layer, arg, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{layer}: expected {arg} to be a positive int, received {value!r}")
    if value <= 0:
        raise ValueError(f"{layer}: expected {arg} > 0, received {arg}={value}")
    return int(value)


def fraction(layer, arg, value):
    """A rate in [0, 1): dropout probabilities."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{layer}: expected {arg} to be a float in [0, 1), received {value!r}")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{layer}: expected {arg} in [0, 1), received {arg}={value}")
    return float(value)


def expect_rank(layer, shape, ranks, what="input"):
    ranks = (ranks,) if isinstance(ranks, int) else tuple(ranks)
    if len(shape) not in ranks:
        expected = " or ".join(str(r) for r in ranks)
        raise ValueError(f"{layer}: expected {what} of rank {expected}, received shape {tuple(shape)}")


def expect_min_rank(layer, shape, min_rank, what="input"):
    if len(shape) < min_rank:
        raise ValueError(f"{layer}: expected {what} of rank >= {min_rank}, received shape {tuple(shape)}")


def expect_last_dim(layer, shape, expected, what="input"):
    if shape[-1] is not None and shape[-1] != expected:
        raise ValueError(
            f"{layer}: expected {what} with last dimension {expected}, received shape {tuple(shape)}"
        )


def keras_positional(layer, names, args, kwargs):
    """kwargs with the positional `args` that follow a layer's first argument bound to Keras' parameters `names`,
    in Keras' order, as Python would bind them (for layers whose arguments rnnkit routes by name)."""
    if len(args) > len(names):
        raise TypeError(f"{layer}: takes at most {len(names) + 1} positional arguments, received {len(args) + 1}")
    for name, value in zip(names, args):
        if name in kwargs:
            raise TypeError(f"{layer}: received two values for argument {name!r}")
        kwargs[name] = value
    return kwargs


def unsupported_options(layer, **options):
    """Keras arguments rnnkit accepts for config compatibility but only at their default None."""
    given = sorted(name for name, value in options.items() if value is not None)
    if given:
        raise ValueError(f"{layer}: rnnkit does not support {', '.join(given)}; received non-None values")


def float_input(layer, x, what="input"):
    if type(x) is np.ndarray and x.dtype == np.float32 and x.flags.c_contiguous:
        return x  # the common case, without the dtype checks below (a few microseconds per layer call)
    array = np.asarray(x)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
            or array.dtype == np.bool_):
        raise TypeError(f"{layer}: expected a numeric {what}, received dtype {array.dtype}")
    try:
        return np.ascontiguousarray(array, dtype=np.float32)
    except MemoryError as error:  # e.g. a zero-stride broadcast view far larger than memory once copied
        raise MemoryError(f"{layer}: cannot allocate the float32 copy of the {what} of shape {array.shape} "
                          f"({array.dtype}, {array.size} values)") from error


def weight_size(layer, name, shape):
    """Refuses weights whose size cannot even be computed in 64 bits (initializers draw float64 values)."""
    count = math.prod(shape)
    if count > sys.maxsize // 8:
        raise ValueError(f"{layer}: weight '{name}' of shape {shape} has {count} values, too many for 64-bit "
                         f"byte sizes")


def first_input(value):
    """The sequence input (or its mask) of a layer called on [sequences, *initial_states]."""
    return value[0] if isinstance(value, (list, tuple)) else value


def sequences_shape(input_shape):
    """The sequence shape out of a shape or a list of shapes [sequences, *initial_states]."""
    if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
        return tuple(input_shape[0])
    return tuple(input_shape)
