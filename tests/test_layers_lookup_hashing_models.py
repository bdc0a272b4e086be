"""IntegerLookup, Hashing, CategoryEncoding and Discretization inside models: typed Inputs in front of an Embedding
or a Dense, fit / predict, symbolic shapes and dtypes, their state (vocabulary, idf weights, bin boundaries) through
`.rnnkit` files and Keras' `.keras` layout, and the C++ model API's refusal of models holding them."""
import io
import json
import zipfile

import numpy as np
import pytest

import rnnkit as keras
from rnnkit import _core
from rnnkit.saving import file_format

L = keras.layers
RNG = np.random.default_rng(0)
IDS = RNG.integers(0, 40, size=(12, 5))
WORDS = np.array([["cat", "dog"], ["emu", "cat"], ["", "yak"]] * 4)
FEATURES = RNG.random((12, 4)).astype(np.float32)
TARGETS = RNG.random((12, 1)).astype(np.float32)


@pytest.fixture
def h5py():
    return pytest.importorskip("h5py", reason="reading and writing .keras archives needs h5py (pip install '.[h5]')")


def _saved(model, tmp_path, name):
    model.save(tmp_path / name)
    return keras.models.load_model(tmp_path / name)


def lookup_model():
    """Input(int64) -> IntegerLookup -> Embedding -> LSTM -> Dense, and the same layers fed the indices."""
    keras.utils.set_random_seed(1)
    lookup = L.IntegerLookup(max_tokens=16, mask_token=0)
    lookup.adapt(IDS)
    embedding, lstm, dense = L.Embedding(16, 4), L.LSTM(3), L.Dense(1)
    ids = keras.Input(shape=(5,), dtype="int64")
    indices = keras.Input(shape=(5,), dtype="int64")
    model = keras.Model(ids, dense(lstm(embedding(lookup(ids)))))
    return model, keras.Model(indices, dense(lstm(embedding(indices)))), lookup


def test_integer_lookup_model_fits_and_computes_the_index_pipeline():
    model, on_indices, lookup = lookup_model()
    np.testing.assert_allclose(model.predict(IDS, verbose=0), on_indices.predict(lookup(IDS), verbose=0))
    model.compile("adam", "mse")
    before = [w.copy() for w in model.get_weights()]
    model.fit(IDS, TARGETS, epochs=2, batch_size=4, verbose=0)
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    np.testing.assert_allclose(model.predict(IDS, verbose=0), on_indices.predict(lookup(IDS), verbose=0))
    assert model.layers[1].weights == []  # the vocabulary is state, not weights


@pytest.mark.parametrize("suffix", [".rnnkit", ".keras"])
def test_integer_lookup_vocabulary_survives_saving(tmp_path, suffix):
    if suffix == ".keras":
        pytest.importorskip("h5py", reason="writing .keras archives needs h5py (pip install '.[h5]')")
    model, _, lookup = lookup_model()
    model.compile("adam", "mse")
    model.fit(IDS, TARGETS, epochs=1, verbose=0)
    loaded = _saved(model, tmp_path, f"m{suffix}")
    assert loaded.layers[1].get_vocabulary() == lookup.get_vocabulary()
    assert all(type(token) is int for token in loaded.layers[1].get_vocabulary())
    np.testing.assert_array_equal(loaded.predict(IDS, verbose=0), model.predict(IDS, verbose=0))
    loaded.layers[1].adapt(np.array([7, 7, 8]))  # learnt, not given: it can be adapted again, as in Keras
    assert loaded.layers[1].get_vocabulary() == [0, -1, 7, 8]


def test_rnnkit_file_layer_assets_hold_integers(tmp_path):
    model, _, lookup = lookup_model()
    model.save(tmp_path / "m.rnnkit")
    assets = file_format.read_model_file(tmp_path / "m.rnnkit")[0]["layer_assets"]
    assert assets == {"layers/integer_lookup": {"vocabulary": lookup.get_vocabulary(), "idf_weights": None}}


