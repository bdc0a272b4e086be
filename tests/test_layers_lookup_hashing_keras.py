"""Oracle: IntegerLookup, Hashing and Discretization's adapt against Keras 3's own layers, which need TensorFlow
whatever Keras' backend: vocabularies, outputs and dtypes, OOV buckets (floormod, FarmHash64, SipHash64), configs,
errors, the learnt bin boundaries, and `.keras` archives read both ways (CategoryEncoding and Discretization's
calls, which Keras runs without TensorFlow, are compared in test_layers_category_discretization_keras.py)."""
import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="Keras' IntegerLookup, Hashing and Discretization.adapt need TensorFlow "
                                         "(pip install tensorflow-cpu)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

import rnnkit  # noqa: E402
from reference import preprocessing_oracle as oracle  # noqa: E402

pytestmark = pytest.mark.oracle

RNG = np.random.default_rng(0)
ADAPT_DATA = np.array([12, 36, 1138, 42, 42, 36, 7, 7, 7, -1, 0, 0, -5, 99, 99, 8, 8, 8])
CALLS = [np.array([[12, 1138, 42], [42, 1000, 36]]), np.array([0, -1, -7, 99, 5, 8, 7, 123456789]),
         np.array([[[7], [8]], [[0], [3]]]), 36, np.array([[1.7, -5.2, 8.0]]), np.array([[3, 4]], np.int32)]


def numpy_of(value):
    return oracle.keras_numpy(keras, value)


def assert_same(ours, theirs):
    oracle.assert_same(keras, ours, theirs)


def both(name, options):
    return oracle.both(keras, name, options)


same_config = oracle.same_config


LOOKUP_CASES = [
    {}, {"mask_token": 0}, {"num_oov_indices": 3}, {"num_oov_indices": 3, "mask_token": 0},
    {"num_oov_indices": 4, "oov_method": "farmhash"}, {"num_oov_indices": 4, "oov_method": "farmhash", "salt": 5},
    {"num_oov_indices": 2, "oov_method": "farmhash", "salt": [7, -(2 ** 63)], "mask_token": 0},
    {"max_tokens": 5}, {"max_tokens": 5, "mask_token": 0, "oov_token": 99}, {"output_mode": "one_hot"},
    {"output_mode": "multi_hot", "mask_token": 0}, {"output_mode": "count", "num_oov_indices": 2},
    {"output_mode": "tf_idf"}, {"output_mode": "tf_idf", "max_tokens": 9, "pad_to_max_tokens": True},
    {"output_mode": "multi_hot", "max_tokens": 12, "pad_to_max_tokens": True},
]


@pytest.mark.parametrize("options", LOOKUP_CASES, ids=str)
def test_integer_lookup_matches_keras(options):
    ours, theirs = both("IntegerLookup", options)
    ours.adapt(ADAPT_DATA)
    theirs.adapt(ADAPT_DATA)
    assert ours.get_vocabulary() == [int(token) for token in theirs.get_vocabulary()]
    assert ours.vocabulary_size() == theirs.vocabulary_size()
    same_config(ours, theirs)
    if options.get("output_mode") == "tf_idf":
        np.testing.assert_allclose(ours.idf_weights, numpy_of(theirs.idf_weights), rtol=1e-6)
    for value in CALLS:
        assert_same(ours(value), theirs(value))


@pytest.mark.parametrize("options", [
    {"vocabulary": [12, 36, 1138, 42]}, {"vocabulary": [-1, 12, 36], "num_oov_indices": 1},
    {"vocabulary": [0, -1, 12, 36], "mask_token": 0}, {"vocabulary": [12, 36], "num_oov_indices": 0},
    {"vocabulary": [12, 36], "idf_weights": [0.5, 0.25], "output_mode": "tf_idf"},
    {"vocabulary": [-1, 12, 36], "idf_weights": [0.1, 0.5, 0.25], "output_mode": "tf_idf"},
    {"vocabulary": [12, 36], "idf_weights": [0.5, 0.25], "output_mode": "tf_idf", "max_tokens": 6,
     "pad_to_max_tokens": True},
    {"vocabulary": [12, 36, 7], "invert": True}, {"vocabulary": [12, 36, 7], "invert": True, "mask_token": 0},
])
def test_integer_lookup_given_vocabularies_match_keras(options):
    ours, theirs = both("IntegerLookup", options)
    assert ours.get_vocabulary() == [int(token) for token in theirs.get_vocabulary()]
    same_config(ours, theirs)
    calls = [np.array([[0, 1, 2, 3, 4, 5, -1]])] if options.get("invert") else [
        np.array([[12, 36, 12], [36, 36, 12]]) if options.get("num_oov_indices") == 0 else CALLS[0]]
    for value in calls:
        assert_same(ours(value), theirs(value))


