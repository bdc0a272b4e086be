"""Keras 3's weight regularizers: a penalty on a weight that training adds to the loss (and its gradient to the
weight's), as `kernel_regularizer=L2(1e-4)` on Dense, Conv1D, Embedding and the recurrent layers asks.

L1: l1 * sum(|w|) (gradient l1 * sign(w), 0 at 0); L2: l2 * sum(w^2) (no factor 1/2, as in Keras); L1L2 both.
Penalties are summed in float64, gradients are float32.
"""
import math

import numpy as np

from rnnkit.saving import object_registry


def _penalty_factor(value, name):
    if isinstance(value, bool) or not isinstance(value, (float, int)) or math.isinf(value) or math.isnan(value) \
            or value < 0:
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float. Received: {name}={value}")
    return float(value)


class Regularizer:
    """Base class: __call__(w) is the penalty, gradient(w) its derivative."""

    def __call__(self, x):
        return 0.0

    def gradient(self, x):
        return np.zeros(np.shape(x), np.float32)

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1L2(Regularizer):
    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _penalty_factor(0.0 if l1 is None else l1, "l1")
        self.l2 = _penalty_factor(0.0 if l2 is None else l2, "l2")

    def __call__(self, x):
        x = np.asarray(x, np.float64)
        return self.l1 * float(np.abs(x).sum()) + self.l2 * float(np.square(x).sum())

    def gradient(self, x):
        x = np.asarray(x, np.float32)
        return (np.float32(self.l1) * np.sign(x) + np.float32(2.0 * self.l2) * x).astype(np.float32)

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


l1, l2, l1_l2 = L1, L2, L1L2
_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2, "l1": L1, "l2": L2, "l1l2": L1L2, "l1_l2": L1L2}


def serialize(regularizer):
    """Keras 3's form: {"module", "class_name", "config", "registered_name"} (None for None)."""
    return object_registry.serialize_object(regularizer, _CLASSES, "keras.regularizers")


def deserialize(config, custom_objects=None):
    return object_registry.object_from_config(config, _CLASSES, "regularizer", custom_objects)


def get(identifier):
    """A regularizer from None, one of its names, a serialized dict or an instance."""
    return object_registry.get_object(identifier, Regularizer, _CLASSES, "regularizer")
