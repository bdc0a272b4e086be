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


def test_keras_save_and_load_arguments_by_their_keras_names(tmp_path):
    x, _ = data()
    model, other = forecaster(), forecaster()
    path = tmp_path / "m.rnnkit"
    model.save(path, overwrite=True, zipped=True)
    with pytest.raises(FileExistsError, match="overwrite=False"):
        other.save(path, overwrite=False)  # the file keeps the first model
    loaded = models.load_model(filepath=path, compile=True, safe_mode=False)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    model.save_weights(tmp_path / "w.weights.rnnkit", overwrite=True, max_shard_size=None)
    other.load_weights(tmp_path / "w.weights.rnnkit", skip_mismatch=False)
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))


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


def shared_across_depths():
    """A Dense shared at two depths whose shallow call reads a layer the config lists after it (Keras' order
    puts the shared layer at its deepest call)."""
    inputs = layers.Input(shape=(TIMESTEPS, FEATURES))
    shared = layers.Dense(FEATURES, name="shared")
    deep = layers.Dense(2, name="head")(layers.LSTM(4, name="lstm")(layers.Dense(FEATURES, name="pre")(
        shared(inputs))))
    shallow = layers.GlobalAveragePooling1D(name="pool")(shared(layers.Dense(FEATURES, name="late")(inputs)))
    return models.Model(inputs, layers.Add(name="join")([deep, layers.Dense(2, name="side")(shallow)]))


def test_functional_model_with_a_layer_shared_across_depths_round_trips(tmp_path):
    x, y = data()
    model = shared_across_depths()
    names = [layer.name for layer in model.layers]
    assert names.index("shared") < names.index("late")  # the config lists the shared layer first
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=1, verbose=0)
    saving.save_model(model, tmp_path / "s.rnnkit")
    loaded = saving.load_model(tmp_path / "s.rnnkit")
    assert [layer.name for layer in loaded.layers] == names
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_files_listing_weights_in_another_order_load_by_path(tmp_path):
    """Files written before functional models took Keras' layer order list a branching model's weights in
    another order; each stored name ends in its weight's path, which decides where it goes."""
    from rnnkit.saving.file_format import read_model_file, write_model_file

    x, y = data()
    model = shared_across_depths()
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=1, verbose=0)
    saving.save_model(model, tmp_path / "s.rnnkit")
    header, tensors = read_model_file(tmp_path / "s.rnnkit")
    weights, slots = header["weights"][::-1], header["optimizer_variables"][::-1]  # another order, same names
    with open(tmp_path / "older.rnnkit", "wb") as stream:
        write_model_file(stream, {name: tensors[name] for name in weights + slots},
                         model_config=header["model_config"], compile_config=header["compile_config"],
                         weights=weights, optimizer_variables=slots)
    loaded = saving.load_model(tmp_path / "older.rnnkit")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for got, want in zip(loaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(got.value, want.value)
