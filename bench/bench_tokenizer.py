"""Time Tokenizer.fit_on_texts + texts_to_sequences on synthetic short documents; prints seconds.

Usage: PYTHONPATH=build/prep/python:python python bench/bench_tokenizer.py [--documents 100000]
"""
import argparse
import time

import numpy as np

from rnnkit.preprocessing.text import Tokenizer


def synthetic_documents(count, vocabulary_size=5000, words_per_document=(5, 20), seed=0):
    rng = np.random.default_rng(seed)
    vocabulary = np.array([f"word{i}" for i in range(vocabulary_size)])
    # Zipf-like frequencies, as in real text, so the sort by frequency has work to do.
    weights = 1.0 / np.arange(1, vocabulary_size + 1)
    weights /= weights.sum()
    lengths = rng.integers(*words_per_document, size=count)
    words = vocabulary[rng.choice(vocabulary_size, size=int(lengths.sum()), p=weights)]
    boundaries = np.concatenate([[0], np.cumsum(lengths)])
    return [" ".join(words[boundaries[i]:boundaries[i + 1]]) + "." for i in range(count)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100_000)
    arguments = parser.parse_args()
    documents = synthetic_documents(arguments.documents)
    tokenizer = Tokenizer(num_words=2000, oov_token="<OOV>")
    started = time.perf_counter()
    tokenizer.fit_on_texts(documents)
    fitted = time.perf_counter()
    sequences = tokenizer.texts_to_sequences(documents)
    finished = time.perf_counter()
    total_words = sum(len(sequence) for sequence in sequences)
    print(f"documents={arguments.documents} words={total_words} vocabulary={len(tokenizer.word_index)}")
    print(f"fit_on_texts: {fitted - started:.3f} s")
    print(f"texts_to_sequences: {finished - fitted:.3f} s")
    print(f"total: {finished - started:.3f} s")


if __name__ == "__main__":
    main()
