"""More of Keras' ops on symbolic tensors (sign ... linspace, see docs/layers.md): each op's values against numpy
float64 references and its gradient against central finite differences of that reference, the symbolic shapes and
dtypes against the computed ones, integer inputs, eager calls on arrays, and what is refused when written.

Tolerances: values rtol 1e-5 / atol 1e-5 (float32 against float64), gradients rtol 1e-4 / atol 1e-5 (central
differences of the float64 reference with step 1e-6). Inputs are spaced 0.05 apart (spaced()): no ties, and no
step of floor, ceil, round, floor_divide or mod within 1e-3 of a value, where a difference quotient would jump."""
import math

import numpy as np
import pytest

import rnnkit
from reference.gradient_check import reference_gradients
from rnnkit import layers, ops

RNG = np.random.default_rng(31)
W = np.random.default_rng(3).standard_normal((3, 2))  # a constant operand (ops.convert_to_tensor)
INDICES = np.array([[[0], [0], [2], [1], [0]]])  # take_along_axis indices of shape (1, 5, 1), broadcast on the batch
PAIRS = np.array([[[2, 0], [1, 1], [0, 2], [2, 2]]])  # of shape (1, 4, 2): x[:, :1] broadcasts along axis 1 to them


def spaced(shape):
    """Values 0.05 apart in a random order, offset by 0.013: no ties, none within the finite differences' step of
    another or of a step of the rounding ops in the cases below."""
    values = (np.arange(int(np.prod(shape))) - np.prod(shape) / 2) * 0.05 + 0.013
    return RNG.permutation(values).reshape(shape).astype(np.float32)


def _split_sum(pieces):
    a, b, c = pieces
    return a * 2.0 + b * c


def _top_k_mix(pair):
    values, indices = pair
    return values * 2.0 + indices * values


def _top_k_reference(x, k):
    order = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    return np.take_along_axis(x, order, -1), order


MATRIX_ORDS = (None, "fro", "nuc", 2, -2, 1, -1, np.inf, -np.inf)

