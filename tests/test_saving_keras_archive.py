"""Models Keras 3 saved as `.keras` archives, loaded by rnnkit.saving.load_model: same predictions for the same
weights (Keras on torch is the oracle), compile settings restored, and malformed archives refused clearly."""
import json
import warnings
import zipfile

import numpy as np
import pytest

pytest.importorskip("h5py", reason="reading .keras archives needs h5py (pip install '.[h5]')")
torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

import rnnkit  # noqa: E402
from rnnkit import saving  # noqa: E402


def ids(seed, batch=4, steps=7, vocab=11):
    x = np.random.default_rng(seed).integers(1, vocab, size=(batch, steps))
    x[0, 4:] = 0  # a padded tail: masked with mask_zero
    return x


def floats(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def sequential_stack():
    model = keras.Sequential([keras.Input((6, 4)), keras.layers.LSTM(5, return_sequences=True),
                              keras.layers.GRU(3, reset_after=False), keras.layers.Dense(2, activation="softmax")])
    return model, floats(1, 4, 6, 4)


def embedding_bidirectional():
    inputs = keras.Input((7,), dtype="int32")
    embedded = keras.layers.Embedding(11, 4, mask_zero=True)(inputs)
    dropped = keras.layers.Dropout(0.2)(embedded)  # the mask passes through to the LSTM's mask= argument
    hidden = keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True))(dropped)
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling1D()(hidden))
    return keras.Model(inputs, outputs), ids(2)


def convolution_and_merges():
    inputs = keras.Input((8, 3))
    a = keras.layers.Conv1D(4, 3, padding="causal", activation="relu")(inputs)
    b = keras.layers.BatchNormalization()(keras.layers.GRU(4, return_sequences=True)(inputs))
    merged = keras.layers.Concatenate()([keras.layers.Add()([a, b]), keras.layers.Multiply()([a, b])])
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(merged))), floats(3, 4, 8, 3)


def masking_stack():
    """Keras records Masking's mask as Any(NotEqual(x, mask_value), axis=-1) nodes feeding every later mask=."""
    inputs = keras.Input((6, 3))
    hidden = keras.layers.GRU(4, return_sequences=True)(keras.layers.Masking(0.5)(inputs))
    outputs = keras.layers.Dense(1)(keras.layers.LSTM(3)(keras.layers.Dense(2)(hidden)))
    x = floats(4, 4, 6, 3)
    x[1, 3:] = 0.5
    x[2, :2] = 0.5
    return keras.Model(inputs, outputs), x


@pytest.mark.parametrize("build", [sequential_stack, embedding_bidirectional, convolution_and_merges, masking_stack])
def test_keras_archive_predicts_as_keras(tmp_path, build):
    model, x = build()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    y = np.zeros((len(x),) + tuple(model.output_shape[1:]), np.float32)
    model.fit(x, y, epochs=1, verbose=0)  # weights (and moving statistics) away from their initial values
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = saving.load_model(path)
    assert [w.shape for w in loaded.weights] == [tuple(w.shape) for w in model.weights]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert isinstance(loaded.optimizer, rnnkit.optimizers.Adam)
    assert loaded.optimizer.learning_rate == pytest.approx(0.01)
    loaded.fit(x, y, epochs=1, verbose=0)  # compiled: trains on
    assert saving.load_model(path, compile=False).optimizer is None