def test_keras_archive_layout_for_integer_lookup(tmp_path, h5py):
    lookup = L.IntegerLookup(output_mode="tf_idf", max_tokens=12, pad_to_max_tokens=True)
    lookup.adapt(IDS)
    ids = keras.Input(shape=(5,), dtype="int64")
    model = keras.Model(ids, L.Dense(1)(lookup(ids)))
    loaded = _saved(model, tmp_path, "tfidf.keras")
    np.testing.assert_array_equal(loaded.predict(IDS, verbose=0), model.predict(IDS, verbose=0))
    with zipfile.ZipFile(tmp_path / "tfidf.keras") as archive:
        vocabulary = archive.read("assets/layers/integer_lookup/vocabulary.txt").decode()
        config = json.loads(archive.read("config.json"))["config"]["layers"]
        with h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as weights:
            idf_weights = weights["layers/integer_lookup/vars/idf_weights"][()]
    assert vocabulary == "\n".join(str(token) for token in lookup.get_vocabulary())  # Keras' int(line) reads it
    np.testing.assert_array_equal(idf_weights, lookup.idf_weights[:lookup.vocabulary_size()])
    assert config[0]["config"]["dtype"] == "int64"
    assert config[1]["class_name"] == "IntegerLookup" and config[1]["config"]["vocabulary_dtype"] == "int64"


def test_hashing_models(tmp_path, h5py):
    words = keras.Input(shape=(2,), dtype="string")
    hashing = L.Hashing(num_bins=8, mask_value="")
    model = keras.Model(words, L.Dense(1)(L.Flatten()(L.Embedding(8, 3)(hashing(words)))))
    model.compile("adam", "mse")
    model.fit(WORDS, TARGETS, epochs=1, batch_size=4, verbose=0)
    numbers = keras.Input(shape=(5,), dtype="int64")
    counted = keras.Model(numbers, L.Dense(2)(L.Hashing(num_bins=6, salt=[1, 2], output_mode="count")(numbers)))
    counted.compile("adam", "mse")
    counted.fit(IDS, np.zeros((12, 2)), epochs=1, verbose=0)
    for suffix in (".rnnkit", ".keras"):
        loaded = _saved(model, tmp_path, f"words{suffix}")
        np.testing.assert_array_equal(loaded.predict(WORDS, verbose=0), model.predict(WORDS, verbose=0))
        loaded = _saved(counted, tmp_path, f"ids{suffix}")
        assert loaded.layers[1].get_config()["salt"] == [1, 2]
        np.testing.assert_array_equal(loaded.predict(IDS, verbose=0), counted.predict(IDS, verbose=0))


def test_category_encoding_and_discretization_models(tmp_path, h5py):
    discretize = L.Discretization(num_bins=5)
    discretize.adapt(FEATURES)
    features = keras.Input(shape=(4,))
    model = keras.Model(features, L.Dense(1)(L.CategoryEncoding(5, output_mode="count")(discretize(features))))
    model.compile("adam", "mse")
    model.fit(FEATURES, TARGETS, epochs=1, verbose=0)
    embedded = keras.Model(features, L.Dense(1)(L.GRU(2)(L.Embedding(5, 3)(discretize(features)))))
    embedded.compile("adam", "mse")
    embedded.fit(FEATURES, TARGETS, epochs=1, verbose=0)
    for suffix in (".rnnkit", ".keras"):
        for name, saved in (("counts", model), ("embedded", embedded)):
            loaded = _saved(saved, tmp_path, f"{name}{suffix}")
            assert loaded.layers[1].bin_boundaries == discretize.bin_boundaries  # kept in the config, as Keras does
            np.testing.assert_array_equal(loaded.predict(FEATURES, verbose=0), saved.predict(FEATURES, verbose=0))


def test_sequential_with_a_lookup_first():
    model = keras.Sequential([L.IntegerLookup(vocabulary=list(range(1, 40, 2))), L.Embedding(21, 3), L.Flatten(),
                              L.Dense(1)])
    model.compile("adam", "mse")
    model.fit(IDS, TARGETS, epochs=1, verbose=0)
    manual = model.layers[3](model.layers[2](model.layers[1](model.layers[0](IDS))))
    np.testing.assert_allclose(model.predict(IDS, verbose=0), manual, rtol=1e-6)


