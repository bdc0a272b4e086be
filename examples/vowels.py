"""Tell nine speakers apart from one vowel each: an LSTM over variable-length, 12-channel speech frames, with Masking.

Data: UCI's Japanese Vowels (Kudo, Toyama and Shimbo, 1999; CC BY 4.0): nine men each say "ae"; every utterance
is 7 to 29 frames of 12 LPC cepstrum coefficients. 270 training and 370 test utterances, as the UEA archive
splits them, shipped inside the sktime wheel (BSD-3-Clause) as sktime/datasets/data/JapaneseVowels/*.ts.
Nothing is downloaded. Install: pip install ".[examples]"

Shape: many-to-one on signals. Utterances are zero-padded to 29 frames; Masking skips the padding, so the LSTM's
last state is the one after each utterance's own last frame.
Baselines: the majority class; 1-nearest-neighbour with Euclidean distance on the same padded series
(computed here); and the 94.1 % that Kudo et al. report for their passing-through-regions classifier, as
cited by the UCI repository's page for the data set.

    python examples/vowels.py            # under a minute on 2 cores
    python examples/vowels.py --quick    # a few seconds (what CI runs)
"""
import argparse
import hashlib
import importlib.util
import pathlib
import sys
import time

import numpy as np

try:
    import matplotlib
except ImportError as missing:
    sys.exit(f"vowels.py needs the examples extra ({missing.name} is missing): pip install \".[examples]\"")

import rnnkit as keras

SHA256 = {"TRAIN": "68a430eabd919cc77f40b1f5f3bc0dcafacc1486bca9260785aeb7d262cc78cd",
          "TEST": "b3d41d6a0ca3bcad3afb9ca7d4365382aa51341e2e58bae2a574babdda5b9462"}
FRAMES, SPEAKERS = 29, 9


def load_split(split):
    """([utterance (frames, 12)], speaker 0..8) from sktime's .ts file: one line per utterance, channels
    separated by ':', frames by ',', the label last."""
    # find_spec locates the wheel's files without importing sktime (a large import this example does not need).
    spec = importlib.util.find_spec("sktime")
    if spec is None:
        sys.exit("vowels.py needs the examples extra (sktime is missing): pip install \".[examples]\"")
    path = pathlib.Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "JapaneseVowels"
    raw = (path / f"JapaneseVowels_{split}.ts").read_bytes()
    if hashlib.sha256(raw).hexdigest() != SHA256[split]:
        sys.exit(f"vowels.py: sktime's JapaneseVowels_{split}.ts differs from the file this example was checked on")
    body = raw.decode("ascii").split("@data", 1)[1]
    series, labels = [], []
    for line in body.split():
        *channels, label = line.split(":")
        series.append(np.array([[float(v) for v in channel.split(",")] for channel in channels], np.float32).T)
        labels.append(int(label) - 1)
    return series, np.array(labels)


def pad(series, mean, std):
    batch = np.zeros((len(series), FRAMES, 12), np.float32)  # 0.0 marks padding for Masking
    for row, utterance in zip(batch, series):
        row[:len(utterance)] = (utterance - mean) / std
    return batch


def build_model(units):
    model = keras.Sequential([
        keras.Input(shape=(FRAMES, 12)),
        keras.layers.Masking(mask_value=0.0),
        keras.layers.LSTM(units),
        keras.layers.Dense(SPEAKERS, activation="softmax"),
    ], name="speaker_lstm")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def plot_confusion(path, truth, predicted):
    matplotlib.use("Agg")  # files only: the example must run without a display
    import matplotlib.pyplot as plt

    counts = np.zeros((SPEAKERS, SPEAKERS), int)
    np.add.at(counts, (truth, predicted), 1)
    figure, axes = plt.subplots(figsize=(5, 4.5))
    axes.imshow(counts, cmap="Blues")
    for (i, j), count in np.ndenumerate(counts):
        if count:
            axes.text(j, i, count, ha="center", va="center", fontsize=8,
                      color="white" if count > counts.max() / 2 else "black")
    ticks = range(SPEAKERS)
    axes.set(xticks=ticks, yticks=ticks, xticklabels=[t + 1 for t in ticks], yticklabels=[t + 1 for t in ticks],
             xlabel="predicted speaker", ylabel="true speaker", title="Japanese Vowels, test set")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run, seconds instead of a minute")
    parser.add_argument("--output-dir", default=".", help="where the confusion matrix picture goes")
    args = parser.parse_args()
    epochs, units = (15, 32) if args.quick else (40, 64)
    keras.utils.set_random_seed(17)
    output = pathlib.Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)

    train_series, train_labels = load_split("TRAIN")
    test_series, test_labels = load_split("TEST")
    lengths = [len(s) for s in train_series + test_series]
    print(f"Japanese Vowels: {len(train_series)} train, {len(test_series)} test utterances of "
          f"{min(lengths)}-{max(lengths)} frames x 12 coefficients")
    frames = np.concatenate(train_series)
    mean, std = frames.mean(axis=0), frames.std(axis=0)  # per coefficient, from the training frames only
    x_train, x_test = pad(train_series, mean, std), pad(test_series, mean, std)

    model = build_model(units)
    model.summary()
    started = time.perf_counter()
    model.fit(x_train, train_labels, epochs=epochs, batch_size=16, verbose=2 if args.quick else 1)
    print(f"trained {epochs} epochs in {time.perf_counter() - started:.1f} s")

    predicted = model.predict(x_test, verbose=0).argmax(axis=-1)
    accuracy = np.mean(predicted == test_labels)
    majority = np.bincount(test_labels).max() / len(test_labels)
    distances = ((x_test.reshape(len(x_test), 1, -1) - x_train.reshape(1, len(x_train), -1)) ** 2).sum(axis=-1)
    nearest = np.mean(train_labels[distances.argmin(axis=1)] == test_labels)
    print(f"test accuracy: LSTM {accuracy:.3f}; majority class {majority:.3f}; 1-NN Euclidean {nearest:.3f}; "
          f"Kudo et al. (1999) 0.941")
    plot_confusion(output / "vowels_confusion.png", test_labels, predicted)
    print(f"saved {output / 'vowels_confusion.png'}")


if __name__ == "__main__":
    main()
