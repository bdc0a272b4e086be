"""Scaled dot-product attention on numpy arrays, with PyTorch's ``scaled_dot_product_attention`` arguments.

Differences from ``torch.nn.functional.scaled_dot_product_attention`` (docs/attention.md):
- a query whose keys are all masked attends to nothing: output 0 and gradient 0 (PyTorch returns NaN);
- ``attn_mask`` and ``is_causal`` may be combined (PyTorch refuses);
- dropout draws from a counter-based hash of ``seed`` (the same seed gives the same mask in forward and
  backward and on any thread count), not from PyTorch's generator;
- inputs are rank 3 ``(N, L, E)`` or rank 4 ``(B, H, L, E)``; the additive mask gets no gradient.
"""
from typing import NamedTuple

import numpy as np

from rnnkit import _core


class AttentionResult(NamedTuple):
    output: np.ndarray  # (..., L, Ev)
    weights: object  # (..., L, S) softmax before dropout, or None
    ctx: object  # what scaled_dot_product_attention_backward needs


def _as_rank4(name, array):
    array = np.asarray(array)
    if array.ndim not in (3, 4):
        raise ValueError(f"scaled_dot_product_attention: expected {name} of rank 3 (N, L, E) or 4 (B, H, L, E), "
                         f"received shape {array.shape}")
    array = np.ascontiguousarray(array, dtype=np.float32)
    return array[:, None] if array.ndim == 3 else array


def _mask_rank4(mask, rank):
    """The mask with the leading axes numpy broadcasting would add, then a head axis for rank-3 inputs."""
    mask = np.asarray(mask)
    if mask.ndim > rank:
        raise ValueError(f"scaled_dot_product_attention: attn_mask of shape {mask.shape} has more axes than the "
                         f"query (rank {rank})")
    mask = mask.reshape((1,) * (rank - mask.ndim) + mask.shape)
    return mask[:, None] if rank == 3 else mask


def split_mask(attn_mask, rank):
    """(keep uint8 or None, bias float32 or None) for the core, from a boolean or additive ``attn_mask``."""
    if attn_mask is None:
        return None, None
    mask = _mask_rank4(attn_mask, rank)
    if mask.dtype == np.bool_:
        return np.ascontiguousarray(mask, dtype=np.uint8), None
    return None, np.ascontiguousarray(mask, dtype=np.float32)


def attention(q, k, v, *, keep=None, bias=None, is_causal=False, causal_offset=0, scale=None, dropout_p=0.0,
              seed=0, return_weights=False, kv_len=None, positions_major=False):
    """The core call on rank-4 (B, H, L, E) float32 arrays of any strides (views are read in place): (output, lse,
    weights or None). ``kv_len``: attend to the first kv_len positions of k and v only, read in place (a
    preallocated key/value cache). ``positions_major``: the output is a (B, H, L, Ev) view of a (B, L, H, Ev) array,
    so ``output.transpose(0, 2, 1, 3).reshape(B * L, H * Ev)`` is a view too."""
    return _core.attention_forward(q, k, v, keep, bias, bool(is_causal), int(causal_offset),
                                   float("nan") if scale is None else float(scale), float(dropout_p), int(seed),
                                   bool(return_weights), -1 if kv_len is None else int(kv_len),
                                   bool(positions_major))


def attention_backward(q, k, v, out, lse, d_out, *, keep=None, bias=None, is_causal=False, causal_offset=0,
                       scale=None, dropout_p=0.0, seed=0, positions_major=False):
    """(d_q, d_k, d_v) of ``attention`` with the same arguments; ``positions_major`` lays the gradients out as
    ``attention`` lays its output."""
    return _core.attention_backward(q, k, v, out, lse, d_out, keep, bias, bool(is_causal), int(causal_offset),
                                    float("nan") if scale is None else float(scale), float(dropout_p), int(seed),
                                    bool(positions_major))


def scaled_dot_product_attention(query, key, value, attn_mask=None, is_causal=False, scale=None, dropout_p=0.0, *,
                                 seed=None, return_weights=False, training=False):
    """softmax(query key^T * scale + mask) value over the last two axes.

    ``attn_mask``: boolean (True = may attend) or additive float, broadcastable to (..., L, S). ``is_causal``:
    query i sees keys j <= i (PyTorch's top-left alignment). ``scale`` defaults to 1/sqrt(E). ``dropout_p`` drops
    attention weights with the hash of ``seed`` (drawn from ``rnnkit.random`` when None).
    Returns the output (..., L, Ev); with ``return_weights=True`` or ``training=True`` an AttentionResult.
    """
    rank = np.ndim(query)
    q, k, v = _as_rank4("query", query), _as_rank4("key", key), _as_rank4("value", value)
    if seed is None:
        from rnnkit import random as rnnkit_random

        seed = int(rnnkit_random.generator().integers(0, 2**63)) if dropout_p > 0 else 0
    keep, bias = split_mask(attn_mask, rank)
    options = dict(keep=keep, bias=bias, is_causal=is_causal, scale=scale, dropout_p=dropout_p, seed=seed)
    out, lse, weights = attention(q, k, v, return_weights=return_weights, **options)
    if rank == 3:
        out = out[:, 0]
        weights = None if weights is None else weights[:, 0]
    if not (return_weights or training):
        return out
    out4 = out[:, None] if rank == 3 else out
    return AttentionResult(out, weights, (rank, q, k, v, out4, lse, options) if training else None)


def scaled_dot_product_attention_backward(ctx, d_output):
    """(d_query, d_key, d_value) from the ``ctx`` of ``scaled_dot_product_attention(..., training=True)``."""
    if ctx is None:
        raise ValueError("scaled_dot_product_attention_backward: expected the ctx of a call with training=True")
    rank, q, k, v, out, lse, options = ctx
    d_out = np.asarray(d_output, dtype=np.float32)
    d_out = d_out[:, None] if rank == 3 else d_out
    grads = attention_backward(q, k, v, out, lse, d_out, **options)
    return tuple(g[:, 0] for g in grads) if rank == 3 else grads
