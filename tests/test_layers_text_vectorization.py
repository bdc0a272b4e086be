"""TextVectorization and StringLookup against hand-derived expectations: Keras' docstring examples, and small
corpora whose vocabulary and outputs follow from Keras' documented rules (tokens by descending count, ties by
descending code point order; index 0 padding and 1 "[UNK]" in "int" mode, "[UNK]" at 0 in the other modes;
idf = log(1 + documents / (1 + documents holding the token)), OOV's idf the mean of the tokens')."""
import math

import numpy as np
import pytest

import rnnkit as keras
from rnnkit.layers.string_fingerprint import fingerprint64

TextVectorization = keras.layers.TextVectorization
StringLookup = keras.layers.StringLookup


def adapted(texts, **options):
    layer = TextVectorization(**options)
    layer.adapt(texts)
    return layer


# -- Keras' docstring examples -----------------------------------------------------------------------------------------
def test_text_vectorization_docstring_adapt_example():
    layer = adapted(["foo bar", "bar baz", "baz bada boom"], max_tokens=5000, output_sequence_length=4)
    # bar and baz twice (baz first: ties by descending order), then foo > boom > bada once.
    assert layer.get_vocabulary() == ["", "[UNK]", "baz", "bar", "foo", "boom", "bada"]
    np.testing.assert_array_equal(layer([["foo qux bar"], ["qux baz"]]), [[4, 1, 3, 0], [1, 2, 0, 0]])


def test_text_vectorization_docstring_vocabulary_example():
    layer = TextVectorization(max_tokens=5000, output_sequence_length=4, vocabulary=["earth", "wind", "and", "fire"])
    assert layer.get_vocabulary() == ["", "[UNK]", "earth", "wind", "and", "fire"]
    np.testing.assert_array_equal(layer(["earth wind and fire", "the fire"]), [[2, 3, 4, 5], [1, 5, 0, 0]])


def test_string_lookup_docstring_examples():
    vocab = ["a", "b", "c", "d"]
    data = [["a", "c", "d"], ["d", "z", "b"]]
    np.testing.assert_array_equal(StringLookup(vocabulary=vocab)(data), [[1, 3, 4], [4, 0, 2]])
    layer = StringLookup()
    layer.adapt(data)
    assert layer.get_vocabulary() == ["[UNK]", "d", "z", "c", "b", "a"]
    np.testing.assert_array_equal(layer(data), [[5, 3, 1], [1, 2, 4]])
    # Two OOV indices: "m" hashes to 0 and "z" to 1, the docstring's buckets.
    np.testing.assert_array_equal(StringLookup(vocabulary=vocab, num_oov_indices=2)([["a", "c", "d"], ["m", "z", "b"]]),
                                  [[2, 4, 5], [0, 1, 3]])


def test_string_lookup_docstring_encodings():
    vocab = ["a", "b", "c", "d"]
    np.testing.assert_array_equal(StringLookup(vocabulary=vocab, output_mode="one_hot")(["a", "b", "c", "d", "z"]),
                                  [[0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [1, 0, 0, 0, 0]])
    data = [["a", "c", "d", "d"], ["d", "z", "b", "z"]]
    multi_hot = StringLookup(vocabulary=vocab, output_mode="multi_hot")(data)
    np.testing.assert_array_equal(multi_hot, [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]])
    assert multi_hot.dtype == np.int64  # as the docstring shows (dtype=int64)
    np.testing.assert_array_equal(StringLookup(vocabulary=vocab, output_mode="count")(data),
                                  [[0, 1, 0, 1, 2], [2, 0, 1, 0, 1]])


def test_string_lookup_docstring_tf_idf():
    data = [["a", "c", "d", "d"], ["d", "z", "b", "z"]]
    layer = StringLookup(output_mode="tf_idf")
    layer.set_vocabulary(["a", "b", "c", "d"], idf_weights=[0.25, 0.75, 0.6, 0.4])
    out = layer(data)
    assert out.dtype == np.float32
    # OOV's weight defaults to the mean of the given ones, 0.5: "z" twice is 1.0.
    np.testing.assert_allclose(out, [[0, 0.25, 0, 0.6, 0.8], [1.0, 0, 0.75, 0, 0.4]], rtol=1e-6)
    layer = StringLookup(output_mode="tf_idf")
    layer.set_vocabulary(["[UNK]", "a", "b", "c", "d"], idf_weights=[0.9, 0.25, 0.75, 0.6, 0.4])
    np.testing.assert_allclose(layer(data), [[0, 0.25, 0, 0.6, 0.8], [1.8, 0, 0.75, 0, 0.4]], rtol=1e-6)


