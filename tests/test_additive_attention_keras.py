"""Oracle: AdditiveAttention and Attention(score_mode="concat") against Keras 3 (torch backend) with the same
weights — outputs, returned scores, input and weight gradients (torch autograd), 2- and 3-input calls, use_scale
on and off, masks and the causal mask, dropout 0; configs, parameter counts, and a masked LSTM encoder model.

Tolerances: float32 on both sides, rtol 1e-4 / atol 1e-5 for outputs, 1e-4 / 1e-6 for scores, 1e-4 / 1e-4 for
gradients. No case leaves a query without a visible key, where Keras gives uniform weights and rnnkit zeros
(docs/attention.md).
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

import rnnkit  # noqa: E402
from rnnkit import layers  # noqa: E402
from test_attention_keras import keras_gradients, numpy, rand  # noqa: E402

pytestmark = pytest.mark.oracle

KINDS = {
    "additive": lambda lib: lib.layers.AdditiveAttention(),
    "additive_unscaled": lambda lib: lib.layers.AdditiveAttention(use_scale=False),
    "concat": lambda lib: lib.layers.Attention(score_mode="concat"),
    "concat_scaled": lambda lib: lib.layers.Attention(score_mode="concat", use_scale=True),
}


def twins(kind, shapes, seed=1):
    """Keras and rnnkit layers of one kind, built, with the same random weights in Keras' order."""
    kl, rl = KINDS[kind](keras), KINDS[kind](rnnkit)
    kl.build(shapes)
    rng = np.random.default_rng(seed)
    kl.set_weights([(0.8 * rng.standard_normal(w.shape) + (0 if w.shape else 0.5)).astype(np.float32)
                    for w in kl.weights])
    rl.build(shapes)
    rl.set_weights(kl.get_weights())
    assert [w.path for w in rl.weights] == [w.path.replace(kl.name, rl.name, 1) for w in kl.weights]
    assert rl.count_params() == kl.count_params()
    return kl, rl


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("n_inputs", [2, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_matches_keras(kind, n_inputs, masked):
    q = rand(2, 4, 5, seed=2)
    arrays = [q, rand(2, 6, 5, seed=3)] if n_inputs == 2 else [q, rand(2, 6, 3, seed=3), rand(2, 6, 5, seed=4)]
    kl, rl = twins(kind, [a.shape for a in arrays])
    mask = None
    if masked:
        # With the causal mask every query still sees key 0.
        mask = [np.array([[1, 1, 1, 1], [1, 0, 1, 1]], bool), np.array([[1, 1, 1, 1, 1, 1], [1, 1, 0, 1, 0, 0]], bool)]
    projection = rand(2, 4, arrays[1].shape[-1], seed=5)

    def keras_call(*tensors):
        return kl(list(tensors), mask=None if mask is None else [torch.tensor(m) for m in mask],
                  use_causal_mask=masked)

    expected, d_inputs_keras, d_weights_keras = keras_gradients(kl, arrays, keras_call, projection)
    outputs, ctx = rl.forward(arrays, training=True, mask=mask, use_causal_mask=masked)
    np.testing.assert_allclose(outputs, expected, rtol=1e-4, atol=1e-5)
    d_inputs, d_weights = rl.backward(ctx, projection)
    for got, want in zip(d_inputs, d_inputs_keras):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert len(d_weights) == len(d_weights_keras)
    for variable, got, want in zip(rl.trainable_weights, d_weights, d_weights_keras):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=variable.path)
    _, scores = kl(arrays, mask=mask, use_causal_mask=masked, return_attention_scores=True)
    _, rnnkit_scores = rl(arrays, mask=mask, use_causal_mask=masked, return_attention_scores=True)
    np.testing.assert_allclose(rnnkit_scores, numpy(scores), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_config_matches_keras_and_loads_from_it(kind):
    kl, rl = KINDS[kind](keras), KINDS[kind](rnnkit)
    keras_config, rnnkit_config = kl.get_config(), rl.get_config()
    for key in ("use_scale", "score_mode", "dropout", "seed"):
        assert (key in rnnkit_config) == (key in keras_config), key
        assert rnnkit_config.get(key) == keras_config.get(key), key
    again = type(rl).from_config({k: v for k, v in keras_config.items() if k != "dtype"})
    assert again.get_config() == {**rnnkit_config, "name": keras_config["name"]}


@pytest.mark.parametrize("kind", ["additive", "concat_scaled"])
def test_masked_lstm_encoder_model_matches_keras(kind):
    ids = np.array([[4, 2, 7, 0, 0], [1, 2, 3, 4, 5], [9, 0, 0, 0, 0]])

    def build(lib):
        tokens = lib.Input((5,), dtype="int32")
        encoded = lib.layers.LSTM(6, return_sequences=True)(lib.layers.Embedding(10, 4, mask_zero=True)(tokens))
        context = KINDS[kind](lib)([encoded, encoded])
        return lib.Model(tokens, lib.layers.Dense(3)(lib.layers.GlobalAveragePooling1D()(context)))

    keras_model, rnnkit_model = build(keras), build(rnnkit)
    rng = np.random.default_rng(6)
    weights = [(0.5 * rng.standard_normal(w.shape) + (0 if w.shape else 0.5)).astype(np.float32)
               for w in keras_model.weights]
    keras_model.set_weights(weights)
    rnnkit_model.set_weights(weights)
    assert rnnkit_model.count_params() == keras_model.count_params()
    np.testing.assert_allclose(rnnkit_model.predict(ids, verbose=0), numpy(keras_model(ids)), rtol=1e-4, atol=1e-5)
