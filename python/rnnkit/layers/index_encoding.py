"""The "one_hot", "multi_hot", "count" and "tf_idf" outputs of the preprocessing layers, from arrays of indices in
[0, depth), with the shapes of Keras' eager outputs: int64 counts (float32 for tf_idf, float64 for weighted counts),
which each layer casts to its own output dtype.

Indices equal to DROPPED (a lookup's mask token, outside "int" mode) count nowhere, as Keras drops them.
"""
import numpy as np

DROPPED = -1


def encoded_shape(input_shape, mode, depth):
    """The output shape of `mode` ("one_hot", "multi_hot", "count" or "tf_idf") for inputs of `input_shape`."""
    input_shape = tuple(input_shape)
    if mode == "one_hot":
        return (input_shape[:-1] if len(input_shape) > 1 and input_shape[-1] == 1 else input_shape) + (depth,)
    if len(input_shape) <= 1:
        return (depth,)  # one sample
    return input_shape[:1] + input_shape[2:] + (depth,)  # axis 1 holds each sample's tokens


def _bincount_rows(rows, depth, weights=None):
    """(len(rows), depth) counts of the indices of each row (int64, or the sums of `weights`, an array shaped as
    `rows`, when given); `rows` is a 2-D array, DROPPED entries ignored."""
    row_ids = np.repeat(np.arange(rows.shape[0], dtype=np.int64), rows.shape[1])
    flat = rows.ravel()
    kept = flat != DROPPED
    counts = np.bincount(row_ids[kept] * depth + flat[kept], minlength=rows.shape[0] * depth,
                         weights=None if weights is None else weights.ravel()[kept])
    counts = counts.reshape(rows.shape[0], depth)
    return counts if weights is not None else counts.astype(np.int64, copy=False)


def _as_samples(array):
    """Each sample's entries along the last axis: Keras reduces axis 1, the last of the 2-D inputs it documents;
    a scalar or 1-D array is one sample."""
    return np.moveaxis(array, 1, -1) if array.ndim > 1 else array.reshape(1, -1)


def encode_samples(indices, mode, depth, idf_weights=None, count_weights=None):
    """"multi_hot", "count" or "tf_idf" of an index array, each sample's tokens along axis 1: shape
    (batch, ..., depth); a scalar or 1-D array is one sample of shape (depth,). `count_weights` (shaped as
    `indices`, "count" only) are summed instead of counting 1 per index."""
    indices = np.asarray(indices, dtype=np.int64)
    samples = _as_samples(indices)
    leading = samples.shape[:-1]
    weights = None if count_weights is None else _as_samples(np.asarray(count_weights)).reshape(-1, samples.shape[-1])
    counts = _bincount_rows(samples.reshape(int(np.prod(leading)), samples.shape[-1]), depth, weights)
    return _finish(counts, mode, idf_weights).reshape((leading if indices.ndim > 1 else ()) + (depth,))


def encode_rows(rows, mode, depth, idf_weights):
    """"multi_hot", "count" or "tf_idf" of ragged rows (a list of int64 index arrays): (len(rows), depth)."""
    lengths = np.array([len(row) for row in rows], dtype=np.int64)
    padded = np.full((len(rows), int(lengths.max(initial=0))), DROPPED, dtype=np.int64)
    padded[np.arange(padded.shape[1]) < lengths[:, None]] = np.concatenate(rows) if rows else []
    return _finish(_bincount_rows(padded, depth), mode, idf_weights)


def _finish(counts, mode, idf_weights):
    if mode == "multi_hot":
        return np.minimum(counts, 1)
    if mode == "tf_idf":
        return counts.astype(np.float32) * idf_weights
    return counts


def one_hot(indices, depth):
    """Each index as a row of `depth` (zeros for DROPPED): a trailing axis of size 1 is replaced, a scalar becomes
    one sample, any other shape gains an axis."""
    indices = np.asarray(indices, dtype=np.int64)
    if indices.ndim == 0:
        indices = indices.reshape(1)
    elif indices.ndim > 1 and indices.shape[-1] == 1:
        indices = indices[..., 0]
    flat = indices.ravel()
    encoded = np.zeros((flat.size, depth), dtype=np.int64)
    kept = np.flatnonzero(flat != DROPPED)
    encoded[kept, flat[kept]] = 1
    return encoded.reshape(indices.shape + (depth,))


def encode(indices, mode, depth, dtype):
    """`indices` (all in [0, depth)) in output mode `mode` other than "tf_idf", as an array of `dtype`: what
    Hashing, CategoryEncoding and Discretization output."""
    if mode == "int":
        return np.asarray(indices).astype(dtype)
    encoded = one_hot(indices, depth) if mode == "one_hot" else encode_samples(indices, mode, depth)
    return encoded.astype(dtype)