# Each case: per-sample input shape, the expression on a symbolic tensor, the same expression on a float64 array.
CASES = {
    "sign_floor_ceil": ((5, 3), lambda x: ops.sign(x) * 0.5 + ops.floor(x * 3.0) - ops.ceil(x * 2.0) * x,
                        lambda x: np.sign(x) * 0.5 + np.floor(x * 3.0) - np.ceil(x * 2.0) * x),
    "round": ((5, 3), lambda x: ops.round(x * 4.0) + ops.round(x, 1) * x + ops.round(x * 30.0, -1),
              lambda x: np.round(x * 4.0) + np.round(x, 1) * x + np.round(x * 30.0, -1)),
    "floor_divide": ((5, 3), lambda x: ops.floor_divide(x * 5.0, 2.0) * x + ops.floor_divide(3.0, x * x + 1.0),
                     lambda x: np.floor_divide(x * 5.0, 2.0) * x + np.floor_divide(3.0, x * x + 1.0)),
    "mod": ((5, 3), lambda x: ops.mod(x * 3.0, 0.7) + ops.mod(2.0, x * x + 0.5) * 0.3
            + ops.mod(x, x[:, :1] * x[:, :1] + 0.4) * x[:, -1:],
            lambda x: np.mod(x * 3.0, 0.7) + np.mod(2.0, x * x + 0.5) * 0.3
            + np.mod(x, x[:, :1] * x[:, :1] + 0.4) * x[:, -1:]),
    "prod": ((5, 3), lambda x: ops.prod(x, axis=1) + ops.prod(x[:, :3], axis=(1, 2), keepdims=True)[:, 0] * 10.0,
             lambda x: np.prod(x, axis=1) + np.prod(x[:, :3], axis=(1, 2), keepdims=True)[:, 0] * 10.0),
    "std_var": ((5, 3), lambda x: ops.std(x, axis=1) + ops.var(x, axis=(1, 2), keepdims=True)[:, 0] + ops.std(x),
                lambda x: np.std(x, axis=1) + np.var(x, axis=(1, 2), keepdims=True)[:, 0] + np.std(x)),
    "vector_norms": ((5, 3), lambda x: ops.norm(x, axis=-1) + ops.norm(x, ord=1, axis=-1)
                     + ops.norm(x, ord=np.inf, axis=-1) * ops.norm(x, ord=-np.inf, axis=2)
                     + ops.norm(x, ord=3, axis=-1) + ops.norm(x, ord=0.5, axis=-1) + ops.norm(x, ord=-1, axis=-1),
                     lambda x: np.linalg.norm(x, axis=-1) + np.linalg.norm(x, 1, axis=-1)
                     + np.linalg.norm(x, np.inf, axis=-1) * np.linalg.norm(x, -np.inf, axis=2)
                     + np.linalg.norm(x, 3, axis=-1) + np.linalg.norm(x, 0.5, axis=-1)
                     + np.linalg.norm(x, -1, axis=-1)),
    "norm_keepdims_and_everything": ((5, 3), lambda x: ops.norm(x, ord=2, axis=1, keepdims=True) * x + ops.norm(x),
                                     lambda x: np.linalg.norm(x, 2, axis=1, keepdims=True) * x + np.linalg.norm(x)),
    "matrix_norms": ((5, 3), lambda x: sum(ops.norm(x, ord=o, axis=(1, 2)) for o in MATRIX_ORDS)
                     + ops.norm(x, ord=1, axis=(2, 1)),
                     lambda x: sum(np.linalg.norm(x, o, axis=(1, 2)) for o in MATRIX_ORDS)
                     + np.linalg.norm(x, 1, axis=(2, 1))),
    "any_all": ((5, 3), lambda x: ops.cast(ops.any(x > 0.2, axis=1), "float32") * x[:, 0]
                + ops.cast(ops.all(x > -0.5, axis=1, keepdims=True), "float32")[:, 0] * 2.0,
                lambda x: np.any(x > 0.2, axis=1) * x[:, 0] + np.all(x > -0.5, axis=1, keepdims=True)[:, 0] * 2.0),
    "flip_roll": ((5, 3), lambda x: ops.flip(x, 1) * x + ops.roll(x, 2, axis=1) - ops.roll(x, [1, -1], axis=[1, 2])
                  * ops.flip(x) + ops.roll(x, -4) + ops.roll(x, 1, axis=(1, 2)),
                  lambda x: np.flip(x, 1) * x + np.roll(x, 2, axis=1) - np.roll(x, (1, -1), axis=(1, 2))
                  * np.flip(x) + np.roll(x, -4) + np.roll(x, 1, axis=(1, 2))),
    "tile_repeat": ((5, 3), lambda x: ops.tile(x, (1, 2, 1)) * ops.repeat(x, 2, axis=1)
                    + ops.repeat(x, [3, 0, 2, 4, 1], axis=1),
                    lambda x: np.tile(x, (1, 2, 1)) * np.repeat(x, 2, axis=1) + np.repeat(x, [3, 0, 2, 4, 1], axis=1)),
    "tile_more_and_fewer_axes": ((5, 3), lambda x: ops.tile(x[:, 0], (2, 1, 2)) + ops.tile(x[:, 1], 2)[None],
                                 lambda x: np.tile(x[:, 0], (2, 1, 2)) + np.tile(x[:, 1], 2)[None]),
    "repeat_flattened": ((5, 3), lambda x: ops.repeat(x, 2) * 2.0, lambda x: np.repeat(x, 2) * 2.0),
    "broadcast_to": ((5, 3), lambda x: ops.broadcast_to(x[:, :1], (4, 5, 3)) * x
                     + ops.broadcast_to(x[:, 0, 0], (2, 4))[:, :, None, None],
                     lambda x: np.broadcast_to(x[:, :1], (4, 5, 3)) * x
                     + np.broadcast_to(x[:, 0, 0], (2, 4))[:, :, None, None]),
    "pad_constant": ((5, 3), lambda x: ops.pad(x, ((0, 0), (1, 2), (0, 1)), constant_values=0.5) * 2.0
                     + ops.pad(x, [[0, 0], [1, 2], [0, 1]]),
                     lambda x: np.pad(x, ((0, 0), (1, 2), (0, 1)), constant_values=0.5) * 2.0
                     + np.pad(x, ((0, 0), (1, 2), (0, 1)))),
    "pad_modes": ((5, 3), lambda x: ops.pad(x, ((0, 0), (2, 1), (1, 1)), mode="reflect")
                  + ops.pad(x, ((0, 0), (2, 1), (1, 1)), mode="symmetric") * ops.pad(x, ((0, 0), (2, 1), (1, 1)),
                                                                                     mode="edge")
                  + ops.pad(x, ((0, 0), (2, 1), (1, 1)), mode="wrap"),
                  lambda x: np.pad(x, ((0, 0), (2, 1), (1, 1)), mode="reflect")
                  + np.pad(x, ((0, 0), (2, 1), (1, 1)), mode="symmetric") * np.pad(x, ((0, 0), (2, 1), (1, 1)),
                                                                                   mode="edge")
                  + np.pad(x, ((0, 0), (2, 1), (1, 1)), mode="wrap")),
    "pad_every_axis": ((5, 3), lambda x: ops.pad(x, 1) + ops.pad(x, (1, 1)), lambda x: 2 * np.pad(x, 1)),
    "split": ((5, 3), lambda x: _split_sum(ops.split(x, [1, 3], axis=1)),
              lambda x: _split_sum(np.split(x, [1, 3], axis=1))),
    "split_one_piece_read": ((5, 3), lambda x: ops.split(x, 5, axis=1)[2] * 3.0,
                             lambda x: np.split(x, 5, axis=1)[2] * 3.0),
    "tril_triu": ((5, 3), lambda x: ops.tril(x) + ops.triu(x, 1) * x + ops.tril(x, -1),
                  lambda x: np.tril(x) + np.triu(x, 1) * x + np.tril(x, -1)),
    "take": ((5, 3), lambda x: ops.take(x, [[0, 4], [4, 2]], axis=1) * 2.0
             + ops.take(x, [-1, 1, 1], axis=-1)[:, :2, None],
             lambda x: np.take(x, [[0, 4], [4, 2]], axis=1) * 2.0 + np.take(x, [-1, 1, 1], axis=-1)[:, :2, None]),
    "take_scalar_and_flattened": ((5, 3), lambda x: ops.take(x, 2, axis=-1) + ops.take(x, [-1, 0])[0],
                                  lambda x: np.take(x, 2, axis=-1) + np.take(x, [-1, 0])[0]),
    "take_along_axis": ((5, 3), lambda x: ops.take_along_axis(x, ops.argsort(x, axis=1), axis=1) * x
                        + ops.take_along_axis(x, ops.convert_to_tensor(INDICES), axis=2),
                        lambda x: np.take_along_axis(x, np.argsort(x, axis=1), axis=1) * x
                        + np.take_along_axis(x, np.broadcast_to(INDICES, (len(x), 5, 1)), axis=2)),
    "take_along_axis_broadcast_x": ((5, 3), lambda x: ops.take_along_axis(x[:, :1], ops.convert_to_tensor(PAIRS),
                                                                          axis=2),
                                    lambda x: np.take_along_axis(np.broadcast_to(x[:, :1], (len(x), 4, 3)),
                                                                 np.broadcast_to(PAIRS, (len(x), 4, 2)), axis=2)),
    "take_along_flattened": ((5, 3), lambda x: ops.take_along_axis(x, ops.convert_to_tensor([5, 0, 5, -1]), axis=None),
                             lambda x: np.take_along_axis(x.reshape(-1), np.array([5, 0, 5, -1]), axis=0)),
    "sort": ((5, 3), lambda x: ops.sort(x, axis=1) * x + ops.sort(x), lambda x: np.sort(x, axis=1) * x + np.sort(x)),
    "sort_flattened": ((5, 3), lambda x: ops.sort(x, axis=None), lambda x: np.sort(x, axis=None)),
    "top_k": ((5, 3), lambda x: _top_k_mix(ops.top_k(x, 2)), lambda x: _top_k_mix(_top_k_reference(x, 2))),
    "einsum": ((5, 3), lambda x: ops.einsum("bij,bkj->bik", x, x)
               + ops.einsum("bii->bi", ops.einsum("bij,bkj->bik", x, x))[:, :, None],
               lambda x: np.einsum("bij,bkj->bik", x, x)
               + np.einsum("bii->bi", np.einsum("bij,bkj->bik", x, x))[:, :, None]),
    "einsum_broadcast_and_implicit": ((5, 3), lambda x: ops.einsum("...ij,...ij->...j", x, x[:, :1])
                                      + ops.einsum("...ij, ...ik", x, x)[:, 0],
                                      lambda x: np.einsum("...ij,...ij->...j", x, x[:, :1])
                                      + np.einsum("...ij,...ik", x, x)[:, 0]),
    "einsum_summed_alone_and_constant": ((5, 3), lambda x: ops.einsum("bij->b", x)[:, None]
                                         * ops.einsum("bij,jk->bik", x, ops.convert_to_tensor(W))[:, 0],
                                         lambda x: np.einsum("bij->b", x)[:, None]
                                         * np.einsum("bij,jk->bik", x, W)[:, 0]),
    "einsum_diagonal_operand": ((3, 3), lambda x: ops.einsum("bii,bij->bj", x, x),
                                lambda x: np.einsum("bii,bij->bj", x, x)),
    "dot": ((5, 3), lambda x: ops.dot(x, ops.convert_to_tensor(W)) + ops.dot(x, x[0, 0])[:, :, None]
            * ops.dot(x, 2.0)[:, :, :2] + ops.dot(2.0, x)[:, :, 1:],
            lambda x: np.dot(x, W) + np.dot(x, x[0, 0])[:, :, None] * np.dot(x, 2.0)[:, :, :2] + 2.0 * x[:, :, 1:]),
    "dot_of_higher_ranks": ((5, 3), lambda x: ops.dot(x, ops.transpose(x, (1, 2, 0))),
                            lambda x: np.dot(x, np.transpose(x, (1, 2, 0)))),
    "dot_of_vectors": ((3,), lambda x: ops.dot(x[0], x[1]) + ops.dot(x, ops.transpose(x)),
                       lambda x: np.dot(x[0], x[1]) + np.dot(x, x.T)),
    "constants": ((5, 3), lambda x: x * ops.arange(3) + ops.eye(5, 3, k=1) - ops.full((3,), 0.5)
                  + ops.linspace(0.0, 1.0, 3) * ops.ones((5, 1)) + ops.zeros((3,), dtype="int32")
                  + ops.full_like(x, 2.0) * x + ops.arange(0.5, 2.0, 0.5) + (x @ ops.eye(3)) * 2.0,
                  lambda x: x * np.arange(3) + np.eye(5, 3, k=1) - 0.5 + np.linspace(0.0, 1.0, 3) + 2.0 * x
                  + np.arange(0.5, 2.0, 0.5) + x * 2.0),
    "unary_math": ((5, 3), lambda x: ops.sin(x) + ops.cos(x) * 0.5 + ops.tan(x * 0.4) + ops.arcsin(ops.tanh(x) * 0.9)
                   + ops.arccos(ops.tanh(x) * 0.9) + ops.arctan(x) + ops.sinh(x) + ops.cosh(x) + ops.arcsinh(x)
                   + ops.arccosh(x * x + 1.5) + ops.arctanh(ops.tanh(x) * 0.9) + ops.log1p(x * x) + ops.expm1(x)
                   + ops.log2(x * x + 0.5) + ops.log10(x * x + 0.5) + ops.exp2(x) + ops.cbrt(x * x + 0.5)
                   + ops.reciprocal(x * x + 0.5) + ops.deg2rad(x) + ops.rad2deg(x) * 0.01 + ops.rsqrt(x * x + 0.5)
                   + ops.erf(x) + ops.trunc(x * 3.0),
                   lambda x: np.sin(x) + np.cos(x) * 0.5 + np.tan(x * 0.4) + np.arcsin(np.tanh(x) * 0.9)
                   + np.arccos(np.tanh(x) * 0.9) + np.arctan(x) + np.sinh(x) + np.cosh(x) + np.arcsinh(x)
                   + np.arccosh(x * x + 1.5) + np.arctanh(np.tanh(x) * 0.9) + np.log1p(x * x) + np.expm1(x)
                   + np.log2(x * x + 0.5) + np.log10(x * x + 0.5) + np.exp2(x) + np.cbrt(x * x + 0.5)
                   + 1.0 / (x * x + 0.5) + x * np.pi / 180.0 + x * 1.8 / np.pi + 1.0 / np.sqrt(x * x + 0.5)
                   + np.vectorize(math.erf)(x) + np.trunc(x * 3.0)),
    "logsumexp_axes": ((5, 3), lambda x: ops.logsumexp(x * 20.0, axis=1) + ops.logsumexp(x, axis=(1, 2))[:, None]
                       + ops.logaddexp(x, x * x)[:, 0] + ops.arctan2(x, x * x + 0.5)[:, 1] + ops.hypot(x, 0.7)[:, 2],
                       lambda x: np.log(np.sum(np.exp(x * 20.0), axis=1))
                       + np.log(np.sum(np.exp(x), axis=(1, 2)))[:, None]
                       + np.logaddexp(x, x * x)[:, 0] + np.arctan2(x, x * x + 0.5)[:, 1] + np.hypot(x, 0.7)[:, 2]),
    "moveaxis_swapaxes": ((5, 3, 2), lambda x: ops.moveaxis(x, 1, 3) * 2.0 + ops.swapaxes(ops.swapaxes(x, 1, 3), 1, 2)
                          + ops.moveaxis(x * x, [1, 2], [3, 1]),
                          lambda x: np.moveaxis(x, 1, 3) * 2.0 + np.swapaxes(np.swapaxes(x, 1, 3), 1, 2)
                          + np.moveaxis(x * x, [1, 2], [3, 1])),
}


