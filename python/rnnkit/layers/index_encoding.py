"""StringLookup's non-"int" outputs from vocabulary indices, as Keras encodes them (int64, float32 for tf_idf).

Indices equal to DROPPED (the mask token's, outside "int" mode) count nowhere, as Keras drops them.
"""
import numpy as np

DROPPED = -1


def _bincount_rows(rows, depth):
    """(len(rows), depth) int64 counts of the indices of each row; `rows` is a 2-D array, DROPPED entries ignored."""
    row_ids = np.repeat(np.arange(rows.shape[0], dtype=np.int64), rows.shape[1])
    flat = rows.ravel()
    kept = flat != DROPPED
    counts = np.bincount(row_ids[kept] * depth + flat[kept], minlength=rows.shape[0] * depth)
    return counts.reshape(rows.shape[0], depth).astype(np.int64, copy=False)


def encode_samples(indices, mode, depth, idf_weights):
    """"multi_hot", "count" or "tf_idf" of an index array, each sample's tokens along axis 1 (Keras reduces that
    axis, the last of the 2-D inputs it documents): shape (batch, ..., depth); a scalar or 1-D array is one sample
    of shape (depth,)."""
    indices = np.asarray(indices, dtype=np.int64)
    samples = np.moveaxis(indices, 1, -1) if indices.ndim > 1 else indices.reshape(1, -1)
    leading = samples.shape[:-1]
    counts = _bincount_rows(samples.reshape(int(np.prod(leading)), samples.shape[-1]), depth)
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
