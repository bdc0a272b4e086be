"""pad_sequences and to_categorical against hand-worked Keras 3 behaviour, and against Keras 3 when installed."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from rnnkit.preprocessing.sequence import pad_sequences, to_categorical
from rnnkit.utils import pad_sequences as utils_pad_sequences, to_categorical as utils_to_categorical

RAGGED = [[1, 2, 3], [4], [], [5, 6, 7, 8, 9]]


def test_utils_reexports_the_same_functions():
    assert utils_pad_sequences is pad_sequences and utils_to_categorical is to_categorical


def test_default_pads_and_truncates_at_the_start():
    padded = pad_sequences(RAGGED)
    assert padded.dtype == np.int32
    np.testing.assert_array_equal(padded, [[0, 0, 1, 2, 3], [0, 0, 0, 0, 4], [0, 0, 0, 0, 0], [5, 6, 7, 8, 9]])


@pytest.mark.parametrize("padding, truncating, expected", [
    ("pre", "pre", [[0, 1, 2, 3], [0, 0, 0, 4], [0, 0, 0, 0], [6, 7, 8, 9]]),
    ("post", "pre", [[1, 2, 3, 0], [4, 0, 0, 0], [0, 0, 0, 0], [6, 7, 8, 9]]),
    ("pre", "post", [[0, 1, 2, 3], [0, 0, 0, 4], [0, 0, 0, 0], [5, 6, 7, 8]]),
    ("post", "post", [[1, 2, 3, 0], [4, 0, 0, 0], [0, 0, 0, 0], [5, 6, 7, 8]]),
])
def test_padding_and_truncating_sides(padding, truncating, expected):
    np.testing.assert_array_equal(pad_sequences(RAGGED, maxlen=4, padding=padding, truncating=truncating), expected)


def test_value_and_float_dtype():
    padded = pad_sequences([[1.5], [2.5, 3.5]], dtype="float32", value=-1.0, padding="post")
    assert padded.dtype == np.float32
    np.testing.assert_array_equal(padded, [[1.5, -1.0], [2.5, 3.5]])


def test_numpy_input_and_sample_shape():
    sequences = [np.ones((2, 3)), np.full((1, 3), 2.0)]
    padded = pad_sequences(sequences, dtype="float32")
    assert padded.shape == (2, 2, 3)
    np.testing.assert_array_equal(padded[1], [[0, 0, 0], [2, 2, 2]])
    np.testing.assert_array_equal(pad_sequences(np.array([[1, 2], [3, 4]]), maxlen=3), [[0, 1, 2], [0, 3, 4]])


def test_empty_inputs():
    assert pad_sequences([], maxlen=3).shape == (0, 3)
    np.testing.assert_array_equal(pad_sequences([[], []], maxlen=2), [[0, 0], [0, 0]])
    with pytest.raises(ValueError, match="pad_sequences.*maxlen"):
        pad_sequences([])


def test_strings_need_an_object_or_string_dtype():
    padded = pad_sequences([["a", "bb"], ["c"]], dtype=object, value="<pad>")
    assert padded.tolist() == [["a", "bb"], ["<pad>", "c"]]
    assert pad_sequences([["ab"]], maxlen=2, dtype="<U2", value="z").tolist() == [["z", "ab"]]
    with pytest.raises(ValueError, match="(?s)pad_sequences.*int32.*dtype=object"):
        pad_sequences([["a"]], value="x")


def test_errors():
    with pytest.raises(ValueError, match='pad_sequences: padding type "middle" not understood'):
        pad_sequences([[1]], padding="middle")
    with pytest.raises(ValueError, match='pad_sequences: truncating type "mid" not understood'):
        pad_sequences([[1]], truncating="mid")
    with pytest.raises(ValueError, match="pad_sequences.*must be iterable.*int"):
        pad_sequences(5)
    with pytest.raises(ValueError, match="pad_sequences.*non-iterable: 2"):
        pad_sequences([[1], 2])
    with pytest.raises(ValueError, match=r"pad_sequences: shape of sample \(3,\).*position 1.*\(2,\)"):
        pad_sequences([np.zeros((1, 2)), np.zeros((1, 3))])


def test_to_categorical_shapes_and_dtype():
    result = to_categorical([0, 2, 1])
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, [[1, 0, 0], [0, 0, 1], [0, 1, 0]])
    assert to_categorical(np.array([[1], [0]]), num_classes=4).shape == (2, 4)  # trailing 1 replaced
    assert to_categorical(np.array([[1, 0], [0, 1]])).shape == (2, 2, 2)
    assert to_categorical(np.array([1])).shape == (1, 2)  # 1-D of length one stays 1-D
    assert to_categorical(3, num_classes=5).tolist() == [0, 0, 0, 1, 0]
    assert to_categorical(x=[1], num_classes=2).tolist() == [[0, 1]]  # Keras 3's keyword


def test_to_categorical_errors():
    with pytest.raises(ValueError, match=r"to_categorical.*\[0, 3\).*3"):
        to_categorical([0, 3], num_classes=3)
    with pytest.raises(ValueError, match="to_categorical.*num_classes"):
        to_categorical([])


@pytest.fixture(scope="session")
def keras_utils():
    pytest.importorskip("torch", reason="Keras 3 oracle runs on the torch backend; torch not installed")
    keras = pytest.importorskip("keras", reason="Keras 3 not installed")
    return keras.utils


@pytest.mark.oracle
@pytest.mark.parametrize("options", [
    {}, {"maxlen": 2}, {"maxlen": 6, "padding": "post"}, {"maxlen": 3, "truncating": "post", "value": 7},
    {"dtype": "float32", "value": 0.5},
])
def test_pad_sequences_matches_keras(keras_utils, options):
    ours, theirs = pad_sequences(RAGGED, **options), keras_utils.pad_sequences(RAGGED, **options)
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.oracle
def test_to_categorical_matches_keras(keras_utils):
    for labels in ([0, 2, 1], np.array([[1], [3]]), np.array([[0, 1], [2, 2]])):
        np.testing.assert_array_equal(to_categorical(labels), keras_utils.to_categorical(labels))
    # Keras 3's keyword names
    np.testing.assert_array_equal(to_categorical(x=[1, 0], num_classes=3),
                                  keras_utils.to_categorical(x=[1, 0], num_classes=3))


@pytest.mark.oracle
@settings(max_examples=60, deadline=None)
@given(sequences=st.lists(st.lists(st.integers(-5, 99), max_size=6), min_size=1, max_size=5),
       maxlen=st.one_of(st.none(), st.integers(1, 8)),
       padding=st.sampled_from(["pre", "post"]), truncating=st.sampled_from(["pre", "post"]))
def test_pad_sequences_matches_keras_on_random_ragged_lists(keras_utils, sequences, maxlen, padding, truncating):
    options = {"maxlen": maxlen, "padding": padding, "truncating": truncating}
    np.testing.assert_array_equal(pad_sequences(sequences, **options),
                                  keras_utils.pad_sequences(sequences, **options))
