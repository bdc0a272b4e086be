"""rnnkit against every CPU peer that is installed, on the same shapes, in the same run, interleaved.

    PYTHONPATH=build/<dir>/python:python python bench/compare.py [--quick] [--threads 1 2] [--repeats 5]
        [--python keras-jax=/path/to/venv/bin/python ...] [--no-fit] [--json out.json]
    python bench/compare.py --from-json out.json      # print the tables of an earlier run again

Each implementation runs in its own process (Keras allows one backend per process), one per thread count,
pinned with taskset to as many cores as threads: a timing server (rnn_workers.py) that prepares one point at a
time and times one repeat of it on request. Raw rnnkit (rnnkit.ops) is compared with PyTorch's modules;
rnnkit's Keras-level predict_on_batch / train_on_batch with Keras 3's on each installed backend. --python
runs a peer under another interpreter (a virtual environment holding that backend).

The implementations are interleaved point by point: every implementation that has the point prepares it, then
each of --repeats rounds times one repeat of each implementation in turn (the order rotating every round). The
development machine is shared and its speed drifts by up to 1.6x over minutes, so only measurements taken
seconds apart compare; running one implementation over the whole grid and then the next would mostly measure
the drift. Each cell of a table is the median over the rounds; speed-up = peer time / rnnkit time at the same
level (> 1: rnnkit faster); "worst" is the speed-up against the best peer at that point.
"""
import argparse
import itertools
import json
import math
import os
import pathlib
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

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
SGEMM = ["sgemm", SGEMM_N, "forward"]
# Timed seconds per point and implementation, split over the rounds (each measurement at least one call).
MIN_SECONDS = 0.3
# Pause before each measurement: the worker measured just before may leave threads spin-waiting on the same
# cores for a while after its last call before they block (libgomp's OpenMP threads for 300,000 spins by default,
# OpenBLAS's and Eigen's pools likewise), which would slow the next implementation down; 50 ms lets them go to
# sleep. OMP_WAIT_POLICY=active makes OpenMP's spin far longer: see --omp-wait-policy.
IDLE_SECONDS = 0.05
# A worker silent this long on one request (the slowest, a first XLA compile or a fit epoch of Keras on torch,
# takes well under a minute) is taken for hung: killed and dropped like one that died.
REPLY_TIMEOUT_SECONDS = 600


def installed(python, impl):
    check = "import importlib.util, sys; sys.exit(0 if all(importlib.util.find_spec(m) for m in %r) else 1)"
    if subprocess.run([python, "-c", check % MODULES[impl]], capture_output=True).returncode == 0:
        return True
    print(f"[{impl}] not installed under {python}: skipped", file=sys.stderr)
    return False


class Worker:
    """One rnn_workers.py timing server: an implementation at a thread count, pinned to as many cores."""

    def __init__(self, python, impl, threads, openmp):
        self.impl, self.threads, self.died = impl, threads, False
        cmd = [python, str(HERE / "rnn_workers.py"), "--impl", impl, "--threads", str(threads)]
        if shutil.which("taskset"):
            cmd = ["taskset", "-c", ",".join(str(c) for c in range(threads))] + cmd
        # Its stderr goes to a file, read only if it dies: a pipe nobody reads would fill up and block it.
        self.log = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(cmd, env=worker_env(threads, openmp), text=True, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log)

    def request(self, **message):
        """The worker's reply to `message`, or None if it has died or hung (reported on stderr)."""
        hung = False
        try:
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
            # One reply line per request, so nothing is left buffered between them and select sees the next.
            hung = not select.select([self.proc.stdout], [], [], REPLY_TIMEOUT_SECONDS)[0]
            reply = "" if hung else self.proc.stdout.readline()
        except BrokenPipeError:
            reply = ""
        if reply:
            return json.loads(reply)
        self.died = True
        if hung:
            self.proc.kill()
        self.proc.wait()
        self.log.seek(0)
        what = f"hung (no reply in {REPLY_TIMEOUT_SECONDS} s), killed" if hung else "died"
        print(f"[{self.impl}, {self.threads} thread(s)] {what} (exit code {self.proc.returncode}), dropped for the "
              f"rest of the run:\n{self.log.read()[-3000:]}", file=sys.stderr, flush=True)
        return None

    def quit(self):
        if not self.died:
            self.proc.communicate(json.dumps({"cmd": "quit"}) + "\n")
        self.log.close()


def worker_env(threads, openmp):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), RNNKIT_NUM_THREADS=str(threads), TF_NUM_INTRAOP_THREADS=str(threads),
               TF_NUM_INTEROP_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3",
               XLA_FLAGS=(os.environ.get("XLA_FLAGS", "")
                          + (" --xla_cpu_multi_thread_eigen=false"
                             if threads == 1 else "")).strip())
    # OpenMP users (rnnkit, PyTorch): how idle threads wait and whether each stays on one core, when asked
    env.update({name: value for name, value in openmp.items() if value})
    return env


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


