"""Run-time configuration: ISA dispatch and thread count, as users set them."""
import json
import os
import subprocess
import sys

import pytest

import rnnkit

ISA_ORDER = ["generic", "avx2", "avx512"]


def run_config(env_overrides):
    env = dict(os.environ, **env_overrides)
    proc = subprocess.run(
        [sys.executable, "-m", "rnnkit", "--config"], env=env, capture_output=True, text=True, timeout=120
    )
    return proc


def test_config_reports_isa_threads_and_build():
    cfg = rnnkit.config()
    assert cfg["isa"] in ISA_ORDER
    assert ISA_ORDER.index(cfg["isa"]) <= ISA_ORDER.index(cfg["detected_isa"])
    assert cfg["num_threads"] >= 1
    assert isinstance(cfg["openmp"], bool)
    assert "compiler=" in cfg["build"]


@pytest.mark.parametrize("isa", ISA_ORDER)
def test_rnnkit_isa_env_forces_each_supported_path(isa):
    best = rnnkit.config()["detected_isa"]
    proc = run_config({"RNNKIT_ISA": isa})
    if ISA_ORDER.index(isa) > ISA_ORDER.index(best):
        assert proc.returncode != 0
        assert "not supported by this CPU" in proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["isa"] == isa


def test_unknown_isa_name_is_a_clear_error():
    proc = run_config({"RNNKIT_ISA": "sse9"})
    assert proc.returncode != 0
    assert "RNNKIT_ISA='sse9'" in proc.stderr


def test_thread_count_from_env_and_setter():
    proc = run_config({"RNNKIT_NUM_THREADS": "3"})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["num_threads"] == 3
    before = rnnkit.get_num_threads()
    try:
        rnnkit.set_num_threads(1)
        assert rnnkit.config()["num_threads"] == 1
    finally:
        rnnkit.set_num_threads(before)


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_set_num_threads_rejects_non_positive_ints(bad):
    with pytest.raises(ValueError, match="positive int"):
        rnnkit.set_num_threads(bad)