def model_of(case):
    shape, symbolic, _ = CASES[case]
    inputs = layers.Input(shape)
    return rnnkit.Model(inputs, symbolic(inputs))


@pytest.mark.parametrize("case", sorted(CASES))
def test_values_shapes_and_gradients_match_numpy(case):
    shape, _, reference = CASES[case]
    model = model_of(case)
    x = spaced((4, *shape))
    y = model.predict(x, verbose=0)
    np.testing.assert_allclose(y, reference(x.astype(np.float64)), rtol=1e-5, atol=1e-5)
    symbolic = model.outputs[0]
    assert len(symbolic.shape) == y.ndim and all(s is None or s == d for s, d in zip(symbolic.shape, y.shape))
    assert symbolic.dtype == y.dtype.name == "float32"

    # d(sum(w * y))/dx by the graph's backward against central differences of the float64 reference.
    weights = RNG.standard_normal(y.shape)
    _, ctx = model.forward(x, training=True)
    d_x, _ = model.backward(ctx, weights.astype(np.float32))
    (numeric,) = reference_gradients(reference, [x], weights)
    np.testing.assert_allclose(np.zeros_like(x) if d_x is None else d_x, numeric, rtol=1e-4, atol=1e-5)


def test_prod_gradient_is_exact_with_zero_factors():
    """The product of the other factors: one zero leaves its own slot the only non-zero, two zero everything."""
    x = spaced((2, 4, 3))
    x[0, 1, 0] = 0.0
    x[1, :2, 2] = 0.0
    inputs = layers.Input((4, 3))
    model = rnnkit.Model(inputs, ops.prod(inputs, axis=1))
    weights = RNG.standard_normal((2, 3))
    _, ctx = model.forward(x, training=True)
    d_x, _ = model.backward(ctx, weights.astype(np.float32))
    (numeric,) = reference_gradients(lambda v: np.prod(v, axis=1), [x], weights)
    np.testing.assert_allclose(d_x, numeric, rtol=1e-4, atol=1e-6)
    assert d_x[0, 1, 0] != 0 and np.all(d_x[0, [0, 2, 3], 0] == 0) and np.all(d_x[1, :, 2] == 0)