# The fit epoch's ids (rnn_workers.fit_data) and their label in the table; results store the epoch's "shape" as
# "fit" (uniform ids, as every result file before the choice) or "fit-zipf".
FIT_IDS = {"uniform": "", "zipf": ", Zipf(1.2) ids"}
FIT_SHAPES = {"fit", "fit-zipf"}


def fit_shape(ids):
    return "fit" if ids == "uniform" else f"fit-{ids}"


def fit_table(timings):
    impls = ["rnnkit-keras", "torch", "keras-jax", "keras-tensorflow", "keras-torch"]
    present = [i for i in impls if any(k[4] == i and k[1] in FIT_SHAPES for k in timings)]
    if "rnnkit-keras" not in present:
        return
    print("\n| model | mode | thr | " + " | ".join(f"{i} s" for i in present) + " | best peer x |")
    print("|" + "---|" * (len(present) + 4))
    fit_threads = sorted({k[3] for k in timings if k[1] in FIT_SHAPES})  # --fit-threads, not --threads
    for cell, ids, mode, threads in itertools.product(("lstm", "gru"), FIT_IDS, ("fit", "predict"), fit_threads):
        t = {i: timings.get((cell, fit_shape(ids), mode, threads, i)) for i in present}
        if not t["rnnkit-keras"]:
            continue
        peers = [v for i, v in t.items() if i != "rnnkit-keras" and v]
        best = f"{min(peers) / t['rnnkit-keras']:.2f}" if peers else "-"
        cells = [f"{t[i] / 1e3:.2f}" if t[i] else "-" for i in present]
        label = ("fit, 1 epoch" if mode == "fit" else "predict, 2048 sequences") + FIT_IDS[ids]
        print(f"| Embedding-{cell.upper()}(128)-Dense | {label} | {threads} | " + " | ".join(cells) + f" | {best} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="two small shapes, 2 rounds, no fit (CI smoke run)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5,
                        help="rounds per point of the grid")
    parser.add_argument("--fit-rounds", type=int,
                        help="rounds (epochs) of each fit and predict point; default a third of --repeats, at least "
                             "one (an epoch takes seconds)")
    parser.add_argument("--python", action="append", default=[], metavar="IMPL=PYTHON",
                        help="interpreter for one implementation, e.g. keras-jax=/opt/jax-venv/bin/python")
    parser.add_argument("--only", nargs="+", choices=IMPLS, help="run only these implementations")
    parser.add_argument("--no-fit", action="store_true", help="skip the fit-epoch comparison")
    parser.add_argument("--fit-threads", type=int, nargs="+", default=[1], help="thread counts of the fit epoch")
    parser.add_argument("--fit-ids", nargs="+", choices=list(FIT_IDS), default=["uniform"],
                        help="the fit epoch's token ids: uniform over the vocabulary (issue 13's), or Zipf(1.2) "
                             "like the words of text, which repeat many times a batch")
    parser.add_argument("--omp-wait-policy", choices=["active", "passive"],
                        help="OMP_WAIT_POLICY for every worker; passive keeps idle OpenMP threads from spinning, "
                             "which on a machine shared with other jobs can cost more than the work itself")
    parser.add_argument("--omp-proc-bind", choices=["true", "false", "close", "spread"],
                        help="OMP_PROC_BIND for every worker; true keeps each OpenMP thread on one core, where an "
                             "unpinned one the kernel moves arrives late at every step's barrier")
    parser.add_argument("--json", help="write all measurements to this file (after every point)")
    parser.add_argument("--from-json", help="only print the tables of an earlier --json file")
    args = parser.parse_args()
    if args.from_json:
        return report_file(args.from_json)
    shapes = QUICK_SHAPES if args.quick else SHAPES
    rounds = 2 if args.quick else args.repeats
    grid = [[cell, list(shape), mode] for cell in CELLS for shape in shapes for mode in MODES]
    fit = [] if (args.quick or args.no_fit) else [["fit", cell, mode, ids] for ids in args.fit_ids
                                                   for cell in ("lstm", "gru") for mode in ("fit", "predict")]
    fit_rounds = args.fit_rounds or max(1, rounds // 3)
    report(run_interleaved(args, grid, fit, rounds, fit_rounds), args.threads, shapes, rounds)


def run_interleaved(args, grid, fit, rounds, fit_rounds):
    """The result rows of every point in every installed implementation that has it, one thread count after
    another (one worker per implementation and thread count); written to --json after every point."""
    pythons = dict(item.split("=", 1) for item in args.python)
    impls = [impl for impl in args.only or IMPLS if installed(pythons.get(impl, sys.executable), impl)]
    results = []
    for threads in sorted(set(args.threads) | (set(args.fit_threads) if fit else set())):
        points = ([SGEMM] + grid if threads in args.threads else []) + (fit if threads in args.fit_threads else [])
        openmp = {"OMP_WAIT_POLICY": args.omp_wait_policy, "OMP_PROC_BIND": args.omp_proc_bind}
        workers = [Worker(pythons.get(impl, sys.executable), impl, threads, openmp)
                   for impl in impls if any(p in points for p in points_of(impl, grid, fit))]
        for worker in workers:  # every library imported before the first timing: imports load the cores
            worker.request(cmd="ping")
        for point in points:
            here = [w for w in workers if not w.died and point in points_of(w.impl, grid, fit)]
            if not here:
                continue
            print(f"[{threads} thread(s)] {point}: {', '.join(w.impl for w in here)}", file=sys.stderr, flush=True)
            point_rounds = fit_rounds if point[0] == "fit" else rounds
            results += result_rows(point, threads, measure_point(here, point, point_rounds))
            if args.json:
                pathlib.Path(args.json).write_text(json.dumps(results, indent=1))
        for worker in workers:
            worker.quit()
        dead = {w.impl for w in workers if w.died}
        impls = [impl for impl in impls if impl not in dead]
    return results


def points_of(impl, grid, fit):
    """The points each implementation runs: numpy only the sgemm, raw rnnkit no fit epoch."""
    return {"numpy": [SGEMM], "rnnkit": grid}.get(impl, grid + fit)


def measure_point(workers, point, rounds):
    """{impl: ms of each round} at `point`: prepared in every worker, then `rounds` rounds of one repeat per
    worker, the order rotating by one every round so that no implementation is always first or last."""
    seconds = 0.0 if point[0] == "fit" else MIN_SECONDS / rounds  # 0: a single call, one epoch
    ready = [w for w in workers if prepared(w, point, seconds)]
    times = {w.impl: [] for w in ready}
    for r in range(rounds if ready else 0):
        for worker in ready[r % len(ready):] + ready[:r % len(ready)]:
            if not worker.died:
                time.sleep(IDLE_SECONDS)
                reply = worker.request(cmd="measure")
                if reply:
                    times[worker.impl].append(reply["ms"])
    return {w.impl: times[w.impl] for w in ready if not w.died}


def prepared(worker, point, seconds):
    reply = worker.request(cmd="prepare", point=point, seconds=seconds)
    if reply and "error" in reply:
        print(f"[{worker.impl}, {worker.threads} thread(s)] {point} failed, skipped:\n{reply['error']}",
              file=sys.stderr, flush=True)
    return bool(reply) and "error" not in reply


def result_rows(point, threads, times):
    """The JSON rows of one point: the median as "ms" (what older result files hold) and every round."""
    cell, shape, mode = (point[1], fit_shape(point[3]), point[2]) if point[0] == "fit" else point
    return [{"impl": impl, "cell": cell, "shape": shape, "mode": mode, "threads": threads,
             "ms": statistics.median(per_round), "rounds_ms": per_round} for impl, per_round in times.items()]


def report_file(path):
    """The tables of an earlier --json file, also one written before the interleaving (no "rounds_ms")."""
    results = json.loads(pathlib.Path(path).read_text())
    threads = sorted({r["threads"] for r in results})
    quick = not any(tuple(r["shape"]) == SHAPES[1] for r in results if isinstance(r["shape"], list))
    rounds = max((len(r.get("rounds_ms", [])) for r in results), default=0)
    report(results, threads, QUICK_SHAPES if quick else SHAPES, rounds)


def report(results, threads_list, shapes, rounds):
    timings = {(r["cell"], tuple(r["shape"]) if isinstance(r["shape"], list) else r["shape"], r["mode"],
                r["threads"], r["impl"]): r["ms"] for r in results}
    medians = f"medians of {rounds} interleaved rounds" if rounds else "medians"
    print(f"\n### Recurrent layers: speed-up = peer ms / rnnkit ms ({medians})\n")
    grid_table(timings, threads_list, shapes)
    fit_table(timings)
    for threads in threads_list:
        ms = timings.get(("sgemm", SGEMM_N, "forward", threads, "numpy"))
        if ms:
            print(f"\nnumpy sgemm {SGEMM_N}^3 on {threads} thread(s): {2 * SGEMM_N ** 3 / ms / 1e6:.1f} GFLOP/s "
                  "(the practical limit)")


if __name__ == "__main__":
    main()
