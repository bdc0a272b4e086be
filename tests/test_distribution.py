"""rnnkit.distribution: data-parallel fit/evaluate/predict over MPI processes.

The reference is independent of the distributed code path: tests/distribution_worker.py run as one plain process
(no launcher, so DataParallel is inactive) trains with the ordinary single-process loop on the same global
batches. Two processes sum float32 gradients in another order, so results agree to float32 rounding amplified by
a few optimizer steps: rtol 1e-4 / atol 1e-6 on weights (measured differences are ~1e-7), and every rank must
end with bitwise identical weights.
"""
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import rnnkit
from rnnkit.distribution import DataParallel, steps

WORKER = Path(__file__).with_name("distribution_worker.py")
RTOL, ATOL = 1e-4, 1e-6


def _mpiexec():
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip('mpi4py is not installed (pip install "rnnkit[mpi]")')
    launcher = shutil.which("mpiexec")
    if launcher is None:
        pytest.skip("no mpiexec on PATH (the mpich wheel from rnnkit[mpi] provides one)")
    return launcher


def _run(scenario, tmp_path, processes, check=True):
    """(results rank 0 wrote, completed process) of the worker under ``processes`` MPI processes."""
    out = tmp_path / f"{scenario}-{processes}" / "result.npz"
    out.parent.mkdir()
    launcher = _mpiexec()  # the worker initialises rnnkit.distribution, which needs mpi4py even alone
    command = [sys.executable, str(WORKER), scenario, "--out", str(out)]
    if processes > 1:
        command = [launcher, "-n", str(processes)] + command
    # Absolute paths of this rnnkit (build dir + sources), one thread per process: the machine has 2 cores.
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(str(Path(p).resolve().parent) for p in rnnkit.__path__))
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=out.parent)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
        return dict(np.load(out)), done
    return None, done


def _assert_same_training(scenario, tmp_path):
    one, _ = _run(scenario, tmp_path, 1)
    two, _ = _run(scenario, tmp_path, 2)
    assert two["rank_weight_spread"] == 0.0
    np.testing.assert_allclose(two["weights"], one["weights"], rtol=RTOL, atol=ATOL)
    history_one, history_two = json.loads(str(one["history"])), json.loads(str(two["history"]))
    assert history_two.keys() == history_one.keys()
    for name in history_one:
        np.testing.assert_allclose(history_two[name], history_one[name], rtol=RTOL, err_msg=name)
    return one, two


def test_two_processes_reproduce_one_with_uneven_last_batch_and_sample_weights(tmp_path):
    one, two = _assert_same_training("dense", tmp_path)
    np.testing.assert_allclose(two["evaluate"], one["evaluate"], rtol=RTOL)
    np.testing.assert_allclose(two["predict"], one["predict"], rtol=RTOL, atol=ATOL)


