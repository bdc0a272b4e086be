"""sgemm and the packed-B API against float64 numpy, on every ISA path this CPU supports."""
import itertools

import numpy as np
import pytest

from rnnkit import _core

EPS32 = float(np.finfo(np.float32).eps)


def operand(rng, rows, cols, transposed):
    """A float32 matrix whose op() is rows x cols, stored transposed when asked."""
    stored = rng.standard_normal((cols, rows) if transposed else (rows, cols)).astype(np.float32)
    return stored, (stored.T if transposed else stored).astype(np.float64)


def assert_gemm_close(got, alpha, a64, b64, beta, c0):
    """Error bound: float32 accumulation over K terms, relative to the magnitude of the exact terms."""
    k = a64.shape[1]
    c0_64 = np.nan_to_num(c0.astype(np.float64)) if beta == 0 else c0.astype(np.float64)
    expected = alpha * (a64 @ b64) + (0.0 if beta == 0 else beta * c0_64)
    scale = abs(alpha) * (np.abs(a64) @ np.abs(b64)) + abs(beta) * np.abs(c0_64) + np.finfo(np.float32).tiny
    tolerance = (4 * np.sqrt(k) + 8) * EPS32 * scale
    assert got.dtype == np.float32
    assert np.all(np.isfinite(got))
    err = np.abs(got.astype(np.float64) - expected)
    assert np.all(err <= tolerance), f"max err/tol {np.max(err / tolerance):.3g}"


SHAPES = [  # (M, N, K): each of 1, 3, 17, 255, 1000 in every position, non-square
    (1, 1, 1), (3, 17, 255), (17, 255, 3), (255, 3, 17), (1, 1000, 17), (1000, 1, 3),
    (3, 255, 1000), (255, 1000, 1), (17, 3, 1000), (1000, 255, 17), (64, 96, 257),
    (301, 600, 300),  # tall on two threads: each packs its own rows, two column blocks (two k blocks of 256)
    (301, 500, 600),  # ... and all of N in one column block, two k blocks: A packed a panel at a time, or
                      # (transposed) a block
]
TRANSPOSES = [(False, False), (False, True), (True, False), (True, True)]


@pytest.mark.parametrize("m,n,k", SHAPES)
@pytest.mark.parametrize("trans_a,trans_b", TRANSPOSES)
def test_sgemm_matches_float64(isa, m, n, k, trans_a, trans_b):
    check_sgemm_against_float64(m, n, k, trans_a, trans_b, 0.75, -1.5)


def check_sgemm_against_float64(m, n, k, trans_a, trans_b, alpha, beta):
    rng = np.random.default_rng([m, n, k, trans_a, trans_b])
    a, a64 = operand(rng, m, k, trans_a)
    b, b64 = operand(rng, k, n, trans_b)
    c = rng.standard_normal((m, n)).astype(np.float32)
    c0 = c.copy()
    _core.sgemm(trans_a, trans_b, alpha, a, b, beta, c)
    assert_gemm_close(c, alpha, a64, b64, beta, c0)


@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (-2.0, 0.0), (1.0, 1.0), (0.0, 2.0), (0.0, 0.0)])
def test_sgemm_alpha_beta_and_nan_ignored_when_beta_zero(isa, alpha, beta):
    rng = np.random.default_rng(7)
    a, a64 = operand(rng, 37, 300, False)
    b, b64 = operand(rng, 300, 45, False)
    c = rng.standard_normal((37, 45)).astype(np.float32)
    if beta == 0:
        c[::3, ::2] = np.nan
    c0 = c.copy()
    _core.sgemm(False, False, alpha, a, b, beta, c)
    assert_gemm_close(c, alpha, a64, b64, beta, c0)


@pytest.mark.parametrize("m,n,k", [(0, 5, 3), (4, 0, 3), (4, 5, 0)])
def test_sgemm_empty_sizes(isa, m, n, k):
    c = np.full((m, n), 3.0, np.float32)
    _core.sgemm(False, False, 1.0, np.ones((m, k), np.float32), np.ones((k, n), np.float32), 2.0, c)
    np.testing.assert_array_equal(c, np.full((m, n), 6.0 if k == 0 else 3.0, np.float32))


