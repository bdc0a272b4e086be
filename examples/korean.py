"""Write Korean one Hangul syllable at a time: a character-level GRU on the Constitution of the Republic of Korea.

Data: the Constitution (대한민국헌법, kolaw/constitution.txt) and ten National Assembly bills (kobill/*.txt),
shipped inside the konlpy 0.6.0 wheel (GPL-3.0) under konlpy/data/corpus/. Statutes and bills are public works,
not protected by copyright in Korea (Copyright Act, article 7). Nothing is downloaded.
Install: pip install ".[examples]"

Shape: many-to-many, like textgen.py: the Tokenizer in char_level=True mode makes every Hangul syllable (and
space, digit, punctuation) one token, and the model predicts the next syllable at every step.

    python examples/korean.py            # one to two minutes on 2 cores
    python examples/korean.py --quick    # a few seconds (what CI runs)
"""
import argparse
import importlib.util
import pathlib
import re
import sys
import time

import numpy as np

import rnnkit as keras
from rnnkit.preprocessing.text import Tokenizer
from textgen import BATCH, SampleAfterEpoch, build_model, shuffled_windows

SEED_TEXT = "대한민국은 "


def load_corpus():
    # find_spec finds the wheel's files without importing konlpy, which would start a Java virtual machine.
    spec = importlib.util.find_spec("konlpy")
    if spec is None:
        sys.exit("korean.py needs the examples extra (konlpy is missing): pip install \".[examples]\"")
    corpus = pathlib.Path(spec.submodule_search_locations[0]) / "data" / "corpus"
    files = [corpus / "kolaw" / "constitution.txt", *sorted((corpus / "kobill").glob("*.txt"))]
    text = "\n".join(" ".join(f.read_text(encoding="utf-8").split()) for f in files)
    return re.sub(r"([-=_.·])\1{2,}", r"\1", text)  # the bills draw tables with long runs of dashes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run on the Constitution's first part")
    args = parser.parse_args()
    keras.utils.set_random_seed(13)
    text = load_corpus()
    epochs, units, text = (4, 64, text[:20000]) if args.quick else (8, 128, text)

    tokenizer = Tokenizer(char_level=True, lower=False, filters="")
    tokenizer.fit_on_texts([text])
    ids = np.array(tokenizer.texts_to_sequences([text])[0], np.int32)
    vocabulary = len(tokenizer.word_index) + 1
    hangul = sum("가" <= c <= "힣" for c in tokenizer.word_index)
    print(f"Korean statutes: {len(text)} characters, {vocabulary - 1} distinct ({hangul} Hangul syllables)")

    x, y = shuffled_windows(ids)
    model = build_model(vocabulary, units, cell=keras.layers.GRU)
    sampler = build_model(vocabulary, units, batch_size=1, stateful=True, steps=1, cell=keras.layers.GRU)
    model.summary()
    started = time.perf_counter()
    history = model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=2 if args.quick else 1,
                        callbacks=[SampleAfterEpoch(sampler, tokenizer, SEED_TEXT, 60 if args.quick else 150)])
    print(f"trained {epochs} epochs in {time.perf_counter() - started:.1f} s")
    frequencies = np.bincount(ids)[1:] / len(ids)  # every character of the vocabulary occurs at least once
    losses = history.history["loss"]
    print(f"training loss {losses[0]:.3f} -> {losses[-1]:.3f} nats/char; character-frequency baseline "
          f"{-(frequencies * np.log(frequencies)).sum():.3f}")


if __name__ == "__main__":
    main()
