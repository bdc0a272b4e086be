"""A timing server for one implementation at one thread count (Keras allows one backend per process).

    python bench/rnn_workers.py --impl IMPL --threads N

IMPL: rnnkit | torch (raw layers), rnnkit-keras | keras-jax | keras-tensorflow | keras-torch (Keras-level
predict_on_batch / train_on_batch), numpy (square sgemm, the machine's practical limit).
Points: [cell, [B,T,I,H], mode] with mode forward|train; ["fit", cell, "fit"|"predict", "uniform"|"zipf"] for the
epoch of the Embedding -> cell -> Dense model on uniform or Zipf(1.2) ids; ["sgemm", n, "forward"] for numpy;
["conv_lstm", [B,T,rows,cols,channels,filters,kernel], mode] for a ConvLSTM2D at the Keras level.

bench/compare.py drives it with one JSON object per line on stdin, and it answers each with one JSON line:
    {"cmd": "prepare", "point": POINT, "seconds": S}  build the point's callable (dropping the previous one) and
                                                      warm it up (compilation, allocation, packing)
                                                      -> {"ready": true} or {"error": "..."}
    {"cmd": "measure"}   time one repeat of the prepared point: calls until S seconds have passed (at least one,
                         at most 1000) -> {"ms": mean ms of one call}
    {"cmd": "ping"}      reply {"ready": true}: the worker has imported its library and is idle
    {"cmd": "quit"}      exit (so does the end of stdin)
Replies go to the file descriptor that was stdout when the process started; stdout itself is redirected to
stderr first, so whatever the libraries print (TF / XLA logs, warnings, progress bars) cannot corrupt them.
"""
import argparse
import gc
import json
import os
import sys
import time
import traceback

import numpy as np

CELL_GATES = {"simple_rnn": 1, "gru": 3, "lstm": 4}
# The fit-epoch model of issue 13: Embedding(10000, 128) -> CELL(128) -> Dense(1), 2048 sequences of 100 ids.
FIT_VOCAB, FIT_EMBED, FIT_UNITS, FIT_SEQUENCES, FIT_STEPS, FIT_BATCH = 10000, 128, 128, 2048, 100, 64


def time_repeat(fn, seconds):
    """Mean ms of one call over as many calls as fill `seconds` (at least one, at most 1000)."""
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds or calls >= 1000:
            return elapsed / calls * 1e3


def random_weights(cell, I, H, rng):
    G = CELL_GATES[cell]
    # Scaled before the cast: a float32 array divided by numpy's float64 scalar is float64 under numpy 2, and
    # rnnkit would then convert the weights on every timed call (10% of a batch-1 LSTM forward).
    kernel = (rng.standard_normal((I, G * H)) / np.sqrt(I)).astype(np.float32)
    recurrent = (rng.standard_normal((H, G * H)) / np.sqrt(H)).astype(np.float32)
    bias = np.zeros((2, G * H) if cell == "gru" else (G * H,), np.float32)
    return kernel, recurrent, bias


def rnnkit_raw(cell, B, T, I, H, mode, rng):
    import rnnkit.ops as ops

    x = rng.standard_normal((B, T, I)).astype(np.float32)
    kernel, recurrent, bias = random_weights(cell, I, H, rng)
    d_out = np.ones((B, T, H), np.float32)
    if mode == "forward":
        return lambda: ops.rnn_forward(cell, x, kernel, recurrent, bias)

    def train():
        result = ops.rnn_forward(cell, x, kernel, recurrent, bias, training=True)
        ops.rnn_backward(result.cache, d_outputs=d_out)

    return train