def test_symbolic_outputs_have_the_eager_dtypes_and_shapes():
    ids = keras.Input(shape=(4,), dtype="int64")
    words = keras.Input(shape=(3,), dtype="string")
    numbers = keras.Input(shape=(4,))
    column = keras.Input(shape=(1,), dtype="int32")
    cases = [
        (L.IntegerLookup(vocabulary=[1, 2])(ids), (None, 4), "int64"),
        (L.IntegerLookup(vocabulary=[1, 2], output_mode="count")(ids), (None, 3), "int64"),
        (L.IntegerLookup(vocabulary=[1, 2], output_mode="one_hot")(ids), (None, 4, 3), "int64"),
        (L.IntegerLookup(vocabulary=[1, 2], idf_weights=[1, 2], output_mode="tf_idf")(ids), (None, 3), "float32"),
        (L.IntegerLookup(vocabulary=[1, 2], invert=True)(ids), (None, 4), "int64"),
        (L.Hashing(5)(words), (None, 3), "int64"),
        (L.Hashing(5, output_mode="multi_hot")(words), (None, 5), "float32"),
        (L.Hashing(5, output_mode="one_hot")(column), (None, 5), "float32"),
        (L.CategoryEncoding(6)(ids), (None, 6), "float32"),
        (L.CategoryEncoding(6, output_mode="one_hot")(column), (None, 6), "float32"),
        (L.Discretization(bin_boundaries=[0.5])(numbers), (None, 4), "int32"),
        (L.Discretization(num_bins=3, output_mode="count")(numbers), (None, 3), "float32"),
    ]
    for tensor, shape, dtype in cases:
        assert (tensor.shape, tensor.dtype) == (shape, dtype)
    with pytest.raises(TypeError, match="dtype='int64'"):
        L.IntegerLookup(vocabulary=[1])(words)
    with pytest.raises(TypeError, match="integer inputs"):
        L.CategoryEncoding(3)(words)
    with pytest.raises(TypeError, match="numeric inputs"):
        L.Discretization(bin_boundaries=[0.0])(words)
    with pytest.raises(NotImplementedError, match="count_weights"):
        L.CategoryEncoding(3, output_mode="count")(ids, count_weights=numbers)


@pytest.mark.parametrize("dtype,make,head", [
    ("int64", lambda: L.IntegerLookup(vocabulary=[1, 2]), lambda x: L.Embedding(4, 2)(x)),
    ("string", lambda: L.Hashing(5), lambda x: L.Embedding(5, 2)(x)),
    ("int64", lambda: L.CategoryEncoding(4), lambda x: L.Dense(1)(x)),
    ("float32", lambda: L.Discretization(bin_boundaries=[0.5]), lambda x: L.Embedding(2, 2)(x)),
])
def test_cpp_model_api_refuses_these_layers(tmp_path, dtype, make, head):
    inputs = keras.Input(shape=(3,), dtype=dtype)
    layer = make()
    model = keras.Model(inputs, head(layer(inputs)))
    model.save(tmp_path / "m.rnnkit")
    name = type(layer).__name__
    with pytest.raises(ValueError, match=f'layer class "{name}" is not supported by the C\\+\\+ model API'):
        _core.CppModel(str(tmp_path / "m.rnnkit"))


class IdClassifier(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lookup = L.IntegerLookup(max_tokens=10)
        self.embedding, self.lstm, self.dense = L.Embedding(10, 3), L.LSTM(2), L.Dense(1)

    def call(self, ids):
        return self.dense(self.lstm(self.embedding(self.lookup(ids))))


@pytest.mark.parametrize("suffix", [".rnnkit", ".keras"])
def test_subclassed_model_with_integer_lookup(tmp_path, suffix):
    if suffix == ".keras":
        pytest.importorskip("h5py", reason="writing .keras archives needs h5py (pip install '.[h5]')")
    model = IdClassifier()
    model.lookup.adapt(IDS)
    model.compile("adam", "mse")
    model.fit(IDS, TARGETS, epochs=1, batch_size=4, verbose=0)
    model.save(tmp_path / f"m{suffix}")
    with keras.saving.custom_object_scope({"IdClassifier": IdClassifier}):
        loaded = keras.models.load_model(tmp_path / f"m{suffix}")
    assert loaded.lookup.get_vocabulary() == model.lookup.get_vocabulary()
    np.testing.assert_array_equal(loaded.predict(IDS, verbose=0), model.predict(IDS, verbose=0))
