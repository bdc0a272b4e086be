"""Oracle: ReversibleEmbedding against Keras 3's (torch backend), same weights: the forward call's output and mask,
the reverse call's logits (1e-5 of the largest) and its torch-autograd gradients of the hidden states and the
weights (1e-5), weight names, configs, .keras files of a language model both ways (1e-5), and its SGD step (each
weight's step within 1e-5 of its largest entry)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

import rnnkit  # noqa: E402
from rnnkit import layers  # noqa: E402
from reference.layer_checks import relative_error  # noqa: E402

pytestmark = pytest.mark.oracle

VOCAB, DIM = 13, 8


@pytest.mark.parametrize("options", [{}, {"tie_weights": False}, {"logit_soft_cap": 2.0, "mask_zero": True},
                                     {"tie_weights": False, "logit_soft_cap": 0.5, "reverse_dtype": "float32"}])
def test_matches_keras(options):
    rng = np.random.default_rng(0)
    theirs, ours = keras.layers.ReversibleEmbedding(VOCAB, DIM, **options), layers.ReversibleEmbedding(VOCAB, DIM,
                                                                                                         **options)
    theirs.build()
    ours.build()
    assert [(w.name, tuple(w.shape)) for w in theirs.weights] == [(w.name, w.shape) for w in ours.weights]
    weights = [rng.standard_normal(tuple(w.shape)).astype(np.float32) for w in theirs.weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    ids = rng.integers(0, VOCAB, (3, 5))
    ids[0, :2] = 0
    embedded = theirs(ids)
    np.testing.assert_array_equal(ours(ids), embedded.detach().numpy())
    their_mask = getattr(embedded, "_keras_mask", None)
    our_mask = ours.compute_mask(ids)
    assert (their_mask is None) == (our_mask is None)
    if our_mask is not None:
        np.testing.assert_array_equal(our_mask, their_mask.numpy())
    hidden = rng.standard_normal((3, 5, DIM)).astype(np.float32)
    hidden_t = torch.tensor(hidden, requires_grad=True)
    logits_t = theirs(hidden_t, reverse=True)
    d_logits = rng.standard_normal(tuple(logits_t.shape)).astype(np.float32)
    (logits_t * torch.tensor(d_logits)).sum().backward()
    logits, ctx = ours.forward(hidden, training=True, reverse=True)
    assert relative_error(logits, logits_t.detach().numpy()) < 1e-5
    d_hidden, d_weights = ours.backward(ctx, d_logits)
    assert relative_error(d_hidden, hidden_t.grad.numpy()) < 1e-5
    for got, variable in zip(d_weights, theirs.trainable_weights):
        grad = variable.value.grad
        assert (got is None) == (grad is None), variable.name
        if got is not None:
            assert relative_error(got, grad.numpy()) < 1e-5, variable.name
    mine, keras_config = ours.get_config(), theirs.get_config()
    for key in keras_config:  # quantization_config: always None, left out by rnnkit's Embedding (no quantization)
        if key not in ("dtype", "name", "quantization_config"):
            assert mine[key] == keras_config[key], key


@pytest.mark.parametrize("tie_weights", [True, False])
def test_language_model_files_both_ways(tmp_path, tie_weights):
    ids = keras.Input((6,), dtype="int32")
    embedding = keras.layers.ReversibleEmbedding(VOCAB, DIM, tie_weights=tie_weights, logit_soft_cap=5.0)
    hidden = keras.layers.LSTM(DIM, return_sequences=True)(embedding(ids))
    model = keras.Model(ids, embedding(hidden, reverse=True))
    model.save(tmp_path / "keras.keras")
    x = np.random.default_rng(1).integers(0, VOCAB, (4, 6))
    expected = model.predict(x, verbose=0)
    ours = rnnkit.saving.load_model(tmp_path / "keras.keras")
    assert relative_error(ours.predict(x, verbose=0), expected) < 1e-5
    ours.save(tmp_path / "rnnkit.keras")
    back = keras.models.load_model(tmp_path / "rnnkit.keras")
    assert relative_error(back.predict(x, verbose=0), expected) < 1e-5
    model.save_weights(tmp_path / "keras.weights.h5")
    ours.load_weights(tmp_path / "keras.weights.h5")
    assert relative_error(ours.predict(x, verbose=0), expected) < 1e-5


@pytest.mark.parametrize("tie_weights", [True, False])
def test_training_step_of_a_language_model_matches_keras(tmp_path, tie_weights):
    """One SGD step: the shared layer's lookup (here read by the LSTM from the ids) and projection gradients add up
    as Keras' do; each weight's step within 1e-5 of its largest entry."""
    ids = keras.Input((6,), dtype="int32")
    embedding = keras.layers.ReversibleEmbedding(VOCAB, DIM, tie_weights=tie_weights, logit_soft_cap=5.0)
    model = keras.Model(ids, embedding(keras.layers.LSTM(DIM, return_sequences=True)(embedding(ids)), reverse=True))
    rng = np.random.default_rng(2)
    model.set_weights([rng.standard_normal(tuple(w.shape)).astype(np.float32) * 0.5 for w in model.weights])
    model.save(tmp_path / "lm.keras")
    ours = rnnkit.saving.load_model(tmp_path / "lm.keras")
    x, target = rng.integers(0, VOCAB, (4, 6)), rng.standard_normal((4, 6, VOCAB)).astype(np.float32)
    model.compile(keras.optimizers.SGD(1.0), "mse")
    ours.compile(rnnkit.optimizers.SGD(1.0), "mse")
    before = ours.get_weights()
    model.train_on_batch(x, target)
    ours.train_on_batch(x, target)
    for start, theirs, mine in zip(before, model.get_weights(), ours.get_weights()):
        assert relative_error(start - mine, start - theirs) < 1e-5
