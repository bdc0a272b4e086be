"""The classic Keras encoder-decoder (an encoder's final states as the decoder's initial_state) against Keras 3 on
torch (the oracle): predictions and a training step, with a padded (masked) encoder and decoder input, and `.keras`
archives both ways. Keras 3 gives a call its input's mask only when the call has one tensor argument, so a recurrent
layer called with initial_state runs over the padded steps too, while its output keeps the mask: rnnkit follows."""
import numpy as np
import pytest

pytest.importorskip("h5py", reason="`.keras` archives need h5py (pip install '.[h5]')")
torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

import rnnkit  # noqa: E402
from reference.keras_steps import assert_same_predictions_and_step, share_random_weights  # noqa: E402

SOURCE_VOCABULARY, TARGET_VOCABULARY = 20, 15


def build(lib, cell="LSTM"):
    layers = lib.layers
    source = lib.Input((7,), dtype="int32", name="source")
    target = lib.Input((5,), dtype="int32", name="target")
    recurrent = getattr(layers, cell)
    _, *states = recurrent(8, return_state=True)(layers.Embedding(SOURCE_VOCABULARY, 6, mask_zero=True)(source))
    decoded = recurrent(8, return_sequences=True)(layers.Embedding(TARGET_VOCABULARY, 6, mask_zero=True)(target),
                                                  initial_state=states)
    pooled = layers.GlobalAveragePooling1D()(decoded)  # reads the decoder output's mask
    outputs = [layers.Dense(TARGET_VOCABULARY, activation="softmax")(decoded), layers.Dense(1)(pooled)]
    return lib.Model([source, target], outputs)


def data(seed):
    rng = np.random.default_rng(seed)
    source = rng.integers(1, SOURCE_VOCABULARY, size=(6, 7)).astype(np.int32)
    target = rng.integers(1, TARGET_VOCABULARY, size=(6, 5)).astype(np.int32)
    source[0, 4:] = 0
    source[3, 2:] = 0
    target[1, 3:] = 0
    target[4, 1:] = 0
    return [source, target]


@pytest.mark.parametrize("cell", ["LSTM", "GRU", "SimpleRNN"])
def test_predictions_and_training_step_match_keras(cell):
    theirs, ours = build(keras, cell), build(rnnkit, cell)
    share_random_weights(theirs, ours)
    x = data(1)
    for mine, reference in zip(ours.predict(x, verbose=0), theirs.predict(x, verbose=0)):
        np.testing.assert_allclose(mine, np.asarray(reference), rtol=1e-5, atol=1e-6)
    y = [np.random.default_rng(2).standard_normal((6, 5, TARGET_VOCABULARY)).astype(np.float32),
         np.random.default_rng(3).standard_normal((6, 1)).astype(np.float32)]
    for model, lib in ((theirs, keras), (ours, rnnkit)):
        model.compile(optimizer=lib.optimizers.SGD(0.5), loss=["mse", "mse"])
        model.train_on_batch(x, y)
    for mine, reference in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, np.asarray(reference), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("writer", ["keras", "rnnkit"])
def test_keras_archives_both_ways(tmp_path, writer):
    source_lib = keras if writer == "keras" else rnnkit
    source = build(source_lib)
    share_random_weights(source, source)
    source.save(tmp_path / "model.keras")
    target = (rnnkit.saving.load_model if writer == "keras" else keras.models.load_model)(tmp_path / "model.keras")
    x = data(4)
    for mine, reference in zip(target.predict(x, verbose=0), source.predict(x, verbose=0)):
        np.testing.assert_allclose(np.asarray(mine), np.asarray(reference), rtol=1e-5, atol=1e-6)
