"""ConvLSTM2D: rnnkit against Keras 3 on every installed backend, Keras-level predict_on_batch / train_on_batch,
interleaved as compare.py runs its grid (same timing servers, rnn_workers.py).

    PYTHONPATH=build/<dir>/python:python python bench/conv_lstm_compare.py [--threads 1 2] [--repeats 5]
        [--python keras-jax=/path/to/venv/bin/python ...] [--json out.json]

PyTorch has no ConvLSTM module, so its users meet one through Keras on torch. Each cell of the table is the median
over the rounds; speed-up = peer time / rnnkit time (> 1: rnnkit faster).
"""
import argparse
import json
import statistics
import sys

from compare import IMPLS, Worker, installed, measure_point

PEERS = ["keras-jax", "keras-tensorflow", "keras-torch"]
# (B, T, rows, cols, channels, filters, kernel): a small video model (Keras' next-frame example, scaled down), a
# wider one, and one of many small frames.
SHAPES = [(16, 10, 32, 32, 1, 16, 3), (8, 8, 16, 16, 16, 32, 3), (64, 10, 8, 8, 4, 16, 3)]
QUICK_SHAPES = [(2, 3, 6, 6, 2, 4, 3)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one tiny shape, 2 rounds (CI smoke run)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--python", action="append", default=[], metavar="IMPL=PATH",
                        help="run a peer under another interpreter, e.g. keras-jax=~/venvs/jax/bin/python")
    parser.add_argument("--only", nargs="+", choices=["rnnkit-keras"] + PEERS, help="run only these")
    parser.add_argument("--json", help="also write every measurement here")
    args = parser.parse_args()
    pythons = dict(item.split("=", 1) for item in args.python)
    assert set(pythons) <= set(IMPLS), f"unknown implementation in --python: {sorted(set(pythons) - set(IMPLS))}"
    impls = [impl for impl in args.only or ["rnnkit-keras"] + PEERS
             if installed(pythons.get(impl, sys.executable), impl)]
    shapes, rounds = (QUICK_SHAPES, 2) if args.quick else (SHAPES, args.repeats)
    results = []
    for threads in args.threads:
        workers = [Worker(pythons.get(impl, sys.executable), impl, threads, {}) for impl in impls]
        try:
            for shape in shapes:
                for mode in ("forward", "train"):
                    times = measure_point([w for w in workers if not w.died], ["conv_lstm", list(shape), mode],
                                          rounds)
                    results += [{"impl": impl, "shape": list(shape), "mode": mode, "threads": threads,
                                 "ms": statistics.median(ms), "rounds_ms": ms} for impl, ms in times.items()]
        finally:
            for worker in workers:
                worker.quit()
    report(results)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=1)


def report(results):
    by_point = {}
    for row in results:
        by_point.setdefault((tuple(row["shape"]), row["mode"], row["threads"]), {})[row["impl"]] = row["ms"]
    print("| (B, T, rows, cols, channels) -> filters, kernel | mode | threads | rnnkit ms | "
          + " | ".join(f"{peer} ms (speed-up)" for peer in PEERS) + " |")
    print("|---|---|---|---|" + "---|" * len(PEERS))
    for (shape, mode, threads), ms in by_point.items():
        ours = ms.get("rnnkit-keras")
        cells = [f"{ms[p]:.3g} ({ms[p] / ours:.2f}x)" if p in ms and ours else "-" for p in PEERS]
        ours_text = f"{ours:.3g}" if ours else "-"
        print(f"| {shape[:5]} -> {shape[5]}, {shape[6]} | {mode} | {threads} | {ours_text} | "
              + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
