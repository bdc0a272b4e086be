"""compile's metric objects survive model.save (.rnnkit and .keras, also into Keras 3: the oracle), a compiled
model saved before its first training step loads back, and metrics with one value per threshold are logged as
arrays (as Keras logs them)."""
import numpy as np
import pytest

import rnnkit
from rnnkit import metrics


def compiled_model():
    model = rnnkit.Sequential([rnnkit.Input((4, 3)), rnnkit.layers.LSTM(3),
                               rnnkit.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=rnnkit.optimizers.Adam(0.01), loss="binary_crossentropy",
                  metrics=["accuracy", metrics.AUC(num_thresholds=50, name="auc"),
                           metrics.Precision(thresholds=[0.3, 0.6], name="precision"),
                           metrics.MeanAbsoluteError()])
    return model


def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((16, 4, 3)).astype(np.float32), (rng.uniform(size=(16, 1)) > 0.5).astype(np.float32)


def assert_same_logs(mine, reference):
    assert sorted(mine) == sorted(reference)
    for name in reference:
        np.testing.assert_allclose(np.asarray(mine[name]), np.asarray(reference[name]), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("suffix", [".rnnkit", ".keras"])
@pytest.mark.parametrize("trained", [False, True])
def test_metric_objects_and_optimizer_state_survive_saving(tmp_path, suffix, trained):
    if suffix == ".keras":
        pytest.importorskip("h5py", reason="`.keras` archives need h5py (pip install '.[h5]')")
    model, (x, y) = compiled_model(), data()
    if trained:
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    expected = model.evaluate(x, y, verbose=0, return_dict=True)
    assert expected["precision"].shape == (2,)  # one per threshold
    model.save(tmp_path / f"m{suffix}")
    loaded = rnnkit.saving.load_model(tmp_path / f"m{suffix}")
    assert_same_logs(loaded.evaluate(x, y, verbose=0, return_dict=True), expected)
    auc = next(m for m in loaded.compile_config["metrics"] if isinstance(m, dict) and m["class_name"] == "AUC")
    assert auc["config"]["num_thresholds"] == 50
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations)
    loaded.fit(x, y, epochs=1, batch_size=8, verbose=0)  # trains on, building the optimizer if it was not


def test_oracle_keras_loads_the_metric_objects_rnnkit_saves(tmp_path):
    keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")
    pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
    pytest.importorskip("h5py", reason="`.keras` archives need h5py (pip install '.[h5]')")
    model, (x, y) = compiled_model(), data()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "m.keras")
    theirs = keras.models.load_model(tmp_path / "m.keras")
    assert_same_logs(theirs.evaluate(x, y, verbose=0, return_dict=True),
                     model.evaluate(x, y, verbose=0, return_dict=True))