def test_sgemm_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        _core.sgemm(False, False, 1.0, np.ones((2, 3), np.float32), np.ones((4, 2), np.float32), 0.0,
                    np.zeros((2, 2), np.float32))


@pytest.mark.parametrize("m", [1, 2, 5, 8, 13, 100, 300])  # 300: tall, rows split between two threads
@pytest.mark.parametrize("trans_a,trans_b", TRANSPOSES)
@pytest.mark.parametrize("k", [129, 1100])  # 1100: several K blocks (of 256 or 512 by the L1d), C accumulated
def test_sgemm_packed_matches_float64(isa, m, trans_a, trans_b, k):
    n = 4 * 70  # LSTM-shaped: N = 4H, K = H
    rng = np.random.default_rng([m, trans_a, trans_b, k])
    a, a64 = operand(rng, m, k, trans_a)
    b, b64 = operand(rng, k, n, trans_b)
    packed = _core.pack_b(trans_b, b)
    assert (packed.rows, packed.cols, packed.isa) == (k, n, isa)
    c = rng.standard_normal((m, n)).astype(np.float32)
    c0 = c.copy()
    _core.sgemm_packed(trans_a, 1.25, a, packed, 0.5, c)
    assert_gemm_close(c, 1.25, a64, b64, 0.5, c0)


@pytest.mark.parametrize("n_begin,n_end", [(0, 0), (0, 1), (5, 37), (32, 64), (33, 300), (100, 513), (511, 520)])
@pytest.mark.parametrize("m", [3, 60, 200])  # 60 and 200: enough work for two threads (columns / rows split)
def test_sgemm_packed_column_range_touches_only_its_columns(isa, m, n_begin, n_end):
    k, n = 300, 520
    rng = np.random.default_rng([m, n_begin, n_end])
    a, a64 = operand(rng, m, k, False)
    b, b64 = operand(rng, k, n, False)
    packed = _core.pack_b(False, b)
    c = rng.standard_normal((m, n)).astype(np.float32)
    c0 = c.copy()
    _core.sgemm_packed(False, 1.0, a, packed, 0.0, c, n_begin, n_end)
    inside = slice(n_begin, n_end)
    assert_gemm_close(c[:, inside], 1.0, a64, b64[:, inside], 0.0, c0[:, inside])
    outside = np.ones(n, bool)
    outside[inside] = False
    np.testing.assert_array_equal(c[:, outside], c0[:, outside])


def test_sgemm_packed_rejects_bad_column_range():
    packed = _core.pack_b(False, np.ones((4, 10), np.float32))
    with pytest.raises(ValueError):
        _core.sgemm_packed(False, 1.0, np.ones((2, 4), np.float32), packed, 0.0, np.zeros((2, 10), np.float32), 5, 11)


# sgemm's batch-sized paths: row panels with B read in place (one panel: M up to the panel height, 4 generic,
# 6 AVX2, 12 AVX-512; several when K <= 64, and B's rows lie under 512 floats apart or M <= 48), and column-split
# per-thread packing (up to 128 rows); N off the panel widths, K past one block.
SMALL_M = [1, 2, 3, 7, 8, 9, 12, 13, 17, 128]


@pytest.mark.parametrize("m", SMALL_M)
@pytest.mark.parametrize("n,k", [(4 * 70, 129), (3 * 64 + 5, 300), (17, 64), (3 * 64 + 5, 40), (4 * 64, 64),
                                 (4 * 128 + 5, 50)])
@pytest.mark.parametrize("trans_a,trans_b", TRANSPOSES)
def test_sgemm_batch_rows_match_float64(isa, m, n, k, trans_a, trans_b):
    check_sgemm_against_float64(m, n, k, trans_a, trans_b, -0.5, 0.25)


@pytest.mark.parametrize("m", [1, 5, 40])
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (2.0, 1.0), (0.0, 2.0)])
def test_sgemm_batch_rows_alpha_beta_and_nan_ignored_when_beta_zero(isa, m, alpha, beta):
    rng = np.random.default_rng([m, int(alpha), int(beta)])
    a, a64 = operand(rng, m, 96, False)
    b, b64 = operand(rng, 96, 4 * 96 + 3, False)
    c = rng.standard_normal((m, 4 * 96 + 3)).astype(np.float32)
    if beta == 0:
        c[:, ::2] = np.nan
    c0 = c.copy()
    _core.sgemm(False, False, alpha, a, b, beta, c)
    assert_gemm_close(c, alpha, a64, b64, beta, c0)


