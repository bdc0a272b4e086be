"""rnnkit.ops.norm: Keras' Norm (module keras.src.ops.linalg), numpy's vector and matrix norms.

One axis (or axis=None with ord=None: all axes as one vector) takes a vector norm: ord None or 2 (Euclidean), 1,
inf, -inf, 0 (the count of non-zeros) or any other number p, (sum |x|^p)^(1/p). Two axes take a matrix norm: ord
None or "fro" (Frobenius), "nuc" (the sum of the singular values), 2 and -2 (the largest and smallest singular
value), 1 and -1 (the largest and smallest column sum of |x|), inf and -inf (of the row sums). axis=None with an ord
takes the vector norm of a rank-1 tensor and the matrix norm of a rank-2 one, as numpy.

Gradients are PyTorch's (Keras on torch): zero where the norm is zero and, for p-norms, at zero entries; inf, -inf
and the column and row sums share it evenly among ties (amax's rule); the singular value norms go through the SVD
(U V^T for "nuc"), which assumes distinct singular values; ord=0 passes none.

The config writes ord=inf and -inf as the strings "inf" and "-inf": .rnnkit headers are strict JSON, which has no
infinity. Keras' configs (its JSON's Infinity) load as well.
"""
import math

import numpy as np

from rnnkit.layers.operations import Operation, checked_axes
from rnnkit.layers.operations_shape import _axes

LINALG_MODULE = "keras.src.ops.linalg"
MATRIX_ORDS = (None, "fro", "nuc", math.inf, -math.inf, 1, -1, 2, -2)
_INFINITE = {"inf": math.inf, "-inf": -math.inf}


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Norm(Operation):
    module = LINALG_MODULE

    def __init__(self, ord=None, axis=None, keepdims=False, name=None, **kwargs):  # noqa: A002 (Keras' name)
        super().__init__(name=name, **kwargs)
        ord = _INFINITE.get(ord, ord) if isinstance(ord, str) else ord  # noqa: A001
        if not (ord is None or ord in ("fro", "nuc") or _is_number(ord)):
            raise ValueError(f"Norm: expected ord to be None, a number, 'fro' or 'nuc', received {ord!r}")
        self.ord = ord
        self.axis = checked_axes("Norm", "axis", axis)
        self.keepdims = bool(keepdims)

    def _reduced(self, rank):
        """The reduced axes, in the order given (a matrix's rows, then columns), and whether a matrix norm."""
        if self.axis is None:
            if self.ord is None:
                return tuple(range(rank)), False
            if rank not in (1, 2):
                raise ValueError(f"{self.name}: ord={self.ord!r} without an axis takes a tensor of rank 1 or 2, "
                                 f"received rank {rank}")
            return tuple(range(rank)), rank == 2
        axes = [self.axis] if isinstance(self.axis, int) else list(self.axis)
        normalised = _axes(self.name, axes, rank)
        if len(normalised) != len(axes) or len(axes) not in (1, 2):
            raise ValueError(f"{self.name}: expected one axis (a vector norm) or two different ones (a matrix "
                             f"norm), received axis={self.axis!r}")
        if len(axes) == 1 and isinstance(self.ord, str):
            raise ValueError(f"{self.name}: ord={self.ord!r} is a matrix norm; a vector norm takes a number")
        if len(axes) == 2 and self.ord not in MATRIX_ORDS:
            raise ValueError(f"{self.name}: a matrix norm takes ord in {MATRIX_ORDS}, received {self.ord!r}")
        return tuple(a % rank for a in axes), len(axes) == 2

    def output_dtype(self, input_dtypes):
        return "float32"

    def output_shape(self, values):
        (shape,) = values
        axes, _ = self._reduced(len(shape))
        if self.keepdims:
            return tuple(1 if i in axes else size for i, size in enumerate(shape))
        return tuple(size for i, size in enumerate(shape) if i not in axes)

    def _layout(self, x):
        """x with the reduced axes last: one axis (a vector's, several flattened into one) or a matrix's two."""
        axes, matrix = self._reduced(x.ndim)
        moved = np.moveaxis(x, axes, range(x.ndim - len(axes), x.ndim))
        if not matrix:
            moved = moved.reshape(moved.shape[:x.ndim - len(axes)] + (-1,))
        return moved, axes, matrix

    def forward(self, inputs, *, training=False, mask=None):
        (x,) = self._values(inputs)
        x = np.asarray(x, np.float64)
        moved, axes, matrix = self._layout(x)
        norm = _matrix_norm(moved, self.ord) if matrix else _vector_norm(moved, self.ord)
        y = np.expand_dims(norm, sorted(axes)) if self.keepdims else norm
        return y.astype(np.float32), ((x, moved, norm) if training else None)

    def backward(self, ctx, d_outputs):
        x, moved, norm = ctx
        axes, matrix = self._reduced(x.ndim)
        if self.ord == 0 and not matrix:
            return [None], []
        d_norm = np.reshape(np.asarray(d_outputs, np.float64), norm.shape)
        if matrix:
            d_moved = _matrix_norm_gradient(moved, norm, self.ord) * d_norm[..., None, None]
        else:
            d_moved = _vector_norm_gradient(moved, norm, self.ord) * d_norm[..., None]
        kept = x.ndim - len(axes)
        d_moved = d_moved.reshape(d_moved.shape[:kept] + tuple(x.shape[a] for a in axes))
        return [np.moveaxis(d_moved, range(kept, x.ndim), axes).astype(np.float32)], []

    def get_config(self):
        written = {math.inf: "inf", -math.inf: "-inf"}.get(self.ord, self.ord) if _is_number(self.ord) else self.ord
        return {"name": self.name, "ord": written, "axis": self.axis, "keepdims": self.keepdims}


