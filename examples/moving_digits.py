"""Predict the next frame of a video with ConvLSTM2D: handwritten digits gliding and bouncing in a box.

Data: the 1,797 handwritten 8×8 digits of the UCI ML repository (Alpaydin and Kaynak, CC BY 4.0), shipped inside
scikit-learn (BSD-3-Clause) as `sklearn.datasets.load_digits`; nothing is downloaded. Each video puts one digit in
a 16×16 box and moves it a pixel a frame in a random direction, bouncing off the walls: Moving MNIST's recipe
(Srivastava et al., 2015) on these digits. Test videos use digits the model never saw.
Install: pip install ".[examples]"   (scikit-learn and matplotlib)

Shape: many-to-many over frames. Frames 1..T-1 go in, frames 2..T come out, one prediction per step: a
ConvLSTM2D stack keeps, at every pixel, an LSTM state fed by convolutions of its neighbourhood, so it can carry
where the digit is heading. Against it: repeating the last frame (right about everything but the motion).

    python examples/moving_digits.py            # a few minutes on 2 cores
    python examples/moving_digits.py --quick    # half a minute (what CI runs)
"""
import argparse
import pathlib
import sys
import time

import numpy as np

try:
    import matplotlib
    from sklearn.datasets import load_digits
except ImportError as missing:
    sys.exit(f"moving_digits.py needs the examples extra ({missing.name} is missing): pip install \".[examples]\"")

import rnnkit as keras

BOX, FRAMES = 16, 10


def videos(images, count, rng):
    """(count, FRAMES, BOX, BOX, 1) videos of the given 8×8 images moving a pixel a frame, bouncing off the walls."""
    out = np.zeros((count, FRAMES, BOX, BOX, 1), np.float32)
    room = BOX - 8
    for v in range(count):
        digit = images[rng.integers(len(images))]
        (row, col), (d_row, d_col) = rng.integers(0, room + 1, 2), rng.choice([-1, 1], 2)
        for t in range(FRAMES):
            out[v, t, row:row + 8, col:col + 8, 0] = digit
            if not 0 <= row + d_row <= room:
                d_row = -d_row
            if not 0 <= col + d_col <= room:
                d_col = -d_col
            row, col = row + d_row, col + d_col
    return out


def build_model(filters):
    model = keras.Sequential([
        keras.Input((FRAMES - 1, BOX, BOX, 1)),
        keras.layers.ConvLSTM2D(filters, 3, padding="same", return_sequences=True),
        keras.layers.ConvLSTM2D(filters, 3, padding="same", return_sequences=True),
        keras.layers.Dense(1, activation="sigmoid"),  # per pixel and frame: the next frame's intensity
    ])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="binary_crossentropy")
    return model


def save_strip(path, inputs, truth, predicted):
    """Rows: the input frames, the true next frames, the predicted ones (one test video)."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, FRAMES - 1, figsize=(FRAMES - 1, 3.3))
    for row, (label, frames) in enumerate([("input", inputs), ("next", truth), ("ConvLSTM", predicted)]):
        for t in range(FRAMES - 1):
            axes[row, t].imshow(frames[t, :, :, 0], cmap="gray", vmin=0, vmax=1)
            axes[row, t].set_xticks([]), axes[row, t].set_yticks([])
        axes[row, 0].set_ylabel(label)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run, as CI does")
    parser.add_argument("--output-dir", default=".", help="where the model and the picture go")
    args = parser.parse_args()
    out = pathlib.Path(args.output_dir)
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)

    digits = load_digits().images.astype(np.float32) / 16.0
    order = rng.permutation(len(digits))
    train_digits, test_digits = digits[order[:1400]], digits[order[1400:]]
    train_count, epochs, filters = (768, 10, 16) if args.quick else (2048, 16, 32)
    train, test = videos(train_digits, train_count, rng), videos(test_digits, 256, rng)
    print(f"{train_count} training and 256 test videos of {FRAMES} frames of {BOX}x{BOX}; test digits unseen")

    model = build_model(filters)
    model.summary()
    start = time.perf_counter()
    model.fit(train[:, :-1], train[:, 1:], batch_size=32, epochs=epochs, validation_split=0.1, verbose=2)
    print(f"trained in {time.perf_counter() - start:.1f} s")

    predicted = model.predict(test[:, :-1], batch_size=64, verbose=0)
    truth = test[:, 1:]
    print(f"test MSE per pixel, ConvLSTM2D next frame {np.mean((predicted - truth) ** 2):.5f}")
    print(f"test MSE per pixel, baseline: repeat the last frame {np.mean((test[:, :-1] - truth) ** 2):.5f}")
    model.save(out / "moving_digits.keras")
    save_strip(out / "moving_digits.png", test[0, :-1], truth[0], predicted[0])
    print(f"wrote {out / 'moving_digits.keras'} and {out / 'moving_digits.png'}")


if __name__ == "__main__":
    main()