def test_string_lookup_docstring_invert():
    vocab = ["a", "b", "c", "d"]
    forward, inverse = StringLookup(vocabulary=vocab), StringLookup(vocabulary=vocab, invert=True)
    np.testing.assert_array_equal(inverse([[1, 3, 4], [4, 0, 2]]), [["a", "c", "d"], ["d", "[UNK]", "b"]])
    np.testing.assert_array_equal(inverse(forward([["a", "c", "d"], ["d", "z", "b"]])),
                                  [["a", "c", "d"], ["d", "[UNK]", "b"]])


def test_fingerprint_matches_tensorflow_documentation():
    # tf.strings.to_hash_bucket_fast(["Hello", "TensorFlow", "2.x"], 3) is [0, 2, 2] in TensorFlow's docstring;
    # an empty string is the constant k2 of FarmHash's length-0 case.
    assert [fingerprint64(word.encode()) % 3 for word in ["Hello", "TensorFlow", "2.x"]] == [0, 2, 2]
    assert fingerprint64(b"") == 0x9AE16A3B2F90404F


# -- standardize, split, ngrams ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("standardize,tokens", [
    (None, ["Hello,", "World!", "it's", "A-B_c"]),
    ("lower", ["hello,", "world!", "it's", "a-b_c"]),
    ("strip_punctuation", ["Hello", "World", "its", "ABc"]),
    ("lower_and_strip_punctuation", ["hello", "world", "its", "abc"]),
])
def test_standardize_modes(standardize, tokens):
    layer = adapted(["Hello, World! it's A-B_c"], standardize=standardize)
    # Four tokens once each: the vocabulary lists them in descending code point order.
    assert layer.get_vocabulary(include_special_tokens=False) == sorted(tokens, reverse=True)


def test_lower_is_ascii_only_and_punctuation_is_ascii_only():
    # tf.strings.lower without an encoding (what Keras calls) lowercases A-Z only; the punctuation Keras strips is
    # the 32 ASCII characters, so "¿" and "«" stay.
    layer = adapted(["ÉCOLE Straße ¿Qué? «ÑU»"])
    assert sorted(layer.get_vocabulary(include_special_tokens=False)) == sorted(["École", "straße", "¿qué", "«Ñu»"])


def test_whitespace_split_is_ascii_whitespace_only():
    texts = ["a\tb\nc\vd\fe\rf  g", "h\xa0i j\u2003k l\x1cm n\u3000o"]
    layer = adapted(texts, standardize=None)
    np.testing.assert_array_equal(layer(texts) > 1, [[True] * 7, [True] * 4 + [False] * 3])
    assert set(layer.get_vocabulary()) >= {"h\xa0i", "j\u2003k", "l\x1cm", "n\u3000o"}


def test_character_split():
    layer = adapted(["Hé, yo!"], split="character")
    # Standardized to "hé yo": five characters once each, the space among them, by descending code point.
    assert layer.get_vocabulary() == ["", "[UNK]", "é", "y", "o", "h", " "]
    np.testing.assert_array_equal(layer(["hey"]), [[5, 1, 3]])


def test_split_none_looks_up_whole_strings():
    layer = adapted(["Red", "blue", "red", "Blue green"], split=None)
    assert layer.get_vocabulary() == ["", "[UNK]", "red", "blue green", "blue"]
    np.testing.assert_array_equal(layer(["red", "blue green", "x"]), [2, 3, 1])
    np.testing.assert_array_equal(layer([["red"], ["blue green"]]), [[2], [3]])


