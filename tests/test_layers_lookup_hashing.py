"""IntegerLookup, Hashing, CategoryEncoding and Discretization against hand-derived expectations: Keras' docstring
examples, and small inputs whose outputs follow from Keras' documented rules (index layout: mask at 0 in "int" mode,
then the OOV indices, then the vocabulary; OOV integers to t mod num_oov_indices; adapt's ranking by descending
count, ties by descending value; idf = log(1 + documents / (1 + documents holding the token)); Hashing of a value's
string form; bins [b[i-1], b[i]) compared in float32; adapt's boundaries at the quantiles of the data)."""
import math

import numpy as np
import pytest

import rnnkit as keras
from rnnkit.layers.string_fingerprint import fingerprint64
from rnnkit.layers.string_siphash import siphash64

L = keras.layers
VOCAB = [12, 36, 1138, 42]


# -- IntegerLookup: Keras' docstring examples ----------------------------------------------------------------------
def test_integer_lookup_docstring_lookups():
    data = np.array([[12, 1138, 42], [42, 1000, 36]])
    np.testing.assert_array_equal(L.IntegerLookup(vocabulary=VOCAB)(data), [[1, 3, 4], [4, 0, 2]])
    layer = L.IntegerLookup()
    layer.adapt(data)
    assert layer.get_vocabulary() == [-1, 42, 1138, 1000, 36, 12]  # 42 twice, then the others by descending value
    np.testing.assert_array_equal(layer(data), [[5, 2, 1], [1, 3, 4]])
    # Two OOV indices, floormod: 37 % 2 = 1 and 1000 % 2 = 0; the vocabulary moves up by one.
    two = L.IntegerLookup(vocabulary=VOCAB, num_oov_indices=2)
    np.testing.assert_array_equal(two(np.array([[12, 1138, 42], [37, 1000, 36]])), [[2, 4, 5], [1, 0, 3]])


