"""Whole-model save/load through the engine: identical predictions, training resumes exactly, Keras .weights.h5."""
import numpy as np
import pytest

models = pytest.importorskip("rnnkit.models", reason="the model engine (rnnkit.models) has not landed yet")

import rnnkit.layers as layers  # noqa: E402
from rnnkit import saving  # noqa: E402

TIMESTEPS, FEATURES = 6, 3


def forecaster():
    return models.Sequential([layers.Input(shape=(TIMESTEPS, FEATURES)), layers.LSTM(5, return_sequences=True),
                              layers.Bidirectional(layers.GRU(3)), layers.Dense(2)])


def data(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((8, TIMESTEPS, FEATURES)).astype(np.float32),
            rng.standard_normal((8, 2)).astype(np.float32))


def test_loaded_model_predicts_identically(tmp_path):
    x, _ = data()
    model = forecaster()
    saving.save_model(model, tmp_path / "m.rnnkit")
    loaded = saving.load_model(tmp_path / "m.rnnkit")
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_training_resumes_exactly_after_load(tmp_path):
    pytest.importorskip("rnnkit.optimizers", reason="rnnkit.optimizers has not landed yet")
    x, y = data()
    model = forecaster()
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    saving.save_model(model, tmp_path / "m.rnnkit")
    loaded = saving.load_model(tmp_path / "m.rnnkit")
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 2
    for resumed in (model, loaded):
        resumed.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    for original, reloaded in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(reloaded, original)


def test_model_save_delegates_to_the_rnnkit_file(tmp_path):
    x, _ = data()
    model = forecaster()
    model.save(tmp_path / "via_method.rnnkit")
    np.testing.assert_array_equal(models.load_model(tmp_path / "via_method.rnnkit").predict(x, verbose=0),
                                  model.predict(x, verbose=0))


def test_keras_weights_h5_loads_into_the_same_architecture(tmp_path):
    pytest.importorskip("h5py", reason="h5py (extra 'h5') is not installed")
    keras = pytest.importorskip("keras", reason="the Keras oracle group is not installed")
    x, _ = data()
    reference = keras.Sequential([keras.layers.Input(shape=(TIMESTEPS, FEATURES)),
                                  keras.layers.LSTM(5, return_sequences=True),
                                  keras.layers.Bidirectional(keras.layers.GRU(3)), keras.layers.Dense(2)])
    reference.save_weights(tmp_path / "k.weights.h5")
    model = forecaster()
    saving.load_weights(model, tmp_path / "k.weights.h5")
    np.testing.assert_allclose(model.predict(x, verbose=0), np.asarray(reference.predict(x, verbose=0)),
                               atol=1e-5, rtol=1e-5)


def test_cpp_model_api_predicts_like_python(tmp_path):
    from rnnkit import _core

    x, _ = data()
    model = forecaster()
    saving.save_model(model, tmp_path / "m.rnnkit")
    cpp_prediction = _core.CppModel(str(tmp_path / "m.rnnkit")).predict(x)
    np.testing.assert_allclose(cpp_prediction, model.predict(x, verbose=0), atol=1e-6, rtol=0)


def test_functional_model_round_trips(tmp_path):
    x, _ = data()
    inputs = layers.Input(shape=(TIMESTEPS, FEATURES))
    outputs = layers.Dense(2)(layers.SimpleRNN(4)(inputs))
    model = models.Model(inputs, outputs)
    saving.save_model(model, tmp_path / "f.rnnkit")
    loaded = saving.load_model(tmp_path / "f.rnnkit")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
