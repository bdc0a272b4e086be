"""rnnkit against every CPU peer that is installed, on the same shapes, in the same run.

    python bench/compare.py [--quick] [--threads 1 2] [--repeats 5] [--json out.json]

Each implementation runs in its own process (Keras allows one backend per process), pinned with taskset to
as many cores as threads. Raw rnnkit (rnnkit.ops) is compared with PyTorch's modules; rnnkit's Keras-level
predict_on_batch/train_on_batch with Keras 3's on each installed backend. Speed-ups are peer time / rnnkit
time (> 1: rnnkit is faster), medians of --repeats.
"""
import argparse
import importlib.util
import json
import math
import os
import pathlib
import shutil
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
CELLS = ["simple_rnn", "gru", "lstm"]
SHAPES = [(1, 100, 64, 128), (32, 100, 128, 256), (64, 50, 256, 512), (128, 20, 32, 64), (16, 200, 64, 64)]
QUICK_SHAPES = [(1, 100, 64, 128), (16, 200, 64, 64)]
MODES = ["forward", "train"]
RAW_PEERS = ["torch"]
KERAS_PEERS = ["keras-jax", "keras-tensorflow", "keras-torch"]


def installed(impl):
    if impl == "torch":
        return importlib.util.find_spec("torch") is not None
    if impl.startswith("keras-"):
        backend = {"jax": "jax", "tensorflow": "tensorflow", "torch": "torch"}[impl.split("-", 1)[1]]
        return importlib.util.find_spec("keras") is not None and importlib.util.find_spec(backend) is not None
    return True


def run_worker(impl, threads, points, repeats):
    cmd = [sys.executable, str(HERE / "rnn_workers.py"), "--impl", impl, "--threads", str(threads),
           "--points", json.dumps(points), "--repeats", str(repeats)]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", ",".join(str(c) for c in range(threads))] + cmd
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               RNNKIT_NUM_THREADS=str(threads), TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS="1",
               XLA_FLAGS=os.environ.get("XLA_FLAGS", "") + (" --xla_cpu_multi_thread_eigen=false" if threads == 1 else ""),
               TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"[{impl}, {threads} thread(s)] failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return []
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def gflops(cell, shape, mode, ms):
    B, T, I, H = shape
    gates = {"simple_rnn": 1, "gru": 3, "lstm": 4}[cell]
    flops = 2 * T * B * gates * H * (I + H) * (3 if mode == "train" else 1)
    return flops / (ms * 1e-3) / 1e9


def table(results, ours, peers, title):
    rows = {}
    for r in results:
        rows.setdefault((r["cell"], tuple(r["shape"]), r["mode"], r["threads"]), {})[r["impl"]] = r["ms"]
    present = [p for p in peers if any(p in v for v in rows.values())]
    print(f"\n### {title}\n")
    header = ["cell", "(B,T,I,H)", "mode", "thr", f"{ours} ms", "GFLOP/s"] + [f"{p} ms" for p in present]
    header += ["vs best peer"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    speedups = []
    for key in sorted(rows, key=lambda k: (CELLS.index(k[0]), SHAPES.index(k[1]) if k[1] in SHAPES else 0, k[2], k[3])):
        timings = rows[key]
        if ours not in timings:
            continue
        cell, shape, mode, threads = key
        peer_ms = [timings[p] for p in present if p in timings]
        best = min(peer_ms) if peer_ms else None
        speedup = best / timings[ours] if best else None
        if speedup:
            speedups.append(speedup)
        cells = [cell, str(shape), mode, str(threads), f"{timings[ours]:.3f}",
                 f"{gflops(cell, shape, mode, timings[ours]):.1f}"]
        cells += [f"{timings[p]:.3f}" if p in timings else "-" for p in present]
        cells += [f"{speedup:.2f}x" if speedup else "-"]
        print("| " + " | ".join(cells) + " |")
    if speedups:
        geo = math.exp(sum(math.log(s) for s in speedups) / len(speedups))
        print(f"\nGeometric mean speed-up against the best peer: {geo:.2f}x over {len(speedups)} points; "
              f"slowest point {min(speedups):.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="two small shapes, few repeats (CI smoke run)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--levels", nargs="+", default=["raw", "keras"], choices=["raw", "keras"])
    parser.add_argument("--json", help="also write all measurements to this file")
    args = parser.parse_args()
    shapes = QUICK_SHAPES if args.quick else SHAPES
    repeats = 2 if args.quick else args.repeats
    points = [[cell, list(shape), mode] for cell in CELLS for shape in shapes for mode in MODES]
    results = []
    levels = {"raw": ("rnnkit", RAW_PEERS), "keras": ("rnnkit-keras", KERAS_PEERS)}
    for level in args.levels:
        ours, peers = levels[level]
        for impl in [ours] + [p for p in peers if installed(p)]:
            for threads in args.threads:
                results += run_worker(impl, threads, points, repeats)
    for level in args.levels:
        ours, peers = levels[level]
        table(results, ours, peers, f"{level} level: {ours} against {', '.join(peers)}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
