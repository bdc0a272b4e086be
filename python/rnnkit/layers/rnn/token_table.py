"""Embedding -> recurrent layer: the layer's input projection as a table lookup.

A recurrent layer multiplies every step's input by its kernel W. When that input is an embedding row E[id], the
product is row `id` of the table E·W (vocabulary x gates*units). Over many batches with unchanged weights (predict,
evaluate) the table is computed once and each step's projection becomes a row copy: the layer's input GEMM — about
half of an Embedding -> LSTM forward — disappears. The table pays for itself once the layer has seen as many
tokens as the vocabulary has rows, so it is built only then (a single small batch keeps the plain path).

In training the weights change every batch, so the table covers only the batch's distinct ids (BatchTokens): the
products with W in the forward (E_u·W) and in BPTT (dW = E_u^T·S, dE_u = S·W^T, S the table's gradient) then run
over distinct tokens rather than every step, where text repeats its words many times a batch. It costs a gather
of table rows per step and a scatter of S's rows that the plain path does not have, so it is taken only when
the batch repeats its ids enough (MAX_DISTINCT_FRACTION).
"""
import contextlib
import itertools
import threading

import numpy as np

from rnnkit import _core

# Beyond this many floats the table would cost more memory than it saves time.
MAX_TABLE_FLOATS = 1 << 25
# A training batch takes the table when at most this fraction of its ids are distinct. Embedding(V, 128) ->
# LSTM(128) / GRU(128), batches of 64 x 100 uniform ids, one thread, fit epochs (2026-11-27): V = 10,000 (74%
# distinct) 3-6% faster with the table (GRU 9%); V = 15,000 (82%) even (GRU 7% faster); V = 30,000 (90%) 3-5%
# slower (GRU even); V = 100,000 (97%) 6-12% slower. Zipf(1.2) ids (17% distinct) 1.45x faster.
MAX_DISTINCT_FRACTION = 0.8

# Table rows are gathered at random, each a few cache lines: starting the table on a line boundary keeps every row
# of a multiple of 16 floats to whole lines (numpy starts large arrays 16 bytes past one).
CACHE_LINE_BYTES = 64

_serials = itertools.count(1)
_fixed = threading.local()


@contextlib.contextmanager
def weights_fixed():
    """Batches run back to back with no code outside the model between them (Model.predict and evaluate over
    arrays): a table found current in one of them is current for the rest, so only the first pays for the
    comparison with the weights (a full read of the embeddings each batch: 5% of an Embedding -> LSTM predict).
    Keras 3 on JAX likewise reads the weights once per predict call."""
    outer = getattr(_fixed, "serial", None)
    _fixed.serial = next(_serials)
    try:
        yield
    finally:
        _fixed.serial = outer


class TokenIds:
    """What the graph hands a recurrent layer instead of an Embedding's output it alone consumes, at inference."""

    __slots__ = ("ids", "embedding", "_embedded")

    def __init__(self, ids, embedding):
        self.ids, self.embedding, self._embedded = ids, embedding, None

    def embedded(self):
        """The Embedding's output, computed once for however many layers read it (the two of a Bidirectional)."""
        if self._embedded is None:
            self._embedded = self.embedding.forward(self.ids)[0]
        return self._embedded


class TokenRowsGradient:
    """dL/d(an Embedding's output) as rows to add into its table's gradient: values[i] at row rows[i] (repeats
    add up). Gradients of the two layers of a Bidirectional add by concatenation."""

    __slots__ = ("rows", "values")

    def __init__(self, rows, values):
        self.rows, self.values = rows, values

    def __add__(self, other):
        return TokenRowsGradient(np.concatenate([self.rows, other.rows]),
                                 np.concatenate([self.values, other.values]))


def batch_tokens(tokens, kernel):
    """The BatchTokens of a training batch, or None when too many of its ids are distinct for the table to pay, or
    an id lies outside the embeddings (the plain path then lets the Embedding report it as it always does)."""
    distinct, inverse = np.unique(tokens.ids, return_inverse=True)
    if (len(distinct) == 0 or distinct[0] < 0 or distinct[-1] >= tokens.embedding.embeddings.shape[0]
            or len(distinct) > MAX_DISTINCT_FRACTION * tokens.ids.size):
        return None
    return BatchTokens(tokens, kernel, distinct, inverse)


class BatchTokens:
    """One training batch's input table over its distinct ids: ``ids`` (B, T) index ``table`` (distinct, gates*units)
    = embeddings[distinct]·kernel; ``gradients`` turns BPTT's gradient of that table into the kernel's and the
    Embedding's."""

    def __init__(self, tokens, kernel, distinct, inverse):
        self.distinct = distinct
        self.ids = inverse.reshape(tokens.ids.shape).astype(np.int64, copy=False)
        self.embedded = tokens.embedding.embeddings.value[self.distinct]
        self.kernel = kernel
        self.table = _line_aligned_empty(len(self.distinct), kernel.shape[1])
        _core.sgemm(False, False, 1.0, self.embedded, kernel, 0.0, self.table)

    def gradients(self, d_table):
        """(dL/dkernel, dL/d(the Embedding's output) as a TokenRowsGradient)."""
        d_kernel = np.empty(self.kernel.shape, np.float32)
        _core.sgemm(True, False, 1.0, self.embedded, d_table, 0.0, d_kernel)
        d_embedded = np.empty(self.embedded.shape, np.float32)
        _core.sgemm(False, True, 1.0, d_table, self.kernel, 0.0, d_embedded)
        return d_kernel, TokenRowsGradient(self.distinct, d_embedded)


class TokenTable:
    """The E·W table of one recurrent layer, rebuilt whenever E or W differs from the arrays it was built from."""

    def __init__(self):
        self._embeddings = self._kernel = self._table = None
        self._tokens_seen = 0
        self._current_in = None  # the weights_fixed scope in which the table was last found current

    def lookup(self, embeddings, kernel, tokens):
        """The table once it has paid for itself with these weights, else None (use the embedded inputs)."""
        if embeddings.shape[0] * kernel.shape[1] > MAX_TABLE_FLOATS:
            return None
        # Compared by value, not by a version number: optimizers and users update weight arrays in place.
        scope = getattr(_fixed, "serial", None)
        if scope is None or scope != self._current_in:
            if not (self._embeddings is not None and _core.same_bits(self._embeddings, embeddings)
                    and _core.same_bits(self._kernel, kernel)):
                self._embeddings, self._kernel = embeddings.copy(), kernel.copy()
                self._table, self._tokens_seen = None, 0
            self._current_in = scope
        self._tokens_seen += tokens
        if self._table is None and self._tokens_seen >= embeddings.shape[0]:
            self._table = _line_aligned_empty(embeddings.shape[0], kernel.shape[1])
            _core.sgemm(False, False, 1.0, self._embeddings, self._kernel, 0.0, self._table)
        return self._table


def _line_aligned_empty(rows, cols):
    """An uninitialised float32 (rows, cols) array whose data starts on a cache line."""
    spare = CACHE_LINE_BYTES // 4
    raw = np.empty(rows * cols + spare, np.float32)
    start = (-raw.ctypes.data % CACHE_LINE_BYTES) // 4
    return raw[start:start + rows * cols].reshape(rows, cols)
