"""KV-cached autoregressive decoding against recomputing the whole prefix for every new token.

    PYTHONPATH=build/rel/python:python python bench/attention_decoding.py [--tokens 512] [--repeats 3]

The setting of docs/attention.md: a TransformerDecoder(intermediate 512, 8 heads) on width 256, batch 1, one
token at a time up to --tokens positions. "cached" runs decode_step per token (the cache's projected keys and
values reused); "recompute" runs the full forward over positions [0, t] for every t and keeps the last row.
The two are interleaved per repeat (the machine may be shared) and each repeat checks that both give the same
outputs. Prints the medians of process CPU time and wall time, and the ratio recompute / cached.
"""
import argparse
import statistics
import time

import numpy as np

import rnnkit
from rnnkit import layers


def cached(decoder, x):
    cache = decoder.start_cache(x.shape[0], x.shape[1])
    return np.concatenate([decoder.decode_step(x[:, t:t + 1], cache) for t in range(x.shape[1])], axis=1)


def recompute(decoder, x):
    return np.concatenate([decoder(x[:, :t + 1])[:, -1:] for t in range(x.shape[1])], axis=1)


def timed(fn, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--intermediate", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    rnnkit.set_num_threads(args.threads)
    decoder = layers.TransformerDecoder(args.intermediate, args.heads)
    decoder.build((None, None, args.width))
    x = np.random.default_rng(0).standard_normal((1, args.tokens, args.width)).astype(np.float32)
    cached(decoder, x[:, :8]), recompute(decoder, x[:, :8])  # warm-up
    times = {"cached": ([], []), "recompute": ([], [])}
    for _ in range(args.repeats):
        a, wall, cpu = timed(cached, decoder, x)
        times["cached"][0].append(wall), times["cached"][1].append(cpu)
        b, wall, cpu = timed(recompute, decoder, x)
        times["recompute"][0].append(wall), times["recompute"][1].append(cpu)
        np.testing.assert_allclose(a, b, atol=1e-4)
    med = {name: (statistics.median(w), statistics.median(c)) for name, (w, c) in times.items()}
    print(f"TransformerDecoder({args.intermediate}, {args.heads}) width {args.width}, {args.tokens} tokens, "
          f"batch 1, {args.threads} thread(s), median of {args.repeats}")
    print("| method | wall s | CPU s | per token ms (wall) |")
    print("|---|---|---|---|")
    for name, (wall, cpu) in med.items():
        print(f"| {name} | {wall:.3f} | {cpu:.3f} | {1e3 * wall / args.tokens:.3f} |")
    print(f"recompute / cached: {med['recompute'][0] / med['cached'][0]:.1f}x wall, "
          f"{med['recompute'][1] / med['cached'][1]:.1f}x CPU")


if __name__ == "__main__":
    main()
