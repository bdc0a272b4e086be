"""TextVectorization's steps before the lookup, with the semantics of the TensorFlow ops Keras runs:

- "lower" is tf.strings.lower without an encoding: it lowercases ASCII letters only ("ÉCOLE" -> "École");
- "strip_punctuation" deletes the 32 ASCII punctuation characters (Keras' regex), nothing else;
- "whitespace" splits on ASCII whitespace only (space, \\t, \\n, \\v, \\f, \\r), as tf.strings.split, where
  str.split would also split on U+00A0, U+2003, U+001C...;
- "character" splits into Unicode code points (tf.strings.unicode_split);
- ngrams of each width are joined with a space and listed width by width (tf.strings.ngrams).

Callables receive numpy arrays, as Keras hands them off TensorFlow: `standardize` an array of str (numpy's str
dtype) shaped as the input, to return strings of the same shape; `split` a 1-D array of str, one text per entry,
to return one sequence of tokens per text (np.char.split(texts, "-") does).
"""
import re
import string

import numpy as np

from rnnkit.layers.text_arrays import RaggedTokens, as_text_array, as_unicode_array

STANDARDIZE_MODES = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
SPLIT_MODES = ("whitespace", "character")

_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}
_STRIP = {ord(char): None for char in string.punctuation}
_TABLES = {"lower": _LOWER, "strip_punctuation": _STRIP, "lower_and_strip_punctuation": {**_LOWER, **_STRIP}}
_WORD = re.compile(r"[^ \t\n\v\f\r]+")
_SEPARATORS = re.compile("[\x1c-\x1f]")  # whitespace to str.split even in ASCII text, not to TensorFlow


def _words(text):
    """The whitespace tokens of a text; str.split, much faster than the regex, where it agrees with it."""
    if text.isascii() and not _SEPARATORS.search(text):
        return text.split()
    return _WORD.findall(text)


def standardize(layer, texts, mode):
    """`texts` (an object array of str) standardized by `mode`: None, one of STANDARDIZE_MODES or a callable."""
    if mode is None:
        return texts
    if callable(mode):
        return as_text_array(layer, mode(as_unicode_array(texts)))
    table = _TABLES[mode]
    flat = [text.translate(table) for text in texts.ravel()]
    result = np.empty(len(flat), dtype=object)
    result[:] = flat
    return result.reshape(texts.shape)


def split(layer, texts, mode):
    """The tokens of each text of a 1-D object array of str, a list of str per text."""
    if mode == "whitespace":
        return [_words(text) for text in texts]
    if mode == "character":
        return [list(text) for text in texts]
    rows = mode(as_unicode_array(texts))
    if len(rows) != len(texts):
        raise ValueError(f"{layer}: the split callable returned {len(rows)} rows for {len(texts)} texts; it must "
                         "return one sequence of tokens per text")
    tokens = []
    for row in rows:
        if isinstance(row, (str, bytes)):
            raise ValueError(f"{layer}: the split callable must return one sequence of tokens per text, received "
                             f"the string {row!r} as a row")
        tokens.append(list(as_text_array(layer, list(row)).ravel()))
    return tokens


def ngram_widths(layer, ngrams):
    """Keras' `ngrams` as the tuple of widths: an int n is (1, ..., n), a tuple its widths (each > 0)."""
    if ngrams is None:
        return None
    if isinstance(ngrams, int):
        return tuple(range(1, ngrams + 1))
    if not isinstance(ngrams, tuple) or not all(isinstance(width, int) for width in ngrams):
        raise ValueError(f"{layer}: `ngrams` must be None, an integer, or a tuple of integers. Received: "
                         f"ngrams={ngrams!r}")
    if any(width < 1 for width in ngrams):
        raise ValueError(f"{layer}: all ngram widths must be greater than 0, received ngrams={ngrams!r}")
    return ngrams


def ngrams(tokens, widths):
    """The ngrams of a sequence of tokens: all of the first width, then all of the next..."""
    return [" ".join(tokens[start:start + width]) for width in widths for start in range(len(tokens) - width + 1)]


def dense_ngrams(layer, texts, widths):
    """ngrams along the last axis of an unsplit array of texts (Keras' ngrams with split=None)."""
    if texts.ndim == 0:
        raise ValueError(f"{layer}: ngrams of unsplit text need inputs of rank >= 1, received a single string")
    rows = [ngrams(list(row), widths) for row in texts.reshape(-1, texts.shape[-1])]
    result = np.empty((len(rows), len(rows[0]) if rows else ngram_count(texts.shape[-1], widths)), dtype=object)
    for index, row in enumerate(rows):
        result[index, :] = row
    return result.reshape(texts.shape[:-1] + (result.shape[1],))


def ngram_count(length, widths):
    """How many ngrams a sequence of `length` tokens has (None when the length is unknown)."""
    if length is None:
        return None
    return sum(max(0, length - width + 1) for width in widths)


def tokenize(layer, texts, split_mode, widths):
    """Standardized texts into RaggedTokens (split_mode set) or, unsplit, an object array of tokens."""
    if split_mode is None:
        return texts if widths is None else dense_ngrams(layer, texts, widths)
    if texts.ndim > 1:
        if texts.shape[-1] != 1:
            raise ValueError(f"{layer}: when using TextVectorization to tokenize strings, the input rank must be 1 "
                             f"or the last shape dimension must be 1. Received: inputs.shape={texts.shape} with "
                             f"rank={texts.ndim}")
        texts = texts[..., 0]
    rows = split(layer, texts.ravel(), split_mode)
    if widths is not None:
        rows = [ngrams(row, widths) for row in rows]
    return RaggedTokens(rows, texts.shape)
