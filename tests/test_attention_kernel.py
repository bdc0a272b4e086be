"""The attention kernel through rnnkit.ops-style calls: float64 numpy reference, finite differences, masks that empty
whole tiles and whole rows, causality, dropout reproducibility, and the memory of a T = 8192 causal forward.

Tolerances: float32 kernel vs float64 reference, outputs within 2e-5 absolute (values are O(1)); analytic
gradients vs central differences of the float64 reference within 1e-4 absolute.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from rnnkit.layers.attention_ops import (attention, attention_backward, scaled_dot_product_attention,
                                         scaled_dot_product_attention_backward)


def reference(q, k, v, keep=None, bias=None, causal=False, offset=0, scale=None):
    """float64 softmax attention; a query that sees no key gets zero weights."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = np.einsum("bhid,bhjd->bhij", q, k) * scale
    if bias is not None:
        s = s + bias
    visible = np.ones(s.shape, bool)
    if keep is not None:
        visible &= np.broadcast_to(keep.astype(bool), s.shape)
    if causal:
        i = np.arange(s.shape[2])[:, None]
        j = np.arange(s.shape[3])[None, :]
        visible &= j <= i + offset
    s = np.where(visible, s, -np.inf)
    row_max = s.max(axis=-1, keepdims=True)
    safe_max = np.where(np.isfinite(row_max), row_max, 0.0)
    e = np.where(visible, np.exp(s - safe_max), 0.0)
    total = e.sum(axis=-1, keepdims=True)
    w = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
    return np.einsum("bhij,bhjd->bhid", w, v), w


def problem(b=2, h=3, tq=70, tk=131, dk=16, dv=12, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((b, h, tq, dk)).astype(np.float32),
            rng.standard_normal((b, h, tk, dk)).astype(np.float32),
            rng.standard_normal((b, h, tk, dv)).astype(np.float32))


def tile_emptying_mask(b, tq, tk, seed=1):
    """Random keep mask with keys 64..127 hidden for batch 0 (a whole key tile) and query 5 seeing nothing."""
    keep = np.random.default_rng(seed).random((b, 1, tq, tk)) > 0.3
    keep[0, :, :, 64:128] = False
    keep[:, :, 5, :] = False
    return keep.astype(np.uint8)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("weights", [False, True])
def test_forward_matches_float64_reference(causal, masked, weights):
    q, k, v = problem()
    keep = tile_emptying_mask(2, 70, 131) if masked else None
    bias = (0.3 * np.random.default_rng(2).standard_normal((1, 1, 70, 131))).astype(np.float32) if masked else None
    out, lse, w = attention(q, k, v, keep=keep, bias=bias, is_causal=causal, return_weights=weights)
    ref_out, ref_w = reference(q, k, v, keep, bias, causal)
    np.testing.assert_allclose(out, ref_out, atol=2e-5)
    if weights:
        np.testing.assert_allclose(w, ref_w, atol=2e-6)
    else:
        assert w is None
    if masked:  # the query that sees nothing: zero output, -inf log-sum-exp, no NaN anywhere
        assert np.all(out[:, :, 5] == 0) and np.all(np.isneginf(lse[:, :, 5]))
    assert not np.isnan(out).any()


def test_decoding_offset_aligns_the_causal_mask_bottom_right():
    q, k, v = problem(1, 2, 3, 10, 8, 8)
    out, _, _ = attention(q, k, v, is_causal=True, causal_offset=7)
    np.testing.assert_allclose(out, reference(q, k, v, causal=True, offset=7)[0], atol=2e-5)


