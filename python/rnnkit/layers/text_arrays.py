"""The string values of the text layers: numpy object arrays of Python str, and ragged rows of tokens.

Keras takes TensorFlow string tensors; rnnkit takes what numpy and Python hold text in (str, bytes, lists, arrays
of dtype str, bytes or object) and works on str throughout. UTF-8 only: bytes are decoded as UTF-8, the encoding
Keras assumes by default.
"""
import codecs
import itertools

import numpy as np


def check_encoding(layer, encoding):
    """Keras' `encoding` argument: any spelling of UTF-8, the only encoding rnnkit reads bytes in."""
    try:
        name = codecs.lookup(encoding).name
    except (LookupError, TypeError):
        name = None
    if name != "utf-8":
        raise ValueError(f"{layer}: rnnkit reads text as UTF-8 only, received encoding={encoding!r}; decode the "
                         "bytes yourself and pass str (which needs no encoding)")
    return encoding


def _as_str(layer, value):
    if isinstance(value, str):
        return str(value)  # np.str_ to str
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(f"{layer}: received bytes that are not UTF-8: {value[:40]!r} ({error})") from None
    if isinstance(value, (list, tuple)):
        raise ValueError(f"{layer}: expected a rectangular array of strings, received nested sequences of different "
                         f"lengths (such as {value!r})")
    raise TypeError(f"{layer}: expected strings, received {type(value).__name__} {value!r}")


def as_text_array(layer, values):
    """`values` (a str, bytes, nested lists or an array of strings) as an object array of str of the same shape."""
    if isinstance(values, (str, bytes)):
        array = np.empty((), dtype=object)
        array[()] = _as_str(layer, values)
        return array
    array = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    if array.dtype.kind not in "USO":
        raise TypeError(f"{layer}: expected strings, received an array of dtype {array.dtype}")
    flat = [_as_str(layer, value) for value in array.ravel()]
    text = np.empty(len(flat), dtype=object)
    text[:] = flat
    return text.reshape(array.shape)


def as_unicode_array(texts):
    """An object array of str as numpy's str dtype, what Keras hands a `standardize` callable off TensorFlow."""
    return texts.astype(str) if texts.size else np.zeros(texts.shape, dtype="<U1")


class RaggedTokens:
    """The tokens of each text of an array of texts of shape `shape`: `rows` lists them in C order, a list of
    str per text. TextVectorization's split step makes these; StringLookup indexes or counts them."""

    def __init__(self, rows, shape):
        self.rows = rows
        self.shape = tuple(shape)

    def truncated(self, length):
        """The first `length` tokens of each row."""
        return RaggedTokens([row[:length] for row in self.rows], self.shape)

    def documents(self):
        """The rows grouped into documents as Keras counts them for tf_idf: one per entry of the first axis."""
        if not self.shape:
            return self.rows
        size = int(np.prod(self.shape[1:]))
        return [[token for row in self.rows[i * size:(i + 1) * size] for token in row] for i in range(self.shape[0])]


def adapt_batches(layer, data, steps=None, batch_size=None, to_array=as_text_array):
    """The batches adapt() counts: an array or list of strings (or of what `to_array(layer, data)` converts, the
    lookups' tokens) as rows of one each (`batch_size` rows at a time when given, which only bounds memory), or
    the first `steps` batches of an iterable of them."""
    if isinstance(data, (str, bytes)):
        raise TypeError(f"{layer}: adapt() expects an array or list or an iterable of batches, received a single "
                        "string (wrap it in a list)")
    if not isinstance(data, (list, tuple, np.ndarray)):
        return itertools.islice(data, steps)
    rows = to_array(layer, data)
    rows = rows.reshape(-1, 1) if rows.ndim <= 1 else rows
    size = batch_size or max(len(rows), 1)
    return (rows[start:start + size] for start in range(0, len(rows), size))
