"""The C++ core as an installed CMake package, used by the standalone project in examples/cpp/.

One module-scoped build: `cmake --install` of the build tree this rnnkit._core came from into a temporary prefix
(or, for a pip-installed rnnkit, the package it ships), then examples/cpp configured with find_package(rnnkit)
against it. The `predict` program must reproduce Python's predictions for models saved by Python,
`train_lstm` must show its loss falling and save a model Python loads, and `classify` must turn raw text into the
token ids Python's Tokenizer and pad_sequences make and predict what Python predicts.
"""
import importlib.util
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import rnnkit
from rnnkit import layers, models, saving
from rnnkit.__main__ import cmake_dir
from rnnkit.preprocessing.text import Tokenizer, tokenizer_from_json

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "cpp"


def missing_toolchain():
    if shutil.which("cmake") is None:
        return "cmake is not on PATH"
    if not (os.environ.get("CXX") or any(shutil.which(c) for c in ("c++", "g++", "clang++"))):
        return "no C++ compiler (c++, g++ or clang++) on PATH"
    return None


pytestmark = pytest.mark.skipif(missing_toolchain() is not None, reason=str(missing_toolchain()))


def run(command, **kwargs):
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def package_dir(workdir):
    """Where rnnkitConfig.cmake lives: installed from the developer build tree into `workdir`, or the wheel's."""
    build_tree = pathlib.Path(rnnkit._core.__file__).resolve().parents[2]
    if (build_tree / "cmake_install.cmake").exists():
        prefix = workdir / "prefix"
        run(["cmake", "--install", build_tree, "--prefix", prefix])
        found = cmake_dir(prefix)
    else:
        found = cmake_dir(pathlib.Path(rnnkit.__file__).parent)
    if found is None:
        pytest.skip("this rnnkit has neither a CMake build tree nor a shipped CMake package")
    return found


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("cpp_package")
    config_dir = package_dir(workdir)
    assert (config_dir / "rnnkitConfigVersion.cmake").exists()
    assert (config_dir.parents[2] / "include" / "rnnkit" / "model.hpp").exists()
    assert list(config_dir.parents[1].glob("*rnnkit_core*"))
    build = workdir / "examples"
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    run(["cmake", "-S", EXAMPLES, "-B", build, *generator, "-DCMAKE_BUILD_TYPE=Release",
         f"-DCMAKE_PREFIX_PATH={config_dir}"])
    run(["cmake", "--build", build, "--parallel", "2"])
    return {"predict": build / "predict", "train_lstm": build / "train_lstm", "classify": build / "classify",
            "workdir": workdir}


def random_weights(model, seed):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.5 for w in model.get_weights()])
    return model


def parse_rows(text):
    return np.array([[float(v) for v in line.split()] for line in text.strip().splitlines()], np.float32)


def test_cmake_dir_finds_the_package_config(tmp_path):
    assert cmake_dir(tmp_path) is None
    config = tmp_path / "lib" / "cmake" / "rnnkit"
    config.mkdir(parents=True)
    (config / "rnnkitConfig.cmake").write_text("")
    assert cmake_dir(tmp_path) == config


def test_predict_program_matches_python_predict(programs, tmp_path):
    model = random_weights(models.Sequential([layers.Input(shape=(5, 3)), layers.LSTM(4, return_sequences=True),
                                              layers.Bidirectional(layers.GRU(3)),
                                              layers.Dense(2, activation="tanh")]), seed=1)
    path = tmp_path / "model.rnnkit"
    saving.save_model(model, str(path))
    x = np.random.default_rng(2).standard_normal((4, 5, 3)).astype(np.float32)
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("\n".join(" ".join(repr(float(v)) for v in row) for row in x.reshape(4, -1)))
    printed = parse_rows(run([programs["predict"], path, "--input", inputs]))
    np.testing.assert_allclose(printed, model.predict(x, verbose=0), rtol=1e-5, atol=1e-7)

    one = ",".join(repr(float(v)) for v in x[0].ravel())  # one example on the command line
    np.testing.assert_allclose(parse_rows(run([programs["predict"], path, one])), model.predict(x[:1], verbose=0),
                               rtol=1e-5, atol=1e-7)


