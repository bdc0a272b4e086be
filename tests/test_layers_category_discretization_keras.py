"""Oracle: CategoryEncoding and Discretization (with given bin boundaries) against Keras 3's own layers on the torch
backend, where Keras runs them without TensorFlow: outputs, dtypes and shapes of every output mode, float32 bin
edges, configs read both ways (Discretization's adapt needs TensorFlow: test_layers_lookup_hashing_keras.py)."""
import numpy as np
import pytest

pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 on the torch backend (pip install keras)")

import rnnkit  # noqa: E402
from reference import preprocessing_oracle as oracle  # noqa: E402

pytestmark = pytest.mark.oracle

RNG = np.random.default_rng(0)


def assert_same(ours, theirs):
    oracle.assert_same(keras, ours, theirs)


def both(name, options):
    return oracle.both(keras, name, options)


same_config = oracle.same_config


CATEGORIES = [[3, 2, 0, 1], [[0, 1], [0, 0], [1, 2], [3, 1]], np.array([[0], [3]]), 2, np.array([[[0, 1], [2, 2]]]),
              np.array([[[0, 1, 3], [2, 2, 1]]]), np.array([[0.0, 1.7]]), np.array([[0, 1]], np.int32),
              RNG.integers(0, 4, size=(5, 7))]


@pytest.mark.parametrize("options", [
    {"num_tokens": 4, "output_mode": "one_hot"}, {"num_tokens": 4, "output_mode": "multi_hot"},
    {"num_tokens": 4, "output_mode": "count"}, {"num_tokens": 6, "output_mode": "binary"},
    {"num_tokens": 4, "output_mode": "count", "dtype": "int32"}, {"num_tokens": 5, "dtype": "float64"},
], ids=str)
def test_category_encoding_matches_keras(options):
    ours, theirs = both("CategoryEncoding", options)
    same_config(ours, theirs)
    for value in CATEGORIES:
        assert_same(ours(value), theirs(value))


@pytest.mark.parametrize("inputs,weights", [
    ([[0, 1], [0, 0], [1, 2], [3, 1]], np.array([[.1, .2], [.1, .1], [.2, .3], [.4, .2]])),
    ([0, 0, 3], np.array([.5, .25, 1.0])),
    (RNG.integers(0, 4, size=(3, 6)), RNG.random((3, 6))),
])
def test_category_encoding_count_weights_match_keras(inputs, weights):
    ours, theirs = both("CategoryEncoding", {"num_tokens": 4, "output_mode": "count"})
    assert_same(ours(inputs, count_weights=weights), theirs(inputs, count_weights=weights))


BOUNDARIES = [[0.0, 1.0, 2.0], [0.1, 1.0], [], [1.0, 1.0, 1.0], [-0.5, 0.25, 0.5, 3.0]]
VALUES = [np.array([[-1.5, 1.0, 3.4, .5], [0.0, 3.0, 1.3, 0.0]]), np.array([0.1, 0.09999999999, 0.0999, 1.0]),
          np.array([np.nan, np.inf, -np.inf]), np.array([0, 1, 2]), 0.5, np.array([[0.5], [3.0]]),
          np.array([[[0.5, 3.0], [1.5, 1.5]]]), RNG.standard_normal((4, 6)).astype(np.float32)]


@pytest.mark.parametrize("output_mode", ["int", "one_hot", "multi_hot", "count"])
@pytest.mark.parametrize("boundaries", BOUNDARIES, ids=str)
def test_discretization_calls_match_keras(boundaries, output_mode):
    ours, theirs = both("Discretization", {"bin_boundaries": boundaries, "output_mode": output_mode})
    same_config(ours, theirs)
    for value in VALUES:
        assert_same(ours(value), theirs(value))


def test_discretization_configs_read_both_ways():
    theirs = keras.layers.Discretization(num_bins=3, epsilon=0.05, output_mode="count")
    theirs.bin_boundaries = [0.25, 0.75]  # what adapt leaves in an adapted layer's config
    ours = rnnkit.layers.Discretization.from_config(theirs.get_config())
    assert ours.get_config() == theirs.get_config()
    again = keras.layers.Discretization.from_config(ours.get_config())
    value = RNG.random((3, 5))
    assert_same(ours(value), again(value))


def test_category_encoding_configs_read_both_ways():
    theirs = keras.layers.CategoryEncoding(num_tokens=5, output_mode="count")
    ours = rnnkit.layers.CategoryEncoding.from_config(theirs.get_config())  # Keras' DTypePolicy dict included
    again = keras.layers.CategoryEncoding.from_config(ours.get_config())
    assert_same(ours([[4, 4, 0]]), again([[4, 4, 0]]))
