"""Additive (tanh-scored) attention on numpy arrays: the core calls behind AdditiveAttention and
Attention(score_mode="concat").

scores[b, i, j] = outer * sum_d weight[d] * tanh(inner * (q[b, i, d] + k[b, j, d])), weight None meaning ones;
then the value mask, the causal mask, softmax, dropout on the weights and the weighted sum of values, with the
output rows of masked queries set to 0. A query that sees no key gets zero weights and a zero output.
"""
from typing import NamedTuple

import numpy as np

from rnnkit import _core


class AdditiveScore(NamedTuple):
    weight: object  # float32 (dim,) or None
    outer: float
    inner: float


class ScoreGradients(NamedTuple):
    d_weight: object  # (dim,) when the score has a weight, else None
    d_outer: float
    d_inner: float


def _mask(mask):
    return None if mask is None else np.ascontiguousarray(np.asarray(mask, dtype=bool), dtype=np.uint8)


def _call_options(score, value_mask, query_mask, is_causal, dropout_p, seed):
    weight = None if score.weight is None else np.ascontiguousarray(score.weight, dtype=np.float32)
    return dict(weight=weight, outer=float(score.outer), inner=float(score.inner), value_mask=_mask(value_mask),
                query_mask=_mask(query_mask), is_causal=bool(is_causal), dropout_p=float(dropout_p), seed=int(seed))


def additive_attention(q, k, v, score, *, value_mask=None, query_mask=None, is_causal=False, dropout_p=0.0, seed=0):
    """(output (B, Tq, Dv), weights (B, Tq, Tv) before dropout) from float32 (B, T, D) arrays."""
    return _core.additive_attention_forward(q, k, v, **_call_options(score, value_mask, query_mask, is_causal,
                                                                     dropout_p, seed))


def additive_attention_backward(q, k, v, weights, d_out, score, *, value_mask=None, query_mask=None, is_causal=False,
                                dropout_p=0.0, seed=0):
    """(d_q, d_k, d_v, ScoreGradients) of ``additive_attention`` called with the same arguments."""
    d_q, d_k, d_v, d_weight, d_outer, d_inner = _core.additive_attention_backward(
        q, k, v, weights, np.ascontiguousarray(d_out, dtype=np.float32),
        **_call_options(score, value_mask, query_mask, is_causal, dropout_p, seed))
    return d_q, d_k, d_v, ScoreGradients(d_weight, d_outer, d_inner)