def test_predict_program_with_any_sequence_length_and_errors(programs, tmp_path):
    model = random_weights(models.Sequential([layers.Input(shape=(None, 2)), layers.SimpleRNN(3),
                                              layers.Dense(1)]), seed=3)
    path = tmp_path / "ragged.rnnkit"
    saving.save_model(model, str(path))
    x = np.random.default_rng(4).standard_normal((2, 7, 2)).astype(np.float32)
    values = [repr(float(v)) for v in x.ravel()]
    printed = parse_rows(run([programs["predict"], path, "--shape", "7,2", *values]))
    np.testing.assert_allclose(printed, model.predict(x, verbose=0), rtol=1e-5, atol=1e-7)

    missing_shape = subprocess.run([str(programs["predict"]), str(path), *values], capture_output=True, text=True)
    assert missing_shape.returncode == 1 and "--shape" in missing_shape.stderr
    partial = subprocess.run([str(programs["predict"]), str(path), "--shape", "7,2", *values[:-1]],
                             capture_output=True, text=True)
    assert partial.returncode == 1 and "not a whole number of examples" in partial.stderr
    (tmp_path / "broken.rnnkit").write_bytes(b"RNNKIT\0\1")
    broken = subprocess.run([str(programs["predict"]), str(tmp_path / "broken.rnnkit"), "1"],
                            capture_output=True, text=True)
    assert broken.returncode == 1 and "broken.rnnkit" in broken.stderr


