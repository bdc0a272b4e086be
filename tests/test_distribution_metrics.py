"""Metrics under data-parallel steps: every process's additive metric state (Mean totals and counts, confusion
counts of Precision, AUC, ...) is summed in the step's all-reduce, so result() reports the whole global batch.

Two checks: two threads standing in for two processes (no MPI needed) run rnnkit.distribution.steps on the
slices of each global batch and must end with the metric values one process gets on the whole data (rtol 1e-6:
the same float32 predictions, float64 sums); and, under ``mpiexec -n 2``, this file run as a script trains with
DataParallel and must log the metrics one plain process logs (rtol 1e-4 as in tests/test_distribution.py: two
processes sum float32 gradients in another order, and every rank must report identical metric values).
"""
import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import rnnkit
from rnnkit import layers, metrics

SCRIPT = Path(__file__).resolve()


def _data(samples=47):
    """Token ids padded with 0 (the Embedding masks them) and three multi-hot labels derived from the tokens."""
    rng = np.random.default_rng(7)
    x = np.zeros((samples, 7), np.int32)
    for row, length in enumerate(rng.integers(2, 8, size=samples)):
        x[row, :length] = rng.integers(1, 12, size=length)
    y = np.stack([((x == label + 1) | (x == label + 4)).any(axis=1) for label in range(3)], 1).astype(np.float32)
    return x, y, rng.uniform(0.2, 2, samples).astype(np.float32)


def _model(seed, learning_rate):
    rnnkit.utils.set_random_seed(seed)
    inputs = layers.Input(shape=(7,))
    hidden = layers.LSTM(6)(layers.Embedding(12, 5, mask_zero=True)(inputs))
    model = rnnkit.Model(inputs, layers.Dense(3, activation="sigmoid")(hidden))
    # A multi-label AUC builds its state on its first batch: the first step must sum states that did not exist.
    model.compile(optimizer=rnnkit.optimizers.Adam(learning_rate), loss="binary_crossentropy",
                  metrics=["binary_accuracy", metrics.Precision(name="precision"),
                           metrics.Recall(thresholds=0.3, name="recall"), metrics.AUC(name="auc"),
                           metrics.AUC(multi_label=True, curve="PR", name="pr_auc"),
                           metrics.TruePositives(name="true_positives")],
                  weighted_metrics=[metrics.AUC(summation_method="minoring", name="weighted_auc"),
                                    metrics.RootMeanSquaredError()])
    return model


class _Peers:
    """Threads standing in for MPI processes: allreduce sums every member's buffer, in rank order everywhere."""

    def __init__(self, size):
        self.size = size
        self.barrier = threading.Barrier(size)
        self.buffers = [None] * size

    def member(self, rank):
        return SimpleNamespace(allreduce=lambda buffer: self._allreduce(rank, buffer))

    def _allreduce(self, rank, buffer):
        self.buffers[rank] = buffer.copy()
        self.barrier.wait()
        total = sum(self.buffers[1:], self.buffers[0].copy())
        self.barrier.wait()  # nobody overwrites its buffer before every member has read them all
        buffer[...] = total
        return buffer


@pytest.mark.parametrize("step", ["train_step", "test_step"])
def test_summed_metric_states_of_two_simulated_processes_equal_one_process(step):
    from rnnkit.distribution import steps

    x, y, weights = _data(22)
    bounds = [0, 8, 16, 21, 22]  # uneven global batches; in the last one the second process has no sample
    reference = _model(0, 0.0)  # learning rate 0: training leaves the weights as they are
    expected = reference.evaluate(x, y, sample_weight=weights, batch_size=22, verbose=0, return_dict=True)
    peers = _Peers(2)
    models = [_model(0, 0.0) for _ in range(peers.size)]
    failures = []

    def run(rank):
        try:
            for start, stop in zip(bounds, bounds[1:]):
                rows = slice(start + (stop - start) * rank // 2, start + (stop - start) * (rank + 1) // 2)
                models[rank]._ensure_built([x[rows]])
                getattr(steps, step)(peers.member(rank), models[rank], [x[rows]], [y[rows]], [weights[rows]])
        except BaseException as error:  # a failing member would leave the other waiting at the barrier
            peers.barrier.abort()
            failures.append(error)
            raise

    threads = [threading.Thread(target=run, args=(rank,)) for rank in range(peers.size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    for model in models:
        logs = {compiled.name: float(compiled.metric.result()) for compiled in model._metrics}
        assert logs.keys() == expected.keys() - {"loss"}
        for name, value in logs.items():
            assert value == pytest.approx(expected[name], rel=1e-6), name


def test_a_metric_without_additive_state_is_refused_with_its_name():
    from rnnkit.distribution import steps

    class Last(metrics.Metric):
        def reset_state(self):
            self.value = 0.0

    model = SimpleNamespace(_metrics=[SimpleNamespace(metric=Last(name="last"))])
    with pytest.raises(ValueError, match="metric 'last' names no additive state"):
        steps._metric_state(model)


# -- two MPI processes -----------------------------------------------------------------------------------------
def _run(tmp_path, processes):
    """What rank 0 wrote after training this file's scenario under ``processes`` MPI processes."""
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip('mpi4py is not installed (pip install "rnnkit[mpi]")')
    launcher = shutil.which("mpiexec")
    if launcher is None:
        pytest.skip("no mpiexec on PATH (the mpich wheel from rnnkit[mpi] provides one)")
    out = tmp_path / f"metrics-{processes}.npz"
    command = [sys.executable, str(SCRIPT), "--out", str(out)]
    if processes > 1:
        command = [launcher, "-n", str(processes)] + command
    # This rnnkit (build dir + sources) by absolute path, one thread per process: the machine has 2 cores.
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(str(Path(p).resolve().parent) for p in rnnkit.__path__))
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(np.load(out))


def test_two_processes_log_the_confusion_metrics_of_one(tmp_path):
    one, two = _run(tmp_path, 1), _run(tmp_path, 2)
    history_one, history_two = json.loads(str(one["history"])), json.loads(str(two["history"]))
    assert {"precision", "val_auc", "pr_auc", "weighted_auc", "root_mean_squared_error"} <= history_one.keys()
    assert history_two.keys() == history_one.keys()
    for name in history_one:
        np.testing.assert_allclose(history_two[name], history_one[name], rtol=1e-4, err_msg=name)
    np.testing.assert_allclose(two["evaluate"], one["evaluate"], rtol=1e-4)
    assert two["rank_spread"] == 0.0  # every process reports the same metric values


def _train(out):
    """The scenario: fit (uneven last global batch, sample weights, validation split), then evaluate."""
    from rnnkit import distribution

    distribution.initialize()
    rank = distribution.process_id()
    distribution.set_distribution(distribution.DataParallel())
    model = _model(1000 + rank, 0.01)  # different weights per rank on purpose: fit starts all from rank 0's
    x, y, weights = _data()
    history = model.fit(x, y, sample_weight=weights, batch_size=8, epochs=3, validation_split=0.2, verbose=0)
    evaluate = np.array(model.evaluate(x, y, sample_weight=weights, batch_size=7, verbose=0))
    spread = 0.0
    if distribution.num_processes() > 1:
        from mpi4py import MPI

        everyone = MPI.COMM_WORLD.allgather(evaluate)
        spread = max(float(np.abs(values - everyone[0]).max()) for values in everyone)
    if rank == 0:
        np.savez(out, history=json.dumps(history.history), evaluate=evaluate, rank_spread=spread)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    _train(parser.parse_args().out)
