"""Custom layers written once for both libraries (build() with add_weight, call() with ops) against Keras 3 on
torch (the oracle): the same predictions and training step for the same weights, and `.keras` archives both ways
with the class given as a custom object."""
import numpy as np
import pytest

pytest.importorskip("h5py", reason="`.keras` archives need h5py (pip install '.[h5]')")
torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

import rnnkit  # noqa: E402
from rnnkit import saving  # noqa: E402


def attention_pooling_class(lib):
    ops = lib.ops

    class AttentionPooling(lib.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.W = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="W")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")
            self.v = self.add_weight(shape=(self.units, 1), initializer="glorot_uniform", name="v")

        def call(self, inputs):
            scores = ops.matmul(ops.tanh(ops.matmul(inputs, self.W) + self.b), self.v)
            return ops.sum(ops.softmax(scores, axis=1) * inputs, axis=1)

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return AttentionPooling


def build(lib):
    inputs = lib.Input((6, 3))
    hidden = lib.layers.GRU(4, return_sequences=True)(inputs)
    return lib.Model(inputs, lib.layers.Dense(2)(attention_pooling_class(lib)(5, name="pool")(hidden)))


def data(seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((8, 6, 3)).astype(np.float32), rng.standard_normal((8, 2)).astype(np.float32)


def test_same_predictions_and_training_step_as_keras():
    theirs, ours = build(keras), build(rnnkit)
    assert [w.path.split("/", 1)[1] for w in ours.weights] == [w.path.split("/", 1)[1] for w in theirs.weights]
    values = [np.random.default_rng(i).standard_normal(w.shape).astype(np.float32) * 0.5
              for i, w in enumerate(theirs.weights)]
    theirs.set_weights(values), ours.set_weights(values)
    x, y = data(1)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    for model, lib in ((theirs, keras), (ours, rnnkit)):
        model.compile(optimizer=lib.optimizers.SGD(0.5), loss="mse")
        model.train_on_batch(x, y)
    for mine, reference in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, np.asarray(reference), rtol=1e-4, atol=1e-6)


def test_keras_archives_with_a_custom_layer_both_ways(tmp_path):
    x, _ = data(2)
    ours = build(rnnkit)
    ours.save(tmp_path / "rnnkit.keras")
    theirs = keras.models.load_model(tmp_path / "rnnkit.keras",
                                     custom_objects={"AttentionPooling": attention_pooling_class(keras)})
    np.testing.assert_allclose(np.asarray(theirs.predict(x, verbose=0)), ours.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-6)
    theirs.save(tmp_path / "keras.keras")
    back = saving.load_model(tmp_path / "keras.keras",
                             custom_objects={"AttentionPooling": attention_pooling_class(rnnkit)})
    np.testing.assert_allclose(back.predict(x, verbose=0), ours.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def masked_pooling_class(lib):
    ops = lib.ops

    class MaskedAttention(lib.layers.Layer):
        """Attention pooling over the steps an Embedding's mask keeps."""

        def build(self, input_shape):
            self.v = self.add_weight(shape=(input_shape[-1], 1), initializer="glorot_uniform", name="v")

        def call(self, inputs, mask=None):
            scores = ops.squeeze(ops.matmul(inputs, self.v), -1)
            if mask is not None:
                scores = ops.where(mask, scores, -1e9)
            weights = ops.expand_dims(ops.softmax(scores, axis=1), -1)
            return ops.sum(weights * inputs, axis=1)

        def compute_mask(self, inputs, mask=None):
            return None

    return MaskedAttention


def test_a_masked_custom_layer_predicts_and_trains_as_keras():
    def build_masked(lib):
        ids = lib.Input((6,), dtype="int32")
        hidden = lib.layers.LSTM(4, return_sequences=True)(lib.layers.Embedding(9, 3, mask_zero=True)(ids))
        return lib.Model(ids, lib.layers.Dense(1)(masked_pooling_class(lib)(name="attend")(hidden)))

    theirs, ours = build_masked(keras), build_masked(rnnkit)
    values = [np.random.default_rng(i).standard_normal(w.shape).astype(np.float32) * 0.5
              for i, w in enumerate(theirs.weights)]
    theirs.set_weights(values), ours.set_weights(values)
    tokens = np.random.default_rng(3).integers(1, 9, size=(5, 6)).astype(np.int32)
    tokens[0, 3:] = 0
    tokens[2, 1:] = 0
    np.testing.assert_allclose(ours.predict(tokens, verbose=0), theirs.predict(tokens, verbose=0), rtol=1e-5,
                               atol=1e-6)
    y = np.random.default_rng(4).standard_normal((5, 1)).astype(np.float32)
    for model, lib in ((theirs, keras), (ours, rnnkit)):
        model.compile(optimizer=lib.optimizers.SGD(0.5), loss="mse")
        model.train_on_batch(tokens, y)
    for mine, reference in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, np.asarray(reference), rtol=1e-4, atol=1e-6)
