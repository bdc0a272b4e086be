"""rnnkit sgemm against numpy matmul (OpenBLAS) on the same float32 shapes, 1 and 2 threads, one command:

    PYTHONPATH=build/gemm/python:python python bench/gemm_numpy.py [--repeats 7] [--quick]
        [--shape MxNxK ...] [--threads 1 2]

Each thread count runs in its own subprocess with OPENBLAS_NUM_THREADS set (threadpoolctl is not
installed) and rnnkit.set_num_threads to match. Both libraries are called from Python, so the per-call
overhead is the same for both. Reports GFLOP/s medians of --repeats and ratio = rnnkit / numpy
(> 1: rnnkit faster). "packed" is sgemm_packed with the right operand packed once (the recurrent step).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SQUARE = [(n, n, n) for n in (256, 512, 1024, 2048)]
RNN = [(batch, gates * hidden, hidden) for hidden in (64, 128, 256, 512) for gates in (3, 4)
       for batch in (1, 8, 32, 128)]
QUICK = [(512, 512, 512), (1024, 1024, 1024), (1, 1024, 256), (32, 1536, 512)]


def seconds_per_call(fn, budget=0.05):
    """Time of one call: enough calls to fill `budget` seconds, so tiny products are not timer noise."""
    fn()
    calls, start = 1, time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    calls = max(1, int(budget / max(elapsed, 1e-7)))
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def worker(threads, shapes, repeats):
    import numpy as np

    from rnnkit import _core

    _core.set_num_threads(threads)
    rng = np.random.default_rng(0)
    rows = []
    for m, n, k in shapes:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        c = np.empty((m, n), np.float32)
        packed = _core.pack_b(False, b)
        candidates = {
            "numpy": lambda: np.matmul(a, b, out=c),
            "rnnkit": lambda: _core.sgemm(False, False, 1.0, a, b, 0.0, c),
            "packed": lambda: _core.sgemm_packed(False, 1.0, a, packed, 0.0, c),
        }
        times = {name: [] for name in candidates}
        for _ in range(repeats):  # interleaved so drifting machine load hits all alike
            for name, fn in candidates.items():
                if threads > 1:
                    # OpenBLAS's threads keep spinning after a call (and libgomp's, briefly): the next library's
                    # first calls would share the cores with them (rnnkit's 256^3 ran at 3 GFLOP/s right after
                    # numpy, 140 after a pause). A pause lets them sleep, so each library is timed on its own.
                    time.sleep(0.1)
                times[name].append(seconds_per_call(fn))
        flops = 2.0 * m * n * k
        rows.append({"shape": [m, n, k], "threads": threads,
                     **{name: flops / statistics.median(t) / 1e9 for name, t in times.items()}})
    print(json.dumps(rows))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--shape", action="append", metavar="MxNxK", help="only these shapes (repeatable)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    shapes = QUICK if args.quick else SQUARE + RNN
    if args.shape:
        shapes = [tuple(int(x) for x in s.split("x")) for s in args.shape]
    if args.worker:
        return worker(args.worker, shapes, args.repeats)
    print("| threads | M x N x K | numpy GFLOP/s | rnnkit GFLOP/s | packed GFLOP/s | rnnkit/numpy | packed/numpy |")
    print("|---|---|---|---|---|---|---|")
    for threads in args.threads:
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
        cmd = [sys.executable, __file__, "--worker", str(threads), "--repeats", str(args.repeats)]
        cmd += ["--quick"] if args.quick else []
        cmd += [f"--shape={s}" for s in args.shape or []]
        out = subprocess.run(cmd, env=env, check=True,
                             capture_output=True, text=True).stdout
        for r in json.loads(out):
            m, n, k = r["shape"]
            print(f"| {threads} | {m} x {n} x {k} | {r['numpy']:.1f} | {r['rnnkit']:.1f} | {r['packed']:.1f} "
                  f"| {r['rnnkit'] / r['numpy']:.2f} | {r['packed'] / r['numpy']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
