"""One implementation's timings of the recurrent grid, run in its own process (one Keras backend per process).

    python bench/rnn_workers.py --impl rnnkit|torch|rnnkit-keras|keras-jax|keras-tensorflow|keras-torch
                                --threads N --points JSON --repeats R

Prints one JSON object per line: {"impl", "cell", "shape", "mode", "threads", "ms"} with ms the median.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

CELL_GATES = {"simple_rnn": 1, "gru": 3, "lstm": 4}


def median_ms(fn, repeats, min_seconds=0.2):
    fn()  # warm-up: first-call allocation, compilation (XLA), packing
    per_call = []
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds / repeats or calls >= 1000:
                break
        per_call.append(elapsed / calls * 1e3)
    return statistics.median(per_call)


def random_weights(cell, I, H, rng):
    G = CELL_GATES[cell]
    kernel = rng.standard_normal((I, G * H)).astype(np.float32) / np.sqrt(I)
    recurrent = rng.standard_normal((H, G * H)).astype(np.float32) / np.sqrt(H)
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


def make_runner(impl):
    if impl == "rnnkit":
        return rnnkit_raw
    if impl == "torch":
        return torch_raw
    if impl == "rnnkit-keras":
        import rnnkit

        return lambda *a: keras_level(rnnkit, *a)
    backend = impl.split("-", 1)[1]
    os.environ["KERAS_BACKEND"] = backend
    import keras

    return lambda *a: keras_level(keras, *a)


def pin_threads(impl, threads):
    if impl.startswith("rnnkit"):
        import rnnkit

        rnnkit.set_num_threads(threads)
    if impl in ("torch", "keras-torch"):
        import torch

        torch.set_num_threads(threads)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--impl", required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--points", required=True, help="JSON list of [cell, [B,T,I,H], mode]")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    runner = make_runner(args.impl)
    pin_threads(args.impl, args.threads)
    rng = np.random.default_rng(0)
    for cell, shape, mode in json.loads(args.points):
        fn = runner(cell, *shape, mode, rng)
        ms = median_ms(fn, args.repeats)
        print(json.dumps({"impl": args.impl, "cell": cell, "shape": shape, "mode": mode,
                          "threads": args.threads, "ms": ms}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
