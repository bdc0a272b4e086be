"""Oracle: TextVectorization and StringLookup against Keras 3's own layers (which run on TensorFlow whatever the
backend; Keras on torch here, as the other oracle tests): vocabularies, outputs and dtypes, configs, errors,
FarmHash OOV buckets, and `.keras` archives read both ways."""
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow", reason="Keras' TextVectorization needs TensorFlow (pip install tensorflow-cpu)")
pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 on the torch backend (pip install keras)")

import rnnkit  # noqa: E402
from rnnkit.layers.string_fingerprint import fingerprint64  # noqa: E402

pytestmark = pytest.mark.oracle

TEXTS = ["The cat sat on the mat.", "the DOG sat!", "a cat, a dog; a bird", "Zebra crossing", "",
         "Ünïcödé ÉCOLE straße", "tabs\tand\nnewlines\x0bvt\x0cff\rcr", "nbsp\xa0em\u2003ideo\u3000x", "it's A-B_c (d)"]
CALLS = [["the cat", "new words here", "ÉCOLE école", "", "dog dog dog bird"],
         np.array([["the cat"], ["a b c d"]]), "the mat"]
WORDS = ["a", "b", "b", "c", "c", "c", "", "[UNK]", "m", "m"]

TEXT_CASES = [
    {}, {"output_sequence_length": 3}, {"max_tokens": 6}, {"max_tokens": 6, "output_mode": "multi_hot"},
    {"max_tokens": 40, "output_mode": "multi_hot", "pad_to_max_tokens": True}, {"output_mode": "count"},
    {"output_mode": "tf_idf"}, {"output_mode": "tf_idf", "max_tokens": 50, "pad_to_max_tokens": True},
    {"output_mode": "tf_idf", "max_tokens": 5}, {"ngrams": 2}, {"ngrams": (2, 3), "output_sequence_length": 6},
    {"ngrams": (3, 1), "output_mode": "count"}, {"split": "character"},
    {"split": "character", "output_mode": "multi_hot", "standardize": None}, {"standardize": None},
    {"standardize": "lower"}, {"standardize": "strip_punctuation"}, {"split": None, "output_mode": "count"},
    {"split": None, "output_sequence_length": 3}, {"split": None, "output_mode": "one_hot"},
    {"split": None, "ngrams": 2}, {"output_mode": "binary"},
]
LOOKUP_CASES = [
    {}, {"mask_token": "m"}, {"mask_token": "m", "output_mode": "multi_hot"},
    {"mask_token": "m", "output_mode": "count"}, {"mask_token": "m", "output_mode": "one_hot"}, {"num_oov_indices": 3}, {"num_oov_indices": 2, "mask_token": ""},
    {"num_oov_indices": 2, "output_mode": "multi_hot"}, {"max_tokens": 3}, {"output_mode": "tf_idf"},
    {"output_mode": "tf_idf", "max_tokens": 6, "pad_to_max_tokens": True}, {"num_oov_indices": 0},
    {"num_oov_indices": 3, "salt": 42}, {"num_oov_indices": 5, "salt": [7, -3], "mask_token": ""},
]
LOOKUP_CALLS = [["m", "a", "zz", "", "c"], [["a", "b"], ["c", "q"]], [[["a"], ["b"]]], "c"]


def keras_array(value):
    return np.array(value) if isinstance(value, list) else np.asarray(value)


def assert_same(rnnkit_value, keras_value):
    expected = keras_array(keras_value)
    assert rnnkit_value.dtype == expected.dtype, (rnnkit_value.dtype, expected.dtype)
    assert rnnkit_value.shape == expected.shape
    np.testing.assert_allclose(rnnkit_value, expected, rtol=1e-6)


def both(name, options):
    return getattr(rnnkit.layers, name)(**options), getattr(keras.layers, name)(**options)


def assert_same_layer(ours, theirs, calls):
    assert ours.get_vocabulary() == [str(token) for token in theirs.get_vocabulary()]
    assert ours.vocabulary_size() == theirs.vocabulary_size()
    ignored = ("name", "dtype")
    assert {k: v for k, v in ours.get_config().items() if k not in ignored} == \
        {k: v for k, v in theirs.get_config().items() if k not in ignored}
    for value in calls:
        assert_same(ours(value), theirs(value))


