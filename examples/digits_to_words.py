"""Spell out handwritten digits: an 8x8 image goes in, its English name comes out one letter at a time.

Data: the 1,797 handwritten 8x8 digits of UCI's "Optical Recognition of Handwritten Digits" (Alpaydin and
Kaynak, CC BY 4.0) shipped inside scikit-learn (BSD-3-Clause) as sklearn.datasets.load_digits; nothing is
downloaded. Install: pip install ".[examples]"

Shape: one-to-many. The image becomes the decoder GRU's initial state; the decoder reads the letter it wrote
last ("<" starts) and writes the next, until ">" ends the word. Training feeds it the true previous letter
(teacher forcing); at test time it feeds back its own greedy choice.

    python examples/digits_to_words.py            # under a minute on 2 cores
    python examples/digits_to_words.py --quick    # a few seconds (what CI runs)
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
    sys.exit(f"digits_to_words.py needs the examples extra ({missing.name} is missing): pip install \".[examples]\"")

import rnnkit as keras

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
START, END = "<", ">"
LETTERS = sorted(set("".join(NAMES)) | {START, END})
STEPS = max(map(len, NAMES)) + 1  # the longest name and its end mark
INDEX = {letter: i + 1 for i, letter in enumerate(LETTERS)}  # 0 pads after the end mark


def encode(words):
    """(decoder inputs "<word" and targets "word>") as padded letter ids."""
    inputs = keras.utils.pad_sequences([[INDEX[c] for c in START + w] for w in words], maxlen=STEPS, padding="post")
    targets = keras.utils.pad_sequences([[INDEX[c] for c in w + END] for w in words], maxlen=STEPS, padding="post")
    return inputs, targets


def build_model(units):
    image = keras.Input(shape=(64,), name="image")
    previous = keras.Input(shape=(STEPS,), name="previous_letters")
    state = keras.layers.Dense(units, activation="tanh", name="image_to_state")(image)
    letters = keras.layers.Embedding(len(LETTERS) + 1, 16)(previous)
    sequence = keras.layers.GRU(units, return_sequences=True)(letters, initial_state=state)
    outputs = keras.layers.Dense(len(LETTERS) + 1, activation="softmax")(sequence)  # applied at every step
    model = keras.Model([image, previous], outputs, name="digit_speller")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3), loss="sparse_categorical_crossentropy")
    return model


def greedy_decode(model, images):
    """Writes one letter per step for every image at once, feeding back the most likely letter."""
    previous = np.zeros((len(images), STEPS), np.int32)
    previous[:, 0] = INDEX[START]
    for step in range(STEPS - 1):
        probabilities = model.predict([images, previous], verbose=0)
        previous[:, step + 1] = probabilities[:, step].argmax(axis=-1)
    last = model.predict([images, previous], verbose=0)[:, -1].argmax(axis=-1)
    letters = {i: letter for letter, i in INDEX.items()}
    words = []
    for row in np.column_stack([previous[:, 1:], last]):
        word = "".join(letters.get(int(i), "?") for i in row)
        words.append(word.split(END)[0])
    return words


def plot(path, images, words):
    matplotlib.use("Agg")  # files only: the example must run without a display
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(3, 8, figsize=(9, 4))
    for axis, image, word in zip(axes.flat, images, words):
        axis.imshow(image.reshape(8, 8), cmap="gray_r")
        axis.set_title(word, fontsize=10)
        axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run, seconds instead of a minute")
    parser.add_argument("--output-dir", default=".", help="where the picture goes")
    args = parser.parse_args()
    epochs, units = (8, 32) if args.quick else (40, 64)
    keras.utils.set_random_seed(7)
    output = pathlib.Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)

    digits = load_digits()
    images = (digits.data / 16.0).astype(np.float32)  # grey levels 0..16
    order = keras.random.generator().permutation(len(images))
    test, train = order[:360], order[360:]
    words = [NAMES[d] for d in digits.target]
    inputs, targets = encode(words)
    print(f"digits: {len(images)} images of 8x8 (sklearn.datasets.load_digits); train {len(train)}, test {len(test)}")

    model = build_model(units)
    model.summary()
    started = time.perf_counter()
    model.fit([images[train], inputs[train]], targets[train], epochs=epochs, batch_size=32,
              verbose=2 if args.quick else 1)
    print(f"trained {epochs} epochs in {time.perf_counter() - started:.1f} s")

    written = greedy_decode(model, images[test])
    truth = [words[i] for i in test]
    exact = np.mean([w == t for w, t in zip(written, truth)])
    most_common = max(set(truth), key=truth.count)
    print(f"test exact-match accuracy: {exact:.3f} (guessing the most common name, {most_common!r}: "
          f"{truth.count(most_common) / len(truth):.3f})")
    for w, t in list(zip(written, truth))[:8]:
        print(f"  wrote {w!r:9} for a {t}")
    plot(output / "digits_to_words.png", images[test], written)
    print(f"saved {output / 'digits_to_words.png'}")


if __name__ == "__main__":
    main()
