"""TextVectorization and StringLookup inside models: string Inputs, fit / predict, and the vocabulary through
`.rnnkit` files and Keras' `.keras` layout (assets/<layer path>/vocabulary.txt, idf_weights beside the weights)."""
import io
import json
import zipfile

import numpy as np
import pytest

import rnnkit as keras
from rnnkit.saving import file_format

L = keras.layers
TEXTS = np.array(["The cat sat.", "the DOG sat!", "a cat, a dog", "Zebra", "cats and dogs", "a zebra sat"])
LABELS = np.array([1, 0, 1, 0, 1, 0], np.float32)


def text_model(vectorize=None):
    """Input(string) -> TextVectorization -> Embedding -> LSTM -> Dense, and the same layers on ids."""
    keras.utils.set_random_seed(3)
    if vectorize is None:
        vectorize = L.TextVectorization(max_tokens=20, output_sequence_length=5)
        vectorize.adapt(TEXTS)
    embedding, lstm, dense = L.Embedding(20, 4), L.LSTM(3), L.Dense(1, activation="sigmoid")
    texts = keras.Input(shape=(1,), dtype="string")
    model = keras.Model(texts, dense(lstm(embedding(vectorize(texts)))))
    ids = keras.Input(shape=(5,), dtype="int64")
    return model, keras.Model(ids, dense(lstm(embedding(ids)))), vectorize