def test_model_trained_by_the_python_example_predicts_the_same_in_cpp(programs, tmp_path):
    printed_by_python = run([sys.executable, EXAMPLES / "train_and_save.py", tmp_path, "--epochs", "2"],
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    python_rows = parse_rows("\n".join(printed_by_python.strip().splitlines()[1:]))
    cpp_rows = parse_rows(run([programs["predict"], tmp_path / "sine.rnnkit", "--input", tmp_path / "sine_inputs.txt"]))
    assert cpp_rows.shape == (4, 1)
    np.testing.assert_allclose(cpp_rows, python_rows, rtol=1e-5, atol=1e-7)


def test_train_lstm_program_loss_falls_and_python_loads_the_result(programs, tmp_path):
    saved = tmp_path / "adding.rnnkit"
    output = run([programs["train_lstm"], "--steps", "300", "--report-every", "100", "--save", saved])
    losses = [float(v) for v in re.findall(r"^step \d+ loss ([0-9.eE+-]+)$", output, re.MULTILINE)]
    assert len(losses) == 4, output
    assert all(np.isfinite(losses))
    assert losses[-1] < 0.2 * losses[0], output

    # The model trained in C++ loads in Python and predicts what the C++ predict program prints.
    model = saving.load_model(str(saved))
    x = np.zeros((3, 10, 2), np.float32)
    x[:, :, 0] = np.random.default_rng(5).uniform(size=(3, 10))
    x[:, [1, 6], 1] = 1.0
    cpp_rows = parse_rows(run([programs["predict"], saved, *[repr(float(v)) for v in x.ravel()]]))
    np.testing.assert_allclose(cpp_rows, model.predict(x, verbose=0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(cpp_rows[:, 0], x[:, 1, 0] + x[:, 6, 0], atol=0.2)  # it learned the task


def classify(programs, files, sentences=(), stdin=None):
    """classify's rows as (probability, label, sentence); the sentence may hold anything but a newline."""
    output = run([programs["classify"], *files, *sentences], input=stdin)
    rows = [line.split("\t", 2) for line in output.split("\n")[:-1]]
    probabilities = np.array([float(row[0]) for row in rows], np.float32)
    return probabilities, [row[1] for row in rows], [row[2] for row in rows]


def python_probabilities(files, sentences):
    """What Python predicts from the same three files: Tokenizer, then pad_sequences, then model.predict."""
    model_path, tokenizer_path, preprocessing_path = files
    tokenizer = tokenizer_from_json(tokenizer_path.read_text(encoding="utf-8"))
    padding = {k: v for k, v in json.loads(preprocessing_path.read_text()).items() if k != "labels"}
    x = rnnkit.utils.pad_sequences(tokenizer.texts_to_sequences(sentences), **padding)
    return saving.load_model(str(model_path)).predict(x, verbose=0)[:, 0]


def test_classify_program_matches_python_on_the_files_of_the_sentiment_example(programs, tmp_path):
    spec = importlib.util.spec_from_file_location("sentiment_example", ROOT / "examples" / "sentiment.py")
    sentiment = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sentiment)
    texts = ["I love this airline, great crew!", "my flight got cancelled again", "worst service ever",
             "thanks for the upgrade :)", "lost my bag, no help at all", "the café at the gate was lovely",
             "été à Paris: crème brûlée", "café, été, café!", "delayed delayed delayed", "amazing views and a smooth landing"]
    # num_words=12 keeps only the 11 most frequent words: the rest must become <unk> in C++ as in Python.
    tokenizer = Tokenizer(num_words=12, oov_token="<unk>")
    tokenizer.fit_on_texts(texts)
    model = sentiment.build_lstm(4)
    x = rnnkit.utils.pad_sequences(tokenizer.texts_to_sequences(texts), **sentiment.PADDING)
    model.fit(x, np.array([1, 0, 0, 1, 0, 1, 1, 1, 0, 1], np.float32)[:, None], epochs=2, verbose=0)
    sentiment.save(tmp_path, model, tokenizer)
    files = [tmp_path / "sentiment_bilstm.rnnkit", tmp_path / "sentiment_tokenizer.json",
             tmp_path / "sentiment_preprocessing.json"]

    sentences = ["I LOVE this airline!!!", "My flight... got CANCELLED (again)?!", "CAFÉ ÉTÉ — Crème Brûlée",
                 "xylophone quux zebra", " ".join(["delayed again and my bag lost"] * 8), "", "!!! ... ???",
                 "thanks\tfor\tthe upgrade"]
    assert len(sentences[4].split()) > sentiment.MAXLEN
    expected = python_probabilities(files, sentences)
    probabilities, labels, echoed = classify(programs, files, sentences)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5, atol=1e-7)
    assert labels == [sentiment.LABELS[int(p > 0.5)] for p in probabilities]
    assert echoed == sentences


def test_classify_program_other_tokenizer_settings_from_stdin_and_errors(programs, tmp_path):
    # No oov_token (unknown words are dropped), no lower-casing, custom filters and split, padding "pre" and
    # truncating "post", and a model that accepts any sequence length.
    tokenizer = Tokenizer(oov_token=None, lower=False, filters="!.é", split="/")
    tokenizer.fit_on_texts(["Red/green/blue", "red/RED/Blue!green", "yellow.red/café"])
    model = random_weights(models.Sequential([layers.Input(shape=(None,)), layers.Embedding(10, 3, mask_zero=True),
                                              layers.GRU(2), layers.Dense(1, activation="sigmoid")]), seed=6)
    files = [tmp_path / "colours.rnnkit", tmp_path / "tokenizer.json", tmp_path / "preprocessing.json"]
    saving.save_model(model, str(files[0]))
    files[1].write_text(tokenizer.to_json(), encoding="utf-8")
    files[2].write_text(json.dumps({"maxlen": 4, "padding": "pre", "truncating": "post", "labels": ["no", "yes"]}))

    sentences = ["red/RED/Red", "Blue!!green.red/purple", "caf/red/green/blue/red/red", "purple", "red green"]
    expected = python_probabilities(files, sentences)
    probabilities, labels, echoed = classify(programs, files,
                                             stdin="".join(s + "\r\n" for s in sentences[:2]) +
                                             "".join(s + "\n" for s in sentences[2:]))
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5, atol=1e-7)
    assert labels == [["no", "yes"][int(p > 0.5)] for p in probabilities]
    assert echoed == sentences

    def failure(*arguments, stdin=b""):
        result = subprocess.run([str(programs["classify"]), *map(str, arguments)], input=stdin, capture_output=True)
        assert result.returncode == 1, result
        return result.stderr.decode()

    assert "line 2 is not valid UTF-8" in failure(*files, stdin=b"red\n\xff\n")
    char_level = tmp_path / "char_level.json"
    char_level.write_text(Tokenizer(char_level=True).to_json())
    assert "char_level" in failure(files[0], char_level, files[2], "red")
    files[2].write_text(json.dumps({"maxlen": 4, "padding": "middle", "truncating": "post", "labels": ["a", "b"]}))
    assert "expected \"pre\" or \"post\"" in failure(*files, "red")
