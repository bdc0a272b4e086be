"""Threads (issue 8): the core releases the GIL, concurrent predict on one model equals serial predict, and
training one model while predicting with another is safe (docs/reliability.md, "Threads")."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from rnnkit import _core, layers, ops
from rnnkit import random as rnnkit_random
from rnnkit.models import Model, Sequential

THREADS = 4


def _recurrent_model():
    rnnkit_random.set_random_seed(1)
    return Sequential([layers.Input(shape=(12, 5)),
                       layers.Bidirectional(layers.LSTM(16, return_sequences=True), merge_mode="sum"),
                       layers.GRU(8, return_sequences=True), layers.SimpleRNN(6), layers.Dense(3, "softmax")])


def _masked_embedding_model():
    rnnkit_random.set_random_seed(2)
    ids = layers.Input(shape=(10,), dtype="int64")
    hidden = layers.LSTM(8)(layers.Embedding(20, 6, mask_zero=True)(ids))
    return Model(ids, layers.Dense(2)(hidden))


def _inputs(model_kind, count):
    rng = np.random.default_rng(3)
    if model_kind == "recurrent":
        return [rng.standard_normal((int(rng.integers(1, 40)), 12, 5)).astype(np.float32) for _ in range(count)]
    batches = [rng.integers(0, 20, size=(int(rng.integers(1, 40)), 10)) for _ in range(count)]
    for batch in batches:
        batch[:, int(rng.integers(1, 10)):] = 0  # padded tails exercise the masks
    return batches


@pytest.mark.parametrize("model_kind", ["recurrent", "masked_embedding"])
def test_concurrent_predict_on_one_model_equals_serial_predict(model_kind):
    model = _recurrent_model() if model_kind == "recurrent" else _masked_embedding_model()
    inputs = _inputs(model_kind, 24)
    serial = [model.predict(x, batch_size=16, verbose=0) for x in inputs]
    start = threading.Barrier(THREADS)

    def run(worker):
        start.wait()
        return {i: model.predict(inputs[i], batch_size=16, verbose=0)
                for i in range(worker, len(inputs), THREADS)}

    for _ in range(3):
        with ThreadPoolExecutor(THREADS) as pool:
            results = {i: y for part in pool.map(run, range(THREADS)) for i, y in part.items()}
        for i, expected in enumerate(serial):
            np.testing.assert_array_equal(results[i], expected)


def test_the_gil_is_released_while_the_core_computes():
    """Python code in the main thread keeps running during one long core call made from another thread."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 400, 64)).astype(np.float32)
    kernel = rng.standard_normal((64, 4 * 128)).astype(np.float32) * 0.1
    recurrent = rng.standard_normal((128, 4 * 128)).astype(np.float32) * 0.1
    span = {}

    def long_call():
        span["start"] = time.perf_counter()
        ops.rnn_forward("lstm", x, kernel, recurrent)
        span["end"] = time.perf_counter()

    worker = threading.Thread(target=long_call)
    ticks = []
    worker.start()
    while worker.is_alive():
        ticks.append(time.perf_counter())
    worker.join()
    duration = span["end"] - span["start"]
    inside = [t for t in ticks if span["start"] + 0.1 * duration < t < span["end"] - 0.1 * duration]
    assert duration > 0.02, "the call is too short to observe"
    assert len(inside) > 100, f"the main thread ran {len(inside)} times during a {duration:.3f} s core call"


def test_training_one_model_while_predicting_with_another():
    from rnnkit.losses import MeanSquaredError
    from rnnkit.optimizers import SGD

    rng = np.random.default_rng(4)
    x = rng.standard_normal((64, 12, 5)).astype(np.float32)
    y = rng.standard_normal((64, 3)).astype(np.float32)

    def trained_weights(concurrent_predictions):
        trainee = _recurrent_model()
        trainee.compile(optimizer=SGD(0.05), loss=MeanSquaredError())
        predictor = _recurrent_model()
        expected = predictor.predict(x, verbose=0)
        stop = threading.Event()
        mismatches = []

        def keep_predicting():
            while not stop.is_set():
                if not np.array_equal(predictor.predict(x, verbose=0), expected):
                    mismatches.append(1)

        helpers = [threading.Thread(target=keep_predicting) for _ in range(concurrent_predictions)]
        for helper in helpers:
            helper.start()
        try:
            trainee.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        finally:
            stop.set()
            for helper in helpers:
                helper.join()
        assert not mismatches, "predictions changed while another model trained"
        return trainee.get_weights()

    alone, together = trained_weights(0), trained_weights(2)
    for a, b in zip(alone, together):
        np.testing.assert_array_equal(a, b)


def test_concurrent_core_calls_with_different_thread_counts_agree():
    """Changing the core's thread count between calls from different threads never corrupts a running call."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((300, 200)).astype(np.float32)
    b = rng.standard_normal((200, 100)).astype(np.float32)
    expected = _core.dense_forward(a, b)
    original = _core.num_threads()
    stop = threading.Event()

    def flip_thread_count():
        while not stop.is_set():
            for n in (1, 2, original):
                _core.set_num_threads(n)

    flipper = threading.Thread(target=flip_thread_count)
    flipper.start()
    try:
        with ThreadPoolExecutor(THREADS) as pool:
            results = list(pool.map(lambda _: _core.dense_forward(a, b), range(40)))
    finally:
        stop.set()
        flipper.join()
        _core.set_num_threads(original)
    for result in results:
        np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-5)
