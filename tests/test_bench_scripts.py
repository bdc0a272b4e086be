"""The Python benchmark scripts in bench/ run in their smallest modes and print measurements.

They are not tests of speed (benchmarks never are); these runs keep the scripts working as the library changes
under them: bench/scaling.py once imported a helper a refactor of rnn_workers.py had removed, and nothing ran it.
Each check parses the printed table and wants positive, finite numbers where rnnkit's measurements go.
"""
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

import rnnkit

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _run(script, *arguments, timeout=300):
    # The rnnkit under test (an installed package or a build directory on PYTHONPATH) for the child too.
    paths = [str(Path(p).resolve().parent) for p in rnnkit.__path__] + [os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in paths if p))
    done = subprocess.run([sys.executable, str(BENCH / script), *arguments], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=BENCH)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _rows(output, first_cell):
    """Cells of the table rows whose first cell is `first_cell`."""
    return [r for r in _rows_of_table(output) if r[0] == first_cell]


def _rows_of_table(output):
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in output.splitlines()
            if line.startswith("|") and not line.startswith("|---")]


def _positive(text):
    value = float(text)
    return math.isfinite(value) and value > 0


def test_scaling_quick_prints_time_per_step_for_every_cell():
    output = _run("scaling.py", "--quick")
    for cell in ("simple_rnn", "gru", "lstm"):
        rows = _rows(output, cell)
        assert len(rows) == 3, output  # forward and training by T (one shape), then the batch-1 forward by H
        assert all(_positive(value) for row in rows for value in row[-4:]), output


def test_gemm_numpy_prints_both_rates_for_a_shape():
    (row,) = _rows(_run("gemm_numpy.py", "--quick", "--threads", "1", "--shape", "64x96x32"), "1")
    assert row[1] == "64 x 96 x 32"
    assert all(_positive(value) for value in row[2:])


def test_compare_quick_times_rnnkit_at_both_levels():
    output = _run("compare.py", "--quick", "--only", "rnnkit", "rnnkit-keras", "--threads", "1")
    for cell in ("simple_rnn", "gru", "lstm"):
        rows = _rows(output, cell)
        assert len(rows) == 4, output  # two shapes x forward / train
        for row in rows:
            rnnkit_ms, gflops, keras_ms = row[4], row[5], row[6]
            assert _positive(rnnkit_ms) and _positive(gflops) and _positive(keras_ms), output


def test_conv_lstm_compare_times_rnnkit():
    output = _run("conv_lstm_compare.py", "--quick", "--only", "rnnkit-keras", "--threads", "1")
    rows = [r for r in _rows_of_table(output) if r[1] in ("forward", "train")]
    assert [r[1] for r in rows] == ["forward", "train"] and rows[0][0] == "(2, 3, 6, 6, 2) -> 4, 3", output
    assert all(_positive(r[3]) for r in rows), output


def test_memory_peak_measures_rnnkit():
    output = _run("memory_peak.py")
    (row,) = _rows(output, "rnnkit")
    assert _positive(row[1]) and _positive(row[2])
    if importlib.util.find_spec("torch") is None:
        assert _rows(output, "torch") == [["torch", "not installed", "-"]]


def test_attention_decoding_and_tokenizer_benchmarks_run_small():
    decoding = _run("attention_decoding.py", "--tokens", "16", "--width", "32", "--heads", "2", "--intermediate",
                    "64", "--repeats", "1")
    assert "recompute / cached" in decoding
    tokenizer = _run("bench_tokenizer.py", "--documents", "200")
    assert "texts_to_sequences" in tokenizer


def test_layers_compare_times_every_layer_against_torch():
    if importlib.util.find_spec("torch") is None:
        pytest.skip("bench/layers_compare.py compares with PyTorch, which is not installed (pip install torch==2.13.0)")
    output = _run("layers_compare.py", "--rounds", "1", "--threads", "1")
    rows = [row for row in _rows_of_table(output) if row[1] == "1"]
    assert len(rows) == 20, output  # ten layers x forward, forward + backward
    assert all(_positive(value) for row in rows for value in row[3:]), output


def test_ab_builds_compares_two_builds(tmp_path):
    # ab_builds.py takes build directories whose python/rnnkit holds the compiled module: make one that points at
    # this rnnkit's (an installed package, or a build directory beside the sources).
    core_dir = next(Path(p) for p in rnnkit.__path__ if any(Path(p).glob("_core*")))
    builds = [tmp_path / "a", tmp_path / "b"]
    for build in builds:
        (build / "python").mkdir(parents=True)
        (build / "python" / "rnnkit").symlink_to(core_dir.resolve())
    output = _run("ab_builds.py", "--rounds", "2", *map(str, builds), "--", "simple_rnn", "2", "5", "4", "8",
                  "forward", "1")
    lines = [line for line in output.splitlines() if "median" in line]
    assert len(lines) == 2 and all(" ms, " in line for line in lines), output