# The binding reads float32 operands in place when one axis has unit stride (a column slice of a wider array,
# a transposed view) and converts anything else; c is always written in place, row- or column-major.
def laid_out(rng, rows, cols, layout):
    """A float32 rows x cols matrix in `layout`, the float64 values, and the array it is a view of."""
    values = rng.standard_normal((rows, cols))
    if layout == "contiguous":
        base = values.astype(np.float32)
        view = base
    elif layout == "column_slice":  # rows a wider row apart
        base = np.full((rows, cols + 5), np.nan, np.float32)
        view = base[:, 2:2 + cols]
    elif layout == "transposed":  # column-major: x.T of a contiguous x
        base = np.full((cols + 3, rows), np.nan, np.float32)
        view = base[1:1 + cols].T
    elif layout == "every_other_column":  # no unit stride: converted (inputs only)
        base = np.full((rows, 2 * cols), np.nan, np.float32)
        view = base[:, ::2]
    elif layout == "float64":  # converted (inputs only)
        base = values.copy()
        view = base
    view[...] = values
    return view, view.astype(np.float64), base


LAYOUTS = ["contiguous", "column_slice", "transposed", "every_other_column", "float64"]


@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (1, 70, 33), (5, 37, 64), (40, 33, 70), (130, 17, 260)])
@pytest.mark.parametrize("a_layout", LAYOUTS)
@pytest.mark.parametrize("b_layout", LAYOUTS)
def test_sgemm_reads_and_writes_strided_views(isa, m, n, k, a_layout, b_layout):
    rng = np.random.default_rng([m, n, k, LAYOUTS.index(a_layout), LAYOUTS.index(b_layout)])
    for (trans_a, trans_b), c_layout in itertools.product(TRANSPOSES, ["contiguous", "column_slice", "transposed"]):
        a, a64, _ = laid_out(rng, k if trans_a else m, m if trans_a else k, a_layout)
        b, b64, _ = laid_out(rng, n if trans_b else k, k if trans_b else n, b_layout)
        c, _, c_base = laid_out(rng, m, n, c_layout)
        c0, base0 = c.copy(), c_base.copy()
        _core.sgemm(trans_a, trans_b, -0.75, a, b, 0.5, c)
        assert_gemm_close(c, -0.75, a64.T if trans_a else a64, b64.T if trans_b else b64, 0.5, c0)
        np.testing.assert_array_equal(np.isnan(c_base), np.isnan(base0))  # padding around c untouched


# Tall products whose N fits one column block read row-major A in place, block by block of K (the dX and x·W
# shapes of training): rows off the 12-row panel, several k blocks with a partial last one, A's rows 1 KiB apart
# (packed instead), a wider array's column slice, and N just past one block (packed).
@pytest.mark.parametrize("n", [17, 256, 512, 513])
@pytest.mark.parametrize("a_ld", [600, 605, 1024])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("alpha,beta", [(0.75, 0.0), (-0.5, 1.5)])
def test_sgemm_tall_with_a_read_in_place(isa, n, a_ld, trans_b, alpha, beta):
    m, k = 301, 600
    rng = np.random.default_rng([n, a_ld, trans_b, int(beta)])
    a_base = rng.standard_normal((m, a_ld)).astype(np.float32)
    a = a_base[:, :k]
    b, b64 = operand(rng, k, n, trans_b)
    c = rng.standard_normal((m, n)).astype(np.float32)
    if beta == 0:
        c[::7] = np.nan
    c0 = c.copy()
    _core.sgemm(False, trans_b, alpha, a, b, beta, c)
    assert_gemm_close(c, alpha, a.astype(np.float64), b64, beta, c0)


