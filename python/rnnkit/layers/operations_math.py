"""Element-wise math of Keras' ops: sin, cos, tan, their inverses and hyperbolic forms, log1p, expm1, log2, log10,
exp2, cbrt, reciprocal, deg2rad, rad2deg, trunc (keras.src.ops.numpy), rsqrt, erf (keras.src.ops.math), the bool
isnan / isinf / isfinite, the binary logaddexp, arctan2, hypot, and stop_gradient (keras.src.ops.core). Each is its
value and its derivatives in terms of the output y and the inputs (as PyTorch computes them: trunc's is zero), in
float32 with numpy's inf and NaN where the function has them."""
import math

import numpy as np

from rnnkit.layers.operations_elementwise import _Elementwise, _no_gradient, _Unary

MATH_MODULE = "keras.src.ops.math"
_erf = np.vectorize(math.erf, otypes=[np.float64])


def _unary(name, compute, slope, module=None):
    """An operation class `name`: y = compute(a), dL/da = dL/dy * slope(y, a)."""
    attributes = {"compute": staticmethod(compute), "__module__": __name__,
                  "gradients": staticmethod(lambda d_y, y, a: (d_y * slope(y, np.asarray(a, np.float64)),))}
    if module:
        attributes["module"] = module
    return type(name, (_Unary,), attributes)


_LN2, _LN10 = math.log(2.0), math.log(10.0)
_UNARY = [
    ("Sin", np.sin, lambda y, a: np.cos(a)),
    ("Cos", np.cos, lambda y, a: -np.sin(a)),
    ("Tan", np.tan, lambda y, a: 1.0 + np.square(np.tan(a))),
    ("Arcsin", np.arcsin, lambda y, a: 1.0 / np.sqrt(1.0 - a * a)),
    ("Arccos", np.arccos, lambda y, a: -1.0 / np.sqrt(1.0 - a * a)),
    ("Arctan", np.arctan, lambda y, a: 1.0 / (1.0 + a * a)),
    ("Sinh", np.sinh, lambda y, a: np.cosh(a)),
    ("Cosh", np.cosh, lambda y, a: np.sinh(a)),
    ("Arcsinh", np.arcsinh, lambda y, a: 1.0 / np.sqrt(a * a + 1.0)),
    ("Arccosh", np.arccosh, lambda y, a: 1.0 / np.sqrt(a * a - 1.0)),
    ("Arctanh", np.arctanh, lambda y, a: 1.0 / (1.0 - a * a)),
    ("Log1p", np.log1p, lambda y, a: 1.0 / (1.0 + a)),
    ("Expm1", np.expm1, lambda y, a: np.exp(a)),
    ("Log2", np.log2, lambda y, a: 1.0 / (a * _LN2)),
    ("Log10", np.log10, lambda y, a: 1.0 / (a * _LN10)),
    ("Exp2", np.exp2, lambda y, a: np.exp2(a) * _LN2),
    ("Cbrt", np.cbrt, lambda y, a: 1.0 / (3.0 * np.square(np.cbrt(a)))),
    ("Reciprocal", lambda a: 1.0 / np.asarray(a, np.float64), lambda y, a: -1.0 / (a * a)),
    ("Deg2rad", np.deg2rad, lambda y, a: np.full_like(a, math.pi / 180.0)),
    ("Rad2deg", np.rad2deg, lambda y, a: np.full_like(a, 180.0 / math.pi)),
    ("Trunc", lambda a: np.trunc(np.asarray(a, np.float64)), lambda y, a: np.zeros_like(a)),
    ("Rsqrt", lambda a: 1.0 / np.sqrt(np.asarray(a, np.float64)), lambda y, a: -0.5 / (a * np.sqrt(a)), MATH_MODULE),
    ("Erf", _erf, lambda y, a: 2.0 / math.sqrt(math.pi) * np.exp(-a * a), MATH_MODULE),
]
CLASSES = [_unary(*spec) for spec in _UNARY]
CLASSES += [_no_gradient(name, function) for name, function in
            (("Isnan", np.isnan), ("Isinf", np.isinf), ("Isfinite", np.isfinite))]



class _FloatBinary(_Elementwise):
    def output_dtype(self, input_dtypes):
        return "float32"


def _binary(name, compute, slopes):
    """An operation class `name`: y = compute(a, b) in float64, (dL/da, dL/db) = dL/dy * slopes(y, a, b)."""

    def gradients(d_y, y, a, b):
        return tuple(d_y * slope for slope in slopes(y, np.asarray(a, np.float64), np.asarray(b, np.float64)))

    return type(name, (_FloatBinary,), {
        "compute": staticmethod(lambda a, b: compute(np.asarray(a, np.float64), np.asarray(b, np.float64))),
        "gradients": staticmethod(gradients), "__module__": __name__})


Logaddexp = _binary("Logaddexp", np.logaddexp, lambda y, a, b: (np.exp(a - y), np.exp(b - y)))
Arctan2 = _binary("Arctan2", np.arctan2, lambda y, a, b: (b / (a * a + b * b), -a / (a * a + b * b)))
Hypot = _binary("Hypot", np.hypot, lambda y, a, b: (a / y, b / y))


class StopGradient(_Elementwise):
    """Its input's value, through which no gradient flows."""
    module = "keras.src.ops.core"

    def output_dtype(self, input_dtypes):
        return input_dtypes[0]

    @staticmethod
    def compute(a):
        return a

    def backward(self, ctx, d_outputs):
        return [None], []


CLASSES += [Logaddexp, Arctan2, Hypot, StopGradient]
OPERATIONS = {cls.__name__: cls for cls in CLASSES}
