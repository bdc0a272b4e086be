"""Keras 3's weight constraints: after each optimizer step a constrained weight is replaced by the constraint of
its new value, as `kernel_constraint=MaxNorm(3)` on Dense, Conv1D, Embedding and the recurrent layers asks.

Norms are taken over `axis` (0 by default: each column of a kernel), in float32, with Keras' epsilon 1e-7.
"""
import numpy as np

from rnnkit.saving import object_registry

_EPSILON = np.float32(1e-7)


def _norms(w, axis):
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    return np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))


class Constraint:
    """Base class: __call__(w) is the constrained value."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MaxNorm(Constraint):
    """Scales the weight vectors whose norm exceeds max_value down to it."""

    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        return (w * (np.clip(norms, 0, self.max_value) / (_EPSILON + norms))).astype(np.float32)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves each weight vector's norm towards [min_value, max_value] by `rate` (1: onto it)."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = self.rate * np.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return (w * (desired / (_EPSILON + norms))).astype(np.float32)

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


class NonNeg(Constraint):
    def __call__(self, w):
        return np.maximum(w, np.float32(0.0))


class UnitNorm(Constraint):
    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return (w / (_EPSILON + _norms(w, self.axis))).astype(np.float32)

    def get_config(self):
        return {"axis": self.axis}


max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm
_CLASSES = {"MaxNorm": MaxNorm, "MinMaxNorm": MinMaxNorm, "NonNeg": NonNeg, "UnitNorm": UnitNorm,
            "max_norm": MaxNorm, "min_max_norm": MinMaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm}


def serialize(constraint):
    """Keras 3's form: {"module", "class_name", "config", "registered_name"} (None for None)."""
    return object_registry.serialize_object(constraint, _CLASSES, "keras.constraints")


def deserialize(config, custom_objects=None):
    return object_registry.object_from_config(config, _CLASSES, "constraint", custom_objects)


def get(identifier):
    """A constraint from None, one of its names, a serialized dict or an instance."""
    return object_registry.get_object(identifier, Constraint, _CLASSES, "constraint")