# One row against a B of over 1 MiB streams B's rows front to back (sgemm's row-stream path, split by columns
# over the threads): N off the vector width, K not a multiple of the rows per pass, A a row or a column (strided:
# gathered first), B a wider array's column slice.
@pytest.mark.parametrize("n,k", [(1100, 301), (4 * 512, 512)])
@pytest.mark.parametrize("a_layout", ["contiguous", "column_slice"])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("alpha,beta", [(0.75, 0.0), (-0.5, 1.5)])
def test_sgemm_one_row_against_a_large_b(isa, n, k, a_layout, trans_a, alpha, beta):
    rng = np.random.default_rng([n, k, trans_a, int(beta)])
    a, a64, _ = laid_out(rng, k if trans_a else 1, 1 if trans_a else k, a_layout)
    b, b64, _ = laid_out(rng, k, n, "column_slice")
    c = rng.standard_normal((1, n)).astype(np.float32)
    if beta == 0:
        c[:, ::3] = np.nan
    c0 = c.copy()
    _core.sgemm(trans_a, False, alpha, a, b, beta, c)
    assert_gemm_close(c, alpha, a64.T if trans_a else a64, b64, beta, c0)


def test_sgemm_keywords_and_argument_errors():
    rng = np.random.default_rng(3)
    a, a64 = operand(rng, 4, 6, False)
    b, b64 = operand(rng, 6, 5, False)
    c = np.zeros((4, 5), np.float32)
    _core.sgemm(False, False, alpha=2.0, a=a, b=b, beta=0.0, c=c)
    assert_gemm_close(c, 2.0, a64, b64, 0.0, c)
    with pytest.raises(TypeError, match="unexpected keyword"):
        _core.sgemm(False, False, 1.0, a, b, 0.0, c=c, gamma=1.0)
    with pytest.raises(TypeError, match="multiple values"):
        _core.sgemm(False, False, 1.0, a, b, 0.0, c, c=c)
    with pytest.raises(TypeError, match="missing argument 'c'"):
        _core.sgemm(False, False, 1.0, a, b, 0.0)
    with pytest.raises(TypeError):
        _core.sgemm(False, False, 1.0, a, b, 0.0, c, 1, 2)
    with pytest.raises(TypeError):
        _core.sgemm(False, False, "x", a, b, 0.0, c)
    with pytest.raises(ValueError, match="2-D"):
        _core.sgemm(False, False, 1.0, a.ravel(), b, 0.0, c)


@pytest.mark.parametrize("bad_c", ["float64", "read_only", "every_other_column", "1-D"])
def test_sgemm_rejects_an_output_it_cannot_write_in_place(bad_c):
    a, b = np.ones((3, 4), np.float32), np.ones((4, 5), np.float32)
    c = {"float64": np.zeros((3, 5)), "read_only": np.zeros((3, 5), np.float32),
         "every_other_column": np.zeros((3, 10), np.float32)[:, ::2], "1-D": np.zeros(15, np.float32)}[bad_c]
    c.flags.writeable = bad_c != "read_only"
    before = c.copy()
    with pytest.raises(ValueError, match="c must be"):
        _core.sgemm(False, False, 1.0, a, b, 0.0, c)
    np.testing.assert_array_equal(c, before)


@pytest.mark.parametrize("a_layout", ["contiguous", "column_slice", "transposed", "every_other_column"])
@pytest.mark.parametrize("trans_a", [False, True])
def test_sgemm_packed_reads_strided_a_and_writes_strided_c(isa, a_layout, trans_a):
    m, k, n = 5, 70, 4 * 33
    rng = np.random.default_rng([LAYOUTS.index(a_layout), trans_a])
    a, a64, _ = laid_out(rng, k if trans_a else m, m if trans_a else k, a_layout)
    b, b64 = operand(rng, k, n, False)
    c, _, c_base = laid_out(rng, m, n, "column_slice")
    c0, base0 = c.copy(), c_base.copy()
    _core.sgemm_packed(trans_a, 1.0, a, _core.pack_b(False, b), -2.0, c, n_begin=0, n_end=n)
    assert_gemm_close(c, 1.0, a64.T if trans_a else a64, b64, -2.0, c0)
    np.testing.assert_array_equal(np.isnan(c_base), np.isnan(base0))
    with pytest.raises(ValueError, match="row-major"):
        _core.sgemm_packed(trans_a, 1.0, a, _core.pack_b(False, b), 0.0, np.zeros((n, m), np.float32).T)
    with pytest.raises(TypeError, match="PackedMatrix"):
        _core.sgemm_packed(False, 1.0, a, b, 0.0, c)
