"""ReversibleEmbedding against float64 numpy references: the forward call is the Embedding's row lookup (and mask);
reverse=True is hidden @ embeddings.T (tied) or hidden @ reverse_embeddings (untied), optionally
tanh(logits / cap) * cap. Gradients against central differences of the float64 reference (eps 1e-6), a model
sharing the layer (forward and reverse calls) against the float64 reference of both, save/load, configs and
errors. Tolerances: 1e-6 relative for outputs, 1e-5 relative for gradients (float32 against float64)."""
import numpy as np
import pytest
from reference.gradient_check import reference_gradients
from reference.layer_checks import assert_same_on_threads, relative_error

import rnnkit
from rnnkit import layers

VOCAB, DIM = 11, 6


def reverse_reference(hidden, kernel, cap):
    logits = hidden.astype(np.float64) @ kernel.astype(np.float64)
    return logits if cap is None else np.tanh(logits / cap) * cap


def make(tie_weights=True, cap=None, **options):
    layer = layers.ReversibleEmbedding(VOCAB, DIM, tie_weights=tie_weights, logit_soft_cap=cap,
                                       embeddings_initializer="random_normal", **options)
    layer.build()
    return layer


def kernel_of(layer):
    return layer.embeddings.value.T if layer.tie_weights else layer.reverse_embeddings.value


@pytest.mark.parametrize("tie_weights", [True, False])
@pytest.mark.parametrize("cap", [None, 2.5])
@pytest.mark.parametrize("shape", [(4, 5, DIM), (3, DIM), (DIM,)])
def test_reverse_matches_float64_reference(tie_weights, cap, shape):
    layer = make(tie_weights, cap)
    hidden = np.random.default_rng(0).standard_normal(shape).astype(np.float32) * 3
    logits = layer(hidden, reverse=True)
    assert logits.shape == shape[:-1] + (VOCAB,) == layer.compute_output_shape(shape, reverse=True)
    assert relative_error(logits, reverse_reference(hidden, kernel_of(layer), cap)) < 1e-6
    assert layer.compute_mask(hidden) is None


def test_forward_call_is_the_embedding_lookup_with_its_mask():
    layer = make(False, mask_zero=True)
    ids = np.array([[3, 0, 10], [0, 1, 2]])
    np.testing.assert_array_equal(layer(ids), layer.embeddings.value[ids])
    np.testing.assert_array_equal(layer.compute_mask(ids), ids != 0)
    y, ctx = layer.forward(ids, training=True)
    d_y = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    d_ids, (d_embeddings, d_reverse) = layer.backward(ctx, d_y)
    expected = np.zeros((VOCAB, DIM))
    np.add.at(expected, ids, d_y.astype(np.float64))
    assert d_ids is None and d_reverse is None  # the untied projection takes no part in a lookup
    assert relative_error(d_embeddings, expected) < 1e-6


@pytest.mark.parametrize("tie_weights", [True, False])
@pytest.mark.parametrize("cap", [None, 1.5])
def test_reverse_gradients_match_finite_differences_of_the_reference(tie_weights, cap):
    layer = make(tie_weights, cap)
    rng = np.random.default_rng(2)
    hidden = rng.standard_normal((2, 3, DIM)).astype(np.float32)
    logits, ctx = layer.forward(hidden, training=True, reverse=True)
    projection = rng.standard_normal(logits.shape)
    d_hidden, d_weights = layer.backward(ctx, projection.astype(np.float32))
    weight = layer.embeddings.value if tie_weights else layer.reverse_embeddings.value
    if tie_weights:
        expected_hidden, expected_weight = reference_gradients(
            lambda h, e: reverse_reference(h, e.T, cap), [hidden, weight], projection)
    else:
        expected_hidden, expected_weight = reference_gradients(
            lambda h, r: reverse_reference(h, r, cap), [hidden, weight], projection)
    assert relative_error(d_hidden, expected_hidden) < 1e-5
    assert relative_error(d_weights[-1], expected_weight) < 1e-5
    if not tie_weights:
        assert d_weights[0] is None  # the embeddings take no part in an untied projection


def test_results_do_not_depend_on_the_thread_count():
    hidden = np.random.default_rng(3).standard_normal((67, DIM)).astype(np.float32)
    for layer in (make(True, 3.0), make(False)):
        before, runs = rnnkit.get_num_threads(), []
        try:
            for threads in (1, 2):
                rnnkit.set_num_threads(threads)
                y, ctx = layer.forward(hidden, training=True, reverse=True)
                runs.append([y, *[g for g in layer.backward(ctx, y * 0.5 + 1)[1] if g is not None]])
        finally:
            rnnkit.set_num_threads(before)
        for one, other in zip(*runs):
            np.testing.assert_array_equal(one, other)
    layer = make()
    assert_same_on_threads(layer, np.random.default_rng(4).integers(0, VOCAB, (9, 5)))