def torch_raw(cell, B, T, I, H, mode, rng):
    import torch

    module = {"simple_rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell](I, H, batch_first=True)
    x = torch.from_numpy(rng.standard_normal((B, T, I)).astype(np.float32))
    if mode == "forward":
        def forward():
            with torch.inference_mode():
                module(x)

        return forward
    x.requires_grad_(True)
    d_out = torch.ones((B, T, H))

    def train():
        module.zero_grad(set_to_none=True)
        x.grad = None
        out, _ = module(x)
        out.backward(d_out)

    return train


def keras_level(keras, cell, B, T, I, H, mode, rng):
    layer = {"simple_rnn": keras.layers.SimpleRNN, "gru": keras.layers.GRU, "lstm": keras.layers.LSTM}[cell]
    model = keras.Sequential([keras.Input((T, I), batch_size=B), layer(H, return_sequences=True)])
    model.compile(optimizer="sgd", loss="mse")
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    y = rng.standard_normal((B, T, H)).astype(np.float32)
    if mode == "forward":
        return lambda: model.predict_on_batch(x)
    return lambda: model.train_on_batch(x, y)


def keras_conv_lstm(keras, B, T, rows, cols, channels, filters, kernel, mode, rng):
    """ConvLSTM2D(filters, kernel, padding="same", return_sequences=True) over (B, T, rows, cols, channels)."""
    model = keras.Sequential([keras.Input((T, rows, cols, channels), batch_size=B),
                              keras.layers.ConvLSTM2D(filters, kernel, padding="same", return_sequences=True)])
    model.compile(optimizer="sgd", loss="mse")
    x = rng.standard_normal((B, T, rows, cols, channels)).astype(np.float32)
    y = rng.standard_normal((B, T, rows, cols, filters)).astype(np.float32)
    if mode == "forward":
        return lambda: model.predict_on_batch(x)
    return lambda: model.train_on_batch(x, y)


def fit_data(rng, ids):
    """Token ids uniform over the vocabulary, or Zipf(1.2) like the words of text (a batch of 64 x 100: about
    4,700 distinct ids against 1,100), and binary labels."""
    shape = (FIT_SEQUENCES, FIT_STEPS)
    x = (rng.integers(1, FIT_VOCAB, size=shape) if ids == "uniform"
         else np.minimum(rng.zipf(1.2, size=shape), FIT_VOCAB - 1)).astype(np.int32)
    y = rng.integers(0, 2, size=(FIT_SEQUENCES, 1)).astype(np.float32)
    return x, y


def keras_fit(keras, cell, mode, ids, rng):
    layer = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}[cell]
    model = keras.Sequential([keras.Input((FIT_STEPS,), dtype="int32"), keras.layers.Embedding(FIT_VOCAB, FIT_EMBED),
                              layer(FIT_UNITS), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    x, y = fit_data(rng, ids)
    # Warm-up on two batches: compiles the same step functions as the full epoch at a fraction of its cost.
    if mode == "predict":
        model.predict(x[:2 * FIT_BATCH], batch_size=FIT_BATCH, verbose=0)
        return lambda: model.predict(x, batch_size=FIT_BATCH, verbose=0)
    model.fit(x[:2 * FIT_BATCH], y[:2 * FIT_BATCH], batch_size=FIT_BATCH, epochs=1, verbose=0)
    return lambda: model.fit(x, y, batch_size=FIT_BATCH, epochs=1, shuffle=True, verbose=0)


def torch_fit(cell, mode, ids, rng):
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(FIT_VOCAB, FIT_EMBED)
            self.rnn = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell](FIT_EMBED, FIT_UNITS, batch_first=True)
            self.head = torch.nn.Linear(FIT_UNITS, 1)

        def forward(self, ids):
            out, _ = self.rnn(self.embed(ids))
            return self.head(out[:, -1])

    net = Net()
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    x, y = (torch.from_numpy(a) for a in fit_data(rng, ids))
    x = x.long()
    if mode == "predict":
        def predict():
            with torch.inference_mode():
                for i in range(0, FIT_SEQUENCES, FIT_BATCH):
                    torch.sigmoid(net(x[i:i + FIT_BATCH]))

        return predict

    def epoch():
        order = torch.randperm(FIT_SEQUENCES)
        for i in range(0, FIT_SEQUENCES, FIT_BATCH):
            idx = order[i:i + FIT_BATCH]
            optimizer.zero_grad(set_to_none=True)
            loss_fn(net(x[idx]), y[idx]).backward()
            optimizer.step()

    return epoch


def numpy_sgemm(n, rng):
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), np.float32)
    return lambda: np.matmul(a, b, out=c)


def make_runner(impl):
    """Returns runner(point, rng) -> zero-argument function to time."""
    if impl == "numpy":
        return lambda point, rng: numpy_sgemm(point[1], rng)
    if impl == "torch":
        def torch_runner(point, rng):
            if point[0] == "fit":
                return torch_fit(*point[1:], rng)
            cell, shape, mode = point
            return torch_raw(cell, *shape, mode, rng)

        return torch_runner
    if impl == "rnnkit":
        return lambda point, rng: rnnkit_raw(point[0], *point[1], point[2], rng)
    if impl == "rnnkit-keras":
        import rnnkit as keras
    else:
        os.environ["KERAS_BACKEND"] = impl.split("-", 1)[1]
        import keras

    def keras_runner(point, rng):
        if point[0] == "fit":
            return keras_fit(keras, *point[1:], rng)
        if point[0] == "conv_lstm":
            return keras_conv_lstm(keras, *point[1], point[2], rng)
        cell, shape, mode = point
        return keras_level(keras, cell, *shape, mode, rng)

    return keras_runner


def pin_threads(impl, threads):
    if impl.startswith("rnnkit"):
        import rnnkit

        rnnkit.set_num_threads(threads)
    if impl in ("torch", "keras-torch"):
        import torch

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
    if impl == "keras-tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)


def prepare(runner, point):
    """The point's callable, warmed up; fresh data per point, so it does not depend on the points before."""
    fn = runner(point, np.random.default_rng(0))
    # An epoch takes seconds: keras_fit warms up on two batches instead, torch's eager epoch compiles nothing.
    if point[0] != "fit":
        fn()  # first-call allocation, compilation (XLA, tf.function), packing
    return fn


def serve(runner, requests, replies):
    fn = seconds = None
    for line in requests:
        request = json.loads(line)
        if request["cmd"] == "quit":
            return
        if request["cmd"] == "ping":  # answered once the library is imported: the driver waits for every worker
            replies.write(json.dumps({"ready": True}) + "\n")
            replies.flush()
            continue
        if request["cmd"] == "prepare":
            fn = None  # only the current point stays alive, so memory stays flat over the grid
            gc.collect()
            try:
                fn, seconds = prepare(runner, request["point"]), request["seconds"]
                reply = {"ready": True}
            except Exception:  # e.g. out of memory at one shape: the other points can still run
                reply = {"error": traceback.format_exc(limit=-3)}
        else:
            reply = {"ms": time_repeat(fn, seconds)}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--impl", required=True)
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args()
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # C and Python stdout alike now land on stderr
    runner = make_runner(args.impl)
    pin_threads(args.impl, args.threads)
    serve(runner, sys.stdin, replies)


if __name__ == "__main__":
    sys.exit(main())
