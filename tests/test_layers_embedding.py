"""Embedding: lookup, scatter-add gradient, mask_zero, and id validation before any table read."""
import numpy as np
import pytest
from reference.gradient_check import numeric_gradient, projected_loss

from rnnkit import layers


def built_embedding(**kwargs):
    embedding = layers.Embedding(6, 3, **kwargs)
    embedding.build((None, None))
    return embedding


def test_lookup_returns_the_table_rows():
    embedding = built_embedding()
    table = np.arange(18, dtype=np.float32).reshape(6, 3)
    embedding.set_weights([table])
    ids = np.array([[0, 5, 2], [1, 1, 4]])
    outputs, _ = embedding.forward(ids, training=False)
    np.testing.assert_array_equal(outputs, table[ids])
    assert embedding.compute_output_shape((None, 3)) == (None, 3, 3)


def test_repeated_ids_accumulate_their_gradients():
    embedding = built_embedding()
    ids = np.array([[2, 2, 0], [2, 5, 0]])
    _, ctx = embedding.forward(ids, training=True)
    d_outputs = np.random.default_rng(0).standard_normal((2, 3, 3)).astype(np.float32)
    d_inputs, (d_table,) = embedding.backward(ctx, d_outputs)
    expected = np.zeros((6, 3))
    np.add.at(expected, ids.reshape(-1), d_outputs.reshape(-1, 3))
    assert d_inputs is None
    np.testing.assert_allclose(d_table, expected, rtol=1e-6)


def test_table_gradient_matches_finite_differences():
    embedding = built_embedding()
    ids = np.array([[3, 1, 3, 0]])
    projection = np.random.default_rng(1).standard_normal((1, 4, 3))
    _, ctx = embedding.forward(ids, training=True)
    _, (d_table,) = embedding.backward(ctx, projection.astype(np.float32))

    def loss():
        return projected_loss(embedding.forward(ids, training=True)[0], [projection])

    np.testing.assert_allclose(d_table, numeric_gradient(loss, embedding.embeddings.value, 1e-2), atol=1e-3)


def test_mask_zero_masks_id_zero():
    embedding = built_embedding(mask_zero=True)
    ids = np.array([[4, 0, 2], [0, 0, 1]])
    np.testing.assert_array_equal(embedding.compute_mask(ids, None), ids != 0)
    assert built_embedding().compute_mask(ids, None) is None


@pytest.mark.parametrize("bad_id", [-1, 6, 2**40])
def test_out_of_range_ids_raise_before_reading(bad_id):
    embedding = built_embedding()
    with pytest.raises(ValueError, match=rf"{embedding.name}.*\[0, 6\).*{bad_id}"):
        embedding.forward(np.array([[1, bad_id]]), training=False)


def test_float_ids_are_rejected():
    with pytest.raises(TypeError, match="integer ids"):
        built_embedding().forward(np.array([[1.0, 2.0]]), training=False)


def test_default_initializer_is_keras_uniform_range():
    values = built_embedding().embeddings.value
    assert values.shape == (6, 3)
    assert np.abs(values).max() <= 0.05


def test_config_round_trip_and_argument_errors():
    embedding = layers.Embedding(10, 4, mask_zero=True, name="tokens")
    config = embedding.get_config()
    assert config["input_dim"] == 10 and config["output_dim"] == 4 and config["mask_zero"] is True
    assert config["embeddings_initializer"]["class_name"] == "RandomUniform"
    assert layers.Embedding.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="input_dim"):
        layers.Embedding(0, 4)
    with pytest.raises(ValueError, match="output_dim"):
        layers.Embedding(3, -1)