def test_two_processes_reproduce_one_for_a_masked_lstm_with_adam_and_global_clipnorm(tmp_path):
    one, two = _assert_same_training("lstm", tmp_path)
    np.testing.assert_allclose(two["evaluate"], one["evaluate"], rtol=RTOL)
    np.testing.assert_allclose(two["predict"], one["predict"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(two["evaluate_dataset"], one["evaluate_dataset"], rtol=RTOL)
    np.testing.assert_allclose(two["predict_dataset"], one["predict_dataset"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(one["predict_dataset"].ravel(), one["predict"], rtol=RTOL, atol=ATOL)


def test_two_processes_reproduce_one_for_two_outputs_whose_losses_average_over_different_counts(tmp_path):
    one, two = _assert_same_training("two_outputs", tmp_path)
    np.testing.assert_allclose(two["evaluate"], one["evaluate"], rtol=RTOL)


def test_per_process_datasets_reproduce_one_process(tmp_path):
    _assert_same_training("sharded", tmp_path)


def test_callbacks_write_once_and_stop_every_rank_at_the_same_epoch(tmp_path):
    one, _ = _run("callbacks", tmp_path, 1)
    two, done = _run("callbacks", tmp_path, 2)
    epochs = len(json.loads(str(one["history"]))["loss"])
    assert 1 < epochs < 20
    assert len(json.loads(str(two["history"]))["loss"]) == epochs
    assert two["rank_weight_spread"] == 0.0
    run_dir = tmp_path / "callbacks-2"
    assert sorted(p.name for p in run_dir.glob("epoch*")) == sorted(f"epoch{e}.weights.rnnkit"
                                                                   for e in range(1, epochs + 1))
    assert (run_dir / "writes-0.txt").read_text().count("\n") == epochs
    assert not (run_dir / "writes-1.txt").exists()
    assert len((run_dir / "log.csv").read_text().splitlines()) == epochs + 1
    # Rank 0 alone prints: one progress line per epoch, plus "Epoch i/n" headers.
    assert done.stdout.count("Epoch ") == epochs


def test_a_failing_rank_ends_the_job_with_an_error_naming_it(tmp_path):
    start = time.monotonic()
    _, done = _run("fail", tmp_path, 2, check=False)
    assert time.monotonic() - start < 60
    assert done.returncode != 0
    assert "process 1 of 2 failed with RuntimeError" in done.stderr
    assert "deliberate failure on rank 1" in done.stderr


def test_the_example_trains_the_same_on_two_processes_as_on_one():
    example = Path(__file__).resolve().parents[1] / "examples" / "mpi_train.py"
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(str(Path(p).resolve().parent) for p in rnnkit.__path__))
    runs = [subprocess.run(launcher + [sys.executable, str(example), "--quick"], capture_output=True, text=True,
                           timeout=300, env=env, check=True).stdout for launcher in ([], [_mpiexec(), "-n", "2"])]
    summaries = [run.splitlines()[-1] for run in runs]
    assert summaries[0].startswith("1 process(es)") and summaries[1].startswith("2 process(es)")
    assert summaries[0].split("; ")[1] == summaries[1].split("; ")[1]  # test loss and accuracy, 4 digits
    assert runs[1].count("Epoch 1/2") == 1  # rank 0 alone prints


def test_ctrl_c_ends_the_job_instead_of_leaving_ranks_waiting(tmp_path):
    command = [_mpiexec(), "-n", "2", sys.executable, str(WORKER), "endless", "--out", str(tmp_path / "unused")]
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(str(Path(p).resolve().parent) for p in rnnkit.__path__))
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        while "Epoch 3/" not in job.stdout.readline():
            assert job.poll() is None, job.stderr.read()
        job.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal does to mpiexec
        _, stderr = job.communicate(timeout=30)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode != 0
    assert "failed with KeyboardInterrupt" in stderr


def test_per_process_datasets_of_different_lengths_fail_together_with_a_clear_error(tmp_path):
    start = time.monotonic()
    _, done = _run("uneven_datasets", tmp_path, 2, check=False)
    assert time.monotonic() - start < 60
    assert done.returncode != 0
    assert "process(es) [0] ran out of batches at step 3" in done.stderr


def test_processes_passing_different_arrays_fail_together_with_a_clear_error(tmp_path):
    _, done = _run("different_arrays", tmp_path, 2, check=False)
    assert done.returncode != 0
    assert "every process must pass the same arrays, but they hold [40, 41] samples" in done.stderr


def test_importing_rnnkit_does_not_import_mpi4py():
    code = "import sys, rnnkit; assert 'mpi4py' not in sys.modules, 'mpi4py imported'"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(Path(p).resolve().parent) for p in rnnkit.__path__))
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_data_parallel_without_mpi4py_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # makes "import mpi4py" raise ImportError
    with pytest.raises(ImportError, match=r"pip install \"rnnkit\[mpi\]\""):
        DataParallel()
    with pytest.raises(ImportError, match=r"rnnkit\[mpi\]"):
        rnnkit.distribution.initialize()
    assert rnnkit.distribution.list_devices() == ["cpu:0"]


def _parallel(rank, size):
    parallel = object.__new__(DataParallel)
    parallel.comm = SimpleNamespace(rank=rank, size=size)
    return parallel


def test_stateful_rnns_are_refused_with_a_clear_error():
    model = rnnkit.Sequential([rnnkit.layers.Input(shape=(3, 2), batch_size=4),
                               rnnkit.layers.LSTM(2, stateful=True)])
    with pytest.raises(ValueError, match=r"stateful RNN layer\(s\) \['lstm"):
        _parallel(0, 2).begin_fit(model, 1, [])


@pytest.mark.parametrize("count", [0, 1, 2, 5, 8, 13])
@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_slices_of_a_global_batch_cover_it_once_and_differ_by_at_most_one(count, size):
    slices = [_parallel(rank, size).rows(count) for rank in range(size)]
    assert [i for part in slices for i in range(count)[part]] == list(range(count))
    lengths = [len(range(count)[part]) for part in slices]
    assert max(lengths) - min(lengths) <= 1


def test_loss_divisor_counts_loss_values_and_only_unmasked_ones():
    loss = SimpleNamespace(reduction="sum_over_batch_size")
    assert steps.loss_divisor(loss, None, np.zeros((5, 3)), None) == 5
    assert steps.loss_divisor(loss, None, np.zeros(5), None) == 5
    assert steps.loss_divisor(loss, None, np.zeros((5, 7, 3)), None) == 35
    mask = np.zeros((5, 7), bool)
    mask[:, :2] = True
    assert steps.loss_divisor(loss, None, np.zeros((5, 7, 3)), mask) == 10
    labels = np.zeros((5, 7), np.int32)
    labels[0, 0] = 2
    ignoring = SimpleNamespace(reduction="sum_over_batch_size", ignore_class=2)
    assert steps.loss_divisor(ignoring, labels, np.zeros((5, 7, 3)), mask) == 9
    assert steps.loss_divisor(ignoring, labels[..., None], np.zeros((5, 7, 3)), None) == 34
    with pytest.raises(ValueError, match="reduction 'sum'"):
        steps.loss_divisor(SimpleNamespace(reduction="sum"), None, np.zeros((5, 3)), None)