def integer_cases(ids):
    """Expressions on an int32 tensor: (symbolic, numpy reference)."""
    return {
        "sign": (ops.sign(ids - 3), lambda v: np.sign(v - 3)),
        "floor": (ops.floor(ids), lambda v: np.floor(v).astype(np.float32)),
        "ceil": (ops.ceil(ids), lambda v: np.ceil(v).astype(np.float32)),
        "round": (ops.round(ids * 7, -1), lambda v: np.round(v * 7, -1)),
        "floor_divide": (ops.floor_divide(ids - 3, 2), lambda v: np.floor_divide(v - 3, 2)),
        "floor_divide_float": (ops.floor_divide(ids, 2.0), lambda v: np.floor_divide(v, 2.0).astype(np.float32)),
        "mod": (ops.mod(ids - 3, 4), lambda v: np.mod(v - 3, 4)),
        "prod": (ops.prod(ids + 1, axis=1), lambda v: np.prod(v + 1, axis=1, dtype=np.int32)),
        "prod_of_bools": (ops.prod(ids > 0, axis=1), lambda v: np.prod(v > 0, axis=1, dtype=np.int32)),
        "prod_as_float": (ops.prod(ids, axis=1, dtype="float32"), lambda v: np.prod(v, axis=1).astype(np.float32)),
        "std": (ops.std(ids, axis=1), lambda v: np.std(v, axis=1).astype(np.float32)),
        "norm": (ops.norm(ids, axis=1), lambda v: np.linalg.norm(v, axis=1).astype(np.float32)),
        "any": (ops.any(ids, axis=1), lambda v: np.any(v, axis=1)),
        "all": (ops.all(ids > 1, axis=1, keepdims=True), lambda v: np.all(v > 1, axis=1, keepdims=True)),
        "flip_roll_tile_repeat": (ops.tile(ops.repeat(ops.roll(ops.flip(ids, 1), 1, axis=1), 2, axis=1), (1, 2)),
                                  lambda v: np.tile(np.repeat(np.roll(np.flip(v, 1), 1, axis=1), 2, axis=1), (1, 2))),
        "pad": (ops.pad(ids, ((0, 0), (1, 2)), constant_values=7), lambda v: np.pad(v, ((0, 0), (1, 2)),
                                                                                  constant_values=7)),
        "take": (ops.take(ids, [0, -1], axis=1), lambda v: np.take(v, [0, -1], axis=1)),
        "take_along_axis": (ops.take_along_axis(ids, ops.argsort(ids), axis=-1), lambda v: np.sort(v, axis=-1)),
        "sort": (ops.sort(ids, axis=None), lambda v: np.sort(v, axis=None)),
        "argsort": (ops.argsort(-ids), lambda v: np.argsort(-v, kind="stable").astype(np.int32)),
        "top_k_values": (ops.top_k(ids, 3)[0], lambda v: _top_k_reference(v, 3)[0]),
        "top_k_indices": (ops.top_k(ids, 3)[1], lambda v: _top_k_reference(v, 3)[1].astype(np.int32)),
        "split": (ops.split(ids, [2], axis=1)[1], lambda v: np.split(v, [2], axis=1)[1]),
        "tril": (ops.tril(ops.einsum("bi,bj->bij", ids, ids)), lambda v: np.tril(np.einsum("bi,bj->bij", v, v))),
        "dot": (ops.dot(ids, ops.convert_to_tensor(np.arange(5, dtype=np.int32))),
                lambda v: np.dot(v, np.arange(5, dtype=np.int32))),
        "full_like": (ops.full_like(ids, 2.5), lambda v: np.full_like(v, 2)),
        "full_like_as_float": (ops.full_like(ids, 2.5, dtype="float32"), lambda v: np.full(v.shape, 2.5, np.float32)),
        "broadcast_to": (ops.broadcast_to(ids[:, None, :], (3, 2, 5)),
                         lambda v: np.broadcast_to(v[:, None], (3, 2, 5))),
    }


