"""The attention tile kernels on every ISA path this CPU supports (forced with set_isa), against float64 numpy:
sizes chosen so the register blocks meet row remainders, partial vector blocks and scalar column tails."""
import numpy as np
import pytest

from rnnkit.layers.attention_ops import attention, attention_backward

from test_attention_kernel import reference, tile_emptying_mask


def problem(tq, tk, dk, dv, seed=0, b=2, h=2):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((b, h, tq, dk)).astype(np.float32),
            rng.standard_normal((b, h, tk, dk)).astype(np.float32),
            rng.standard_normal((b, h, tk, dv)).astype(np.float32))


def reference_backward(q, k, v, d_out, keep=None, causal=False):
    """float64 gradients of sum(out * d_out): dS = W o (dW - rowsum(dW o W)), masked weights being 0."""
    q, k, v, d_out = (np.asarray(a, np.float64) for a in (q, k, v, d_out))
    scale = 1.0 / np.sqrt(q.shape[-1])
    _, w = reference(q, k, v, keep, None, causal)
    d_w = np.einsum("bhid,bhjd->bhij", d_out, v)
    d_s = w * (d_w - np.sum(d_w * w, axis=-1, keepdims=True))
    return (scale * np.einsum("bhij,bhjd->bhid", d_s, k), scale * np.einsum("bhij,bhid->bhjd", d_s, q),
            np.einsum("bhij,bhid->bhjd", w, d_out))


# (q_len, kv_len, head_dim, value_dim): tails everywhere; whole 4-vector blocks; a query or two (decoding).
SHAPES = [(70, 131, 20, 37), (128, 128, 32, 64), (1, 77, 24, 40), (2, 65, 16, 8)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("causal,masked", [(False, False), (True, False), (False, True)])
@pytest.mark.parametrize("weights", [False, True])
def test_forward_matches_float64_on_each_isa(isa, shape, causal, masked, weights):
    tq, tk, dk, dv = shape
    q, k, v = problem(tq, tk, dk, dv)
    keep = tile_emptying_mask(2, tq, tk) if masked and tq > 5 else None
    offset = tk - tq  # causal decoding rows see the whole past
    out, lse, w = attention(q, k, v, keep=keep, is_causal=causal, causal_offset=offset, return_weights=weights)
    ref_out, ref_w = reference(q, k, v, keep, None, causal, offset)
    np.testing.assert_allclose(out, ref_out, atol=3e-5)
    if weights:
        np.testing.assert_allclose(w, ref_w, atol=3e-6)
    assert not np.isnan(out).any() and not np.isnan(lse).any()


@pytest.mark.parametrize("shape", SHAPES[:2] + [(7, 19, 9, 5)])
@pytest.mark.parametrize("causal,masked", [(False, False), (True, False), (False, True)])
def test_backward_matches_float64_on_each_isa(isa, shape, causal, masked):
    tq, tk, dk, dv = shape
    q, k, v = problem(tq, tk, dk, dv, seed=1)
    keep = tile_emptying_mask(2, tq, tk) if masked else None
    d_out = np.random.default_rng(2).standard_normal((2, 2, tq, dv)).astype(np.float32)
    out, lse, _ = attention(q, k, v, keep=keep, is_causal=causal)
    grads = attention_backward(q, k, v, out, lse, d_out, keep=keep, is_causal=causal)
    for got, expected in zip(grads, reference_backward(q, k, v, d_out, keep, causal)):
        np.testing.assert_allclose(got, expected, atol=2e-4, rtol=1e-4)