def _vector_norm(v, ord):  # noqa: A002
    magnitude = np.abs(v)
    if ord == math.inf:
        return np.max(magnitude, axis=-1)
    if ord == -math.inf:
        return np.min(magnitude, axis=-1)
    if ord == 0:
        return np.count_nonzero(v, axis=-1).astype(np.float64)
    p = 2 if ord is None else ord
    with np.errstate(divide="ignore"):  # a negative p at a zero entry: the norm is 0, as numpy's
        return np.sum(magnitude ** p, axis=-1) ** (1.0 / p)


def _ties(values, extreme):
    """Where `values` (along the last axis) equal their extreme, each tie's share of it."""
    winners = values == extreme[..., None]
    return winners / np.sum(winners, axis=-1, keepdims=True)


def _vector_norm_gradient(v, norm, ord):  # noqa: A002
    magnitude = np.abs(v)
    if ord in (math.inf, -math.inf):
        return np.sign(v) * _ties(magnitude, norm)
    p = 2 if ord is None else ord
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        slope = np.sign(v) * magnitude ** (p - 1) * norm[..., None] ** (1 - p)
    return np.where((v == 0) | (norm[..., None] == 0), 0.0, slope)


def _matrix_norm(m, ord):  # noqa: A002
    if ord in (None, "fro"):
        return np.sqrt(np.sum(m * m, axis=(-2, -1)))
    if ord in ("nuc", 2, -2):
        singular = np.linalg.svd(m, compute_uv=False)
        return {"nuc": np.sum, 2: np.max, -2: np.min}[ord](singular, axis=-1)
    sums = np.sum(np.abs(m), axis=-2 if ord in (1, -1) else -1)  # column sums for 1, row sums for inf
    return np.max(sums, axis=-1) if ord in (1, math.inf) else np.min(sums, axis=-1)


def _matrix_norm_gradient(m, norm, ord):  # noqa: A002
    if ord in (None, "fro"):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(norm[..., None, None] == 0, 0.0, m / norm[..., None, None])
    if ord in ("nuc", 2, -2):
        u, _, vt = np.linalg.svd(m, full_matrices=False)
        if ord == "nuc":
            return u @ vt
        k = 0 if ord == 2 else -1  # singular values come largest first
        return u[..., :, k, None] * vt[..., None, k, :]
    by_columns = ord in (1, -1)
    sums = np.sum(np.abs(m), axis=-2 if by_columns else -1)
    share = _ties(sums, norm)
    return np.sign(m) * (share[..., None, :] if by_columns else share[..., :, None])


OPERATIONS = {"Norm": Norm}