def test_integer_inputs_keep_keras_dtypes_and_numpy_values():
    ids = layers.Input((5,), dtype="int32")
    cases = integer_cases(ids)
    model = rnnkit.Model(ids, [symbolic for symbolic, _ in cases.values()])
    tokens = np.array([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3], [0, 7, 7, 2, 8]], np.int32)
    for (name, (symbolic, reference)), value in zip(cases.items(), model.predict(tokens, verbose=0)):
        expected = reference(tokens)
        assert value.dtype == expected.dtype and symbolic.dtype == value.dtype.name, name
        assert len(symbolic.shape) == value.ndim and all(s is None or s == d for s, d in zip(symbolic.shape,
                                                                                             value.shape)), name
        np.testing.assert_allclose(value, expected, rtol=1e-6, err_msg=name)


def test_ops_compute_at_once_on_arrays_giving_constants():
    from rnnkit.layers.operations_constants import Constant

    x = spaced((3, 4))
    first, second = ops.split(x, 2, axis=1)
    values, indices = ops.top_k(x, 2)
    assert isinstance(first, Constant) and isinstance(values, Constant) and isinstance(ops.norm(x), Constant)
    np.testing.assert_array_equal(first, x[:, :2])
    np.testing.assert_array_equal(second, x[:, 2:])
    np.testing.assert_array_equal(indices, _top_k_reference(x, 2)[1])
    np.testing.assert_allclose(ops.einsum("ij,kj->ik", x, x), x @ x.T, rtol=1e-6)
    np.testing.assert_allclose(ops.norm(x, ord="nuc", axis=(0, 1)), np.linalg.norm(x.astype(np.float64), "nuc"),
                               rtol=1e-6)
    np.testing.assert_array_equal(ops.pad(x, 1, mode="wrap"), np.pad(x, 1, mode="wrap"))
    assert ops.arange(3).dtype == np.int32 and ops.arange(0.0, 1.0, 0.5).dtype == np.float32
    assert ops.full((2,), 1).dtype == np.float32 and ops.eye(2, dtype="int32").dtype == np.int32
    samples, step = ops.linspace(0, 1, 5, retstep=True)
    assert step == 0.25 and samples.dtype == np.float32 and isinstance(samples, Constant)
    doubled = ops.ones((2,)) * 2.0  # numpy arithmetic on a Constant stays one
    assert isinstance(doubled, Constant) and isinstance(ops.add(doubled, 1.0), Constant)
    converted = ops.convert_to_tensor(x)
    x[0, 0] = 100.0  # a Constant is a copy
    assert isinstance(converted, Constant) and converted[0, 0] != 100.0