def test_integer_lookup_adapt_in_batches_matches_keras():
    batches = [np.array([[1, 2, 2], [3, 3, 3]]), np.array([4, 4, 1]), [[5, 5], [5, 1]]]
    ours, theirs = both("IntegerLookup", {"output_mode": "tf_idf"})
    ours.adapt(iter(batches), steps=2)
    theirs.adapt(iter(batches), steps=2)
    assert ours.get_vocabulary() == [int(token) for token in theirs.get_vocabulary()]
    np.testing.assert_allclose(ours.idf_weights, numpy_of(theirs.idf_weights), rtol=1e-6)


HASH_INPUTS = [[["A"], ["B"], ["C"], ["D"], ["E"]], np.array([["a", "b", ""], ["", "é", "longer text here"]]),
               np.array([1, -3, 0, 12345678901234]), np.array([[1, 2, -3]], np.int32), np.array([[1.7, 2.0, -3.5]]),
               np.array([b"A", b"\xff"]), np.array([True, False]), "x"]


@pytest.mark.parametrize("options", [
    {"num_bins": 3}, {"num_bins": 1000}, {"num_bins": 7, "salt": [133, 137]}, {"num_bins": 7, "salt": 2 ** 63 - 1},
    {"num_bins": 7, "salt": [-1, 5]},
    {"num_bins": 5, "output_mode": "count"}, {"num_bins": 5, "output_mode": "multi_hot", "salt": 9},
    {"num_bins": 5, "output_mode": "one_hot"}, {"num_bins": 5, "dtype": "int32"},
], ids=str)
def test_hashing_matches_keras(options):
    ours, theirs = both("Hashing", options)
    same_config(ours, theirs)
    for value in HASH_INPUTS:
        if options.get("output_mode") == "one_hot" and isinstance(value, str):
            continue  # Keras' one_hot of a scalar fails (IndexError); rnnkit gives one row
        assert_same(ours(value), theirs(value))


@pytest.mark.parametrize("options,values", [
    ({"num_bins": 4, "mask_value": ""}, np.array([["a", "", "b"], ["", "c", "d"]])),
    ({"num_bins": 4, "mask_value": 0}, np.array([0, 1, 2, 3, 0])),
    ({"num_bins": 4, "mask_value": 1}, np.array([1.5, 1.0, 2.0])),
    ({"num_bins": 1, "mask_value": 0}, np.array([0, 1, 2])),
    ({"num_bins": 4, "mask_value": "x", "salt": 3, "output_mode": "count"}, np.array([["x", "y", "y"]])),
])
def test_hashing_masks_match_keras(options, values):
    ours, theirs = both("Hashing", options)
    same_config(ours, theirs)
    assert_same(ours(values), theirs(values))


@pytest.mark.parametrize("data,options", [
    (np.array([[-1.5, 1.0, 3.4, .5], [0.0, 3.0, 1.3, 0.0]]), {"num_bins": 4}),
    (np.arange(1, 101.0), {"num_bins": 4}), (np.arange(10.0), {"num_bins": 4}),
    (RNG.standard_normal(1000), {"num_bins": 10}), (RNG.standard_normal((300, 7)), {"num_bins": 6, "epsilon": 0.05}),
    (RNG.exponential(size=2500), {"num_bins": 8, "epsilon": 0.001}), (np.array([1.0, 1, 1, 2]), {"num_bins": 4}),
    (RNG.integers(0, 5, size=200).astype(float), {"num_bins": 3}), (np.arange(3.0), {"num_bins": 5}),
    ([RNG.standard_normal(150), RNG.standard_normal(40) + 3, RNG.standard_normal(999)], {"num_bins": 5}),
    ([np.arange(10.0), np.arange(10.0, 30.0)], {"num_bins": 3, "epsilon": 0.1}),
    # Repeated values across batches carry different weights: their sort order moves the boundaries.
    ([np.round(RNG.standard_normal(n) * 3) for n in (632, 300, 1052)], {"num_bins": 21}),
    ([np.round(RNG.standard_normal(n)) for n in (927, 60)], {"num_bins": 26, "epsilon": 0.05}),
])
def test_discretization_adapt_matches_keras(data, options):
    """The boundaries are Keras' bit for bit: the same float32 numpy computation, sort order included."""
    ours, theirs = both("Discretization", options)
    ours.adapt(data)
    theirs.adapt(data)
    assert ours.bin_boundaries == theirs.bin_boundaries
    values = np.concatenate([np.ravel(batch) for batch in (data if isinstance(data, list) else [data])])
    assert_same(ours(values), theirs(values))
    same_config(ours, theirs)


