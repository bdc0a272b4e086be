"""rnnkit.ops' prod, std, var, logsumexp, any and all over axes (with keepdims), as Keras' classes of the same
names. std and var are the population ones (numpy's and Keras' ddof 0); where all reduced values are equal std's
gradient is zero, as PyTorch masks it. prod's gradient is the product of the other factors, exact where some are
zero; logsumexp's the softmax over the axes. any and all give bools and pass no gradient."""
import numpy as np

from rnnkit.layers.operations_constants import checked_dtype
from rnnkit.layers.operations_shape import _Reduction


def _reduced_count(x, axes):
    return max(1, int(np.prod([np.shape(x)[a] for a in axes])))


class Prod(_Reduction):
    float_output, needs_elements = False, False

    def __init__(self, axis=None, keepdims=False, dtype=None, name=None, **kwargs):
        super().__init__(axis=axis, keepdims=keepdims, name=name, **kwargs)
        self.target = checked_dtype("Prod", dtype, None)

    def output_dtype(self, input_dtypes):
        return self.target or ("int32" if input_dtypes[0] == "bool" else input_dtypes[0])

    def reduce(self, x, axes):
        x = x.astype(self.target or (np.int32 if x.dtype == bool else x.dtype))
        return np.prod(x, axis=axes, keepdims=True, dtype=np.float64 if x.dtype.kind == "f" else x.dtype)

    @staticmethod
    def spread(d_y, x, y, axes):
        # The product of the factors before each one times that of those after it, along the reduced axes
        # flattened into one (no division, which a zero factor would break).
        kept = [a for a in range(np.ndim(x)) if a not in axes]
        moved = np.transpose(np.asarray(x, np.float64), kept + list(axes))
        flat = moved.reshape(moved.shape[:len(kept)] + (-1,))
        ones = np.ones_like(flat[..., :1])
        before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        after = np.flip(np.cumprod(np.concatenate([ones, np.flip(flat, -1)[..., :-1]], axis=-1), axis=-1), -1)
        others = np.transpose((before * after).reshape(moved.shape), np.argsort(kept + list(axes)))
        return d_y * others

    def get_config(self):
        return {**super().get_config(), "dtype": self.target}


class Std(_Reduction):
    float_output, needs_elements = True, True

    @staticmethod
    def reduce(x, axes):
        return np.std(x, axis=axes, keepdims=True, dtype=np.float64)

    @staticmethod
    def spread(d_y, x, y, axes):
        x = np.asarray(x, np.float64)
        centered = x - np.mean(x, axis=axes, keepdims=True)
        std = np.sqrt(np.mean(centered * centered, axis=axes, keepdims=True))
        with np.errstate(divide="ignore", invalid="ignore"):
            return d_y * np.where(std > 0, centered / (_reduced_count(x, axes) * std), 0.0)


class Var(_Reduction):
    float_output, needs_elements = True, True

    @staticmethod
    def reduce(x, axes):
        return np.var(x, axis=axes, keepdims=True, dtype=np.float64)

    @staticmethod
    def spread(d_y, x, y, axes):
        x = np.asarray(x, np.float64)
        return d_y * 2.0 * (x - np.mean(x, axis=axes, keepdims=True)) / _reduced_count(x, axes)


class Logsumexp(_Reduction):
    """log(sum(exp(x))) over the axes, shifted by their maximum so that large values do not overflow."""
    float_output, needs_elements = True, True
    module = "keras.src.ops.math"

    @staticmethod
    def reduce(x, axes):
        x = np.asarray(x, np.float64)
        peak = np.max(x, axis=axes, keepdims=True)
        peak = np.where(np.isfinite(peak), peak, 0.0)
        return peak + np.log(np.sum(np.exp(x - peak), axis=axes, keepdims=True))

    @staticmethod
    def spread(d_y, x, y, axes):
        return d_y * np.exp(np.asarray(x, np.float64) - y)  # the softmax over the axes


class _Truth(_Reduction):
    float_output, needs_elements = False, False

    def output_dtype(self, input_dtypes):
        return "bool"

    def backward(self, ctx, d_outputs):
        return [None], []


class Any(_Truth):
    reduce = staticmethod(lambda x, axes: np.any(x, axis=axes, keepdims=True))


class All(_Truth):
    reduce = staticmethod(lambda x, axes: np.all(x, axis=axes, keepdims=True))


OPERATIONS = {cls.__name__: cls for cls in (Prod, Std, Var, Logsumexp, Any, All)}
