"""float64 references of the activations only layers take, from their Keras 3 definitions (default arguments).

Written from the formulas in Keras' docstrings, independently of the core's forms (which avoid cancellation):
these use math.erfc, numpy's tanh and a bisection per row for sparsemax.
"""
import math

import numpy as np

_erfc = np.vectorize(math.erfc, otypes=[float])


def _normal_cdf(x):
    """P(X <= x) for X ~ N(0, 1), through erfc so the far negative tail keeps its digits."""
    return 0.5 * _erfc(-x / math.sqrt(2.0))


def _softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0.0)


def _sigmoid(x):
    """1 / (1 + e^-x), as e^x / (1 + e^x) below 0 so neither overflows nor cancels."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


def _log_softmax(x):
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _sparsemax(x):
    """Euclidean projection of each row onto the probability simplex, by bisection on the threshold tau."""
    low = x.min(axis=-1, keepdims=True) - 1.0
    high = x.max(axis=-1, keepdims=True)
    for _ in range(200):
        tau = 0.5 * (low + high)
        too_much = np.maximum(x - tau, 0.0).sum(axis=-1, keepdims=True) > 1.0
        low, high = np.where(too_much, tau, low), np.where(too_much, high, tau)
    return np.maximum(x - 0.5 * (low + high), 0.0)


def _squareplus(x):
    """(x + sqrt(x^2 + 4)) / 2, which equals 2 / (sqrt(x^2 + 4) - x): the second where the first cancels (x < 0)."""
    root = np.hypot(x, 2.0)
    return np.where(x >= 0.0, 0.5 * (x + root), 2.0 / np.where(x >= 0.0, 1.0, root - x))


def _tanh_shrink(x):
    """x - tanh(x); its Taylor series where the difference cancels in float64 too."""
    series = x**3 / 3 - 2 * x**5 / 15 + 17 * x**7 / 315 - 62 * x**9 / 2835
    return np.where(np.abs(x) < 1e-2, series, x - np.tanh(x))


LAYER_ONLY = {
    "log_softmax": _log_softmax,
    "sparsemax": _sparsemax,
    "leaky_relu": lambda x: np.where(x > 0.0, x, 0.2 * x),
    "relu6": lambda x: np.clip(x, 0.0, 6.0),
    "hard_tanh": lambda x: np.clip(x, -1.0, 1.0),
    "celu": lambda x: np.maximum(x, 0.0) + np.minimum(0.0, np.expm1(np.minimum(x, 0.0))),
    "hard_shrink": lambda x: np.where(np.abs(x) > 0.5, x, 0.0),
    "soft_shrink": lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0.0)),
    "sparse_plus": lambda x: np.where(x <= -1.0, 0.0, np.where(x < 1.0, 0.25 * (x + 1.0) ** 2, x)),
    "sparse_sigmoid": lambda x: np.clip(0.5 * (x + 1.0), 0.0, 1.0),
    "log_sigmoid": lambda x: -_softplus(-x),
    "squareplus": _squareplus,
    "tanh_shrink": _tanh_shrink,
    "gelu": lambda x: x * _normal_cdf(x),
    "silu": lambda x: x * _sigmoid(x),
    "mish": lambda x: x * np.tanh(_softplus(x)),
    "hard_silu": lambda x: x * np.clip(x + 3.0, 0.0, 6.0) / 6.0,
}
