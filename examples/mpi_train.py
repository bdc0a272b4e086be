"""Data-parallel LSTM training over MPI processes.

    python examples/mpi_train.py --quick                 # one process: the same script, no launcher
    mpiexec -n 2 python examples/mpi_train.py --quick    # two processes, same result, each on half of every batch

Task: read a sequence of tokens and say whether token 1 occurs more often than token 2 (an LSTM must count).
Rank 0 prints progress and the throughput; ``communication`` is the time spent in the gradient all-reduce.
"""
import argparse
import time

import numpy as np

import rnnkit
from rnnkit import distribution, layers, optimizers


def counting_task(samples, steps, vocabulary, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, vocabulary, size=(samples, steps)).astype(np.int32)
    y = ((x == 1).sum(axis=1) > (x == 2).sum(axis=1)).astype(np.float32)
    return x, y


def build_model(steps, vocabulary, units):
    model = rnnkit.Sequential([layers.Input(shape=(steps,)), layers.Embedding(vocabulary, 32),
                               layers.LSTM(units), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizers.Adam(0.005), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run that finishes in seconds")
    parser.add_argument("--batch-size", type=int, default=64, help="the global batch, split over the processes")
    parser.add_argument("--epochs", type=int, help="default: 2 with --quick, else 8")
    args = parser.parse_args()
    samples, epochs, units = (1024, 2, 32) if args.quick else (16384, 8, 128)
    epochs = args.epochs or epochs
    steps, vocabulary = 40, 8

    distribution.initialize()
    parallel = distribution.DataParallel()
    distribution.set_distribution(parallel)
    # Every rank draws the same data; only rank 0's initial weights matter (fit broadcasts them).
    rnnkit.random.set_random_seed(1)
    x, y = counting_task(samples, steps, vocabulary, seed=2)
    x_test, y_test = counting_task(samples // 4, steps, vocabulary, seed=3)
    model = build_model(steps, vocabulary, units)

    start = time.perf_counter()
    model.fit(x, y, batch_size=args.batch_size, epochs=epochs, validation_split=0.1, verbose=2)
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    if distribution.process_id() == 0:
        step_count = epochs * -(-int(samples * 0.9) // args.batch_size)
        print(f"{distribution.num_processes()} process(es): {epochs * samples * 0.9 / seconds:.0f} samples/s, "
              f"{1e3 * seconds / step_count:.1f} ms/step (incl. validation), communication "
              f"{1e3 * parallel.communication_seconds / step_count:.2f} ms/step; "
              f"test loss {loss:.4f}, accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