def test_integer_lookup_docstring_oov_methods():
    oov_values = np.array([100, 300, 700, 1100, 1700, 2000])
    floormod = L.IntegerLookup(vocabulary=[10, 20, 30], num_oov_indices=4, oov_method="floormod")
    farmhash = L.IntegerLookup(vocabulary=[10, 20, 30], num_oov_indices=4, oov_method="farmhash")
    np.testing.assert_array_equal(floormod(oov_values), [0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(farmhash(oov_values), [3, 3, 2, 2, 0, 1])
    # The rule behind them: FarmHash64 of the decimal string (tf.strings.as_string), modulo the OOV indices.
    assert [fingerprint64(str(v).encode()) % 4 for v in oov_values] == [3, 3, 2, 2, 0, 1]


def test_integer_lookup_docstring_encodings():
    data = np.array([[12, 1138, 42, 42], [42, 7, 36, 7]])
    one_hot = L.IntegerLookup(vocabulary=VOCAB, output_mode="one_hot")(np.array([12, 36, 1138, 42, 7]))
    np.testing.assert_array_equal(one_hot, np.eye(5, dtype=np.int64)[[1, 2, 3, 4, 0]])
    multi_hot = L.IntegerLookup(vocabulary=VOCAB, output_mode="multi_hot")(data)
    np.testing.assert_array_equal(multi_hot, [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]])
    count = L.IntegerLookup(vocabulary=VOCAB, output_mode="count")(data)
    np.testing.assert_array_equal(count, [[0, 1, 0, 1, 2], [2, 0, 1, 0, 1]])
    # Keras' eager outputs are int64 (its docstring prints float32, which only its symbolic outputs claim).
    assert one_hot.dtype == multi_hot.dtype == count.dtype == np.int64
    tf_idf = L.IntegerLookup(vocabulary=VOCAB, idf_weights=[0.25, 0.75, 0.6, 0.4], output_mode="tf_idf")(data)
    # OOV's weight: the mean of the given ones, 0.5; 7 twice gives 1.0.
    np.testing.assert_allclose(tf_idf, [[0, 0.25, 0, 0.6, 0.8], [1.0, 0, 0.75, 0, 0.4]], rtol=1e-6)
    assert tf_idf.dtype == np.float32
    with_oov = L.IntegerLookup(vocabulary=[-1] + VOCAB, idf_weights=[0.9, 0.25, 0.75, 0.6, 0.4], output_mode="tf_idf")
    np.testing.assert_allclose(with_oov(data), [[0, 0.25, 0, 0.6, 0.8], [1.8, 0, 0.75, 0, 0.4]], rtol=1e-6)


def test_integer_lookup_docstring_invert():
    inverse = L.IntegerLookup(vocabulary=VOCAB, invert=True)
    np.testing.assert_array_equal(inverse(np.array([[1, 3, 4], [4, 0, 2]])), [[12, 1138, 42], [42, -1, 36]])
    forward = L.IntegerLookup(vocabulary=VOCAB)
    pair = L.IntegerLookup(vocabulary=forward.get_vocabulary(), invert=True)
    result = pair(forward(np.array([[12, 1138, 42], [42, 1000, 36]])))
    np.testing.assert_array_equal(result, [[12, 1138, 42], [42, -1, 36]])
    assert result.dtype == np.int64


# -- IntegerLookup: the index layout, OOV, masks -------------------------------------------------------------------
def test_integer_lookup_index_layout_with_mask_and_oov_buckets():
    layer = L.IntegerLookup(vocabulary=[5, 6], mask_token=0, num_oov_indices=2)
    assert layer.get_vocabulary() == [0, -1, -1, 5, 6]
    assert layer.get_vocabulary(include_special_tokens=False) == [5, 6]
    assert layer.vocabulary_size() == 5
    # Mask 0 -> 0; OOV t -> 1 + t mod 2 (floor modulo: -3 mod 2 = 1); 5, 6 -> 3, 4.
    np.testing.assert_array_equal(layer(np.array([0, 5, 6, 7, -3, 4])), [0, 3, 4, 2, 2, 1])
    # Outside "int" mode the mask is dropped and the OOV indices come first: [-1, -1, 5, 6].
    counts = L.IntegerLookup(vocabulary=[5, 6], mask_token=0, num_oov_indices=2, output_mode="count")
    np.testing.assert_array_equal(counts(np.array([[0, 0, 5, 7, 4], [6, 6, 0, 9, 9]])), [[1, 1, 1, 0], [0, 2, 0, 2]])
    assert counts.get_vocabulary() == [-1, -1, 5, 6]


def test_integer_lookup_farmhash_and_salted_oov_buckets():
    tokens = np.array([7, 8, -9, 12345678901])
    farmhash = L.IntegerLookup(vocabulary=[1], num_oov_indices=5, oov_method="farmhash", mask_token=0)
    expected = [1 + fingerprint64(str(t).encode()) % 5 for t in tokens]  # after the mask index
    np.testing.assert_array_equal(farmhash(tokens), expected)
    salted = L.IntegerLookup(vocabulary=[1], num_oov_indices=5, oov_method="farmhash", salt=3)
    np.testing.assert_array_equal(salted(tokens), [siphash64((3, 3), str(t).encode()) % 5 for t in tokens])
    assert salted.get_config()["salt"] == [3, 3]


def test_integer_lookup_invert_with_mask():
    layer = L.IntegerLookup(vocabulary=[12, 36, 7], invert=True, mask_token=0)
    assert layer.get_vocabulary() == [0, -1, 12, 36, 7]
    np.testing.assert_array_equal(layer(np.array([[0, 1, 2, 3, 4, 5, -1]])), [[0, -1, 12, 36, 7, -1, -1]])


def test_integer_lookup_converts_inputs_as_tensorflow_does():
    layer = L.IntegerLookup(vocabulary=[1, 2, -3])
    np.testing.assert_array_equal(layer(np.array([1.0, 2.9, -3.5])), [1, 2, 3])  # floats truncated toward zero
    np.testing.assert_array_equal(layer(np.array([1, 2], np.uint8)), [1, 2])
    np.testing.assert_array_equal(layer(np.array(["2", "-3"])), [2, 3])  # decimal strings parsed
    np.testing.assert_array_equal(layer([[True, False]]), [[1, 0]])
    assert layer(2).shape == ()
    assert L.IntegerLookup(vocabulary=np.array([3.0, 4.0])).get_vocabulary() == [-1, 3, 4]


def test_integer_lookup_zero_oov_indices_refuses_unknown_values():
    layer = L.IntegerLookup(vocabulary=[1, 2], num_oov_indices=0)
    np.testing.assert_array_equal(layer(np.array([2, 1])), [1, 0])
    with pytest.raises(ValueError, match=r"found OOV values \[3\]"):
        layer(np.array([1, 3]))


# -- IntegerLookup: adapt ------------------------------------------------------------------------------------------
def test_integer_lookup_adapt_ranks_by_count_then_descending_value():
    data = np.array([3, 3, 3, 7, 7, -2, -2, 9, 0, 0, 0, 0, -1, -1])
    layer = L.IntegerLookup(mask_token=0)
    layer.adapt(data)
    # The mask (0) and OOV (-1) tokens are left out however frequent; 7 and -2 tie: 7 first.
    assert layer.get_vocabulary() == [0, -1, 3, 7, -2, 9]
    capped = L.IntegerLookup(mask_token=0, max_tokens=4)
    capped.adapt(data)
    assert capped.get_vocabulary() == [0, -1, 3, 7]  # max_tokens counts the special indices


def test_integer_lookup_adapt_batches_and_steps():
    layer = L.IntegerLookup()
    layer.adapt(iter([np.array([1, 2]), np.array([[2, 3]]), [3, 3]]))
    assert layer.get_vocabulary() == [-1, 3, 2, 1]  # 3 three times, 2 twice
    layer.adapt(iter([[5, 6, 6], [7, 7, 7]]), steps=1)
    assert layer.get_vocabulary() == [-1, 6, 5]
    layer.adapt([[8, 8], [9, 8]])  # a list is one batch of rows
    assert layer.get_vocabulary() == [-1, 8, 9]


def test_integer_lookup_adapt_tf_idf():
    layer = L.IntegerLookup(output_mode="tf_idf")
    layer.adapt(np.array([[1, 2, 2], [2, 3, 3]]))  # two documents
    assert layer.get_vocabulary() == [-1, 2, 3, 1]
    idf = [math.log(1 + 2 / 3), math.log(2), math.log(2)]  # 2 is in both documents, 3 and 1 in one
    np.testing.assert_allclose(layer.idf_weights, [np.mean(idf)] + idf, rtol=1e-6)
    np.testing.assert_allclose(layer(np.array([[2, 2, 9]])), [[np.mean(idf), 2 * idf[0], 0, 0]], rtol=1e-6)
    flat = L.IntegerLookup(output_mode="tf_idf")
    flat.adapt([1, 2, 2, 3])  # a 1-D array: each value its own document, four of them
    np.testing.assert_allclose(flat.idf_weights[1:], [math.log(1 + 4 / 3), math.log(3), math.log(3)], rtol=1e-6)


def test_integer_lookup_pad_to_max_tokens_and_frozen_size():
    padded = L.IntegerLookup(max_tokens=6, output_mode="multi_hot", pad_to_max_tokens=True)
    padded.adapt(np.array([5, 5, 6]))
    np.testing.assert_array_equal(padded(np.array([[5, 9]])), [[1, 1, 0, 0, 0, 0]])
    fixed = L.IntegerLookup(vocabulary=[1, 2], output_mode="count")
    with pytest.raises(RuntimeError, match="cannot be changed"):
        fixed.set_vocabulary([1, 2, 3])


@pytest.mark.parametrize("make,error,message", [
    (lambda: L.IntegerLookup(vocabulary_dtype="int32"), ValueError, "vocabulary_dtype='int64'"),
    (lambda: L.IntegerLookup(salt=3), ValueError, "oov_method='farmhash'"),
    (lambda: L.IntegerLookup(salt=[1, 2, 3], oov_method="farmhash"), ValueError, "salt"),
    (lambda: L.IntegerLookup(oov_token=None), ValueError, "integer `oov_token`"),
    (lambda: L.IntegerLookup(mask_token="0"), TypeError, "mask_token"),
    (lambda: L.IntegerLookup(vocabulary=[1, 1]), ValueError, "repeated term"),
    (lambda: L.IntegerLookup(vocabulary=[1, 0], mask_token=0), ValueError, "reserved mask token"),
    (lambda: L.IntegerLookup(vocabulary=[1, -1], invert=True), ValueError, "reserved OOV token"),
    (lambda: L.IntegerLookup(vocabulary=[[1, 2]]), ValueError, "1-D"),
    (lambda: L.IntegerLookup(vocabulary=[1, 2, 3], max_tokens=3), ValueError, "larger than the maximum"),
    (lambda: L.IntegerLookup(invert=True, output_mode="count"), ValueError, "must be `'int'` when `invert`"),
    (lambda: L.IntegerLookup(sparse=True, output_mode="count"), ValueError, "sparse=True is not supported"),
    (lambda: L.IntegerLookup(vocabulary=[1])(np.array([[1, "x"]])), ValueError, "expected integers"),
    (lambda: L.IntegerLookup(vocabulary=[1])(np.array([np.nan])), ValueError, "non-finite"),
    (lambda: L.IntegerLookup(vocabulary=[1])([[1, 2], [3]]), ValueError, "rectangular"),
    (lambda: L.IntegerLookup()(np.array([1])), RuntimeError, "no vocabulary"),
    (lambda: L.IntegerLookup(vocabulary=[1], invert=True)(np.array([0.5])), TypeError, "integer indices"),
    (lambda: L.IntegerLookup(vocabulary=[1]).adapt(np.array([1])), ValueError, "static vocabulary"),
])
def test_integer_lookup_refusals(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_integer_lookup_vocabulary_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("12\n36\r\n-5\n")
    layer = L.IntegerLookup(vocabulary=str(path))
    assert layer.get_vocabulary() == [-1, 12, 36, -5]
    assert layer.get_config()["vocabulary"] is None  # a file travels as state, not config
    np.testing.assert_array_equal(layer(np.array([-5, 36, 0])), [3, 2, 0])


def test_integer_lookup_config_round_trip():
    layer = L.IntegerLookup(vocabulary=np.array([5, 6]), mask_token=0, num_oov_indices=2, oov_method="farmhash",
                            salt=[1, 2], name="ids")
    config = layer.get_config()
    # Keras' keys (IndexLookup's plus vocabulary_dtype), plain ints in it.
    assert {k: v for k, v in config.items() if k not in ("trainable", "dtype")} == {
        "name": "ids", "invert": False, "max_tokens": None, "num_oov_indices": 2, "oov_token": -1, "mask_token": 0,
        "output_mode": "int", "sparse": False, "pad_to_max_tokens": False, "vocabulary_dtype": "int64",
        "idf_weights": None, "vocabulary": [5, 6], "vocabulary_size": 5, "oov_method": "farmhash", "salt": [1, 2]}
    assert all(type(token) is int for token in config["vocabulary"])
    again = L.IntegerLookup.from_config(config)
    values = np.array([0, 5, 6, 7, 8, 9])
    np.testing.assert_array_equal(again(values), layer(values))
    adapted = L.IntegerLookup(output_mode="multi_hot")
    adapted.adapt(np.array([4, 4, 2]))
    config = adapted.get_config()
    assert config["vocabulary"] is None and config["vocabulary_size"] == 3  # the vocabulary is state
    assert keras.layers.deserialize(keras.layers.serialize(adapted)).get_config() == config


def test_integer_lookup_state_takes_saved_text():
    """A .keras archive's vocabulary.txt gives the tokens as text; they are read back as integers."""
    layer = L.IntegerLookup(output_mode="tf_idf")
    layer.import_state(["-1", "7", "3"], [0.5, 0.25, 0.75])
    assert layer.get_vocabulary() == [-1, 7, 3]
    np.testing.assert_allclose(layer(np.array([[3, 3, 1]])), [[0.5, 0, 1.5]])
    assert layer.export_state()["vocabulary"] == [-1, 7, 3]


# -- Hashing -------------------------------------------------------------------------------------------------------
LETTERS = [["A"], ["B"], ["C"], ["D"], ["E"]]


def test_hashing_docstring_examples():
    np.testing.assert_array_equal(L.Hashing(num_bins=3)(LETTERS), [[1], [0], [1], [1], [2]])
    masked = L.Hashing(num_bins=3, mask_value="")
    np.testing.assert_array_equal(masked([["A"], ["B"], [""], ["C"], ["D"]]), [[1], [1], [0], [2], [2]])
    np.testing.assert_array_equal(L.Hashing(num_bins=3, salt=[133, 137])(LETTERS), [[1], [2], [1], [0], [2]])
    np.testing.assert_array_equal(L.Hashing(num_bins=3, salt=133)(LETTERS), [[0], [0], [2], [1], [0]])
    assert L.Hashing(num_bins=3)(LETTERS).dtype == np.int64


def test_hashing_negative_salt_is_read_modulo_two_to_the_64():
    """TensorFlow takes the key as int64 and hashes with its bits as uint64."""
    expected = [[siphash64((2 ** 64 - 1, 2 ** 64 - 5), letter.encode()) % 7] for [letter] in LETTERS]
    np.testing.assert_array_equal(L.Hashing(num_bins=7, salt=[-1, -5])(LETTERS), expected)


def test_siphash_reference_vector():
    # The SipHash paper's test vector: key 00..0f, message 00..0e.
    key = (0x0706050403020100, 0x0F0E0D0C0B0A0908)
    assert siphash64(key, bytes(range(15))) == 0xA129CA6149BE45E5


def test_hashing_hashes_the_string_form_of_numbers():
    layer = L.Hashing(num_bins=1000)
    np.testing.assert_array_equal(layer(np.array([1, -3, 12345678901234])), layer(["1", "-3", "12345678901234"]))
    np.testing.assert_array_equal(layer(np.array([1, 2], np.int32)), layer(["1", "2"]))
    np.testing.assert_array_equal(layer(np.array([1.7, -3.5])), layer(["1", "-3"]))  # floats truncated first
    np.testing.assert_array_equal(layer(np.array([True, False])), layer(["true", "false"]))
    np.testing.assert_array_equal(layer(np.array([b"A", "é".encode()])), layer(["A", "é"]))
    assert layer("x").shape == ()
    np.testing.assert_array_equal(layer(["Zebra"]), [fingerprint64(b"Zebra") % 1000])


def test_hashing_numeric_mask_takes_bin_zero():
    layer = L.Hashing(num_bins=5, mask_value=0)
    values = np.array([0, 1, 2, 3, 0])
    expected = [0] + [1 + fingerprint64(str(v).encode()) % 4 for v in (1, 2, 3)] + [0]
    np.testing.assert_array_equal(layer(values), expected)
    np.testing.assert_array_equal(L.Hashing(num_bins=1, mask_value=0)(values), [0, 0, 0, 0, 0])  # mask ignored
    np.testing.assert_array_equal(L.Hashing(num_bins=3, mask_value=1)(np.array([1.5, 1.0])) == 0, [False, True])


def test_hashing_output_modes():
    words = [["A", "B", "C"], ["D", "E", "E"]]  # bins with 3: A 1, B 0, C 1 / D 1, E 2, E 2 (the docstring's)
    count = L.Hashing(num_bins=3, output_mode="count")(words)
    np.testing.assert_array_equal(count, [[1, 2, 0], [0, 1, 2]])
    assert count.dtype == np.float32
    np.testing.assert_array_equal(L.Hashing(num_bins=3, output_mode="multi_hot")(words), [[1, 1, 0], [0, 1, 1]])
    one_hot = L.Hashing(num_bins=3, output_mode="one_hot")(words)
    np.testing.assert_array_equal(one_hot, np.eye(3)[[[1, 0, 1], [1, 2, 2]]])
    np.testing.assert_array_equal(L.Hashing(num_bins=3, output_mode="one_hot")(LETTERS), np.eye(3)[[1, 0, 1, 1, 2]])
    np.testing.assert_array_equal(L.Hashing(num_bins=3, output_mode="multi_hot")(["A", "E"]), [0, 1, 1])  # 1 sample
    assert L.Hashing(num_bins=3, dtype="int32")(["A"]).dtype == np.int32


def test_hashing_config_round_trip():
    layer = L.Hashing(num_bins=4, salt=7, mask_value="", output_mode="count", name="h")
    config = layer.get_config()
    assert {k: v for k, v in config.items() if k != "trainable"} == {
        "name": "h", "dtype": "float32", "num_bins": 4, "salt": [7, 7], "mask_value": "", "output_mode": "count",
        "sparse": False}
    again = L.Hashing.from_config(config)
    np.testing.assert_array_equal(again([["a", "", "b"]]), layer([["a", "", "b"]]))
    keras_config = {**config, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float64"},
                                        "registered_name": None}}
    assert L.Hashing.from_config(keras_config)([["a"]]).dtype == np.float64
    assert L.Hashing(num_bins=2).get_config()["dtype"] == "int64"


@pytest.mark.parametrize("make,error,message", [
    (lambda: L.Hashing(num_bins=0), ValueError, "non-positive"),
    (lambda: L.Hashing(num_bins=None), ValueError, "non-positive"),
    (lambda: L.Hashing(num_bins=3, output_mode="tf_idf"), ValueError, "output_mode"),
    (lambda: L.Hashing(num_bins=3, dtype="float32"), ValueError, "integer type"),
    (lambda: L.Hashing(num_bins=3, salt="x"), ValueError, "salt"),
    (lambda: L.Hashing(num_bins=3, salt=2 ** 63), ValueError, "64-bit"),
    (lambda: L.Hashing(num_bins=3, sparse=True, output_mode="count"), ValueError, "sparse=True is not supported"),
    (lambda: L.Hashing(num_bins=3, mask_value="")(np.array([1, 2])), TypeError, "cannot be compared"),
    (lambda: L.Hashing(num_bins=3)(np.array([np.inf])), ValueError, "non-finite"),
    (lambda: L.Hashing(num_bins=3)(np.array([None])), TypeError, "strings or numbers"),
])
def test_hashing_refusals(make, error, message):
    with pytest.raises(error, match=message):
        make()


# -- CategoryEncoding ----------------------------------------------------------------------------------------------
def test_category_encoding_docstring_examples():
    one_hot = L.CategoryEncoding(num_tokens=4, output_mode="one_hot")([3, 2, 0, 1])
    np.testing.assert_array_equal(one_hot, np.eye(4)[[3, 2, 0, 1]])
    assert one_hot.dtype == np.float32
    data = [[0, 1], [0, 0], [1, 2], [3, 1]]
    np.testing.assert_array_equal(L.CategoryEncoding(num_tokens=4, output_mode="multi_hot")(data),
                                  [[1, 1, 0, 0], [1, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 1]])
    weights = np.array([[.1, .2], [.1, .1], [.2, .3], [.4, .2]])
    counted = L.CategoryEncoding(num_tokens=4, output_mode="count")(data, count_weights=weights)
    np.testing.assert_allclose(counted, [[.1, .2, 0, 0], [.2, 0, 0, 0], [0, .2, .3, 0], [0, .2, 0, .4]], rtol=1e-6)
    assert counted.dtype == np.float32


def test_category_encoding_shapes():
    count = L.CategoryEncoding(num_tokens=4, output_mode="count")
    np.testing.assert_array_equal(count([[0, 0, 3]]), [[2, 0, 0, 1]])
    np.testing.assert_array_equal(count([0, 0, 3]), [2, 0, 0, 1])  # 1-D: one sample
    np.testing.assert_array_equal(count(2), [0, 0, 1, 0])
    # Rank 3: each sample's entries along axis 1, as Keras' eager encoding reduces it.
    np.testing.assert_array_equal(count(np.array([[[0, 1], [2, 2]]])), [[[1, 0, 1, 0], [0, 1, 1, 0]]])
    one_hot = L.CategoryEncoding(num_tokens=4, output_mode="one_hot")
    assert one_hot(np.array([[0], [3]])).shape == (2, 4)  # a trailing 1 is replaced
    assert one_hot(np.array([[0, 1]])).shape == (1, 2, 4)
    assert one_hot(2).shape == (1, 4)
    np.testing.assert_array_equal(L.CategoryEncoding(num_tokens=4)(np.array([[0.0, 1.7]])), [[1, 1, 0, 0]])
    assert L.CategoryEncoding(num_tokens=4, dtype="int32")([[0, 1]]).dtype == np.int32
    assert L.CategoryEncoding(num_tokens=3, output_mode="binary").output_mode == "multi_hot"


@pytest.mark.parametrize("make,error,message", [
    (lambda: L.CategoryEncoding(num_tokens=4)(np.array([[0, 4]])), ValueError, "0 <= values < num_tokens"),
    (lambda: L.CategoryEncoding(num_tokens=4, output_mode="one_hot")([-1]), ValueError, "0 <= values < num_tokens"),
    (lambda: L.CategoryEncoding(num_tokens=4)([0], count_weights=[1.0]), ValueError, "not used when"),
    (lambda: L.CategoryEncoding(num_tokens=4, output_mode="count")([0, 1], count_weights=[1.0]), ValueError,
     "shape of the inputs"),
    (lambda: L.CategoryEncoding(), ValueError, "num_tokens must be set"),
    (lambda: L.CategoryEncoding(num_tokens=0), ValueError, ">= 1"),
    (lambda: L.CategoryEncoding(num_tokens=3, output_mode="int"), ValueError, "output_mode"),
    (lambda: L.CategoryEncoding(num_tokens=3, sparse=True), ValueError, "sparse=True is not supported"),
])
def test_category_encoding_refusals(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_category_encoding_config_round_trip():
    layer = L.CategoryEncoding(num_tokens=5, output_mode="count", name="c")
    config = layer.get_config()
    assert {k: v for k, v in config.items() if k != "trainable"} == {"name": "c", "dtype": "float32", "num_tokens": 5,
                                                                     "output_mode": "count"}
    np.testing.assert_array_equal(L.CategoryEncoding.from_config(config)([[4, 4]]), [[0, 0, 0, 0, 2]])


# -- Discretization ------------------------------------------------------------------------------------------------
DOC_INPUT = np.array([[-1.5, 1.0, 3.4, .5], [0.0, 3.0, 1.3, 0.0]])


def test_discretization_docstring_examples():
    given = L.Discretization(bin_boundaries=[0., 1., 2.])(DOC_INPUT)
    np.testing.assert_array_equal(given, [[0, 2, 3, 1], [1, 3, 2, 1]])
    assert given.dtype == np.int32
    layer = L.Discretization(num_bins=4, epsilon=0.01)
    layer.adapt(DOC_INPUT)
    # The 8 sorted values sit at cumulative fractions 1/8 .. 8/8: the quartiles are the 2nd, 4th and 6th.
    np.testing.assert_allclose(layer.bin_boundaries, [0.0, 0.5, 1.3], rtol=1e-6)
    np.testing.assert_array_equal(layer(DOC_INPUT), [[0, 2, 3, 2], [1, 3, 3, 1]])


@pytest.mark.parametrize("data,num_bins,expected", [
    (np.arange(1, 101.0), 4, [25, 50, 75]),
    (np.arange(1, 101.0).reshape(20, 5), 4, [25, 50, 75]),  # any shape: the values are what count
    (np.arange(10.0), 4, [1.5, 4.0, 6.5]),  # 0.25 lies between 0.2 (value 1) and 0.3 (value 2)
    (np.arange(1, 11.0), 2, [5.0]),
    (np.array([1.0, 1, 1, 2]), 4, [1, 1, 1]),  # ties give repeated boundaries
    (np.arange(5.0), 1, []),
])
def test_discretization_adapt_finds_known_quantiles(data, num_bins, expected):
    layer = L.Discretization(num_bins=num_bins)
    layer.adapt(data)
    # Keras' quantiles are approximate: the fractions 0.01, 0.02, ... it interpolates at are rounded.
    np.testing.assert_allclose(layer.bin_boundaries, expected, rtol=1e-6, atol=1e-4)


def test_discretization_adapt_merges_batches():
    """Batch 1 (0..9, eps 0.1) is kept whole with weight 1; batch 2 (10..29) by every 2nd value (11, 13, ..., 29)
    with weight 2; their merge compressed to tenths of the total weight 30 is 2, 5, 8, 11, 14, ..., 29 (weight 3
    each), whose thirds are 9 and 19."""
    layer = L.Discretization(num_bins=3, epsilon=0.1)
    layer.adapt([np.arange(10.0), np.arange(10.0, 30.0)])
    np.testing.assert_allclose(layer.bin_boundaries, [9.0, 19.0], rtol=1e-6)
    first = L.Discretization(num_bins=3, epsilon=0.1)
    first.adapt(iter([np.arange(10.0), np.arange(10.0, 30.0)]), steps=1)
    # 0..9 at fractions 0.1 .. 1: 1/3 lies a third of the way from 0.3 (value 2) to 0.4 (value 3).
    np.testing.assert_allclose(first.bin_boundaries, [2 + 1 / 3, 5 + 2 / 3], rtol=1e-6)


def test_discretization_compares_in_float32():
    layer = L.Discretization(bin_boundaries=[0.1, 1.0])
    # 0.09999999999 rounds to float32(0.1), the boundary: bin 1 (as in Keras); NaN and inf go last.
    np.testing.assert_array_equal(layer(np.array([0.1, 0.09999999999, 0.0999, 1.0, 0.99999])), [1, 1, 0, 2, 1])
    np.testing.assert_array_equal(layer(np.array([np.nan, np.inf, -np.inf])), [2, 2, 0])
    np.testing.assert_array_equal(layer(np.array([0, 1, 2])), [0, 2, 2])
    assert layer(0.5).shape == ()
    np.testing.assert_array_equal(L.Discretization(bin_boundaries=[])(np.array([1.0, -1.0])), [0, 0])


def test_discretization_output_modes():
    boundaries = [0., 1., 2.]  # DOC_INPUT's bins: [[0, 2, 3, 1], [1, 3, 2, 1]]
    multi_hot = L.Discretization(bin_boundaries=boundaries, output_mode="multi_hot")(DOC_INPUT)
    np.testing.assert_array_equal(multi_hot, [[1, 1, 1, 1], [0, 1, 1, 1]])
    assert multi_hot.dtype == np.float32
    count = L.Discretization(bin_boundaries=boundaries, output_mode="count")(DOC_INPUT)
    np.testing.assert_array_equal(count, [[1, 1, 1, 1], [0, 2, 1, 1]])
    one_hot = L.Discretization(bin_boundaries=boundaries, output_mode="one_hot")(DOC_INPUT)
    np.testing.assert_array_equal(one_hot, np.eye(4)[[[0, 2, 3, 1], [1, 3, 2, 1]]])
    wide = L.Discretization(bin_boundaries=boundaries, output_mode="count", dtype="float64")
    assert wide(np.array([[0.5, 3.0]])).dtype == np.float64


def test_discretization_config_keeps_learnt_boundaries():
    layer = L.Discretization(num_bins=4, name="d")
    assert layer.get_config() == {"bin_boundaries": None, "num_bins": 4, "epsilon": 0.01, "output_mode": "int",
                                  "sparse": False, "name": "d", "dtype": "float32"}  # Keras' keys, no others
    layer.adapt(np.arange(1, 101.0))
    config = layer.get_config()
    assert config["bin_boundaries"] == layer.bin_boundaries and config["num_bins"] == 4
    again = L.Discretization.from_config(config)  # both set: the boundaries are applied after __init__
    assert again.bin_boundaries == layer.bin_boundaries
    np.testing.assert_array_equal(again(np.array([10.0, 30.0, 60.0, 90.0])), [0, 1, 2, 3])
    again.adapt(np.arange(10.0))  # still adaptable
    np.testing.assert_allclose(again.bin_boundaries, [1.5, 4.0, 6.5], rtol=1e-6)


@pytest.mark.parametrize("make,error,message", [
    (lambda: L.Discretization(), ValueError, "either `num_bins` or `bin_boundaries`"),
    (lambda: L.Discretization(num_bins=2, bin_boundaries=[1.0]), ValueError, "should not be set"),
    (lambda: L.Discretization(num_bins=-1), ValueError, "greater than or equal to 0"),
    (lambda: L.Discretization(bin_boundaries=[2.0, 1.0]), ValueError, "sorted"),
    (lambda: L.Discretization(bin_boundaries=[0.0], output_mode="tf_idf"), ValueError, "output_mode"),
    (lambda: L.Discretization(bin_boundaries=[0.0], sparse=True), ValueError, "sparse=True is not supported"),
    (lambda: L.Discretization(num_bins=2)(np.array([1.0])), ValueError, "call `adapt"),
    (lambda: L.Discretization(bin_boundaries=[1.0]).adapt(np.arange(3.0)), ValueError, "use `num_bins`"),
    (lambda: L.Discretization(num_bins=0).adapt(np.arange(3.0)), ValueError, "num_bins=0"),
    (lambda: L.Discretization(bin_boundaries=[1.0])(np.array(["a"])), TypeError, "expects numbers"),
])
def test_discretization_refusals(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_layers_have_no_weights_and_pass_no_gradient():
    for layer in (L.IntegerLookup(vocabulary=[1]), L.Hashing(3), L.CategoryEncoding(3),
                  L.Discretization(bin_boundaries=[0.0])):
        assert layer.weights == [] and layer.count_params() == 0
        assert layer.backward(None, np.ones(3)) == (None, [])