@pytest.mark.parametrize("options", TEXT_CASES, ids=str)
def test_text_vectorization_matches_keras(options):
    ours, theirs = both("TextVectorization", options)
    ours.adapt(TEXTS)
    theirs.adapt(TEXTS)
    assert_same_layer(ours, theirs, CALLS if options.get("split", "whitespace") else CALLS[:2])


@pytest.mark.parametrize("options", LOOKUP_CASES, ids=str)
def test_string_lookup_matches_keras(options):
    ours, theirs = both("StringLookup", options)
    ours.adapt(WORDS)
    theirs.adapt(WORDS)
    oov_free = options.get("num_oov_indices") == 0  # out-of-vocabulary strings are errors then
    assert_same_layer(ours, theirs, [c for c in LOOKUP_CALLS if not (oov_free and {"zz", "q"} & set(np.ravel(c)))])


@pytest.mark.parametrize("options", [
    {"vocabulary": ["earth", "wind", "and", "fire"], "output_sequence_length": 4},
    {"vocabulary": ["", "[UNK]", "earth", "wind"]},
    {"vocabulary": ["a", "b"], "idf_weights": [0.5, 0.25], "output_mode": "tf_idf"},
    {"vocabulary": ["[UNK]", "a", "b"], "idf_weights": [0.1, 0.5, 0.25], "output_mode": "tf_idf"},
    {"vocabulary": ["a", "b"], "idf_weights": [0.5, 0.25], "output_mode": "tf_idf", "max_tokens": 5,
     "pad_to_max_tokens": True},
], ids=str)
def test_given_vocabularies_match_keras(options):
    ours, theirs = both("TextVectorization", options)
    assert_same_layer(ours, theirs, [["earth wind and fire", "the fire a b b c"]])


def test_adapt_in_batches_matches_keras():
    batches = [["a b", "b"], np.array(["c a", "d d d"]), ["e"]]
    ours, theirs = both("TextVectorization", {"output_mode": "tf_idf"})
    ours.adapt(iter(batches), steps=2)
    theirs.adapt(iter(batches), steps=2)
    assert_same_layer(ours, theirs, [["a b c d e"]])
    ours, theirs = both("StringLookup", {"output_mode": "tf_idf"})
    ours.adapt(iter([["a", "b"], ["a", "c"]]))  # a 1-D batch is one document
    theirs.adapt(iter([["a", "b"], ["a", "c"]]))
    np.testing.assert_allclose(ours.idf_weights, np.asarray(theirs.idf_weights), rtol=1e-6)


def test_callables_match_keras():
    def standardize(texts):
        return np.char.replace(np.char.lower(texts), "-", " ")

    options = {"standardize": standardize, "split": "character", "output_sequence_length": 8}
    ours, theirs = both("TextVectorization", options)
    ours.adapt(["A-b c", "B-c"])
    theirs.adapt(["A-b c", "B-c"])
    assert ours.get_vocabulary() == [str(token) for token in theirs.get_vocabulary()]
    assert_same(ours(["c-A-b", "x"]), theirs(["c-A-b", "x"]))


def test_invert_matches_keras():
    ours, theirs = both("StringLookup", {"vocabulary": ["a", "b", "c"], "invert": True, "mask_token": ""})
    indices = np.array([0, 1, 2, 3, 4, 5, -1])
    assert ours(indices).tolist() == [str(token) for token in theirs(indices)]


def test_fingerprint_matches_tensorflow():
    rng = np.random.default_rng(0)
    words = ["".join(chr(c) for c in rng.integers(32, 0x2FF, size=n)) for n in range(0, 200, 3)]
    words += ["x" * n for n in (16, 17, 32, 33, 64, 65, 128, 129)]
    data = [word.encode() for word in words]
    expected = tf.strings.to_hash_bucket_fast(data, 2 ** 62).numpy()
    assert [fingerprint64(word) % 2 ** 62 for word in data] == expected.tolist()


