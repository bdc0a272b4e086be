"""keras.utils helpers: normalize against numpy float64 (and Keras), pack/unpack_x_y_sample_weight, and Keras 2's
utils.Sequence (PyDataset) feeding fit."""
import numpy as np
import pytest

import rnnkit
from rnnkit import utils


def test_normalize_divides_by_the_norm_and_leaves_zero_vectors():
    x = np.random.default_rng(0).standard_normal((4, 3, 5))
    for axis, order in ((-1, 2), (1, 1), (0, np.inf)):
        expected = x / np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
        np.testing.assert_allclose(utils.normalize(x, axis=axis, order=order), expected, rtol=1e-6)
    np.testing.assert_array_equal(utils.normalize(np.zeros((2, 3))), np.zeros((2, 3), np.float32))


def test_pack_and_unpack_batches():
    assert utils.pack_x_y_sample_weight("x") == "x"
    assert utils.pack_x_y_sample_weight("x", "y") == ("x", "y")
    assert utils.unpack_x_y_sample_weight(utils.pack_x_y_sample_weight("x", "y", "w")) == ("x", "y", "w")
    assert utils.unpack_x_y_sample_weight(["x"]) == ("x", None, None)
    assert utils.unpack_x_y_sample_weight("x") == ("x", None, None)
    with pytest.raises(ValueError, match="1 to 3 entries"):
        utils.unpack_x_y_sample_weight((1, 2, 3, 4))


def test_a_keras_2_sequence_feeds_fit():
    class Batches(utils.Sequence):
        def __len__(self):
            return 3

        def __getitem__(self, index):
            rng = np.random.default_rng(index)
            return rng.standard_normal((4, 5, 2)).astype(np.float32), np.ones((4, 1), np.float32)

    model = rnnkit.Sequential([rnnkit.Input((5, 2)), rnnkit.layers.LSTM(3), rnnkit.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(Batches(), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2


def test_oracle_normalize_matches_keras():
    keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")
    pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_allclose(utils.normalize(x, axis=1, order=1), keras.utils.normalize(x, axis=1, order=1),
                               rtol=1e-6)
