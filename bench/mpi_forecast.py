"""Throughput of the README main example's model (examples/forecast.py's GRU) under data-parallel fit.

    RNNKIT_NUM_THREADS=1 python bench/mpi_forecast.py
    RNNKIT_NUM_THREADS=1 mpiexec -n 2 python bench/mpi_forecast.py

The sunspot series has only ~300 windows, far too few to time a step; the same shapes (windows of forecast.py's
WINDOW steps, 1 feature) are drawn at random, so the numbers measure the model, not the data. Rank 0 prints
samples/s and the time per step spent in the gradient all-reduce; the median of --repeats fits is reported.
"""
import argparse
import pathlib
import sys
import time

import numpy as np

import rnnkit
from rnnkit import distribution

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))
import forecast  # noqa: E402 - the example is the model under test


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--batch-size", type=int, default=64, help="the global batch")
    parser.add_argument("--units", type=int, default=32, help="forecast.py's full-mode GRU width")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    distribution.initialize()
    parallel = distribution.DataParallel()
    distribution.set_distribution(parallel)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.samples, forecast.WINDOW, 1)).astype(np.float32)
    y = rng.standard_normal((args.samples, 1)).astype(np.float32)
    model = forecast.build_gru(args.units)
    model.compile(optimizer=rnnkit.optimizers.Adam(learning_rate=3e-3), loss="mse", metrics=["mae"])  # as forecast.py
    model.fit(x[: args.batch_size * 2], y[: args.batch_size * 2], batch_size=args.batch_size, verbose=0)  # warm up
    rates, communication = [], []
    steps = -(-args.samples // args.batch_size)
    for _ in range(args.repeats):
        parallel.communication_seconds = 0.0
        start = time.perf_counter()
        model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0)
        rates.append(args.samples / (time.perf_counter() - start))
        communication.append(1e3 * parallel.communication_seconds / steps)
    if distribution.process_id() == 0:
        print(f"{distribution.num_processes()} process(es), GRU({args.units}) over {forecast.WINDOW} steps, global "
              f"batch {args.batch_size}: {np.median(rates):.0f} samples/s, all-reduce {np.median(communication):.2f} "
              f"ms/step (medians of {args.repeats})")


if __name__ == "__main__":
    main()
