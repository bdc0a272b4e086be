"""rnnkit.initializers and rnnkit.activations: Keras 3 names, distributions and formulas."""
import math

import numpy as np
import pytest
from reference.gradient_check import numeric_gradient
from reference.layer_activations import LAYER_ONLY
from reference.rnn_cells import ACTIVATIONS as ELEMENT_WISE

from rnnkit import activations, initializers


def test_glorot_uniform_limit_and_variance():
    values = initializers.get("glorot_uniform")((200, 300))
    limit = math.sqrt(6 / (200 + 300))
    assert values.dtype == np.float32 and np.abs(values).max() <= limit
    assert abs(values.var() - limit**2 / 3) < 0.05 * limit**2 / 3


@pytest.mark.parametrize("name, fan", [("he_normal", 2 / 400), ("lecun_normal", 1 / 400), ("glorot_normal", 2 / 700)])
def test_truncated_variance_scaling_hits_the_keras_variance(name, fan):
    values = initializers.get(name)((400, 300))
    assert abs(values.std() - math.sqrt(fan)) < 0.03 * math.sqrt(fan)
    assert np.abs(values).max() <= 2 * math.sqrt(fan) / 0.87962566103423978 + 1e-6


@pytest.mark.parametrize("name, limit", [("he_uniform", math.sqrt(6 / 40)), ("lecun_uniform", math.sqrt(3 / 40))])
def test_uniform_variance_scaling_limits(name, limit):
    values = initializers.get(name)((40, 50))
    assert np.abs(values).max() <= limit and np.abs(values).max() > 0.9 * limit


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 3, 6)])
def test_orthogonal_has_orthonormal_rows_or_columns(shape):
    values = initializers.Orthogonal(gain=2.0)(shape).reshape(-1, shape[-1]).astype(np.float64) / 2.0
    gram = values.T @ values if values.shape[0] >= values.shape[1] else values @ values.T
    np.testing.assert_allclose(gram, np.eye(gram.shape[0]), atol=1e-5)


def test_keras_default_random_initializers():
    uniform = initializers.get("uniform")((100, 100))
    assert -0.05 <= uniform.min() and uniform.max() <= 0.05
    normal = initializers.get("random_normal")((100, 100))
    assert abs(normal.std() - 0.05) < 0.003
    truncated = initializers.TruncatedNormal(mean=1.0, stddev=0.1)((100, 100))
    assert np.abs(truncated - 1.0).max() <= 0.2 + 1e-6


def test_constant_zeros_ones():
    np.testing.assert_array_equal(initializers.get("zeros")((2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(initializers.get("ones")((3,)), np.ones(3))
    np.testing.assert_array_equal(initializers.Constant(0.5)((2,)), [0.5, 0.5])


def test_seeded_initializers_repeat_and_unseeded_follow_the_global_seed():
    seeded = initializers.GlorotUniform(seed=3)
    np.testing.assert_array_equal(seeded((4, 4)), seeded((4, 4)))
    from rnnkit import random as rnnkit_random

    rnnkit_random.set_random_seed(11)
    first = initializers.get("orthogonal")((3, 3))
    rnnkit_random.set_random_seed(11)
    np.testing.assert_array_equal(initializers.get("orthogonal")((3, 3)), first)


def test_initializer_lookup_serialization_and_errors():
    assert isinstance(initializers.get("GlorotUniform"), initializers.GlorotUniform)
    assert isinstance(initializers.get("glorot_uniform"), initializers.GlorotUniform)
    config = initializers.serialize(initializers.RandomNormal(mean=1.0, stddev=2.0, seed=4))
    assert config["class_name"] == "RandomNormal"
    assert config["config"] == {"mean": 1.0, "stddev": 2.0, "seed": 4}
    restored = initializers.deserialize(config)
    assert (restored.mean, restored.stddev, restored.seed) == (1.0, 2.0, 4)
    with pytest.raises(ValueError, match="did you mean 'he_normal'"):
        initializers.get("he_normall")
    with pytest.raises(ValueError, match="mode"):
        initializers.VarianceScaling(mode="fan_sum")


REFERENCES = {**ELEMENT_WISE, **LAYER_ONLY, "softmax": lambda x: np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)}


def test_every_name_has_a_reference():
    assert set(REFERENCES) == set(activations.NAMES)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_activation_values_and_gradients(name):
    # Points away from 0, +-0.5, +-1, +-3 and 6 keep finite differences off the kinks of relu, elu, hard_sigmoid,
    # the shrinks, hard_tanh, sparse_plus, hard_silu and relu6.
    x = np.array([[-2.5, -0.7, 0.4, 1.3], [2.2, -1.6, 0.9, -0.3]], np.float32)
    function = activations.get(name)
    y = function(x)
    np.testing.assert_allclose(y, REFERENCES[name](x.astype(np.float64)), rtol=1e-5, atol=1e-6)
    projection = np.random.default_rng(0).standard_normal(x.shape)
    analytic = activations.gradient(name, y, projection.astype(np.float32), x)
    expected = numeric_gradient(lambda: float((function(x).astype(np.float64) * projection).sum()), x, 1e-2)
    np.testing.assert_allclose(analytic, expected, rtol=2e-2, atol=2e-3)


def test_activation_lookup_and_errors():
    assert activations.get(None) is activations.linear
    assert activations.get("tanh") is activations.tanh
    assert activations.serialize(activations.sigmoid) == "sigmoid"
    with pytest.raises(ValueError, match="did you mean 'softmax'"):
        activations.get("sofmax")
    with pytest.raises(TypeError, match="activation"):
        activations.get(np.tanh)


def test_keras_aliases_resolve_to_one_function_and_serialise_as_keras_does():
    assert activations.get("swish") is activations.silu is activations.swish
    assert activations.get("hard_swish") is activations.hard_silu is activations.hard_swish
    assert activations.serialize("swish") == "silu" and activations.serialize(activations.hard_swish) == "hard_silu"