@pytest.mark.parametrize("name,options,call", [
    ("IntegerLookup", {"vocabulary_dtype": "int32"}, None),
    ("IntegerLookup", {"salt": 3}, None),
    ("IntegerLookup", {"vocabulary": [1, 1]}, None),
    ("IntegerLookup", {"vocabulary": [1, 0], "mask_token": 0}, None),
    ("IntegerLookup", {"vocabulary": [1, -1], "invert": True}, None),
    ("IntegerLookup", {"vocabulary": [1, 2, 3], "max_tokens": 3}, None),
    ("IntegerLookup", {"max_tokens": 1}, None),
    ("IntegerLookup", {"invert": True, "output_mode": "count"}, None),
    ("IntegerLookup", {"vocabulary": [1], "output_mode": "tf_idf"}, None),
    ("Hashing", {"num_bins": 0}, None),
    ("Hashing", {"num_bins": 3, "output_mode": "tf_idf"}, None),
    ("Hashing", {"num_bins": 3, "dtype": "float32"}, None),
    ("Hashing", {"num_bins": 3, "salt": "x"}, None),
    ("Discretization", {}, None),
    ("Discretization", {"num_bins": 2, "bin_boundaries": [1.0]}, None),
    ("Discretization", {"num_bins": 2}, np.array([1.0])),
])
def test_refusals_match_keras(name, options, call):
    with pytest.raises(ValueError):
        getattr(rnnkit.layers, name)(**options)(call)
    with pytest.raises(ValueError):
        getattr(keras.layers, name)(**options)(call)


# -- .keras archives, both ways ------------------------------------------------------------------------------------
def chained(model, inputs):
    """A Keras model's output computed layer by layer, eagerly (Keras runs these layers eagerly off TensorFlow)."""
    value = inputs
    for layer in model.layers[1:]:
        value = layer(value)
    return numpy_of(value)


IDS = RNG.integers(0, 30, size=(8, 4))
WORDS = np.array([["cat", "dog"], ["emu", ""], ["yak", "cat"]])
FEATURES = RNG.random((9, 4)).astype(np.float32)


def build(L, Input, Model, kind):
    """(model, inputs) of one kind, on rnnkit's or Keras' layers; the layers are adapted on the same data."""
    if kind in ("lookup", "tf_idf"):
        options = {"max_tokens": 12, "num_oov_indices": 2, "mask_token": 0} if kind == "lookup" else \
            {"output_mode": "tf_idf", "max_tokens": 14, "pad_to_max_tokens": True}
        lookup = L.IntegerLookup(**options)
        lookup.adapt(IDS)
        ids = Input(shape=(4,), dtype="int64")
        head = L.Dense(1)(L.Flatten()(L.Embedding(12, 3)(lookup(ids)))) if kind == "lookup" else L.Dense(1)(lookup(ids))
        return Model(ids, head), IDS
    if kind == "hashing":
        words = Input(shape=(2,), dtype="string")
        return Model(words, L.Dense(1)(L.Hashing(6, salt=[3, 4], mask_value="", output_mode="multi_hot")(words))), WORDS
    discretize = L.Discretization(num_bins=4)
    discretize.adapt(FEATURES)
    features = Input(shape=(4,))
    return Model(features, L.Dense(1)(L.CategoryEncoding(4, output_mode="count")(discretize(features)))), FEATURES


@pytest.mark.parametrize("kind", ["lookup", "tf_idf", "hashing", "discretization"])
def test_keras_loads_rnnkit_archives(tmp_path, kind):
    pytest.importorskip("h5py", reason="writing .keras archives needs h5py (pip install '.[h5]')")
    model, inputs = build(rnnkit.layers, rnnkit.Input, rnnkit.Model, kind)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(chained(loaded, inputs), model.predict(inputs, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["lookup", "tf_idf", "hashing", "discretization"])
def test_rnnkit_loads_keras_archives(tmp_path, kind):
    pytest.importorskip("h5py", reason="reading .keras archives needs h5py (pip install '.[h5]')")
    model, inputs = build(keras.layers, keras.Input, keras.Model, kind)
    model.save(tmp_path / "k.keras")
    loaded = rnnkit.models.load_model(tmp_path / "k.keras")
    held = loaded.layers[1]
    if kind in ("lookup", "tf_idf"):
        assert held.get_vocabulary() == [int(token) for token in model.layers[1].get_vocabulary()]
    if kind == "discretization":
        assert held.bin_boundaries == model.layers[1].bin_boundaries
    np.testing.assert_allclose(loaded.predict(inputs, verbose=0), chained(model, inputs), rtol=1e-5, atol=1e-6)
