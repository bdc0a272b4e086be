"""rnnkit against every CPU peer that is installed, on the same shapes, in the same run.

    PYTHONPATH=build/<dir>/python:python python bench/compare.py [--quick] [--threads 1 2] [--repeats 5]
        [--python keras-jax=/path/to/venv/bin/python ...] [--no-fit] [--json out.json]
    python bench/compare.py --from-json out.json      # print the tables of an earlier run again

Each implementation runs in its own process (Keras allows one backend per process), pinned with taskset to
as many cores as threads, one after another. Raw rnnkit (rnnkit.ops) is compared with PyTorch's modules;
rnnkit's Keras-level predict_on_batch / train_on_batch with Keras 3's on each installed backend. --python
runs a peer under another interpreter (a virtual environment holding that backend). Each cell of a table
is the median of --repeats; speed-up = peer time / rnnkit time at the same level (> 1: rnnkit faster);
"worst" is the speed-up against the best peer at that point.
"""
import argparse
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
# (ours, peer) pairs measured at the same level.
PAIRS = [("rnnkit", "torch"), ("rnnkit-keras", "keras-jax"), ("rnnkit-keras", "keras-tensorflow"),
         ("rnnkit-keras", "keras-torch")]
IMPLS = ["numpy", "rnnkit", "torch", "rnnkit-keras", "keras-jax", "keras-tensorflow", "keras-torch"]
MODULES = {"numpy": ["numpy"], "rnnkit": ["rnnkit"], "torch": ["torch"], "rnnkit-keras": ["rnnkit"],
           "keras-jax": ["keras", "jax"], "keras-tensorflow": ["keras", "tensorflow"],
           "keras-torch": ["keras", "torch"]}
SGEMM_N = 1024


def installed(python, impl):
    check = "import importlib.util, sys; sys.exit(0 if all(importlib.util.find_spec(m) for m in %r) else 1)"
    return subprocess.run([python, "-c", check % MODULES[impl]], capture_output=True).returncode == 0