def test_string_input_model_computes_the_id_pipeline():
    model, on_ids, vectorize = text_model()
    np.testing.assert_allclose(model.predict(TEXTS, verbose=0), on_ids.predict(vectorize(TEXTS), verbose=0))
    model.compile("adam", "binary_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    model.fit(TEXTS, LABELS, epochs=2, batch_size=2, verbose=0)  # texts of shape (batch,) for Input(shape=(1,))
    model.fit(TEXTS[:, None], LABELS, epochs=1, verbose=0, validation_split=0.5)
    model.fit(list(TEXTS), LABELS, epochs=1, verbose=0)
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    np.testing.assert_allclose(model.predict(TEXTS, verbose=0), on_ids.predict(vectorize(TEXTS), verbose=0))
    np.testing.assert_allclose(model(TEXTS), on_ids(vectorize(TEXTS)), rtol=1e-6)
    assert model.evaluate(TEXTS, LABELS, verbose=0) > 0


def test_sequential_fed_strings_declares_a_string_input():
    vectorize = L.TextVectorization(max_tokens=20, output_sequence_length=5)
    vectorize.adapt(TEXTS)
    model = keras.Sequential([vectorize, L.Embedding(20, 4), L.LSTM(3), L.Dense(1)])
    model.compile("adam", "mse")
    model.fit(TEXTS, LABELS, epochs=1, verbose=0)
    assert model.inputs[0].dtype == "string"
    assert model.get_config()["layers"][0]["config"]["dtype"] == "string"
    manual = model.layers[3](model.layers[2](model.layers[1](vectorize(TEXTS))))
    np.testing.assert_allclose(model.predict(TEXTS, verbose=0), manual, rtol=1e-6)


def test_symbolic_outputs_have_keras_dtypes_and_shapes():
    texts = keras.Input(shape=(1,), dtype="string")
    vectorize = L.TextVectorization(output_sequence_length=7, vocabulary=["a"])
    assert (vectorize(texts).shape, vectorize(texts).dtype) == ((None, 7), "int64")
    tf_idf = L.TextVectorization(output_mode="tf_idf", vocabulary=["a", "b"], idf_weights=[1.0, 2.0])
    assert (tf_idf(texts).shape, tf_idf(texts).dtype) == ((None, 3), "float32")
    words = keras.Input(shape=(4,), dtype="string")
    assert L.StringLookup(output_mode="count", vocabulary=["a"])(words).shape == (None, 2)
    indices = keras.Input(shape=(4,), dtype="int64")
    inverted = L.StringLookup(vocabulary=["a"], invert=True)(indices)
    assert (inverted.shape, inverted.dtype) == ((None, 4), "string")
    with pytest.raises(TypeError, match="dtype='string'"):
        vectorize(keras.Input(shape=(1,)))


def _saved(model, tmp_path, name):
    path = tmp_path / name
    model.save(path)
    return keras.models.load_model(path)


def test_rnnkit_file_keeps_the_vocabulary(tmp_path):
    model, _, vectorize = text_model()
    model.compile("adam", "binary_crossentropy")
    model.fit(TEXTS, LABELS, epochs=1, verbose=0)
    loaded = _saved(model, tmp_path, "m.rnnkit")
    np.testing.assert_array_equal(loaded.predict(TEXTS, verbose=0), model.predict(TEXTS, verbose=0))
    assert loaded.layers[1].get_vocabulary() == vectorize.get_vocabulary()
    assets = file_format.read_model_file(tmp_path / "m.rnnkit")[0]["layer_assets"]
    assert sorted(assets) == ["layers/text_vectorization", "layers/text_vectorization/_lookup_layer"]
    assert assets["layers/text_vectorization"] == {"vocabulary": vectorize.get_vocabulary(), "idf_weights": None}
    loaded.layers[1].adapt(["new words"])  # learnt, not given: it can be adapted again, as in Keras
    assert loaded.layers[1].get_vocabulary() == ["", "[UNK]", "words", "new"]
    loaded.fit(TEXTS, LABELS, epochs=1, verbose=0)  # compiled: trains on


def test_rnnkit_file_keeps_any_token_and_tf_idf_weights(tmp_path):
    characters = L.TextVectorization(split="character", standardize=None, output_mode="tf_idf")
    characters.adapt(["a\nb", "b\r\x1c", ""])  # line breaks are tokens of their own
    texts = keras.Input(shape=(1,), dtype="string")
    model = keras.Model(texts, L.Dense(2)(characters(texts)))
    loaded = _saved(model, tmp_path, "chars.rnnkit")
    assert loaded.layers[1].get_vocabulary() == characters.get_vocabulary()
    np.testing.assert_array_equal(loaded.layers[1]._lookup_layer.idf_weights, characters._lookup_layer.idf_weights)
    np.testing.assert_array_equal(loaded.predict(np.array(["a\nb\r"]), verbose=0),
                                  model.predict(np.array(["a\nb\r"]), verbose=0))
    pytest.importorskip("h5py", reason="writing .keras archives needs h5py (pip install '.[h5]')")
    with pytest.raises(ValueError, match="save the model as .rnnkit"):
        model.save(tmp_path / "chars.keras")
    assert not (tmp_path / "chars.keras").exists()


def test_unadapted_layer_stays_without_vocabulary_in_rnnkit_files(tmp_path):
    texts = keras.Input(shape=(1,), dtype="string")
    model = keras.Model(texts, L.TextVectorization(output_sequence_length=2)(texts))
    loaded = _saved(model, tmp_path, "empty.rnnkit")
    with pytest.raises(RuntimeError, match="no vocabulary"):
        loaded.predict(TEXTS, verbose=0)


def test_malformed_layer_assets_are_refused(tmp_path):
    _, _, vectorize = text_model()
    texts = keras.Input(shape=(1,), dtype="string")
    config = keras.saving._model_config(keras.Model(texts, vectorize(texts)))
    path = tmp_path / "bad.rnnkit"
    for assets, message in [({"layers/text_vectorization": {"vocabulary": "the"}}, "must be an object"),
                            ({"layers/text_vectorization": {"vocabulary": ["a", "a"]}}, "repeated term"),
                            (["the"], "must be a JSON object")]:
        with open(path, "wb") as stream:
            file_format.write_model_file(stream, {}, model_config=config, layer_assets=assets)
        with pytest.raises(ValueError, match=message):
            keras.models.load_model(path)


# -- Keras' .keras layout ------------------------------------------------------------------------------------------
@pytest.fixture
def h5py():
    return pytest.importorskip("h5py", reason="reading and writing .keras archives needs h5py (pip install '.[h5]')")


def test_keras_archive_layout(tmp_path, h5py):
    model, _, vectorize = text_model()
    loaded = _saved(model, tmp_path, "m.keras")
    np.testing.assert_array_equal(loaded.predict(TEXTS, verbose=0), model.predict(TEXTS, verbose=0))
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        expected = "\n".join(vectorize.get_vocabulary()).encode()
        assert archive.read("assets/layers/text_vectorization/vocabulary.txt") == expected
        assert archive.read("assets/layers/text_vectorization/_lookup_layer/vocabulary.txt") == expected
        config = json.loads(archive.read("config.json"))["config"]["layers"]
    assert config[0]["config"]["dtype"] == "string"
    assert config[1]["class_name"] == "TextVectorization"
    assert config[1]["config"]["vocabulary"] is None and config[1]["config"]["vocabulary_size"] == 11
    assert config[2]["inbound_nodes"][0]["args"][0]["config"]["dtype"] == "int64"


def test_keras_archive_idf_weights(tmp_path, h5py):
    tf_idf = L.TextVectorization(output_mode="tf_idf", max_tokens=30, pad_to_max_tokens=True)
    tf_idf.adapt(TEXTS)
    texts = keras.Input(shape=(1,), dtype="string")
    model = keras.Model(texts, L.Dense(1)(tf_idf(texts)))
    loaded = _saved(model, tmp_path, "tfidf.keras")
    np.testing.assert_array_equal(loaded.predict(TEXTS, verbose=0), model.predict(TEXTS, verbose=0))
    size = tf_idf.vocabulary_size()
    with zipfile.ZipFile(tmp_path / "tfidf.keras") as archive, \
            h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as weights:
        for path in ("layers/text_vectorization", "layers/text_vectorization/_lookup_layer"):
            # Without pad_to_max_tokens' zeros, which Keras' own load_assets cannot take back.
            np.testing.assert_array_equal(weights[f"{path}/vars/idf_weights"][()],
                                          tf_idf._lookup_layer.idf_weights[:size])
    model.save_weights(tmp_path / "tfidf.weights.h5")
    fresh = L.TextVectorization(output_mode="tf_idf", max_tokens=30, pad_to_max_tokens=True)
    fresh.set_vocabulary(tf_idf.get_vocabulary(), idf_weights=np.ones(size))
    other = keras.Model(texts, L.Dense(1)(fresh(texts)))
    other.load_weights(tmp_path / "tfidf.weights.h5")  # the idf weights too, as Keras' load_own_variables
    np.testing.assert_array_equal(other.predict(TEXTS, verbose=0), model.predict(TEXTS, verbose=0))


def test_keras_archive_vocabulary_is_read_as_written(tmp_path, h5py):
    """Keras writes a vocabulary whose last token is "" as a file ending in "\\n", which its own reader drops;
    rnnkit reads the file as written."""
    words = keras.Input(shape=(2,), dtype="string")
    lookup = L.StringLookup(vocabulary=["b", "a", "x"])
    _saved(keras.Model(words, lookup(words)), tmp_path, "words.keras")
    with zipfile.ZipFile(tmp_path / "words.keras") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"][1]["config"]["vocabulary"] = None  # an adapted layer: its vocabulary is an asset
    members["config.json"] = json.dumps(config).encode()
    members["assets/layers/string_lookup/vocabulary.txt"] = b"[UNK]\r\nb\r\na\r\n"  # as Keras writes on Windows
    with zipfile.ZipFile(tmp_path / "edited.keras", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    loaded = keras.models.load_model(tmp_path / "edited.keras")
    assert loaded.layers[1].get_vocabulary() == ["[UNK]", "b", "a", ""]
    np.testing.assert_array_equal(loaded.predict(np.array([["a", ""]]), verbose=0), [[2, 3]])


def test_unadapted_layer_in_keras_archives_gets_the_special_tokens(tmp_path, h5py):
    texts = keras.Input(shape=(1,), dtype="string")
    model = keras.Model(texts, L.TextVectorization(output_sequence_length=2)(texts))
    loaded = _saved(model, tmp_path, "empty.keras")  # Keras writes (and needs) the special tokens alone
    assert loaded.layers[1].get_vocabulary() == ["", "[UNK]"]
    np.testing.assert_array_equal(loaded.predict(np.array(["a b c"]), verbose=0), [[1, 1]])


class TextClassifier(keras.Model):
    def __init__(self, length=5, **kwargs):
        super().__init__(**kwargs)
        self.vectorize = L.TextVectorization(max_tokens=20, output_sequence_length=length)
        self.embedding, self.lstm, self.dense = L.Embedding(20, 4), L.LSTM(3), L.Dense(1)

    def call(self, texts):
        return self.dense(self.lstm(self.embedding(self.vectorize(texts))))


@pytest.mark.parametrize("suffix", [".rnnkit", ".keras"])
def test_subclassed_model_with_text_vectorization(tmp_path, suffix):
    if suffix == ".keras":
        pytest.importorskip("h5py", reason="writing .keras archives needs h5py (pip install '.[h5]')")
    model = TextClassifier()
    model.vectorize.adapt(TEXTS)
    model.compile("adam", "mse")
    model.fit(TEXTS, LABELS, epochs=1, batch_size=4, verbose=0)  # batches of texts of different numpy dtypes
    assert model.build_config == {"input_shape": [None], "input_dtype": "string"}  # Keras reads input_shape only
    model.save(tmp_path / f"m{suffix}")
    with keras.saving.custom_object_scope({"TextClassifier": TextClassifier}):
        loaded = keras.models.load_model(tmp_path / f"m{suffix}")
    np.testing.assert_array_equal(loaded.predict(TEXTS, verbose=0), model.predict(TEXTS, verbose=0))