def test_what_keras_refuses_or_rnnkit_does_not_support_is_refused_when_written():
    x, ids = layers.Input((5, 3)), layers.Input((5,), dtype="int32")
    refusals = [
        (lambda: ops.norm(x, ord="fro", axis=1), ValueError, "is a matrix norm"),
        (lambda: ops.norm(x, ord=3, axis=(1, 2)), ValueError, "a matrix norm takes ord in"),
        (lambda: ops.norm(x, ord=2), ValueError, "takes a tensor of rank 1 or 2"),
        (lambda: ops.norm(x, axis=(1, 1)), ValueError, "two different ones"),
        (lambda: ops.norm(x, ord="max"), ValueError, "expected ord to be None, a number"),
        (lambda: ops.split(x, 2, axis=1), ValueError, "does not split into 2 equal sections"),
        (lambda: ops.tril(x[:, 0, 0]), ValueError, "rank 2 or more"),
        (lambda: ops.take(x, [0.5], axis=1), TypeError, "integer indices"),
        (lambda: ops.take(x, x, axis=1), TypeError, "integer indices"),
        (lambda: ops.take_along_axis(x, ops.convert_to_tensor([[0]]), axis=1), ValueError, "same rank"),
        (lambda: ops.pad(x, ((1, 1), (2, 2))), ValueError, "has 2 pairs for a tensor of rank 3"),
        (lambda: ops.pad(x, 1, mode="reflect", constant_values=2.0), ValueError, "constant_values is for mode"),
        (lambda: ops.pad(x, 1, mode="mean"), ValueError, "pads in the modes"),
        (lambda: ops.pad(x, -1), ValueError, "pad_width"),
        (lambda: ops.einsum("ij,jk", x, x), ValueError, "does not fit an operand of rank 3"),
        (lambda: ops.einsum("bij,bkj", x), ValueError, "name 2 operands, received 1"),
        (lambda: ops.einsum("bij->bii", x), ValueError, "each output label must appear once"),
        (lambda: ops.einsum("...j->j", x), ValueError, "need a '...' in the output"),
        (lambda: ops.einsum("bij,bkj->bik", x, layers.Input((4, 2))), ValueError, "has sizes 3 and 2"),
        (lambda: ops.einsum("bi->b", x[:, 0], optimize=True), TypeError, "subscripts and operands only"),
        (lambda: ops.dot(x, layers.Input((4, 2))), ValueError, "has sizes 3 and 4"),
        (lambda: ops.top_k(x, 4), ValueError, "cannot take the top 4"),
        (lambda: ops.broadcast_to(x, (4, 5, 2)), ValueError, "cannot broadcast shape"),
        (lambda: ops.repeat(x, [1, 2], axis=1), ValueError, "2 repeats for an axis of size 5"),
        (lambda: ops.roll(x, [1, 2], axis=1), ValueError, "one shift per axis"),
        (lambda: ops.round(x, 0.5), ValueError, "decimals to be an integer"),
        (lambda: ops.prod(x, dtype="float64"), ValueError, "rnnkit's tensors are"),
        (lambda: ops.ones((None, 3)), ValueError, "known sizes"),
        (lambda: ops.full((3,), x), TypeError, "use full_like"),
        (lambda: ops.full_like(x, x[:, :1]), TypeError, "not a symbolic tensor"),
        (lambda: x + "a string", TypeError, r"ops.convert_to_tensor\(array\)"),
        (lambda: ops.flip(x, 3), ValueError, "out of range"),
        (lambda: ops.sort(ids, axis=2), ValueError, "out of range"),
    ]
    for make, error, message in refusals:
        with pytest.raises(error, match=message):
            make()


