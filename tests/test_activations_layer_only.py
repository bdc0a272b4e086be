"""The activations only layers take (portable loops in the core) against float64 references: values over a grid,
the tails where a naive formula cancels, NaN, and derivatives by central differences."""
import numpy as np
import pytest
from reference.layer_activations import LAYER_ONLY

from rnnkit import activations, ops

ROW_WISE = {"log_softmax", "sparsemax"}
ELEMENT_WISE = sorted(set(LAYER_ONLY) - ROW_WISE)
# Where each has no derivative: finite differences stay clear of these points.
KINKS = np.array([0.0, -0.5, 0.5, -1.0, 1.0, -3.0, 3.0, 6.0])


def test_every_layer_only_name_is_registered():
    assert set(LAYER_ONLY) | {"softmax"} == set(activations.NAMES) - set(activations.CELL_NAMES)
    assert activations.NEEDS_INPUT == {name for name in activations.NAMES if ops.activation_needs_input(name)}


@pytest.mark.parametrize("name", ELEMENT_WISE)
def test_element_wise_values_match_float64(name):
    x = np.linspace(-8.0, 8.0, 10_001, dtype=np.float32)
    np.testing.assert_allclose(ops.activation(name, x), LAYER_ONLY[name](x.astype(np.float64)), rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(ROW_WISE))
def test_row_wise_values_match_float64(name):
    x = (3.0 * np.random.default_rng(0).standard_normal((64, 17))).astype(np.float32)
    y = ops.activation(name, x)
    np.testing.assert_allclose(y, LAYER_ONLY[name](x.astype(np.float64)), rtol=2e-6, atol=2e-6)


def test_sparsemax_rows_are_sparse_distributions():
    x = (3.0 * np.random.default_rng(1).standard_normal((200, 9))).astype(np.float32)
    y = ops.activation("sparsemax", x)
    assert np.all(y >= 0.0) and np.any(y == 0.0)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("name, x", [
    ("gelu", -np.geomspace(3.0, 12.0, 50)),  # 1 + erf(x / sqrt 2) cancels: x Phi(x) ~ 1e-32 at -12
    ("squareplus", -np.geomspace(10.0, 1e6, 50)),  # x + sqrt(x^2 + 4) cancels: 1/|x| there
    ("tanh_shrink", np.concatenate([-np.geomspace(1e-6, 0.5, 40), np.geomspace(1e-6, 0.5, 40)])),  # ~ x^3 / 3
    ("log_sigmoid", np.geomspace(5.0, 80.0, 50)),  # ~ -e^-x
    ("silu", -np.geomspace(5.0, 80.0, 50)),
    ("mish", -np.geomspace(5.0, 80.0, 50)),
])
def test_tails_keep_relative_accuracy(name, x):
    x = x.astype(np.float32)
    exact = LAYER_ONLY[name](x.astype(np.float64))
    np.testing.assert_allclose(ops.activation(name, x), exact, rtol=1e-5, atol=0.0)


@pytest.mark.parametrize("name", ELEMENT_WISE)
def test_nan_stays_nan_and_large_inputs_stay_finite(name):
    x = np.array([np.nan, -1e30, -1e4, -100.0, 100.0, 1e4, 1e30, np.nan], np.float32)
    y = ops.activation(name, x)
    assert np.isnan(y[[0, -1]]).all()
    np.testing.assert_allclose(y[1:-1], LAYER_ONLY[name](x[1:-1].astype(np.float64)), rtol=1e-6, atol=1e-30)


@pytest.mark.parametrize("name", sorted(LAYER_ONLY))
def test_derivatives_match_central_differences(name):
    rng = np.random.default_rng(3)
    x = rng.uniform(-7.0, 7.0, size=(8, 40))
    if name not in ROW_WISE:  # a row-wise function's kinks are where the support changes: rows are kept whole
        x = x[np.min(np.abs(x[..., None] - KINKS), axis=-1) > 1e-3].reshape(1, -1)
    x = x.astype(np.float32).astype(np.float64)
    dy = rng.normal(size=x.shape)
    f = LAYER_ONLY[name]
    step = 1e-6
    expected = np.empty_like(x)
    for index in np.ndindex(*x.shape):  # one entry at a time: row-wise functions couple a row's entries
        plus, minus = x.copy(), x.copy()
        plus[index] += step
        minus[index] -= step
        expected[index] = ((f(plus) - f(minus)) * dy).sum() / (2 * step)
    x32 = x.astype(np.float32)
    got = ops.activation_grad(name, ops.activation(name, x32), dy.astype(np.float32), x32)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(activations.NEEDS_INPUT))
def test_derivatives_of_the_input_refuse_to_run_without_it(name):
    with pytest.raises(ValueError, match=f"'{name}' needs its input x"):
        ops.activation_grad(name, np.zeros(3, np.float32), np.zeros(3, np.float32))
    with pytest.raises(ValueError, match=r"expected x of shape \(3,\)"):
        ops.activation_grad(name, np.zeros(3, np.float32), np.zeros(3, np.float32), np.zeros(4, np.float32))


def test_recurrent_cells_refuse_layer_only_activations_by_name():
    from rnnkit import layers

    with pytest.raises(ValueError, match=r"activation 'gelu' is not supported inside a recurrent cell.*'tanh'"):
        layers.LSTM(3, activation="gelu")
    with pytest.raises(ValueError, match=r"recurrent_activation 'silu'"):
        layers.GRU(3, recurrent_activation="swish")
