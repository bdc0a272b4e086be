"""Training run for tests/test_distribution.py: under ``mpiexec -n 2`` it trains data-parallel; run as one plain
process it is the single-process reference. Writes what rank 0 saw to ``--out`` (.npz)."""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import rnnkit  # noqa: E402
from rnnkit import callbacks, distribution, layers, optimizers  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("scenario", choices=["dense", "lstm", "two_outputs", "sharded", "uneven_datasets", "callbacks",
                                         "fail", "endless", "different_arrays"])
parser.add_argument("--out", required=True)
args = parser.parse_args()

distribution.initialize()
rank = distribution.process_id()
distribution.set_distribution(distribution.DataParallel(
    auto_shard_dataset=args.scenario not in ("sharded", "uneven_datasets")))


def dense_model():
    from engine_stand_ins import SGD, MeanSquaredError

    model = rnnkit.Sequential([layers.Input(shape=(3,)), layers.Dense(4, activation="tanh"), layers.Dense(2)])
    model.compile(optimizer=SGD(0.1), loss=MeanSquaredError())
    return model


def lstm_model(two_outputs=False):
    # Embedding(mask_zero) feeds a mask through the LSTM to a per-step output: the loss is masked. Regularized
    # weights: their penalty joins the loss and its gradient once, whatever the number of processes.
    inputs = layers.Input(shape=(7,))
    hidden = layers.Embedding(12, 5, mask_zero=True)(inputs)
    hidden = layers.LSTM(6, return_sequences=True, kernel_regularizer=rnnkit.regularizers.L2(0.01),
                         recurrent_regularizer=rnnkit.regularizers.L1(0.001))(hidden)
    outputs = layers.Dense(3, activation="softmax", bias_regularizer="l1")(hidden)
    if not two_outputs:
        model = rnnkit.Model(inputs, outputs)
        model.compile(optimizer=optimizers.Adam(0.01, global_clipnorm=0.5),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model
    # A second, unmasked output: the two losses average over different counts.
    total = layers.Dense(1)(layers.GlobalAveragePooling1D()(hidden))
    model = rnnkit.Model(inputs, [outputs, total])
    model.compile(optimizer=optimizers.Adam(0.01), loss=["sparse_categorical_crossentropy", "mse"],
                  loss_weights=[1.0, 0.5])
    return model


def data(dense):
    rng = np.random.default_rng(7)
    if dense:
        x = rng.normal(size=(47, 3)).astype(np.float32)
        return x, np.stack([x.sum(1), x[:, 0] * x[:, 1]], 1).astype(np.float32), rng.uniform(0.2, 2, 47)
    lengths = rng.integers(2, 8, size=47)
    x = np.zeros((47, 7), np.int32)
    for row, length in enumerate(lengths):
        x[row, :length] = rng.integers(1, 12, size=length)
    y = (x % 3).astype(np.int32)
    return x, y, rng.uniform(0.2, 2, 47).astype(np.float32)


class Batches:
    """A re-iterable of batches: a dataset to the engine (a plain list would be taken as arrays)."""

    def __init__(self, batches):
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)


# Different weights per rank on purpose: fit must start every rank from rank 0's.
rnnkit.random.set_random_seed(1000 + rank)
dense = args.scenario in ("dense", "callbacks", "fail", "endless", "different_arrays")
model = dense_model() if dense else lstm_model(two_outputs=args.scenario == "two_outputs")
x, y, weights = data(dense)
if args.scenario == "two_outputs":
    y = [y, (x > 0).sum(axis=1, keepdims=True).astype(np.float32)]
    weights = None
result = {}

if args.scenario in ("dense", "lstm", "two_outputs"):
    # 47 samples, 20% for validation: 37 train in global batches of 8, the last of 5 (2 + 3 on two ranks).
    history = model.fit(x, y, sample_weight=weights, batch_size=8, epochs=3, validation_split=0.2, verbose=0)
    result["history"] = json.dumps(history.history)
    result["evaluate"] = np.array(model.evaluate(x, y, sample_weight=weights, batch_size=7, verbose=0))
    prediction = model.predict(x, batch_size=6)
    result["predict"] = np.concatenate([p.ravel() for p in (prediction if isinstance(prediction, list)
                                                             else [prediction])])
    if args.scenario == "lstm":
        batches = Batches([(x[i:i + 5], y[i:i + 5], weights[i:i + 5]) for i in range(0, len(x), 5)])
        result["evaluate_dataset"] = np.array(model.evaluate(batches, verbose=0))
        result["predict_dataset"] = model.predict(Batches([(x[i:i + 5],) for i in range(0, len(x), 5)]))
elif args.scenario == "sharded":
    class Slices:
        """This process's slices of the global batches (what a per-host data loader would produce)."""

        def __iter__(self):
            size = distribution.num_processes()
            for start in range(0, 37, 8):
                batch = slice(start, min(start + 8, 37))
                count = batch.stop - start
                rows = slice(start + count * rank // size, start + count * (rank + 1) // size)
                yield x[rows], y[rows], weights[rows]

    history = model.fit(Slices(), epochs=3, shuffle=False, verbose=0)
    result["history"] = json.dumps(history.history)
elif args.scenario == "uneven_datasets":
    model.fit(Batches([(x[:4], y[:4])] * (3 + rank)), epochs=1, verbose=0)
elif args.scenario == "callbacks":
    out_dir = os.path.dirname(args.out)
    save_weights = rnnkit.saving.save_weights

    def recording_save_weights(model, path, *options):
        with open(os.path.join(out_dir, f"writes-{rank}.txt"), "a") as log:
            log.write(f"{path}\n")
        return save_weights(model, path, *options)

    rnnkit.saving.save_weights = recording_save_weights
    history = model.fit(x, y, batch_size=8, epochs=20, validation_split=0.2, verbose=2, callbacks=[
        callbacks.EarlyStopping(patience=1, min_delta=10.0),
        callbacks.ModelCheckpoint(os.path.join(out_dir, "epoch{epoch}.weights.rnnkit"), save_weights_only=True),
        callbacks.CSVLogger(os.path.join(out_dir, "log.csv"))])
    result["history"] = json.dumps(history.history)
elif args.scenario == "fail":
    class FailOnRank1(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if rank == 1 and batch == 2:
                raise RuntimeError("deliberate failure on rank 1")

    model.fit(x, y, batch_size=8, epochs=1000, verbose=0, callbacks=[FailOnRank1()])
elif args.scenario == "different_arrays":
    model.fit(x[:40 + rank], y[:40 + rank], epochs=1, verbose=0)
elif args.scenario == "endless":
    model.fit(x, y, batch_size=8, epochs=10 ** 6, verbose=2)

result["weights"] = np.concatenate([w.ravel() for w in model.get_weights()])
if distribution.num_processes() > 1:
    from mpi4py import MPI

    gathered = MPI.COMM_WORLD.gather(result["weights"], root=0)
    if rank == 0:
        result["rank_weight_spread"] = max(float(np.abs(w - gathered[0]).max()) for w in gathered)
if rank == 0:
    np.savez(args.out, **result)