def test_model_load_model_reads_keras_archives(tmp_path):
    model, x = sequential_stack()
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(rnnkit.models.load_model(tmp_path / "m.keras").predict(x, verbose=0),
                               model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def rewritten(path, target, edit):
    """A copy of the archive at `path` with config.json passed through `edit` (a dict -> dict function)."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w") as copy:
        for info in source.infolist():
            data = source.read(info)
            copy.writestr(info, json.dumps(edit(json.loads(data))) if info.filename == "config.json" else data)
    return target


def test_malformed_archives_are_refused_with_the_file_named(tmp_path):
    (tmp_path / "text.keras").write_text("not a zip")
    with pytest.raises(ValueError, match=r"text\.keras.*not a readable \.keras archive"):
        saving.load_model(tmp_path / "text.keras")
    with zipfile.ZipFile(tmp_path / "empty.keras", "w") as archive:
        archive.writestr("metadata.json", "{}")
    with pytest.raises(ValueError, match=r"empty\.keras.*no config\.json"):
        saving.load_model(tmp_path / "empty.keras")
    with zipfile.ZipFile(tmp_path / "garbled.keras", "w") as archive:
        archive.writestr("config.json", b"\xff{")
        archive.writestr("model.weights.h5", b"")
    with pytest.raises(ValueError, match=r"garbled\.keras.*config\.json is not JSON"):
        saving.load_model(tmp_path / "garbled.keras")


def test_oversized_members_are_not_read(tmp_path, monkeypatch):
    from rnnkit.saving import keras_archive

    model, _ = sequential_stack()
    model.save(tmp_path / "m.keras")
    monkeypatch.setattr(keras_archive, "MAX_MEMBER_BYTES", 1000)  # the config holds several KB
    with pytest.raises(ValueError, match="config.json declares .* bytes, more than the 1000 read"):
        saving.load_model(tmp_path / "m.keras")


def test_only_the_mask_zero_op_node_is_taken(tmp_path):
    """Keras records Embedding(mask_zero)'s mask as a NotEqual(ids, 0) node feeding mask= arguments; rnnkit
    takes that node (its own mask is the same) and refuses other comparisons and masks it would not reproduce."""
    model, _ = embedding_bidirectional()
    model.save(tmp_path / "m.keras")

    def compare_with_one(config):
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "NotEqual":
                layer["inbound_nodes"][0]["args"][1] = 1
        return config

    with pytest.raises(ValueError, match=r"only NotEqual\(ids, 0\)"):
        saving.load_model(rewritten(tmp_path / "m.keras", tmp_path / "one.keras", compare_with_one))

    def unmasked_embedding(config):
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "Embedding":
                layer["config"]["mask_zero"] = False
        return config

    with pytest.raises(ValueError, match="explicit mask= argument is supported only where"):
        saving.load_model(rewritten(tmp_path / "m.keras", tmp_path / "unmasked.keras", unmasked_embedding))


def test_masking_nodes_are_taken_only_for_the_masking_layer_they_stand_for(tmp_path):
    model, x = masking_stack()
    model.save(tmp_path / "m.keras")
    unmasked = model.predict(np.where(x == 0.5, np.float32(0.25), x), verbose=0)
    assert not np.allclose(saving.load_model(tmp_path / "m.keras").predict(x, verbose=0), unmasked)

    def other_mask_value(config):
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "Masking":
                layer["config"]["mask_value"] = 0.25
        return config

    with pytest.raises(ValueError, match="explicit mask= argument is supported only where"):
        saving.load_model(rewritten(tmp_path / "m.keras", tmp_path / "other.keras", other_mask_value))

    def summed_over_time(config):
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "Any":
                layer["config"]["axis"] = 1
        return config

    with pytest.raises(ValueError, match=r"only Any\(NotEqual\(x, mask_value\), axis=-1\)"):
        saving.load_model(rewritten(tmp_path / "m.keras", tmp_path / "axis.keras", summed_over_time))


def test_keras_archive_is_read_without_extracting(tmp_path, monkeypatch):
    """The members are read in memory: nothing is written next to the archive or elsewhere."""
    model, _ = sequential_stack()
    model.save(tmp_path / "m.keras")
    monkeypatch.setattr(zipfile.ZipFile, "extract", lambda *a, **k: pytest.fail("extracted"))
    monkeypatch.setattr(zipfile.ZipFile, "extractall", lambda *a, **k: pytest.fail("extracted"))
    saving.load_model(tmp_path / "m.keras")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]


def rnnkit_models():
    layers = rnnkit.layers
    stack = rnnkit.Sequential([layers.Input((6, 4)), layers.LSTM(5, return_sequences=True),
                               layers.Bidirectional(layers.GRU(3, return_sequences=True)),
                               layers.TimeDistributed(layers.Dense(2)), layers.BatchNormalization(),
                               layers.Conv1D(3, 2, padding="causal"), layers.GlobalMaxPooling1D(), layers.Dense(1)])
    inputs = layers.Input((7,), dtype="int32")
    embedded = layers.Embedding(11, 4, mask_zero=True)(inputs)
    a = layers.LSTM(3, return_sequences=True)(embedded)
    b = layers.GRU(3, return_sequences=True, reset_after=False)(embedded)
    attended = layers.MultiHeadAttention(2, 4)(a, b)  # query and value: positional arguments in Keras' config
    merged = layers.Add()([a, attended])
    graph = rnnkit.Model(inputs, layers.Dense(2, activation="softmax")(layers.GlobalAveragePooling1D()(merged)))
    shaping = rnnkit.Sequential([layers.Input((6, 4)), layers.Reshape((4, 6)), layers.Permute((2, 1)),
                                 layers.SpatialDropout1D(0.2), layers.SimpleRNN(5, return_sequences=True),
                                 layers.LeakyReLU(), layers.AveragePooling1D(2), layers.Flatten(),
                                 layers.Dropout(0.3, noise_shape=(None, 1)), layers.Dense(1)])
    return [(stack, floats(4, 3, 6, 4)), (graph, ids(5, batch=3)), (shaping, floats(6, 3, 6, 4))]


@pytest.mark.filterwarnings("error:Skipping variable loading for optimizer")  # its state is written in full
@pytest.mark.parametrize("index", [0, 1, 2])
def test_keras_loads_what_rnnkit_saves_as_keras(tmp_path, index):
    """model.save("....keras") writes Keras 3's archive: Keras' load_model rebuilds the model and predicts the
    same; rnnkit reads it back too."""
    model, x = rnnkit_models()[index]
    values = [0.3 * floats(i, *w.shape) for i, w in enumerate(model.weights)]
    model.set_weights([np.abs(v) if w.path.endswith("moving_variance") else v
                       for v, w in zip(values, model.weights)])
    model.compile(optimizer=rnnkit.optimizers.Adam(0.005), loss="mse")
    model.save(tmp_path / "m.keras")
    theirs = keras.models.load_model(tmp_path / "m.keras")
    assert [type(layer).__name__ for layer in theirs.layers] == [type(layer).__name__ for layer in model.layers]
    np.testing.assert_allclose(theirs.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert type(theirs.optimizer).__name__ == "Adam"
    assert float(theirs.optimizer.learning_rate) == pytest.approx(0.005)
    np.testing.assert_array_equal(saving.load_model(tmp_path / "m.keras").predict(x, verbose=0),
                                  model.predict(x, verbose=0))


def test_a_failed_keras_save_leaves_the_previous_file(tmp_path, monkeypatch):
    import sys

    model, _ = rnnkit_models()[0]
    model.save(tmp_path / "m.keras")
    before = (tmp_path / "m.keras").read_bytes()
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"rnnkit\[h5\]"):
        model.save(tmp_path / "m.keras")
    assert (tmp_path / "m.keras").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]


def test_keras_loads_weights_rnnkit_saves_as_weights_h5(tmp_path):
    """save_weights("....weights.h5") writes Keras 3's weights file for the same architecture built in Keras."""
    model, x = rnnkit_models()[1]
    model.set_weights([0.3 * floats(i, *w.shape) for i, w in enumerate(model.weights)])
    model.save_weights(tmp_path / "m.weights.h5")
    model.save(tmp_path / "m.keras")  # the same architecture in Keras, its weights then zeroed
    theirs = keras.models.load_model(tmp_path / "m.keras", compile=False)
    for variable in theirs.weights:
        variable.assign(np.zeros(variable.shape, np.float32))
    theirs.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_allclose(theirs.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)



OPTIMIZERS = {
    "adam_amsgrad": lambda lib: lib.optimizers.Adam(0.01, amsgrad=True),
    "adamw": lambda lib: lib.optimizers.AdamW(0.01, weight_decay=0.05),
    "rmsprop": lambda lib: lib.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "sgd": lambda lib: lib.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "adagrad": lambda lib: lib.optimizers.Adagrad(0.1),
    "nadam": lambda lib: lib.optimizers.Nadam(0.01),
    "adamax": lambda lib: lib.optimizers.Adamax(0.01),
    "adadelta": lambda lib: lib.optimizers.Adadelta(1.0),
    "lion": lambda lib: lib.optimizers.Lion(0.003),
}


def optimizer_model(lib, optimizer):
    model = lib.Sequential([lib.Input((5, 3)), lib.layers.LSTM(4, return_sequences=True),
                            lib.layers.GRU(3), lib.layers.Dense(2)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_training_resumes_across_keras_and_rnnkit_with_the_optimizer_state(tmp_path, name):
    """Keras trains and saves; rnnkit loads and both train on: the same weights. Then rnnkit saves and Keras loads,
    and again both train on to the same weights. Without the optimizer's state the two would part (checked)."""
    x, y = floats(10, 16, 5, 3), floats(11, 16, 2)
    fit = dict(batch_size=8, shuffle=False, verbose=0)
    theirs = optimizer_model(keras, OPTIMIZERS[name](keras))
    theirs.fit(x, y, epochs=2, **fit)
    theirs.save(tmp_path / "keras.keras")
    ours = saving.load_model(tmp_path / "keras.keras")
    restarted = optimizer_model(rnnkit, OPTIMIZERS[name](rnnkit))
    restarted.set_weights([np.asarray(w) for w in theirs.get_weights()])
    for model in (theirs, ours, restarted):
        model.fit(x, y, epochs=2, **fit)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-5)
    assert max(np.abs(a - np.asarray(b)).max() for a, b in zip(restarted.get_weights(), theirs.get_weights())) > 1e-3
    ours.save(tmp_path / "rnnkit.keras")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Skipping variable loading")
        back = keras.models.load_model(tmp_path / "rnnkit.keras")
    assert int(back.optimizer.iterations) == int(ours.optimizer.iterations) == 8
    for model in (back, ours):
        model.fit(x, y, epochs=1, **fit)
    for a, b in zip(ours.get_weights(), back.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-5)