def run_worker(python, impl, threads, points, repeats, wait_policy=None):
    cmd = [python, str(HERE / "rnn_workers.py"), "--impl", impl, "--threads", str(threads),
           "--points", json.dumps(points), "--repeats", str(repeats)]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", ",".join(str(c) for c in range(threads))] + cmd
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), RNNKIT_NUM_THREADS=str(threads), TF_NUM_INTRAOP_THREADS=str(threads),
               TF_NUM_INTEROP_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3",
               XLA_FLAGS=(os.environ.get("XLA_FLAGS", "")
                          + (" --xla_cpu_multi_thread_eigen=false"
                             if threads == 1 else "")).strip())
    if wait_policy:  # OpenMP users (rnnkit, PyTorch): how idle threads wait, see --omp-wait-policy
        env["OMP_WAIT_POLICY"] = wait_policy
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"[{impl}, {threads} thread(s)] failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def gflops(cell, shape, mode, ms):
    B, T, I, H = shape
    flops = 2 * T * B * {"simple_rnn": 1, "gru": 3, "lstm": 4}[cell] * H * (I + H) * (3 if mode == "train" else 1)
    return flops / (ms * 1e-3) / 1e9


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def grid_table(timings, threads_list, shapes):
    """One row per (cell, shape, mode, threads): times, speed-up against each peer, and against the best."""
    peers = [(ours, peer) for ours, peer in PAIRS if any(k[4] == peer for k in timings)]
    header = ["cell", "(B,T,I,H)", "mode", "thr", "rnnkit ms", "GFLOP/s", "rnnkit-keras ms"]
    for _, peer in peers:
        header += [f"{peer} ms", "x"]
    header += ["worst x"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    worst_all, by_peer = [], {peer: [] for _, peer in peers}
    for cell in CELLS:
        for shape in shapes:
            for mode in MODES:
                for threads in threads_list:
                    get = lambda impl: timings.get((cell, tuple(shape), mode, threads, impl))
                    raw, keras = get("rnnkit"), get("rnnkit-keras")
                    if raw is None and keras is None:
                        continue
                    row = [cell, str(tuple(shape)), mode, str(threads), f"{raw:.3f}" if raw else "-",
                           f"{gflops(cell, shape, mode, raw):.1f}" if raw else "-", f"{keras:.3f}" if keras else "-"]
                    speedups = []
                    for ours, peer in peers:
                        mine, theirs = get(ours), get(peer)
                        if mine and theirs:
                            speedups.append(theirs / mine)
                            by_peer[peer].append(theirs / mine)
                            row += [f"{theirs:.3f}", f"{theirs / mine:.2f}"]
                        else:
                            row += ["-", "-"]
                    if speedups:
                        worst_all.append(min(speedups))
                    row.append(f"**{min(speedups):.2f}**" if speedups else "-")
                    print("| " + " | ".join(row) + " |")
    print()
    for peer, values in by_peer.items():
        if values:
            print(f"- against {peer}: geometric mean {geomean(values):.2f}x, slowest point {min(values):.2f}x, "
                  f"rnnkit faster at {sum(v > 1 for v in values)}/{len(values)} points")
    if worst_all:
        print(f"- against the best peer per point: geometric mean {geomean(worst_all):.2f}x, slowest point "
              f"{min(worst_all):.2f}x, rnnkit faster at {sum(v > 1 for v in worst_all)}/{len(worst_all)} points")


def fit_table(timings, threads_list):
    impls = ["rnnkit-keras", "torch", "keras-jax", "keras-tensorflow", "keras-torch"]
    present = [i for i in impls if any(k[4] == i and k[2] in ("fit", "predict") for k in timings)]
    if "rnnkit-keras" not in present:
        return
    print("\n| model | mode | thr | " + " | ".join(f"{i} s" for i in present) + " | best peer x |")
    print("|" + "---|" * (len(present) + 4))
    for cell in ("lstm", "gru"):
        for mode in ("fit", "predict"):
            for threads in threads_list:
                t = {i: timings.get((cell, "fit", mode, threads, i)) for i in present}
                if not t["rnnkit-keras"]:
                    continue
                peers = [v for i, v in t.items() if i != "rnnkit-keras" and v]
                best = f"{min(peers) / t['rnnkit-keras']:.2f}" if peers else "-"
                cells = [f"{t[i] / 1e3:.2f}" if t[i] else "-" for i in present]
                label = "fit, 1 epoch" if mode == "fit" else "predict, 2048 sequences"
                print(f"| Embedding-{cell.upper()}(128)-Dense | {label} | {threads} | " + " | ".join(cells)
                      + f" | {best} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="two small shapes, 2 repeats, no fit (CI smoke run)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--python", action="append", default=[], metavar="IMPL=PYTHON",
                        help="interpreter for one implementation, e.g. keras-jax=/opt/jax-venv/bin/python")
    parser.add_argument("--only", nargs="+", choices=IMPLS, help="run only these implementations")
    parser.add_argument("--no-fit", action="store_true", help="skip the fit-epoch comparison")
    parser.add_argument("--fit-threads", type=int, nargs="+", default=[1], help="thread counts of the fit epoch")
    parser.add_argument("--omp-wait-policy", choices=["active", "passive"],
                        help="OMP_WAIT_POLICY for every worker; passive keeps idle OpenMP threads from spinning, "
                             "which on a machine shared with other jobs can cost more than the work itself")
    parser.add_argument("--json", help="write all measurements to this file (after every worker)")
    parser.add_argument("--from-json", help="only print the tables of an earlier --json file")
    args = parser.parse_args()
    if args.from_json:
        results = json.loads(pathlib.Path(args.from_json).read_text())
        threads = sorted({r["threads"] for r in results})
        quick = not any(tuple(r["shape"]) == SHAPES[1] for r in results if isinstance(r["shape"], list))
        return report(results, threads, QUICK_SHAPES if quick else SHAPES, None)
    shapes = QUICK_SHAPES if args.quick else SHAPES
    repeats = 2 if args.quick else args.repeats
    pythons = dict(item.split("=", 1) for item in args.python)
    grid = [[cell, list(shape), mode] for cell in CELLS for shape in shapes for mode in MODES]
    fit = [] if (args.quick or args.no_fit) else [["fit", cell, mode] for cell in ("lstm", "gru")
                                                   for mode in ("fit", "predict")]
    points = {"numpy": [["sgemm", SGEMM_N, "forward"]], "rnnkit": grid, "torch": grid + fit,
              "rnnkit-keras": grid + fit}
    results = []
    for impl in args.only or IMPLS:
        python = pythons.get(impl, sys.executable)
        if not installed(python, impl):
            print(f"[{impl}] not installed under {python}: skipped", file=sys.stderr)
            continue
        for threads in sorted(set(args.threads) | (set(args.fit_threads) if fit else set())):
            todo = [p for p in points.get(impl, grid + fit)
                    if (threads in args.fit_threads if p[0] == "fit" else threads in args.threads)]
            print(f"[{impl}, {threads} thread(s)] running", file=sys.stderr, flush=True)
            results += run_worker(python, impl, threads, todo, repeats, args.omp_wait_policy)
            if args.json:
                pathlib.Path(args.json).write_text(json.dumps(results, indent=1))
    report(results, args.threads, shapes, repeats)


def report(results, threads_list, shapes, repeats):
    timings = {(r["cell"], tuple(r["shape"]) if isinstance(r["shape"], list) else r["shape"], r["mode"],
                r["threads"], r["impl"]): r["ms"] for r in results}
    medians = f"medians of {repeats} repeats" if repeats else "medians"
    print(f"\n### Recurrent layers: speed-up = peer ms / rnnkit ms ({medians})\n")
    grid_table(timings, threads_list, shapes)
    fit_table(timings, threads_list)
    for threads in threads_list:
        ms = timings.get(("sgemm", SGEMM_N, "forward", threads, "numpy"))
        if ms:
            print(f"\nnumpy sgemm {SGEMM_N}^3 on {threads} thread(s): {2 * SGEMM_N ** 3 / ms / 1e6:.1f} GFLOP/s "
                  "(the practical limit)")


if __name__ == "__main__":
    main()