@pytest.mark.parametrize("name,options,call", [
    ("TextVectorization", {"output_mode": "multi_hot", "output_sequence_length": 3}, None),
    ("TextVectorization", {"standardize": "bogus"}, None),
    ("TextVectorization", {"max_tokens": 1}, None),
    ("TextVectorization", {"vocabulary": ["a", "a"]}, None),
    ("TextVectorization", {"vocabulary": ["a", ""]}, None),
    ("TextVectorization", {"vocabulary": ["a"], "output_mode": "tf_idf"}, None),
    ("TextVectorization", {"vocabulary": ["a"]}, np.array([["a", "b"]])),
    ("StringLookup", {"vocabulary": ["a", "b", "c"], "max_tokens": 3}, None),
    ("StringLookup", {"invert": True, "output_mode": "count"}, None),
    ("StringLookup", {"num_oov_indices": -1}, None),
    ("StringLookup", {"pad_to_max_tokens": True, "output_mode": "count"}, None),
])
def test_refusals_match_keras(name, options, call):
    with pytest.raises(ValueError):
        layer = getattr(rnnkit.layers, name)(**options)
        layer(call)
    with pytest.raises(ValueError):
        layer = getattr(keras.layers, name)(**options)
        layer(call)


# -- .keras archives, both ways ------------------------------------------------------------------------------------
def chained(model, texts):
    """A Keras model's output computed layer by layer: Keras off TensorFlow runs TextVectorization eagerly only."""
    value = texts
    for layer in model.layers[1:]:
        value = layer(value)
    return keras_array(value.detach() if hasattr(value, "detach") else value)


PRINTABLE = [text for text in TEXTS if text.isprintable()]  # no line breaks: tokens Keras' vocabulary.txt keeps


def rnnkit_model(vectorize, head):
    vectorize.adapt(PRINTABLE)
    texts = rnnkit.Input(shape=(1,), dtype="string")
    return rnnkit.Model(texts, head(vectorize(texts)))


@pytest.mark.parametrize("build", [
    lambda L: rnnkit_model(L.TextVectorization(max_tokens=20, output_sequence_length=5),
                           lambda x: L.Dense(1)(L.LSTM(3)(L.Embedding(20, 4)(x)))),
    lambda L: rnnkit_model(L.TextVectorization(output_mode="tf_idf", ngrams=2), lambda x: L.Dense(2)(x)),
    lambda L: rnnkit_model(L.TextVectorization(output_mode="multi_hot", split="character"), lambda x: L.Dense(2)(x)),
])
def test_keras_loads_rnnkit_archives(tmp_path, build):
    pytest.importorskip("h5py", reason="writing .keras archives needs h5py (pip install '.[h5]')")
    model = build(rnnkit.layers)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert [str(t) for t in loaded.layers[1].get_vocabulary()] == model.layers[1].get_vocabulary()
    np.testing.assert_allclose(chained(loaded, TEXTS), model.predict(np.array(TEXTS), verbose=0), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("vectorize,head", [
    (lambda L: L.TextVectorization(max_tokens=30, output_sequence_length=6),
     lambda L, x: L.Dense(1)(L.GRU(3)(L.Embedding(30, 4, mask_zero=True)(x)))),
    (lambda L: L.TextVectorization(output_mode="tf_idf", max_tokens=40, pad_to_max_tokens=True),
     lambda L, x: L.Dense(2)(x)),
    (lambda L: L.TextVectorization(output_mode="count", ngrams=(1, 2)), lambda L, x: L.Dense(2)(x)),
])
def test_rnnkit_loads_keras_archives(tmp_path, vectorize, head):
    pytest.importorskip("h5py", reason="reading .keras archives needs h5py (pip install '.[h5]')")
    layer = vectorize(keras.layers)
    layer.adapt(TEXTS)
    texts = keras.Input(shape=(1,), dtype="string")
    model = keras.Model(texts, head(keras.layers, layer(texts)))
    model.save(tmp_path / "k.keras")
    loaded = rnnkit.models.load_model(tmp_path / "k.keras")
    assert loaded.layers[1].get_vocabulary() == [str(t) for t in layer.get_vocabulary()]
    np.testing.assert_allclose(loaded.predict(np.array(TEXTS), verbose=0), chained(model, TEXTS), rtol=1e-5,
                               atol=1e-6)