def test_callables_receive_numpy_strings():
    seen = []

    def standardize(texts):
        seen.append((type(texts), texts.dtype.kind, texts.shape))
        return np.char.lower(texts)

    def split(texts):
        seen.append((type(texts), texts.dtype.kind, texts.shape))
        return np.char.split(texts, "-")

    layer = TextVectorization(standardize=standardize, split=split)
    layer.adapt(["A-b", "c-B"])
    assert layer.get_vocabulary() == ["", "[UNK]", "b", "c", "a"]
    np.testing.assert_array_equal(layer([["a-b-c"]]), [[4, 2, 3]])
    # adapt sees the texts as a column; split gets them squeezed to one text per entry.
    assert seen == [(np.ndarray, "U", (2, 1)), (np.ndarray, "U", (2,)), (np.ndarray, "U", (1, 1)),
                    (np.ndarray, "U", (1,))]


def test_split_callable_must_return_rows_of_tokens():
    layer = TextVectorization(split=lambda texts: list(texts), vocabulary=["a"])
    with pytest.raises(ValueError, match="one sequence of tokens per text"):
        layer(["a b"])
    layer = TextVectorization(split=lambda texts: [["a"]], vocabulary=["a"])
    with pytest.raises(ValueError, match="returned 1 rows for 2 texts"):
        layer(["a", "b"])


def test_ngrams_are_listed_width_by_width():
    layer = adapted(["a b c", "a b"], ngrams=2)
    # a, b and "a b" twice (b > "a b" > a), then c > "b c".
    assert layer.get_vocabulary() == ["", "[UNK]", "b", "a b", "a", "c", "b c"]
    np.testing.assert_array_equal(layer(["a b c d", "c"]), [[4, 2, 5, 1, 3, 6, 1], [5, 0, 0, 0, 0, 0, 0]])
    layer = TextVectorization(ngrams=(3, 1), vocabulary=["a b c", "a", "d"])
    np.testing.assert_array_equal(layer(["a b c d"]), [[2, 1, 3, 1, 1, 4]])  # "a b c", "b c d", then a b c d


def test_ngrams_without_split_run_along_the_last_axis():
    layer = TextVectorization(split=None, ngrams=2, vocabulary=["a", "b", "a b"])
    np.testing.assert_array_equal(layer([["a", "b"], ["b", "a"]]), [[2, 3, 4], [3, 2, 1]])


def test_ngram_widths_must_be_positive():
    with pytest.raises(ValueError, match="greater than 0"):
        TextVectorization(ngrams=(0, 2))
    with pytest.raises(ValueError, match="tuple of integers"):
        TextVectorization(ngrams=[1, 2])


# -- int output ------------------------------------------------------------------------------------------------------
CORPUS = ["the cat sat", "the dog sat", "a cat and a dog", "zebra"]
# the 2, sat 2, cat 2, dog 2, a 2 (twice in one text), and 1, zebra 1: ties by descending code point.
CORPUS_TOKENS = ["the", "sat", "dog", "cat", "a", "zebra", "and"]


def test_vocabulary_order_and_int_output():
    layer = adapted(CORPUS)
    assert layer.get_vocabulary() == ["", "[UNK]"] + CORPUS_TOKENS
    assert layer.get_vocabulary(include_special_tokens=False) == CORPUS_TOKENS
    assert layer.vocabulary_size() == 9
    out = layer(["The CAT, sat!", "unknown words", ""])
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [[2, 5, 3], [1, 1, 0], [0, 0, 0]])  # padded to the longest row


def test_ties_sort_by_descending_code_point():
    assert adapted(["b a c B é e Z z"]).get_vocabulary() == ["", "[UNK]", "z", "b", "é", "e", "c", "a"]