def test_errors_the_data_decide_are_refused_when_the_model_runs():
    x = layers.Input((None, 3))
    for outputs, data, message in ((ops.take(x, [4], axis=1), np.ones((1, 3, 3), np.float32), "out of range"),
                                   (ops.split(x, 2, axis=1)[0], np.ones((1, 3, 3), np.float32),
                                    "equal division"),
                                   (ops.top_k(ops.transpose(x, (0, 2, 1)), 3)[0], np.ones((1, 2, 3), np.float32),
                                    "cannot take the top 3")):
        with pytest.raises(ValueError, match=message):
            rnnkit.Model(x, outputs).predict(data, verbose=0)


def test_isnan_isinf_isfinite_give_bool_without_gradient():
    x = np.array([[1.0, np.nan, np.inf, -np.inf, 0.0]], np.float32)
    np.testing.assert_array_equal(ops.isnan(x), np.isnan(x))
    np.testing.assert_array_equal(ops.isinf(x), np.isinf(x))
    np.testing.assert_array_equal(ops.isfinite(x), np.isfinite(x))
    inputs = layers.Input((5,))
    flags = ops.isfinite(inputs)
    assert flags.dtype == "bool"
    model = rnnkit.Model(inputs, ops.where(flags, inputs, 0.0) * 2.0)
    np.testing.assert_array_equal(model.predict(x, verbose=0), [[2.0, 0.0, 0.0, 0.0, 0.0]])
