"""Real training runs that must converge: LSTM and GRU on the adding problem (regression, MSE) and on
first-token recall (classification, sparse categorical crossentropy + accuracy), through compile/fit/evaluate.

Thresholds are stated against chance: on the adding problem predicting the mean scores MSE ~0.167 (variance of
the sum of two U(0,1)); recall of one of 4 tokens scores accuracy 0.25 by chance. Seeds are fixed; each run takes
about a second."""
import numpy as np
import pytest

import rnnkit
from rnnkit import layers, optimizers

STEPS = 12


def adding_problem(n, rng):
    values = rng.uniform(size=(n, STEPS)).astype(np.float32)
    markers = np.zeros((n, STEPS), np.float32)
    for row in range(n):
        markers[row, rng.choice(STEPS, 2, replace=False)] = 1.0
    return np.stack([values, markers], axis=-1), (values * markers).sum(axis=1, keepdims=True)


def recall_problem(n, rng, tokens=4, steps=8):
    ids = rng.integers(0, tokens, (n, steps))
    return np.eye(tokens, dtype=np.float32)[ids], ids[:, 0]


@pytest.mark.parametrize("cell", [layers.LSTM, layers.GRU], ids=lambda c: c.__name__)
def test_adding_problem_is_learned(cell):
    rng = np.random.default_rng(0)
    x, y = adding_problem(1024, rng)
    x_val, y_val = adding_problem(256, rng)
    rnnkit.utils.set_random_seed(0)
    model = rnnkit.Sequential([layers.Input(shape=(STEPS, 2)), cell(16), layers.Dense(1)])
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    val_mse, val_mae = model.evaluate(x_val, y_val, verbose=0)
    assert history.history["loss"][0] > 0.1  # it started near chance...
    assert val_mse < 0.01  # ...and ends >16x below it on unseen sequences
    assert val_mae < 0.1


@pytest.mark.parametrize("cell,optimizer", [
    (layers.GRU, {"class_name": "Adam", "config": {"learning_rate": 0.01}}),
    (layers.LSTM, optimizers.RMSprop(learning_rate=0.01, clipnorm=1.0)),
    (layers.GRU, optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True)),
    (layers.GRU, optimizers.Adagrad(learning_rate=0.5, global_clipnorm=5.0)),
], ids=["gru-adam", "lstm-rmsprop-clipnorm", "gru-sgd-nesterov", "gru-adagrad-global-clipnorm"])
def test_first_token_recall_is_learned(cell, optimizer):
    rng = np.random.default_rng(0)
    x, y = recall_problem(1024, rng)
    x_val, y_val = recall_problem(256, rng)
    rnnkit.utils.set_random_seed(0)
    model = rnnkit.Sequential([layers.Input(shape=x.shape[1:]), cell(16), layers.Dense(4, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=12, batch_size=32, verbose=0)
    logs = model.evaluate(x_val, y_val, verbose=0, return_dict=True)
    assert history.history["accuracy"][0] < 0.6
    assert logs["accuracy"] > 0.95
    assert logs["loss"] < 0.2