def test_output_sequence_length_pads_and_truncates():
    layer = adapted(CORPUS, output_sequence_length=3)
    np.testing.assert_array_equal(layer(["the cat sat on a dog", "zebra", ""]), [[2, 5, 3], [7, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(adapted(CORPUS, output_sequence_length=0)(["the cat"]), np.zeros((1, 0)))


def test_input_ranks():
    layer = adapted(CORPUS)
    np.testing.assert_array_equal(layer("the cat"), [2, 5])  # a single string: one row
    np.testing.assert_array_equal(layer(np.array([["the cat"], ["dog"]])), [[2, 5], [4, 0]])
    np.testing.assert_array_equal(layer(np.array([], dtype=str)), np.zeros((0, 0)))
    np.testing.assert_array_equal(layer([b"the zebra"]), [[2, 7]])  # bytes are UTF-8
    with pytest.raises(ValueError, match="last shape dimension must be 1"):
        layer(np.array([["the", "cat"]]))
    with pytest.raises(TypeError, match="expected strings"):
        layer(np.array([1, 2]))
    with pytest.raises(ValueError, match="rectangular"):
        layer([["a"], ["b", "c"]])


def test_max_tokens_counts_the_special_indices():
    assert adapted(CORPUS, max_tokens=4).get_vocabulary() == ["", "[UNK]", "the", "sat"]
    assert adapted(CORPUS, max_tokens=4, output_mode="multi_hot").get_vocabulary() == ["[UNK]", "the", "sat", "dog"]


# -- multi_hot, count, tf_idf --------------------------------------------------------------------------------------
def test_multi_hot_and_count():
    multi_hot = adapted(CORPUS, output_mode="multi_hot")
    assert multi_hot.get_vocabulary() == ["[UNK]"] + CORPUS_TOKENS
    out = multi_hot(["a dog and a cat", "zz the"])
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [[0, 0, 0, 1, 1, 1, 0, 1], [1, 1, 0, 0, 0, 0, 0, 0]])
    count = adapted(CORPUS, output_mode="count")
    np.testing.assert_array_equal(count(["a dog and a cat", "zz zz the"]),
                                  [[0, 0, 0, 1, 1, 2, 0, 1], [2, 1, 0, 0, 0, 0, 0, 0]])


def test_pad_to_max_tokens_widens_the_output():
    layer = adapted(CORPUS, output_mode="multi_hot", max_tokens=12, pad_to_max_tokens=True)
    out = layer(["cat"])
    assert out.shape == (1, 12)
    np.testing.assert_array_equal(out[0], [0, 0, 0, 0, 1] + [0] * 7)


def test_tf_idf_from_adapt():
    layer = adapted(["a b", "a", "c"], output_mode="tf_idf")
    # a: 2 of 3 documents -> log(1 + 3/3); b, c: 1 of 3 -> log(1 + 3/2). Order a (2), then c > b.
    assert layer.get_vocabulary() == ["[UNK]", "a", "c", "b"]
    a, rare = math.log(2.0), math.log(2.5)
    oov = (a + 2 * rare) / 3
    out = layer(["a a zz", "b c c"])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[oov, 2 * a, 0, 0], [0, 0, 2 * rare, rare]], rtol=1e-6)


def test_tf_idf_padding_has_zero_weight():
    layer = adapted(["a b", "a", "c"], output_mode="tf_idf", max_tokens=6, pad_to_max_tokens=True)
    out = layer(["a"])
    assert out.shape == (1, 6)
    np.testing.assert_allclose(out[0], [0, math.log(2.0), 0, 0, 0, 0], rtol=1e-6)


def test_adapt_documents_in_batches():
    # An array: each entry a document. An iterable of batches: each batch's entries, so the same counts.
    whole = adapted(["a b", "b", "c a"], output_mode="tf_idf")
    batches = TextVectorization(output_mode="tf_idf")
    batches.adapt(iter([["a b", "b"], ["c a"]]))
    np.testing.assert_allclose(batches(["a b c"]), whole(["a b c"]))
    # a and b in 2 of 3 documents, c in 1; b, a (count 2, b first), then c.
    np.testing.assert_allclose(whole(["a b c"]), [[0, math.log(2), math.log(2), math.log(2.5)]], rtol=1e-6)
    chunked = TextVectorization(output_mode="tf_idf")
    chunked.adapt(["a b", "b", "c a"], batch_size=2)
    np.testing.assert_allclose(chunked(["a b c"]), whole(["a b c"]))


def test_adapt_steps_and_iterables():
    layer = TextVectorization()
    layer.adapt((batch for batch in [["a b", "b"], np.array(["c c c"])]), steps=1)
    assert layer.get_vocabulary() == ["", "[UNK]", "b", "a"]
    layer.adapt(iter([["a b", "b"], np.array(["c c c"])]))  # adapting again starts from scratch
    assert layer.get_vocabulary() == ["", "[UNK]", "c", "b", "a"]
    with pytest.raises(TypeError, match="single string"):
        layer.adapt("a b c")