@pytest.mark.parametrize("causal,masked", [(False, False), (True, False), (True, True)])
def test_backward_matches_finite_differences(causal, masked):
    q, k, v = problem(1, 2, 67, 70, 5, 4, seed=3)
    keep = tile_emptying_mask(1, 67, 70) if masked else None
    r = np.random.default_rng(4).standard_normal((1, 2, 67, 4))
    out, lse, _ = attention(q, k, v, keep=keep, is_causal=causal)
    d_q, d_k, d_v = attention_backward(q, k, v, out, lse, r.astype(np.float32), keep=keep, is_causal=causal)
    args = [q.astype(np.float64), k.astype(np.float64), v.astype(np.float64)]

    def loss():
        return float(np.sum(reference(*args, keep=keep, causal=causal)[0] * r))

    rng = np.random.default_rng(5)
    for which, grad in enumerate((d_q, d_k, d_v)):
        for flat in rng.choice(args[which].size, 25, replace=False):
            index = np.unravel_index(flat, args[which].shape)
            x0 = args[which][index]
            args[which][index] = x0 + 1e-6
            up = loss()
            args[which][index] = x0 - 1e-6
            down = loss()
            args[which][index] = x0
            assert abs((up - down) / 2e-6 - grad[index]) < 1e-4, (which, index)
    if masked:
        assert np.all(d_q[:, :, 5] == 0)


def test_changing_the_future_never_changes_the_past():
    q, k, v = problem(1, 2, 150, 150, 8, 8, seed=6)
    out, _, _ = attention(q, k, v, is_causal=True)
    k2, v2 = k.copy(), v.copy()
    k2[:, :, 100:] += 5.0
    v2[:, :, 100:] -= 3.0
    out2, _, _ = attention(q, k2, v2, is_causal=True)
    np.testing.assert_array_equal(out[:, :, :100], out2[:, :, :100])
    assert not np.allclose(out[:, :, 100:], out2[:, :, 100:])


def test_torch_signature_on_rank3_with_boolean_and_additive_masks():
    q, k, v = (a[:, 0] for a in problem(4, 1, 9, 11, 6, 5, seed=7))
    keep = np.random.default_rng(8).random((9, 11)) > 0.2
    keep[:, 0] = True
    out = scaled_dot_product_attention(q, k, v, attn_mask=keep)
    np.testing.assert_allclose(out, reference(q[:, None], k[:, None], v[:, None], keep)[0][:, 0], atol=2e-5)
    additive = np.where(keep, 0.0, -np.inf).astype(np.float32)
    np.testing.assert_allclose(scaled_dot_product_attention(q, k, v, attn_mask=additive), out, atol=1e-6)
    result = scaled_dot_product_attention(q, k, v, scale=0.5, training=True)
    d_q, d_k, d_v = scaled_dot_product_attention_backward(result.ctx, np.ones_like(result.output))
    assert d_q.shape == q.shape and d_k.shape == k.shape and d_v.shape == v.shape
    np.testing.assert_allclose(result.output, reference(q[:, None], k[:, None], v[:, None], scale=0.5)[0][:, 0],
                               atol=2e-5)


def test_matches_torch_scaled_dot_product_attention():
    torch = pytest.importorskip("torch", reason="the torch oracle needs torch (pip install torch==2.13.0)")
    q, k, v = problem(2, 2, 33, 40, 8, 8, seed=9)
    keep = np.random.default_rng(10).random((2, 1, 33, 40)) > 0.3
    keep[..., 0] = True
    expected = torch.nn.functional.scaled_dot_product_attention(
        torch.tensor(q), torch.tensor(k), torch.tensor(v), attn_mask=torch.tensor(keep)).numpy()
    np.testing.assert_allclose(scaled_dot_product_attention(q, k, v, attn_mask=keep), expected, atol=1e-5)
    expected = torch.nn.functional.scaled_dot_product_attention(
        torch.tensor(q), torch.tensor(k), torch.tensor(v), is_causal=True).numpy()
    np.testing.assert_allclose(scaled_dot_product_attention(q, k, v, is_causal=True), expected, atol=1e-5)


def test_dropout_same_seed_same_mask_in_both_paths_and_expected_value_kept():
    q, k, v = problem(1, 1, 40, 200, 4, 4, seed=11)
    a = scaled_dot_product_attention(q, k, v, dropout_p=0.25, seed=3)
    b = scaled_dot_product_attention(q, k, v, dropout_p=0.25, seed=3, return_weights=True).output
    c = scaled_dot_product_attention(q, k, v, dropout_p=0.25, seed=4)
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert not np.allclose(a, c)
    plain = scaled_dot_product_attention(q, k, v)
    mean = np.mean([scaled_dot_product_attention(q, k, v, dropout_p=0.25, seed=s) for s in range(200)], axis=0)
    assert np.abs(mean - plain).max() < 0.05  # inverted dropout keeps the expectation


