"""Float64 numpy reference of the tanh-scored attentions (AdditiveAttention, Attention(score_mode="concat")),
written from the equations of docs/attention.md, independent of the core.

scores[b, i, j] = outer * sum_d weight[d] * tanh(inner * (q[b, i, d] + k[b, j, d])); hidden pairs (value mask,
causal j > i) are left out of the softmax; a row that sees no key gets zero weights. ``dropout_factors``
(B, Tq, Tv) multiply the weights before the weighted sum; ``query_mask`` zeroes output rows.
"""
import numpy as np


def visible_pairs(batch, q_len, kv_len, value_mask=None, causal=False):
    visible = np.ones((batch, q_len, kv_len), bool)
    if value_mask is not None:
        visible &= np.asarray(value_mask, bool)[:, None, :]
    if causal:
        visible &= np.tril(np.ones((q_len, kv_len), bool))[None]
    return visible


def additive_attention(q, k, v, weight=None, outer=1.0, inner=1.0, value_mask=None, query_mask=None, causal=False,
                       dropout_factors=None):
    """(output (B, Tq, Dv), weights (B, Tq, Tv)) in float64."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    w = np.ones(q.shape[-1]) if weight is None else np.asarray(weight, np.float64)
    t = np.tanh(np.float64(inner) * (q[:, :, None, :] + k[:, None, :, :]))
    scores = np.float64(outer) * (t * w).sum(-1)
    visible = visible_pairs(q.shape[0], q.shape[1], k.shape[1], value_mask, causal)
    top = np.where(visible, scores, -np.inf).max(-1, keepdims=True)
    exp = np.where(visible, np.exp(scores - np.where(np.isfinite(top), top, 0.0)), 0.0)
    total = exp.sum(-1, keepdims=True)
    weights = np.divide(exp, total, out=np.zeros_like(exp), where=total > 0)
    used = weights if dropout_factors is None else weights * dropout_factors
    out = used @ v
    if query_mask is not None:
        out = np.where(np.asarray(query_mask, bool)[:, :, None], out, 0.0)
    return out, weights
