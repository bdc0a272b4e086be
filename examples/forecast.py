"""Forecast next year's sunspot number with a GRU and compare it with the naive forecast ("same as last year").

Data: yearly mean sunspot numbers 1700-2008 (309 values) from NOAA's National Geophysical Data Center, public
domain, shipped inside statsmodels (BSD-3-Clause) as `statsmodels.datasets.sunspots`; nothing is downloaded.
Install: pip install ".[examples]"   (statsmodels, pandas and matplotlib)

Shape: many-to-one. The last WINDOW years (WINDOW time steps of 1 feature) go in, next year's number comes out.
The model trains on the years up to 1929, reports its validation loss on 1930-1959 and is scored on
1960-2008, which it never saw. Beside it: the naive forecast, and a Dense network that sees the same window
flattened (one-to-one), to show what recurrence adds.

    python examples/forecast.py            # under a minute on 2 cores
    python examples/forecast.py --quick    # a few seconds (what CI runs)
"""
import argparse
import pathlib
import sys
import time

import numpy as np

try:
    import matplotlib
    import statsmodels.api as sm
except ImportError as missing:
    sys.exit(f"forecast.py needs the examples extra ({missing.name} is missing): pip install \".[examples]\"")

import rnnkit as keras

WINDOW = 24  # a bit over two 11-year solar cycles: enough history to see where in the cycle we are
TEST_FROM, VALIDATION_FROM = 1960, 1930


def load_sunspots():
    frame = sm.datasets.sunspots.load_pandas().data
    return frame["YEAR"].to_numpy(int), frame["SUNACTIVITY"].to_numpy(np.float32)


def windows(series, years):
    """x: (samples, WINDOW, 1) past values; y: (samples, 1) the value right after; the year of each y."""
    view = np.lib.stride_tricks.sliding_window_view(series, WINDOW + 1)
    return view[:, :-1, None].copy(), view[:, -1:].copy(), years[WINDOW:]


def build_gru(units):
    return keras.Sequential([
        keras.Input(shape=(WINDOW, 1)),
        keras.layers.GRU(units),
        keras.layers.Dense(1),
    ], name="sunspot_gru")


def build_dense(units):
    """The same window seen all at once: no recurrence, no notion of order beyond the position of each input."""
    return keras.Sequential([
        keras.Input(shape=(WINDOW, 1)),
        keras.layers.Flatten(),
        keras.layers.Dense(units, activation="relu"),
        keras.layers.Dense(1),
    ], name="sunspot_dense")


def compile_and_fit(model, data, epochs, verbose):
    # Mean absolute error is what the comparison reports; the models train on the squared error.
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3), loss="mse", metrics=["mae"])
    (x, y), validation = data
    # 250 training windows overfit quickly: keep the weights of the epoch with the best validation loss.
    stop = keras.callbacks.EarlyStopping(patience=20, restore_best_weights=True)
    model.fit(x, y, validation_data=validation, epochs=epochs, batch_size=16, verbose=verbose, callbacks=[stop])


def plot(path, years, actual, naive, forecast):
    matplotlib.use("Agg")  # files only: the example must run without a display
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 4))
    axes.plot(years, actual, "k-", label="actual")
    axes.plot(years, naive, ":", color="grey", label="naive (last year)")
    axes.plot(years, forecast, "-", color="tab:red", label="GRU forecast")
    axes.set(xlabel="year", ylabel="mean sunspot number", title="One year ahead, on years the model never saw")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run, seconds instead of a minute")
    parser.add_argument("--output-dir", default=".", help="where the model and the plot go")
    args = parser.parse_args()
    epochs, units = (15, 16) if args.quick else (150, 32)
    keras.utils.set_random_seed(1)
    output = pathlib.Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)

    years, series = load_sunspots()
    print(f"sunspots: {len(series)} yearly values, {years[0]}-{years[-1]} (statsmodels.datasets.sunspots)")
    # Scale with statistics of the training years only, so nothing about the test years leaks in.
    train_part = series[years < VALIDATION_FROM]
    mean, scale = train_part.mean(), train_part.std()
    x, y, target_years = windows((series - mean) / scale, years)
    train = target_years < VALIDATION_FROM
    validation = (target_years >= VALIDATION_FROM) & (target_years < TEST_FROM)
    test = target_years >= TEST_FROM
    print(f"windows of {WINDOW} years: {train.sum()} train (to {VALIDATION_FROM - 1}), "
          f"{validation.sum()} validation, {test.sum()} test ({TEST_FROM}-{years[-1]})")

    data = (x[train], y[train]), (x[validation], y[validation])
    model = build_gru(units)
    model.summary()
    started = time.perf_counter()
    compile_and_fit(model, data, epochs, verbose=2 if args.quick else 1)
    print(f"trained the GRU for {len(model.history.epoch)} epochs in {time.perf_counter() - started:.1f} s")
    dense = build_dense(units)
    compile_and_fit(dense, data, epochs, verbose=0)

    unscale = lambda values: values * scale + mean  # noqa: E731
    actual = unscale(y[test, 0])
    forecast = unscale(model.predict(x[test], verbose=0)[:, 0])
    naive = unscale(x[test, -1, 0])  # persistence: next year equals this year
    errors = {"GRU (many-to-one)": forecast,
              "Dense on the flat window (one-to-one)": unscale(dense.predict(x[test], verbose=0)[:, 0]),
              "naive baseline: next year = this year": naive}
    errors = {name: np.abs(values - actual).mean() for name, values in errors.items()}
    naive_mae = errors["naive baseline: next year = this year"]
    print(f"test mean absolute error, {TEST_FROM}-{years[-1]} (sunspot numbers):")
    for name, error in errors.items():
        print(f"  {name:40s} {error:5.1f}  ({100 * (1 - error / naive_mae):3.0f}% below the baseline)")

    print("year  actual  naive  GRU")
    for year, a, n, f in list(zip(target_years[test], actual, naive, forecast))[-6:]:
        print(f"{year}  {a:6.1f} {n:6.1f} {f:6.1f}")

    model_path = output / "sunspots_gru.rnnkit"
    model.save(model_path)
    reloaded = keras.models.load_model(model_path)
    assert np.allclose(unscale(reloaded.predict(x[test], verbose=0)[:, 0]), forecast, atol=1e-3)
    plot_path = output / "sunspots_forecast.png"
    plot(plot_path, target_years[test], actual, naive, forecast)
    print(f"saved {model_path} (reloaded: same forecasts) and {plot_path}")


if __name__ == "__main__":
    main()