def language_model(tie_weights):
    ids = layers.Input((5,), dtype="int32")
    embedding = layers.ReversibleEmbedding(VOCAB, DIM, tie_weights=tie_weights, logit_soft_cap=4.0)
    hidden = layers.Dense(DIM, activation="tanh")(embedding(ids))
    return rnnkit.Model(ids, embedding(hidden, reverse=True)), embedding


@pytest.mark.parametrize("tie_weights", [True, False])
def test_shared_layer_model_gradients_match_float64_reference(tie_weights):
    """The lookup's and the projection's gradients of a tied table add up (the engine sums a shared weight's)."""
    model, _ = language_model(tie_weights)
    rng = np.random.default_rng(5)
    ids = rng.integers(0, VOCAB, (4, 5))
    logits, ctx = model.forward(ids, training=True)
    projection = rng.standard_normal(logits.shape)
    _, d_weights = model.backward(ctx, projection.astype(np.float32))

    def reference(*arrays):
        table, reverse, (kernel, bias) = arrays[0], arrays[1:-2], arrays[-2:]
        hidden = np.tanh(table[ids] @ kernel + bias)
        return reverse_reference(hidden, reverse[0] if reverse else table.T, 4.0)

    assert relative_error(logits, reference(*model.get_weights())) < 1e-6
    expected = reference_gradients(reference, model.get_weights(), projection)
    assert len(d_weights) == len(expected) == (3 if tie_weights else 4)
    for got, gradient in zip(d_weights, expected):
        assert relative_error(got, gradient) < 1e-5


def test_reverse_output_read_by_a_recurrent_layer_is_not_taken_for_ids():
    hidden = layers.Input((4, DIM))
    embedding = layers.ReversibleEmbedding(VOCAB, DIM)
    lstm = layers.LSTM(3)
    model = rnnkit.Model(hidden, lstm(embedding(hidden, reverse=True)))
    x = np.random.default_rng(6).standard_normal((2, 4, DIM)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), lstm(embedding(x, reverse=True)), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("tie_weights", [True, False])
def test_model_saves_and_loads(tmp_path, tie_weights):
    model, _ = language_model(tie_weights)
    ids = np.random.default_rng(7).integers(0, VOCAB, (3, 5))
    model.save(tmp_path / "lm.keras")
    loaded = rnnkit.saving.load_model(tmp_path / "lm.keras")
    np.testing.assert_array_equal(loaded.predict(ids, verbose=0), model.predict(ids, verbose=0))
    model.save_weights(tmp_path / "lm.weights.h5")
    rebuilt, _ = language_model(tie_weights)
    rebuilt.load_weights(tmp_path / "lm.weights.h5")
    np.testing.assert_array_equal(rebuilt.predict(ids, verbose=0), model.predict(ids, verbose=0))
    names = [w.name for w in model.layers[1].weights]
    assert names == (["embeddings"] if tie_weights else ["embeddings", "reverse_embeddings"])


def test_config_round_trip_and_weights_argument():
    layer = layers.ReversibleEmbedding(VOCAB, DIM, tie_weights=False, mask_zero=True, reverse_dtype="float32",
                                       logit_soft_cap=30)
    config = layer.get_config()
    assert (config["tie_weights"], config["reverse_dtype"], config["logit_soft_cap"]) == (False, "float32", 30)
    assert layers.ReversibleEmbedding.from_config(config).get_config() == config
    assert isinstance(layers.deserialize(layers.serialize(layer)), layers.ReversibleEmbedding)
    table, reverse = np.ones((VOCAB, DIM), np.float32), np.full((DIM, VOCAB), 2, np.float32)
    given = layers.ReversibleEmbedding(VOCAB, DIM, tie_weights=False, weights=[table, reverse])
    given.build()
    np.testing.assert_array_equal(given.reverse_embeddings.value, reverse)
    assert isinstance(layer, layers.Embedding)


def test_errors():
    layer = make()
    with pytest.raises(ValueError, match=f"last dimension {DIM}"):
        layer(np.zeros((2, DIM + 1), np.float32), reverse=True)
    with pytest.raises(TypeError, match="integer ids"):
        layer(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="input_dim"):
        layer(np.array([[VOCAB]]))
    with pytest.raises(ValueError, match="float32"):
        layers.ReversibleEmbedding(VOCAB, DIM, reverse_dtype="bfloat16")
    for cap in (0, float("inf"), "2", True):
        with pytest.raises(ValueError, match="logit_soft_cap"):
            layers.ReversibleEmbedding(VOCAB, DIM, logit_soft_cap=cap)
    with pytest.raises(TypeError, match="unexpected keyword"):
        layers.ReversibleEmbedding(VOCAB, DIM, reverse=True)
