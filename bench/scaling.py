"""How rnnkit's cost grows with sequence length and, at batch 1, with the hidden size (issue 13).

    python bench/scaling.py [--threads 1] [--repeats 5] [--quick]

Table 1: time per timestep for T = 10 .. 1000 at a batch-32 shape and at batch 1, forward and training step
(forward + BPTT), with each row's ratio to the T = 100 time per step: a flat column means cost linear in T.
Table 2: batch-1 forward time per timestep for H = 32 .. 512, with the recurrent matrix U's size, so the
step where U leaves the core's L2 cache is visible.
"""
import argparse
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rnn_workers import CELL_GATES, rnnkit_raw, time_repeat  # noqa: E402

CELLS = ("simple_rnn", "gru", "lstm")


def per_step_us(cell, B, T, I, H, mode, repeats, rng):
    """Median over `repeats` of the mean time of one call (0.3 s of calls in all), per timestep, after a warm-up."""
    fn = rnnkit_raw(cell, B, T, I, H, mode, rng)
    fn()
    return statistics.median(time_repeat(fn, 0.3 / repeats) for _ in range(repeats)) * 1e3 / T


def length_table(lengths, shapes, repeats, rng):
    print("| cell | (B, I, H) | mode | " + " | ".join(f"T={t} us/step" for t in lengths)
          + " | " + " | ".join(f"T={t} / T=100" for t in lengths) + " |")
    print("|---" * (3 + 2 * len(lengths)) + "|")
    for cell in CELLS:
        for B, I, H in shapes:
            for mode in ("forward", "train"):
                times = {t: per_step_us(cell, B, t, I, H, mode, repeats, rng) for t in lengths}
                print(f"| {cell} | ({B}, {I}, {H}) | {mode} | " + " | ".join(f"{times[t]:.2f}" for t in lengths)
                      + " | " + " | ".join(f"{times[t] / times[100]:.2f}" for t in lengths) + " |", flush=True)


def hidden_table(hidden_sizes, repeats, rng, T=100, I=64):
    print("| cell | " + " | ".join(f"H={h} us/step" for h in hidden_sizes) + " | "
          + " | ".join(f"H={h} U KiB" for h in hidden_sizes) + " |")
    print("|---" * (1 + 2 * len(hidden_sizes)) + "|")
    for cell in CELLS:
        times = [per_step_us(cell, 1, T, I, h, "forward", repeats, rng) for h in hidden_sizes]
        sizes = [h * CELL_GATES[cell] * h * 4 // 1024 for h in hidden_sizes]
        print(f"| {cell} | " + " | ".join(f"{t:.2f}" for t in times) + " | "
              + " | ".join(str(s) for s in sizes) + " |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="two lengths, two sizes, 1 repeat (CI smoke run)")
    args = parser.parse_args()
    import rnnkit

    rnnkit.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    lengths = (10, 100) if args.quick else (10, 30, 100, 300, 1000)
    shapes = ((1, 64, 128),) if args.quick else ((32, 128, 256), (1, 64, 128))
    hidden_sizes = (32, 64) if args.quick else (32, 64, 128, 256, 512)
    repeats = 1 if args.quick else args.repeats
    print(f"rnnkit {rnnkit.config()['isa']}, {args.threads} thread(s), medians of {repeats}\n")
    length_table(lengths, shapes, repeats, rng)
    print()
    hidden_table(hidden_sizes, repeats, rng)


if __name__ == "__main__":
    main()