def test_fit_epoch_ids_and_their_table(tmp_path):
    """The fit epoch's two kinds of ids (rnn_workers.fit_data) and compare.py's table of a result file holding
    both: the Zipf ids repeat far more in a batch of 64 sequences, which is what the choice is for."""
    sys.path.insert(0, str(BENCH))
    try:
        import numpy as np
        import rnn_workers
    finally:
        sys.path.remove(str(BENCH))
    distinct = {}
    for ids in ("uniform", "zipf"):
        x, y = rnn_workers.fit_data(np.random.default_rng(0), ids)
        assert x.shape == (2048, 100) and x.min() >= 1 and x.max() < rnn_workers.FIT_VOCAB
        assert set(np.unique(y)) <= {0, 1}
        distinct[ids] = len(np.unique(x[:64]))
    assert distinct["zipf"] < 0.3 * 6400 < 0.6 * 6400 < distinct["uniform"]
    results = [{"impl": impl, "cell": "lstm", "shape": shape, "mode": mode, "threads": 1, "ms": ms, "rounds_ms": [ms]}
               for impl, ms in (("rnnkit-keras", 1500.0), ("torch", 3000.0)) for shape in ("fit", "fit-zipf")
               for mode in ("fit", "predict")]
    (tmp_path / "fit.json").write_text(json.dumps(results))
    output = _run("compare.py", "--from-json", str(tmp_path / "fit.json"))
    rows = _rows(output, "Embedding-LSTM(128)-Dense")
    assert [row[1] for row in rows] == ["fit, 1 epoch", "predict, 2048 sequences", "fit, 1 epoch, Zipf(1.2) ids",
                                        "predict, 2048 sequences, Zipf(1.2) ids"], output
    assert all(row[-3:] == ["1.50", "3.00", "2.00"] for row in rows), output


def test_goals_reads_a_run(tmp_path):
    """bench/goals.py on a made-up run whose ratios are known: rnnkit twice as fast as PyTorch and Keras twice as
    slow as rnnkit's Keras level everywhere except one point behind, 2 threads 2x faster except one shape."""
    shapes = [[1, 100, 64, 128], [32, 100, 128, 256], [64, 50, 256, 512], [128, 20, 32, 64], [16, 200, 64, 64]]
    results = [{"impl": "numpy", "cell": "sgemm", "shape": 1024, "mode": "forward", "threads": 1,
                "ms": 2 * 1024 ** 3 / 100e6, "rounds_ms": []}]  # 100 GFLOP/s
    for cell in ("simple_rnn", "gru", "lstm"):
        for shape in shapes:
            for mode in ("forward", "train"):
                for threads in (1, 2):
                    ours = 1.0 if threads == 1 or shape == [16, 200, 64, 64] else 0.5
                    torch = 0.8 * ours if (cell, shape, mode, threads) == ("lstm", [64, 50, 256, 512], "forward", 1) \
                        else 2 * ours
                    for impl, ms in (("rnnkit", ours), ("torch", torch), ("rnnkit-keras", ours),
                                     ("keras-jax", 2 * ours), ("keras-torch", 4 * ours)):
                        results.append({"impl": impl, "cell": cell, "shape": shape, "mode": mode,
                                        "threads": threads, "ms": ms, "rounds_ms": []})
    results.append({"impl": "rnnkit-keras", "cell": "lstm", "shape": "fit", "mode": "fit", "threads": 1, "ms": 2000.0,
                    "rounds_ms": []})
    results.append({"impl": "torch", "cell": "lstm", "shape": "fit", "mode": "fit", "threads": 1, "ms": 2800.0,
                    "rounds_ms": []})
    (tmp_path / "run.json").write_text(json.dumps(results))
    output = _run("goals.py", str(tmp_path / "run.json"))
    assert "ahead of the best peer at 59 / 60 points" in output, output
    assert "('lstm', (64, 50, 256, 512), 'forward', 1): 0.8" in output, output
    assert "simple_rnn against PyTorch (goal 2x everywhere): lowest 2.00x" in output, output
    assert "2 threads >= 1.7x one on the three largest shapes: 12 / 18" in output, output
    # 10.07 GFLOP in 1 ms against numpy's 100 GFLOP/s.
    assert "LSTM (64,50,256,512) forward on 1 thread: 10066.3 GFLOP/s, numpy's sgemm 100.0" in output, output
    assert "lstm fit (fit): 2.00 s, the fastest peer torch 2.80 s: 1.40x (goal 1.5x)" in output, output
