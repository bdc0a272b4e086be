"""Keras 3's activation functions as operations on tensors (keras.ops.silu, gelu, elu, leaky_relu, relu6, softplus,
selu, hard_sigmoid, softsign, log_softmax): their Keras class names and configs, and the gradients Keras on torch
computes (PyTorch's at the kinks: relu6 and hard_sigmoid pass none at their ends, leaky_relu its slope at 0)."""
import math

import numpy as np

from rnnkit.layers.operations import NN_MODULE
from rnnkit.layers.operations_elementwise import _Unary

# SELU constants (Klambauer et al. 2017), as Keras 3 uses them.
_SELU_ALPHA, _SELU_SCALE = 1.67326324235437728, 1.05070098735548049
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-np.asarray(a, np.float64)))


class _Activation(_Unary):
    module = NN_MODULE


class Silu(_Activation):
    @staticmethod
    def compute(a):
        return a * _sigmoid(a)

    @staticmethod
    def gradients(d_y, y, a):
        s = _sigmoid(a)
        return (d_y * (s * (1.0 + np.asarray(a, np.float64) * (1.0 - s))),)


class Relu6(_Activation):
    @staticmethod
    def compute(a):
        return np.clip(a, 0.0, 6.0)

    @staticmethod
    def gradients(d_y, y, a):
        return (d_y * ((np.asarray(a) > 0) & (np.asarray(a) < 6)),)


class Softplus(_Activation):
    @staticmethod
    def compute(a):
        a = np.asarray(a, np.float64)
        return np.log1p(np.exp(-np.abs(a))) + np.maximum(a, 0.0)

    @staticmethod
    def gradients(d_y, y, a):
        return (d_y * _sigmoid(a),)


class Selu(_Activation):
    @staticmethod
    def compute(a):
        a = np.asarray(a, np.float64)
        return _SELU_SCALE * np.where(a > 0, a, _SELU_ALPHA * np.expm1(np.minimum(a, 0.0)))

    @staticmethod
    def gradients(d_y, y, a):
        a = np.asarray(a, np.float64)
        return (d_y * _SELU_SCALE * np.where(a > 0, 1.0, _SELU_ALPHA * np.exp(np.minimum(a, 0.0))),)


class HardSigmoid(_Activation):
    @staticmethod
    def compute(a):
        return np.clip((np.asarray(a, np.float64) + 3.0) / 6.0, 0.0, 1.0)

    @staticmethod
    def gradients(d_y, y, a):
        return (d_y * (((np.asarray(a) > -3) & (np.asarray(a) < 3)) / 6.0),)


class Softsign(_Activation):
    @staticmethod
    def compute(a):
        return a / (1.0 + np.abs(a))

    @staticmethod
    def gradients(d_y, y, a):
        return (d_y / np.square(1.0 + np.abs(np.asarray(a, np.float64))),)


class Elu(_Activation):
    def __init__(self, alpha=1.0, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.alpha = float(alpha)

    def compute(self, a):
        a = np.asarray(a, np.float64)
        return np.where(a > 0, a, self.alpha * np.expm1(np.minimum(a, 0.0)))

    def gradients(self, d_y, y, a):
        a = np.asarray(a, np.float64)
        return (d_y * np.where(a > 0, 1.0, self.alpha * np.exp(np.minimum(a, 0.0))),)

    def get_config(self):
        return {"name": self.name, "alpha": self.alpha}


class LeakyRelu(_Activation):
    def __init__(self, negative_slope=0.2, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.negative_slope = float(negative_slope)

    def compute(self, a):
        return np.where(np.asarray(a) > 0, a, self.negative_slope * np.asarray(a))

    def gradients(self, d_y, y, a):
        return (d_y * np.where(np.asarray(a) > 0, 1.0, self.negative_slope),)

    def get_config(self):
        return {"name": self.name, "negative_slope": self.negative_slope}


class Gelu(_Activation):
    """approximate=True (keras.ops.gelu's default): the tanh form; False: x * Phi(x) with the error function."""

    def __init__(self, approximate=True, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.approximate = bool(approximate)

    def compute(self, a):
        a = np.asarray(a, np.float64)
        if self.approximate:
            return 0.5 * a * (1.0 + np.tanh(_SQRT_2_OVER_PI * (a + 0.044715 * a ** 3)))
        return 0.5 * a * (1.0 + _erf(a / math.sqrt(2.0)))

    def gradients(self, d_y, y, a):
        a = np.asarray(a, np.float64)
        if self.approximate:
            inner = _SQRT_2_OVER_PI * (a + 0.044715 * a ** 3)
            t = np.tanh(inner)
            slope = 0.5 * (1.0 + t) + 0.5 * a * (1.0 - t * t) * _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * a * a)
        else:
            slope = 0.5 * (1.0 + _erf(a / math.sqrt(2.0))) + a * np.exp(-0.5 * a * a) / math.sqrt(2.0 * math.pi)
        return (d_y * slope,)

    def get_config(self):
        return {"name": self.name, "approximate": self.approximate}


_erf = np.vectorize(math.erf, otypes=[np.float64])


class LogSoftmax(_Activation):
    def __init__(self, axis=-1, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.axis = int(axis)

    def output_shape(self, values):
        (shape,) = values
        if not -len(shape) <= self.axis < len(shape):
            raise ValueError(f"{self.name}: axis {self.axis} is out of range for a tensor of rank {len(shape)}")
        return tuple(shape)

    def compute(self, a):
        a = np.asarray(a, np.float64)
        shifted = a - np.max(a, axis=self.axis, keepdims=True)
        return shifted - np.log(np.sum(np.exp(shifted), axis=self.axis, keepdims=True))

    def gradients(self, d_y, y, a):
        return (d_y - np.exp(np.asarray(y, np.float64)) * np.sum(d_y, axis=self.axis, keepdims=True),)

    def get_config(self):
        return {"name": self.name, "axis": self.axis}


OPERATIONS = {cls.__name__: cls for cls in (Silu, Relu6, Softplus, Selu, HardSigmoid, Softsign, Elu, LeakyRelu,
                                            Gelu, LogSoftmax)}