def test_invalid_arguments_name_the_function():
    q, k, v = problem(1, 1, 4, 5, 3, 3)
    with pytest.raises(ValueError, match="attention_forward"):
        attention(q, k[:, :, :, :2], v)
    with pytest.raises(ValueError, match="dropout_p"):
        attention(q, k, v, dropout_p=1.0)
    with pytest.raises(ValueError, match="broadcast"):
        attention(q, k, v, keep=np.ones((1, 1, 3, 5), np.uint8))


def test_causal_self_attention_over_8192_steps_stays_within_tens_of_mb():
    """Peak RSS of a fresh process running one T = 8192 causal forward and backward (head_dim 64), minus its
    baseline. A materialised T x T float32 matrix alone would be 256 MB."""
    script = textwrap.dedent("""
        import resource, numpy as np
        from rnnkit.layers.attention_ops import attention, attention_backward
        T, D = 8192, 64
        rng = np.random.default_rng(0)
        q, k, v, d = (rng.standard_normal((1, 1, T, D)).astype(np.float32) for _ in range(4))
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out, lse, _ = attention(q, k, v, is_causal=True)
        fwd = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        attention_backward(q, k, v, out, lse, d, is_causal=True)
        bwd = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((fwd - base) / 1024, (bwd - base) / 1024)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    forward_mb, backward_mb = map(float, done.stdout.split())
    assert forward_mb < 16, forward_mb
    assert backward_mb < 32, backward_mb


def test_results_do_not_depend_on_the_thread_count():
    import rnnkit

    q, k, v = problem(2, 3, 300, 300, 16, 16, seed=12)
    d_out = problem(2, 3, 300, 300, 16, 16, seed=13)[0]
    before = rnnkit.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            rnnkit.set_num_threads(threads)
            out, lse, _ = attention(q, k, v, is_causal=True, dropout_p=0.2, seed=9)
            results.append((out, *attention_backward(q, k, v, out, lse, d_out, is_causal=True, dropout_p=0.2,
                                                     seed=9)))
    finally:
        rnnkit.set_num_threads(before)
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


def test_generic_isa_path_agrees_with_the_default(tmp_path):
    script = textwrap.dedent("""
        import sys
        import numpy as np
        from rnnkit.layers.attention_ops import attention
        rng = np.random.default_rng(0)
        q, k, v = (rng.standard_normal((1, 2, 90, 24)).astype(np.float32) for _ in range(3))
        np.save(sys.argv[1], attention(q, k, v, is_causal=True)[0])
    """)
    outputs = []
    for isa in ("generic", None):
        env = {name: value for name, value in os.environ.items() if name != "RNNKIT_ISA"}
        if isa:
            env["RNNKIT_ISA"] = isa
        path = tmp_path / f"{isa}.npy"
        done = subprocess.run([sys.executable, "-c", script, str(path)], env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        outputs.append(np.load(path))
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-5)


def test_exported_as_rnnkit_ops_scaled_dot_product_attention():
    from rnnkit import ops

    q, k, v = problem(1, 2, 5, 6, 4, 3, seed=14)
    np.testing.assert_array_equal(ops.scaled_dot_product_attention(q, k, v, is_causal=True),
                                  scaled_dot_product_attention(q, k, v, is_causal=True))


def reference_gradients(q, k, v, d_out, keep=None, bias=None, causal=False, offset=0):
    """float64 (d_q, d_k, d_v) of ``reference`` (no dropout)."""
    q, k, v, d_out = (np.asarray(a, np.float64) for a in (q, k, v, d_out))
    scale = 1.0 / np.sqrt(q.shape[-1])
    _, w = reference(q, k, v, keep, bias, causal, offset)
    d_v = np.einsum("bhij,bhid->bhjd", w, d_out)
    d_w = np.einsum("bhid,bhjd->bhij", d_out, v)
    d_s = w * (d_w - (d_w * w).sum(axis=-1, keepdims=True))
    return (np.einsum("bhij,bhjd->bhid", d_s, k) * scale, np.einsum("bhij,bhid->bhjd", d_s, q) * scale, d_v)


@pytest.mark.parametrize("case", ["causal", "causal_offset", "masked"])
def test_backward_threads_over_key_tile_groups_of_one_slice(case):
    """batch x heads = 1 < threads: the backward splits the slice's key tiles into groups with partial d_q; lengths
    that are no multiple of the 64-row tiles. Bitwise equal on 1 and 2 threads, and equal to float64."""
    import rnnkit

    q_len, kv_len = (700, 700) if case == "causal" else (650, 777)
    q, k, v = problem(1, 1, q_len, kv_len, 32, 24, seed=20)
    d_out = np.random.default_rng(21).standard_normal((1, 1, q_len, 24)).astype(np.float32)
    options = {"causal": dict(is_causal=True), "causal_offset": dict(is_causal=True, causal_offset=kv_len - q_len),
               "masked": dict(keep=(np.random.default_rng(22).random((1, 1, q_len, kv_len)) > 0.2).astype(np.uint8),
                              bias=(0.5 * np.random.default_rng(23).standard_normal((1, 1, 1, kv_len))
                                    ).astype(np.float32))}[case]
    before = rnnkit.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            rnnkit.set_num_threads(threads)
            out, lse, _ = attention(q, k, v, **options)
            results.append(attention_backward(q, k, v, out, lse, d_out, **options))
    finally:
        rnnkit.set_num_threads(before)
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)
    expected = reference_gradients(q, k, v, d_out, options.get("keep"), options.get("bias"),
                                   options.get("is_causal", False), options.get("causal_offset", 0))
    for got, want in zip(results[0], expected):
        np.testing.assert_allclose(got, want, atol=2e-4)


def test_kv_len_reads_a_prefix_of_a_preallocated_cache_in_place():
    q, k, v = problem(2, 3, 1, 40, 16, 8, seed=30)
    for length in (1, 17, 40):
        out, _, _ = attention(q, k, v, is_causal=True, causal_offset=length - 1, kv_len=length)
        expected, _, _ = attention(q, np.ascontiguousarray(k[:, :, :length]), np.ascontiguousarray(v[:, :, :length]))
        np.testing.assert_allclose(out, expected, atol=1e-6)
        np.testing.assert_allclose(out, reference(q, k[:, :, :length], v[:, :, :length])[0], atol=2e-5)
    q3 = problem(2, 3, 3, 40, 16, 8, seed=31)[0]  # three queries: the turned-keys path
    keep = (np.random.default_rng(32).random((2, 1, 1, 25)) > 0.3).astype(np.uint8)
    out, _, _ = attention(q3, k, v, keep=keep, kv_len=25)
    np.testing.assert_allclose(out, reference(q3, k[:, :, :25], v[:, :, :25], keep)[0], atol=2e-5)
    with pytest.raises(ValueError, match="kv_len 41 exceeds"):
        attention(q, k, v, kv_len=41)


@pytest.mark.parametrize("dk", [1, 7, 8, 16, 33, 64])
def test_decoding_dot_scores_match_float64_on_every_head_dim(dk):
    """A query or two take dot products over the keys as they lie (vectors of head_dim, then a lane sum)."""
    for q_len in (1, 2):
        q, k, v = problem(2, 2, q_len, 45, dk, 5, seed=dk)
        out, lse, _ = attention(q, k, v, is_causal=True, causal_offset=45 - q_len)
        np.testing.assert_allclose(out, reference(q, k, v, causal=True, offset=45 - q_len)[0], atol=2e-5)


def fused_projection_views(b, h, t, dk, seed):
    """q, k and v as (b, h, t, dk) views of one (b, t, 3, h, dk) array, as a fused self-attention projection lays
    them out: rows 3 * h * dk floats apart, heads dk apart."""
    fused = np.random.default_rng(seed).standard_normal((b, t, 3, h, dk)).astype(np.float32)
    return tuple(fused[:, :, i].transpose(0, 2, 1, 3) for i in range(3))


@pytest.mark.parametrize("threads", [1, 2])  # 6 slices: whole slices per item on 1 thread, query tiles on 2
@pytest.mark.parametrize("causal,masked,weights", [(False, False, False), (True, False, False), (False, True, False),
                                                   (True, True, True)])
def test_strided_views_and_positions_major_output_match_contiguous_and_float64(threads, causal, masked, weights):
    import rnnkit

    q, k, v = fused_projection_views(2, 3, 70, 16, seed=40)
    keep = tile_emptying_mask(2, 70, 70) if masked else None
    bias = (0.3 * np.random.default_rng(41).standard_normal((1, 1, 70, 70))).astype(np.float32) if masked else None
    d_out = np.random.default_rng(42).standard_normal((2, 70, 3, 16)).astype(np.float32).transpose(0, 2, 1, 3)
    options = dict(keep=keep, bias=bias, is_causal=causal)
    before = rnnkit.get_num_threads()
    try:
        rnnkit.set_num_threads(threads)
        out, lse, w = attention(q, k, v, return_weights=weights, positions_major=True, **options)
        grads = attention_backward(q, k, v, out, lse, d_out, positions_major=True, **options)
        dense = [np.ascontiguousarray(a) for a in (q, k, v, d_out)]
        dense_out, dense_lse, dense_w = attention(*dense[:3], return_weights=weights, **options)
        dense_grads = attention_backward(*dense[:3], dense_out, dense_lse, dense[3], **options)
    finally:
        rnnkit.set_num_threads(before)
    # positions-major: the (B, H, T, E) results are views of (B, T, H, E) memory
    for a in (out, *grads):
        assert a.transpose(0, 2, 1, 3).flags.c_contiguous
    np.testing.assert_array_equal(out, dense_out)
    np.testing.assert_array_equal(lse, dense_lse)
    if weights:
        np.testing.assert_array_equal(w, dense_w)
    for got, want in zip(grads, dense_grads):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(out, reference(q, k, v, keep, bias, causal)[0], atol=2e-5)
    for got, want in zip(grads, reference_gradients(q, k, v, d_out, keep, bias, causal)):
        np.testing.assert_allclose(got, want, atol=2e-4)


def test_strided_backward_over_key_tile_groups_matches_float64():
    """One slice over 200 keys: the backward's key groups with partial d_q, reading and writing strided rows."""
    q, k, v = fused_projection_views(1, 1, 200, 8, seed=43)
    d_out = np.random.default_rng(44).standard_normal((1, 1, 200, 8)).astype(np.float32)
    out, lse, _ = attention(q, k, v, is_causal=True, positions_major=True)
    grads = attention_backward(q, k, v, out, lse, d_out, is_causal=True, positions_major=True)
    for got, want in zip(grads, reference_gradients(q, k, v, d_out, causal=True)):
        np.testing.assert_allclose(got, want, atol=2e-4)


def test_strided_decoding_queries_and_cache_prefix_match_float64():
    """A query or two (dot products over the keys as they lie) from strided views, keys and values a strided prefix
    of a longer cache, and operands whose last axis is not contiguous (copied once by the binding)."""
    _, k, v = fused_projection_views(2, 3, 40, 16, seed=45)
    for q_len in (1, 2, 5):
        q = fused_projection_views(2, 3, q_len, 16, seed=46)[0]
        out, _, _ = attention(q, k, v, is_causal=True, causal_offset=25 - q_len, kv_len=25)
        np.testing.assert_allclose(out, reference(q, k[:, :, :25], v[:, :, :25], causal=True,
                                                  offset=25 - q_len)[0], atol=2e-5)
    q, k, v = problem(1, 2, 9, 11, 8, 6, seed=47)
    every_other = [np.repeat(a, 2, axis=-1)[..., ::2] for a in (q, k, v)]
    np.testing.assert_allclose(attention(*every_other)[0], reference(q, k, v)[0], atol=2e-5)
