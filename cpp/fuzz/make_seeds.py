"""Writes the seed corpus: small valid .rnnkit files from the Python writer (python/rnnkit/saving/file_format.py).

Usage: python cpp/fuzz/make_seeds.py <output directory>
"""
import importlib.util
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load_writer():
    # Loaded by path: seeds need only numpy, not the compiled rnnkit extension.
    spec = importlib.util.spec_from_file_location("file_format", ROOT / "python/rnnkit/saving/file_format.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_model_file


def seeds():
    rng = np.random.default_rng(0)
    yield "empty", {}, {}
    counter = "optimizer/0000/iteration"
    yield "scalar_int", {counter: np.array(3, np.int64)}, {"optimizer_variables": [counter]}
    dense = {"weights/0000/dense/kernel": rng.standard_normal((4, 2)), "weights/0001/dense/bias": np.zeros(2)}
    yield "dense", dense, {"weights": list(dense), "model_config": {"class_name": "Sequential", "config": {
        "name": "s", "layers": [{"class_name": "Dense", "config": {"units": 2, "activation": "linear"}}]}},
        "compile_config": {"optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.001}}, "loss": "mse"}}
    lstm = {"weights/0000/lstm/kernel": rng.standard_normal((3, 8)), "zero_size": np.zeros((0, 5)),
            "unicodé/ключ": np.ones((1, 1, 2))}
    yield "lstm_unicode", lstm, {"weights": list(lstm), "model_config": {"name": "é\u2713\U0001F600", "x": [[], {}]}}


def main(directory):
    write_model_file = load_writer()
    out = pathlib.Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    for name, tensors, fields in seeds():
        with open(out / f"{name}.rnnkit", "wb") as stream:
            write_model_file(stream, tensors, **fields)


if __name__ == "__main__":
    main(sys.argv[1])
