"""Trains a small LSTM forecaster in Python and saves it for the C++ `predict` program.

    python examples/cpp/train_and_save.py OUT_DIR [--epochs N]

writes OUT_DIR/sine.rnnkit (the model: 12 past values of a noisy sine wave -> the next value) and
OUT_DIR/sine_inputs.txt (four windows to predict on, one per line), then prints Python's predictions for them so
they can be compared with `predict OUT_DIR/sine.rnnkit --input OUT_DIR/sine_inputs.txt`.
"""
import argparse
import pathlib

import numpy as np

import rnnkit
from rnnkit import layers, models, saving

WINDOW = 12


def windows(count, rng):
    starts = rng.uniform(0, 2 * np.pi, size=(count, 1))
    t = starts + 0.3 * np.arange(WINDOW + 1)
    series = np.sin(t) + 0.05 * rng.standard_normal(t.shape)
    return series[:, :WINDOW, None].astype(np.float32), series[:, WINDOW:].astype(np.float32)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir", type=pathlib.Path)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    rnnkit.random.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = windows(512, rng)
    model = models.Sequential([layers.Input(shape=(WINDOW, 1)), layers.LSTM(16), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, y, epochs=args.epochs, batch_size=32, verbose=0)
    print(f"trained {args.epochs} epochs: loss {history.history['loss'][0]:.4f} -> {history.history['loss'][-1]:.4f}")
    saving.save_model(model, str(args.out_dir / "sine.rnnkit"))

    samples, _ = windows(4, rng)
    (args.out_dir / "sine_inputs.txt").write_text(
        "\n".join(" ".join(f"{v:.9g}" for v in window.ravel()) for window in samples) + "\n")
    for row in model.predict(samples, verbose=0):
        print(" ".join(f"{v:.9g}" for v in row))


if __name__ == "__main__":
    main()