def test_string_lookup_adapt_documents():
    # A 1-D array: each string a document; rows of a 2-D array are documents.
    layer = StringLookup(output_mode="tf_idf")
    layer.adapt(["a", "b", "b", "c"])
    assert layer.get_vocabulary() == ["[UNK]", "b", "c", "a"]
    b, single = math.log(1 + 4 / 3), math.log(1 + 4 / 2)
    np.testing.assert_allclose(layer.idf_weights, [(b + 2 * single) / 3, b, single, single], rtol=1e-6)
    layer.adapt(np.array([["a", "b"], ["a", "a"], ["c", "b"]]))
    np.testing.assert_allclose(layer.idf_weights[1:], [math.log(2), math.log(2), math.log(2.5)], rtol=1e-6)


# -- StringLookup's options ----------------------------------------------------------------------------------------
def test_mask_token():
    layer = StringLookup(mask_token="m")
    layer.adapt(["a", "b", "b", "m", "m", "m", "[UNK]"])  # the mask and OOV tokens are not learnt
    assert layer.get_vocabulary() == ["m", "[UNK]", "b", "a"]
    np.testing.assert_array_equal(layer(["m", "a", "zz"]), [0, 3, 1])
    multi_hot = StringLookup(mask_token="m", output_mode="multi_hot", vocabulary=["a", "b"])
    assert multi_hot.get_vocabulary() == ["[UNK]", "a", "b"]  # outside "int" mode the mask token is dropped
    np.testing.assert_array_equal(multi_hot([["m", "a"], ["zz", "m"]]), [[0, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(StringLookup(mask_token="m", output_mode="one_hot", vocabulary=["a"])(["m", "a"]),
                                  [[0, 0], [0, 1]])


def test_num_oov_indices():
    layer = StringLookup(num_oov_indices=0, vocabulary=["a", "b"])
    np.testing.assert_array_equal(layer(["b", "a"]), [1, 0])
    with pytest.raises(ValueError, match=r"found OOV values \['zz'\]"):
        layer(["a", "zz"])
    layer = StringLookup(num_oov_indices=3, vocabulary=["x"])
    words = ["", "hello", "é" * 40, "w" * 100]
    np.testing.assert_array_equal(layer(words), [fingerprint64(w.encode()) % 3 for w in words])
    np.testing.assert_array_equal(layer(["x"]), [3])


def test_invert_with_mask_and_out_of_range():
    layer = StringLookup(vocabulary=["a", "b"], invert=True, mask_token="")
    out = layer(np.array([[0, 1, 2], [3, 4, -1]]))
    assert out.dtype.kind == "U"
    np.testing.assert_array_equal(out, [["", "[UNK]", "a"], ["b", "[UNK]", "[UNK]"]])
    with pytest.raises(TypeError, match="integer indices"):
        layer(["a"])


def test_one_hot_shapes():
    layer = StringLookup(vocabulary=["a", "b"], output_mode="one_hot")
    np.testing.assert_array_equal(layer("a"), [[0, 1, 0]])  # a scalar: one sample
    np.testing.assert_array_equal(layer([["a"], ["b"]]), [[0, 1, 0], [0, 0, 1]])  # a trailing axis of 1 replaced
    assert layer([["a", "b"]]).shape == (1, 2, 3)
    np.testing.assert_array_equal(TextVectorization(split=None, output_mode="one_hot", vocabulary=["red"])(
        ["Red", "x"]), [[0, 1], [1, 0]])


def test_multi_hot_of_one_sample_and_of_rank_3():
    layer = StringLookup(vocabulary=["a", "b"], output_mode="count")
    np.testing.assert_array_equal(layer(["a", "a", "q"]), [1, 2, 0])  # 1-D: one sample
    # Keras counts each sample's tokens along axis 1: (1, 2, 1) -> (1, 1, 3).
    np.testing.assert_array_equal(layer([[["a"], ["b"]]]), [[[0, 1, 1]]])


# -- set_vocabulary, vocabulary files, errors --------------------------------------------------------------------
def test_set_vocabulary_with_or_without_special_tokens():
    layer = TextVectorization()
    layer.set_vocabulary(["", "[UNK]", "earth", "wind"])
    assert layer.get_vocabulary() == ["", "[UNK]", "earth", "wind"]
    layer.set_vocabulary(["wind"])
    assert layer.get_vocabulary() == ["", "[UNK]", "wind"]
    layer.adapt(["x y y"])  # a vocabulary set after construction can still be adapted
    assert layer.get_vocabulary() == ["", "[UNK]", "y", "x"]


def test_tf_idf_weights_given():
    layer = TextVectorization(output_mode="tf_idf", vocabulary=["a", "b"], idf_weights=[0.5, 0.25], max_tokens=5,
                              pad_to_max_tokens=True)
    # OOV's weight is the mean 0.375; the padding's 0.
    np.testing.assert_allclose(layer(["a b b c"]), [[0.375, 0.5, 0.5, 0, 0]])


def test_vocabulary_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_bytes(b"earth\r\nwind\nfire\n")
    layer = TextVectorization(vocabulary=str(path))
    assert layer.get_vocabulary() == ["", "[UNK]", "earth", "wind", "fire"]
    assert layer.get_config()["vocabulary"] is None  # travels as state, as in Keras
    path.write_bytes(b"a\n\nb\n")
    with pytest.raises(ValueError, match="empty line 2"):
        StringLookup(vocabulary=str(path))
    with pytest.raises(ValueError, match="does not exist"):
        StringLookup(vocabulary=str(tmp_path / "missing.txt"))
    with pytest.raises(ValueError, match="does not support loading a vocabulary from file"):
        StringLookup(output_mode="tf_idf", vocabulary=str(path), idf_weights=[1.0])


@pytest.mark.parametrize("make,message", [
    (lambda: StringLookup(vocabulary=["a", "a"]), "repeated term"),
    (lambda: StringLookup(vocabulary=["a", "m"], mask_token="m"), "reserved mask token"),
    (lambda: StringLookup(vocabulary=["a", "[UNK]"], invert=True), "reserved OOV token"),
    (lambda: StringLookup(vocabulary=["a", "b", "c"], max_tokens=3), "larger than the maximum vocab size"),
    (lambda: StringLookup(vocabulary=[]), "empty vocabulary"),
    (lambda: StringLookup(vocabulary=["a"], output_mode="tf_idf"), "idf_weights` argument must also be provided"),
    (lambda: StringLookup(vocabulary=["a"], idf_weights=[1.0]), "should only be set if"),
    (lambda: StringLookup(vocabulary=["a"], idf_weights=[1.0, 2.0, 3.0], output_mode="tf_idf"), "as long as"),
    (lambda: StringLookup(max_tokens=1), "greater than or equal to 2"),
    (lambda: StringLookup(num_oov_indices=-1), "greater than or equal to 0"),
    (lambda: StringLookup(pad_to_max_tokens=True, output_mode="multi_hot"), "must set `max_tokens`"),
    (lambda: StringLookup(invert=True, output_mode="multi_hot"), "must be `'int'` when `invert`"),
    (lambda: StringLookup(output_mode="bogus"), "Allowed values"),
    (lambda: StringLookup(sparse=True, output_mode="multi_hot"), "sparse=True is not supported"),
    (lambda: StringLookup(salt="pepper", num_oov_indices=2), "can only be a tuple of 2 integers"),
    (lambda: StringLookup(encoding="latin-1"), "UTF-8 only"),
    (lambda: TextVectorization(ragged=True), "ragged=True is not supported"),
    (lambda: TextVectorization(standardize="bogus"), "unknown value for `standardize`"),
    (lambda: TextVectorization(split="bogus"), "unknown value for `split`"),
    (lambda: TextVectorization(output_mode="multi_hot", output_sequence_length=3), "must not be set"),
    (lambda: TextVectorization(output_sequence_length=-1), "integer >= 0"),
    (lambda: TextVectorization(output_mode="one_hot"), "ragged tensor in Keras"),
])
def test_refused_options(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_refused_calls_and_adapts():
    with pytest.raises(RuntimeError, match="no vocabulary"):
        TextVectorization()(["a"])
    layer = TextVectorization(vocabulary=["a"])
    with pytest.raises(ValueError, match="Cannot adapt layer"):
        layer.adapt(["b"])
    layer = adapted(CORPUS, output_mode="multi_hot")
    with pytest.raises(RuntimeError, match="vocabulary size cannot be changed"):
        layer.adapt(["x"])  # the output width is fixed once set, as in Keras
    padded = adapted(CORPUS, output_mode="multi_hot", max_tokens=20, pad_to_max_tokens=True)
    padded.adapt(["x"])  # padded to max_tokens, the width does not depend on the vocabulary
    assert padded.get_vocabulary() == ["[UNK]", "x"]


def test_adapt_on_nothing_keeps_the_vocabulary():
    layer = adapted(CORPUS)
    layer.adapt(["", "  "])
    assert layer.get_vocabulary(include_special_tokens=False) == CORPUS_TOKENS


def test_empty_string_is_a_token_without_mask():
    layer = StringLookup()
    layer.adapt(["a", "", ""])
    assert layer.get_vocabulary() == ["[UNK]", "", "a"]


# -- config --------------------------------------------------------------------------------------------------------
def test_config_round_trip_keeps_the_keras_keys():
    layer = TextVectorization(max_tokens=10, ngrams=(1, 2), output_sequence_length=5, vocabulary=["a", "b"])
    config = layer.get_config()
    assert {key: config[key] for key in ("max_tokens", "standardize", "split", "ngrams", "output_mode",
                                         "output_sequence_length", "pad_to_max_tokens", "sparse", "ragged",
                                         "vocabulary", "idf_weights", "encoding", "vocabulary_size")} == {
        "max_tokens": 10, "standardize": "lower_and_strip_punctuation", "split": "whitespace", "ngrams": (1, 2),
        "output_mode": "int", "output_sequence_length": 5, "pad_to_max_tokens": False, "sparse": False,
        "ragged": False, "vocabulary": ["a", "b"], "idf_weights": None, "encoding": "utf-8", "vocabulary_size": 4}
    config["ngrams"] = [1, 2]  # as JSON gives it back
    clone = keras.layers.deserialize(keras.layers.serialize(TextVectorization.from_config(config)))
    np.testing.assert_array_equal(clone(["a b zz"]), layer(["a b zz"]))
    lookup = StringLookup(output_mode="tf_idf", vocabulary=["a"], idf_weights=[2.0], mask_token="m")
    clone = StringLookup.from_config(lookup.get_config())
    np.testing.assert_array_equal(clone([["a", "zz", "m"]]), lookup([["a", "zz", "m"]]))
    assert clone.get_config() == {**lookup.get_config(), "name": clone.name}


def test_config_refuses_vocabulary_paths():
    with pytest.raises(ValueError, match="names a vocabulary file"):
        StringLookup.from_config({"vocabulary": "/etc/hostname"})


def test_callable_config_needs_a_registered_function():
    @keras.saving.register_keras_serializable(package="TextTests")
    def strip_dashes(texts):
        return np.char.replace(texts, "-", " ")

    layer = TextVectorization(standardize=strip_dashes, vocabulary=["a", "b"])
    config = layer.get_config()
    assert config["standardize"] == {"module": __name__, "class_name": "function",
                                     "config": "TextTests>strip_dashes", "registered_name": "TextTests>strip_dashes"}
    np.testing.assert_array_equal(TextVectorization.from_config(config)(["a-b"]), [[2, 3]])

    def unregistered(texts):
        return texts

    config = TextVectorization(standardize=unregistered, vocabulary=["a"]).get_config()
    with pytest.raises(ValueError, match="'unregistered' is not registered"):
        TextVectorization.from_config(config)
    with keras.saving.custom_object_scope({"unregistered": unregistered}):
        assert TextVectorization.from_config(config)(["a"]).tolist() == [[2]]
    with pytest.raises(ValueError, match="cannot be saved"):
        TextVectorization(split=lambda texts: np.char.split(texts)).get_config()


def test_salted_oov_buckets_are_siphash_of_the_utf8_keyed_by_the_salt():
    from rnnkit.layers.string_siphash import siphash64

    lookup = StringLookup(vocabulary=["a", "b"], num_oov_indices=4, salt=[3, 9])
    tokens = ["zebra", "été", "q", "a"]
    expected = [siphash64([3, 9], token.encode("utf-8")) % 4 for token in tokens[:3]] + [4]
    assert lookup(tokens).tolist() == expected  # Keras' own buckets: the TensorFlow oracle's salt cases
    assert StringLookup.from_config(lookup.get_config()).salt == [3, 9]
