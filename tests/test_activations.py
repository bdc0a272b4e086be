"""The vectorised element-wise kernels on every ISA this CPU supports, against float64 numpy.

Relative error of exp/tanh is |got - exact| / |exact| per element (max over the grid).
"""
import numpy as np
import pytest

from rnnkit import _core, ops
from tests.reference.rnn_cells import ACTIVATIONS


GRID = np.linspace(-20.0, 20.0, 400_001, dtype=np.float32)


def max_relative_error(got, exact):
    exact = np.asarray(exact, np.float64)
    nonzero = exact != 0.0
    rel = np.abs(np.asarray(got, np.float64)[nonzero] - exact[nonzero]) / np.abs(exact[nonzero])
    return float(rel.max())


def test_exp_relative_error_within_1e6(isa):
    assert max_relative_error(_core.exp(GRID), np.exp(GRID.astype(np.float64))) <= 1e-6


def test_exp_never_returns_a_subnormal(isa):
    # Producing a subnormal costs a microcode assist per vector op (the masked scores of an attention tile), so exp
    # stops at exp(-87) ~ 1.6e-38 instead; everything above stays accurate.
    x = np.linspace(-120.0, -80.0, 40_001, dtype=np.float32)
    got = _core.exp(x).astype(np.float64)
    assert np.all(got >= np.finfo(np.float32).tiny)
    assert np.all(np.diff(got) >= 0.0)
    above = x >= -87.0
    assert max_relative_error(got[above], np.exp(x[above].astype(np.float64))) <= 1e-6


def test_tanh_relative_error_within_1e6(isa):
    assert max_relative_error(ops.activation("tanh", GRID), np.tanh(GRID.astype(np.float64))) <= 1e-6


def test_tanh_tiny_inputs_keep_relative_accuracy(isa):
    tiny = np.array([1e-30, -1e-20, 1e-8, -3e-4, 0.0], np.float32)
    got = ops.activation("tanh", tiny)
    assert got[-1] == 0.0
    assert max_relative_error(got[:-1], np.tanh(tiny[:-1].astype(np.float64))) <= 1e-6


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_matches_float64(isa, name):
    x = np.linspace(-8.0, 8.0, 10_001, dtype=np.float32)
    exact = ACTIVATIONS[name](x.astype(np.float64))
    np.testing.assert_allclose(ops.activation(name, x), exact, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(set(ACTIVATIONS) - {"exponential"}))  # e^x overflows as it should
def test_no_nan_or_inf_for_large_inputs(isa, name):
    x = np.array([-1e4, -1e3, -100.0, -88.5, 88.5, 100.0, 1e3, 1e4], np.float32)
    y = ops.activation(name, x)
    if name in ("relu", "linear"):
        np.testing.assert_array_equal(y, ACTIVATIONS[name](x))
    elif name in ("elu", "selu", "softplus", "softsign"):  # unbounded above: compared relative to their size
        np.testing.assert_allclose(y, ACTIVATIONS[name](x.astype(np.float64)), rtol=1e-6, atol=1e-7)
    else:
        assert np.all(np.isfinite(y))
        np.testing.assert_allclose(y, ACTIVATIONS[name](x.astype(np.float64)), atol=1e-7)
    assert np.all(np.isfinite(_core.exp(x)))


@pytest.mark.parametrize("name", ["exp", *sorted(ACTIVATIONS)])
def test_nan_stays_nan(isa, name):
    """Clamping the argument (exp's range, hard_sigmoid's [0, 1], relu's 0) must not turn a NaN into a bound: a
    diverged model shows NaN, not a plausible number. 37 elements: whole vectors and a tail on every ISA."""
    x = np.linspace(-30.0, 30.0, 37, dtype=np.float32)
    x[[0, 5, 20, 36]] = np.nan
    y = _core.exp(x) if name == "exp" else ops.activation(name, x)
    assert np.isnan(y[[0, 5, 20, 36]]).all()
    finite = ~np.isnan(x)
    exact = np.exp(x[finite].astype(np.float64)) if name == "exp" else ACTIVATIONS[name](x[finite].astype(np.float64))
    np.testing.assert_allclose(y[finite], exact, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_grad_matches_central_differences(isa, name):
    rng = np.random.default_rng(3)
    x = rng.uniform(-4.0, 4.0, size=(7, 33))
    x = x[np.abs(x + 3.0) > 1e-3]  # hard_sigmoid's kinks at -3, 3 and relu's at 0 have no derivative
    x = x[(np.abs(x - 3.0) > 1e-3) & (np.abs(x) > 1e-3)]
    dy = rng.normal(size=x.shape)
    f = ACTIVATIONS[name]
    expected = dy * (f(x + 1e-6) - f(x - 1e-6)) / 2e-6
    got = ops.activation_grad(name, ops.activation(name, x), dy)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_unknown_activation_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match="activation.*'gelu_new'"):
        ops.activation("gelu_new", np.zeros(3))


def test_activation_grad_shape_mismatch_is_a_value_error():
    with pytest.raises(ValueError, match=r"activation_grad: expected dy .*\(3,\).*received \(4,\)"):
        ops.activation_grad("tanh", np.zeros(3), np.zeros(4))
