"""Two or more rnnkit builds timed against each other on one recurrent point, alternating fresh processes:

    python bench/ab_builds.py --rounds 9 build/base build/new -- lstm 16 200 64 64 forward 1

Each round runs every build once in its own process (order rotating; each process times the point's call for
0.3 s three times and keeps the best), and the medians over rounds are compared with the first build. This VM's
speed drifts by tens of percent over minutes, so only alternating runs like these resolve a change; identical
builds still differ by up to ~10% at 9 rounds. A build directory is what ./dev-build makes (its python/ holds
rnnkit._core). The point is (cell, B, T, I, H, forward|train, threads), timed as bench/compare.py's raw rnnkit.
"""
import argparse
import os
import statistics
import subprocess
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))
PYTHON_SOURCES = os.path.join(os.path.dirname(BENCH), "python")

CHILD = r"""
import sys
build, bench, sources = sys.argv[1:4]
sys.path[:0] = [build + "/python", sources, bench]
import numpy as np
import rnnkit
from rnn_workers import rnnkit_raw, time_repeat
cell, B, T, I, H, mode, threads = sys.argv[4], *map(int, sys.argv[5:9]), sys.argv[9], int(sys.argv[10])
rnnkit.set_num_threads(threads)
fn = rnnkit_raw(cell, B, T, I, H, mode, np.random.default_rng(0))
fn()
print(min(time_repeat(fn, 0.3) for _ in range(3)))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("builds", nargs="+", help="build directories")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args, point = parser.parse_args(argv[:split]), argv[split + 1:]
    if len(point) != 7:
        parser.error("expected the point after --: cell B T I H forward|train threads")
    times = {build: [] for build in args.builds}
    for r in range(args.rounds):
        shift = r % len(args.builds)
        for build in args.builds[shift:] + args.builds[:shift]:
            out = subprocess.run([sys.executable, "-c", CHILD, build, BENCH, PYTHON_SOURCES, *point],
                                 capture_output=True, text=True, check=True)
            times[build].append(float(out.stdout))
    first = statistics.median(times[args.builds[0]])
    for build, ms in times.items():
        median = statistics.median(ms)
        print(f"{' '.join(point)} | {build}: median {median:.3f} ms, {first / median:.2f}x the first | "
              + " ".join(f"{t:.3f}" for t in ms))


if __name__ == "__main__":
    main()
