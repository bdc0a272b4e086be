"""rnnkit's attention against PyTorch's: scaled dot-product attention and MultiHeadAttention, forward and
forward + backward, on 1 and 2 threads.

    OMP_WAIT_POLICY=PASSIVE PYTHONPATH=build/rel/python:python python bench/attention_compare.py [--rounds 7]

Both libraries run in this process with the same thread count (rnnkit.set_num_threads, torch.set_num_threads)
and are interleaved: each round times a few calls of one, then of the other, so a busy neighbour on a shared
machine slows both alike. Prints median wall milliseconds per call and the ratio torch / rnnkit (> 1: rnnkit
faster). SDPA shapes are (batch, heads, T, head_dim) with keys = queries' length; MHA shapes (batch, T, d_model,
heads), self-attention, torch.nn.MultiheadAttention(batch_first=True, need_weights=False).
"""
import argparse
import statistics
import time

import numpy as np
import torch

import rnnkit
from rnnkit import layers
from rnnkit.layers.attention_ops import attention, attention_backward

# Issue 11's MultiHeadAttention shapes, their kernels' (batch, heads, T, d_model / heads), and longer sequences.
MHA_SHAPES = [((32, 128, 256, 8), False), ((8, 512, 256, 8), True), ((1, 1024, 512, 8), True),
              ((64, 32, 128, 4), False)]
SDPA_SHAPES = [((32, 8, 128, 32), False), ((8, 8, 512, 32), True), ((1, 8, 1024, 64), True), ((64, 4, 32, 32), False),
               ((8, 8, 512, 64), False), ((1, 8, 2048, 64), True), ((1, 1, 4096, 64), True)]
CAUSAL_SHAPE = (1, 8, 1024, 64)  # issue 11: causal at least 1.7x faster than non-causal at T = 1024


def sdpa_cases(shape, causal):
    rng = np.random.default_rng(0)
    q, k, v, d_out = (rng.standard_normal(shape).astype(np.float32) for _ in range(4))
    tq, tk, tv, td = (torch.from_numpy(a.copy()) for a in (q, k, v, d_out))
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def rnnkit_forward():
        attention(q, k, v, is_causal=causal)

    def rnnkit_train():
        out, lse, _ = attention(q, k, v, is_causal=causal)
        attention_backward(q, k, v, out, lse, d_out, is_causal=causal)

    def torch_forward():
        with torch.no_grad():
            sdpa(tq, tk, tv, is_causal=causal)

    def torch_train():
        a, b, c = (t.detach().requires_grad_() for t in (tq, tk, tv))
        sdpa(a, b, c, is_causal=causal).backward(td)

    return {"forward": (rnnkit_forward, torch_forward), "forward + backward": (rnnkit_train, torch_train)}


def mha_cases(shape, causal):
    batch, steps, width, heads = shape
    x = np.random.default_rng(1).standard_normal((batch, steps, width)).astype(np.float32)
    d_y = np.ones_like(x)
    mha = layers.MultiHeadAttention(heads, width // heads)
    mha.build([x.shape, x.shape])
    tmha = torch.nn.MultiheadAttention(width, heads, batch_first=True)
    tx, td = torch.from_numpy(x.copy()), torch.from_numpy(d_y.copy())
    mask = torch.nn.Transformer.generate_square_subsequent_mask(steps) if causal else None

    def rnnkit_forward():
        mha(x, x, use_causal_mask=causal)

    def rnnkit_train():
        _, ctx = mha.forward([x, x], training=True, use_causal_mask=causal)
        mha.backward(ctx, d_y)

    def torch_forward():
        with torch.no_grad():
            tmha(tx, tx, tx, need_weights=False, attn_mask=mask, is_causal=causal)

    def torch_train():
        a = tx.detach().requires_grad_()
        tmha(a, a, a, need_weights=False, attn_mask=mask, is_causal=causal)[0].backward(td)

    return {"forward": (rnnkit_forward, torch_forward), "forward + backward": (rnnkit_train, torch_train)}


def per_call(fn, calls):
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def compare(ours, theirs, rounds):
    ours(), theirs()  # warm-up: workspaces, thread teams
    probe = per_call(ours, 1)
    calls = max(1, min(5, int(0.25 / max(probe, 1e-6))))
    a, b = [], []
    for _ in range(rounds):
        # Each library's OpenMP threads spin for a while after its calls; a pause lets them sleep so the other
        # library is not timed while sharing the cores with them.
        time.sleep(0.05)
        a.append(per_call(ours, calls))
        time.sleep(0.05)
        b.append(per_call(theirs, calls))
    return statistics.median(a), statistics.median(b)


def compare_warm(first, second, rounds, budget=0.3):
    """Both sides are rnnkit on the same threads, so there are no foreign threads to let sleep: each round times
    back-to-back calls filling `budget` seconds, alternating sides, as google benchmark would. A pause before a
    handful of calls (compare) adds a fixed cost of waking threads and refilling caches to both sides, which the
    causal pass does not halve."""
    first(), second()
    calls = max(1, int(budget / max(per_call(second, 1), 1e-6)))
    a, b = [], []
    for _ in range(rounds):
        a.append(per_call(first, calls))
        b.append(per_call(second, calls))
    return statistics.median(a), statistics.median(b)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--only", choices=["SDPA", "MHA"], help="time only this op (and skip the causal check)")
    args = parser.parse_args()
    print(f"torch {torch.__version__}; medians of {args.rounds} interleaved rounds; ms per call")
    print("| op | shape | causal | threads | pass | rnnkit ms | torch ms | torch / rnnkit |")
    print("|---|---|---|---|---|---|---|---|")
    for threads in args.threads:
        rnnkit.set_num_threads(threads)
        torch.set_num_threads(threads)
        for op, shapes, cases in (("SDPA", SDPA_SHAPES, sdpa_cases), ("MHA", MHA_SHAPES, mha_cases)):
            if args.only and op != args.only:
                continue
            for shape, causal in shapes:
                for name, (ours, theirs) in cases(shape, causal).items():
                    mine, other = compare(ours, theirs, args.rounds)
                    print(f"| {op} | {shape} | {'yes' if causal else 'no'} | {threads} | {name} | {1e3 * mine:.2f} "
                          f"| {1e3 * other:.2f} | {other / mine:.2f} |", flush=True)
    if args.only:
        return
    print(f"\nrnnkit causal against non-causal forward at {CAUSAL_SHAPE}, timed warm (back-to-back calls):")
    for threads in args.threads:
        rnnkit.set_num_threads(threads)
        causal, full = compare_warm(sdpa_cases(CAUSAL_SHAPE, True)["forward"][0],
                                    sdpa_cases(CAUSAL_SHAPE, False)["forward"][0], args.rounds)
        print(f"- {threads} thread(s): causal {1e3 * causal:.2f} ms, non-causal {1e3 * full:.2f} ms, "
              f"{full / causal:.2f}x", flush=True)


if __name__ == "__main__":
    main()
