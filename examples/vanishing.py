"""Vanishing gradients, measured: SimpleRNN, LSTM and GRU must remember the first symbol of a long sequence.

Task (from the course notes, generated here, no data set): each sequence is STEPS random symbols out of 4,
one-hot; the label is the first symbol, so the answer sits STEPS - 1 steps before the model must give it.
For each cell the example measures the gradient of the loss with respect to the hidden state at every step,
‖∂L/∂h_t‖, before and after training, and the test accuracy (chance: 0.25). It writes both as a PNG.

How ∂L/∂h_t is obtained with the public API: h_t (and c_t) come from running the layer with return_state=True
on the first t + 1 steps; the rest of the sequence is then run from that state as `initial_state`, and the
layer's backward pass returns the gradient with respect to that initial state, which is ∂L/∂h_t.

    python examples/vanishing.py            # under a minute on 2 cores
    python examples/vanishing.py --quick    # a few seconds (what CI runs)
"""
import argparse
import pathlib
import sys
import time

import numpy as np

try:
    import matplotlib
except ImportError as missing:
    sys.exit(f"vanishing.py needs the examples extra ({missing.name} is missing): pip install \".[examples]\"")

import rnnkit as keras

SYMBOLS = 4


def make_task(count, steps, rng):
    symbols = rng.integers(0, SYMBOLS, (count, steps))
    return np.eye(SYMBOLS, dtype=np.float32)[symbols], symbols[:, 0]


def build_model(cell, steps, units):
    model = keras.Sequential([
        keras.Input(shape=(steps, SYMBOLS)),
        cell(units, name="recurrent"),
        keras.layers.Dense(SYMBOLS, activation="softmax", name="classifier"),
    ], name=cell.__name__.lower())
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2, clipnorm=1.0),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def state_gradient_norms(model, x, y):
    """‖∂L/∂h_t‖ for t = 0 .. steps-1, averaged over the batch."""
    recurrent, classifier = model.layers
    # A twin that also returns its final states, with the same weights.
    twin = type(recurrent).from_config({**recurrent.get_config(), "return_state": True, "name": "twin"})
    twin(x[:, :1])
    twin.set_weights(recurrent.get_weights())
    loss = keras.losses.SparseCategoricalCrossentropy()

    def d_last_output(last):
        probabilities, context = classifier.forward(last, training=True)
        _, d_probabilities = loss.value_and_grad(y, probabilities)
        return classifier.backward(context, d_probabilities)[0]

    steps = x.shape[1]
    norms = np.zeros(steps)
    for t in range(steps - 1):
        states = twin(x[:, :t + 1])[1:]                     # h_t (and c_t) after step t
        outputs, context = twin.forward([x[:, t + 1:], *states], training=True)
        d_inputs, _ = twin.backward(context, [d_last_output(outputs[0])] + [None] * len(states))
        norms[t] = np.linalg.norm(d_inputs[1], axis=-1).mean()  # d_inputs = [d_x, d_h, (d_c)]
    norms[-1] = np.linalg.norm(d_last_output(twin(x)[0]), axis=-1).mean()
    return norms


def plot(path, results, steps):
    matplotlib.use("Agg")  # files only: the example must run without a display
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, (before, after, accuracy) in results.items():
        line, = left.semilogy(before, ":", label=f"{name}, untrained")
        left.semilogy(after, "-", color=line.get_color(), label=f"{name}, trained")
        right.bar(name, accuracy, color=line.get_color())
    left.set(xlabel="time step t", ylabel="‖∂L/∂h_t‖", title=f"Gradient reaching each step (of {steps})")
    left.legend(fontsize=8)
    right.axhline(1 / SYMBOLS, color="grey", linestyle=":", label="chance")
    right.set(ylim=(0, 1), ylabel="test accuracy", title="Recall the first symbol")
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter sequences, fewer examples")
    parser.add_argument("--output-dir", default=".", help="where the picture goes")
    parser.add_argument("--steps", type=int, help="sequence length (default 50, or 20 with --quick)")
    args = parser.parse_args()
    steps, count, epochs = (20, 2000, 3) if args.quick else (50, 6400, 8)
    steps = args.steps or steps
    keras.utils.set_random_seed(19)
    rng = np.random.default_rng(19)
    output = pathlib.Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    x_train, y_train = make_task(count, steps, rng)
    x_test, y_test = make_task(500, steps, rng)
    probe_x, probe_y = x_test[:64], y_test[:64]

    results = {}
    for cell in (keras.layers.SimpleRNN, keras.layers.LSTM, keras.layers.GRU):
        model = build_model(cell, steps, units=32)
        before = state_gradient_norms(model, probe_x, probe_y)
        started = time.perf_counter()
        model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
        accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
        after = state_gradient_norms(model, probe_x, probe_y)
        results[cell.__name__] = before, after, accuracy
        print(f"{cell.__name__:9s} test accuracy {accuracy:.3f} (chance 0.25), trained in "
              f"{time.perf_counter() - started:.1f} s; ‖∂L/∂h_0‖ / ‖∂L/∂h_last‖: untrained "
              f"{before[0] / before[-1]:.1e}, trained {after[0] / after[-1]:.1e}")
    plot(output / "vanishing.png", results, steps)
    print(f"saved {output / 'vanishing.png'}")


if __name__ == "__main__":
    main()
