"""Lambda layers against Keras 3 on torch (the oracle): the same model built with either library's Lambda predicts
and trains alike for the same weights; rnnkit's `.keras` archive with a Lambda loads in Keras (safe_mode=False, as
Keras requires for any lambda) and Keras' own is refused by rnnkit with the reason."""
import numpy as np
import pytest

pytest.importorskip("h5py", reason="`.keras` archives need h5py (pip install '.[h5]')")
torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

import rnnkit  # noqa: E402
from reference.keras_steps import assert_same_predictions_and_step, share_random_weights  # noqa: E402
from rnnkit import saving  # noqa: E402


def build(lib):
    # Operators only in the lambda: its bytecode then means the same in either library.
    return lib.Sequential([lib.Input((6, 3)), lib.layers.GRU(4, return_sequences=True),
                           lib.layers.Lambda(lambda h: h[:, -1] * 2.0 - h[:, 0] ** 2 + (h[:, 1] > 0.0) * h[:, 2]),
                           lib.layers.Dense(2)])


def data(seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((8, 6, 3)).astype(np.float32), rng.standard_normal((8, 2)).astype(np.float32)


def test_same_predictions_and_training_step_as_keras():
    theirs, ours = build(keras), build(rnnkit)
    share_random_weights(theirs, ours)
    assert_same_predictions_and_step(theirs, ours, *data(1), keras, rnnkit)


def test_keras_archives_with_lambda_both_ways(tmp_path):
    ours = build(rnnkit)
    x, _ = data(2)
    ours.save(tmp_path / "rnnkit.keras")
    with pytest.raises(ValueError, match="safe_mode"):  # Keras' own rule for lambdas
        keras.models.load_model(tmp_path / "rnnkit.keras")
    theirs = keras.models.load_model(tmp_path / "rnnkit.keras", safe_mode=False)
    np.testing.assert_allclose(np.asarray(theirs.predict(x, verbose=0)), ours.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-6)
    theirs.save(tmp_path / "keras.keras")
    with pytest.raises(ValueError, match="does not run from a file"):
        saving.load_model(tmp_path / "keras.keras")
