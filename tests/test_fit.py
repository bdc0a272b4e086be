"""compile / fit / evaluate / predict / *_on_batch on a small linear regression."""
import os
import signal

import numpy as np
import pytest

from rnnkit import callbacks, layers
from rnnkit.models import Model, Sequential
from engine_stand_ins import SGD, MeanSquaredError


def _regression(samples=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, 3)).astype(np.float32)
    true_w = np.array([[1.5], [-2.0], [0.5]], np.float32)
    return x, (x @ true_w + 0.25).astype(np.float32)


def _model():
    model = Sequential([layers.Input(shape=(3,)), layers.Dense(1)])
    model.compile(optimizer=SGD(0.1), loss=MeanSquaredError())
    return model


def test_fit_converges_on_linear_regression():
    x, y = _regression()
    model = _model()
    history = model.fit(x, y, batch_size=16, epochs=60, verbose=0)
    assert len(history.history["loss"]) == 60
    assert history.history["loss"][-1] < 1e-3 < history.history["loss"][0]
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(kernel.ravel(), [1.5, -2.0, 0.5], atol=0.05)
    np.testing.assert_allclose(bias, [0.25], atol=0.05)


def test_epoch_loss_is_the_sample_weighted_mean_of_batch_losses():
    x, y = _regression(samples=10)
    model = _model()
    model.optimizer.learning_rate = 0.0
    history = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    prediction = x.astype(np.float64) @ model.get_weights()[0] + model.get_weights()[1]
    assert history.history["loss"][0] == pytest.approx(((prediction - y) ** 2).mean(), rel=1e-5)


def test_one_sgd_step_matches_the_float64_gradient():
    x, y = _regression(samples=8)
    model = _model()
    kernel, bias = (w.astype(np.float64) for w in model.get_weights())
    loss = model.train_on_batch(x, y)
    residual = x @ kernel + bias - y
    assert loss == pytest.approx((residual ** 2).mean(), rel=1e-5)
    np.testing.assert_allclose(model.get_weights()[0], kernel - 0.1 * 2 * x.T @ residual / 8, rtol=1e-4, atol=1e-6)


def test_validation_split_takes_the_last_samples_before_shuffling():
    x, y = _regression(samples=20)
    model = _model()
    model.optimizer.learning_rate = 0.0
    history = model.fit(x, y, epochs=1, validation_split=0.25, verbose=0)
    kernel, bias = model.get_weights()
    expected = ((x[15:] @ kernel + bias - y[15:]) ** 2).mean()
    assert history.history["val_loss"][0] == pytest.approx(expected, rel=1e-5)


def test_evaluate_returns_the_scalar_loss_without_metrics_and_a_dict_on_request():
    x, y = _regression(samples=12)
    model = _model()
    kernel, bias = model.get_weights()
    expected = ((x @ kernel + bias - y) ** 2).mean()
    assert model.evaluate(x, y, batch_size=5, verbose=0) == pytest.approx(expected, rel=1e-5)
    assert model.evaluate(x, y, verbose=0, return_dict=True) == {"loss": pytest.approx(expected, rel=1e-5)}
    assert model.test_on_batch(x, y) == pytest.approx(expected, rel=1e-5)


class _Batches:
    """A re-iterable dataset like timeseries_dataset_from_array's, yielding prepared batches."""

    def __init__(self, batches):
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)


def test_fit_accepts_an_iterable_of_batches_with_sample_weights():
    x, y = _regression(samples=8)
    model = _model()
    model.optimizer.learning_rate = 0.0
    weights = np.array([1, 0, 1, 0, 1, 0, 1, 0], np.float32)
    history = model.fit(_Batches([(x[:4], y[:4], weights[:4]), (x[4:], y[4:], weights[4:])]), epochs=2, verbose=0)
    kernel, bias = model.get_weights()
    expected = (weights[:, None] * (x @ kernel + bias - y) ** 2).mean()
    assert history.history["loss"] == [pytest.approx(expected, rel=1e-5)] * 2


def test_multi_input_multi_output_dicts_and_loss_weights():
    rng = np.random.default_rng(5)
    a, b = layers.Input(shape=(2,), name="a"), layers.Input(shape=(2,), name="b")
    out_sum = layers.Dense(1, name="out_sum")(layers.Concatenate()([a, b]))
    out_a = layers.Dense(1, name="out_a")(a)
    model = Model([a, b], [out_sum, out_a])
    model.compile(optimizer=SGD(0.0), loss=MeanSquaredError(), loss_weights={"out_sum": 1.0, "out_a": 0.5})
    xa, xb = rng.normal(size=(6, 2)).astype(np.float32), rng.normal(size=(6, 2)).astype(np.float32)
    ys, ya = rng.normal(size=(6, 1)).astype(np.float32), rng.normal(size=(6, 1)).astype(np.float32)
    predicted_sum, predicted_a = model.predict({"a": xa, "b": xb})
    loss_sum, loss_a = ((predicted_sum - ys) ** 2).mean(), ((predicted_a - ya) ** 2).mean()
    # As in Keras: the weighted total, then each output's own (unweighted) loss in output order.
    loss, sum_loss, a_loss = model.evaluate({"a": xa, "b": xb}, {"out_sum": ys, "out_a": ya}, verbose=0)
    assert loss == pytest.approx(loss_sum + 0.5 * loss_a, rel=1e-5)
    assert sum_loss == pytest.approx(loss_sum, rel=1e-5) and a_loss == pytest.approx(loss_a, rel=1e-5)
    logs = model.evaluate({"a": xa, "b": xb}, {"out_sum": ys, "out_a": ya}, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "out_sum_loss", "out_a_loss"]


def test_weights_the_loss_does_not_reach_stay_put_under_plain_sgd():
    """An output compiled without a loss gives its layer no gradient: plain SGD leaves that layer as it was
    (zero gradient, as Keras on JAX; Keras on torch skips the variable), and trains the other."""
    rng = np.random.default_rng(6)
    inputs = layers.Input(shape=(2,))
    trained, untouched = layers.Dense(1, name="trained"), layers.Dense(3, name="untouched")
    model = Model(inputs, [trained(inputs), untouched(inputs)])
    model.compile(optimizer=SGD(0.1), loss=[MeanSquaredError(), None])
    before = [w.copy() for w in model.get_weights()]
    x, y = rng.normal(size=(8, 2)).astype(np.float32), rng.normal(size=(8, 1)).astype(np.float32)
    model.train_on_batch(x, [y, np.zeros((8, 3), np.float32)])
    for weight, start in zip(untouched.get_weights(), before[2:]):
        np.testing.assert_array_equal(weight, start)
    assert not np.array_equal(trained.get_weights()[0], before[0])


def test_fit_before_compile_and_sample_mismatch_are_clear_errors():
    model = Sequential([layers.Input(shape=(3,)), layers.Dense(1)], name="uncompiled")
    with pytest.raises(ValueError, match="uncompiled.*compile"):
        model.fit(np.zeros((4, 3)), np.zeros((4, 1)))
    model.compile(optimizer=SGD(), loss=MeanSquaredError())
    with pytest.raises(ValueError, match="same number of samples"):
        model.fit(np.zeros((4, 3)), np.zeros((5, 1)), verbose=0)


class _InterruptAfter(callbacks.Callback):
    def __init__(self, epoch, send_signal):
        super().__init__()
        self.target_epoch, self.send_signal, self.epoch = epoch, send_signal, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == self.target_epoch and batch == 1:
            if self.send_signal:
                os.kill(os.getpid(), signal.SIGINT)
            raise KeyboardInterrupt


@pytest.mark.parametrize("send_signal", [False, True])
def test_ctrl_c_stops_fit_with_completed_epochs_in_history(send_signal):
    x, y = _regression(samples=16)
    model = _model()
    history = model.fit(x, y, batch_size=4, epochs=5, verbose=0, callbacks=[_InterruptAfter(2, send_signal)])
    assert history.epoch == [0, 1]
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_validation_freq_picks_the_epochs_that_validate():
    import rnnkit

    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((8, 3)).astype(np.float32), rng.standard_normal((8, 1)).astype(np.float32)
    model = rnnkit.Sequential([rnnkit.Input((3,)), rnnkit.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    every_second = model.fit(x, y, epochs=4, validation_data=(x, y), validation_freq=2, verbose=0)
    assert len(every_second.history["loss"]) == 4 and len(every_second.history["val_loss"]) == 2
    named = model.fit(x, y, epochs=3, validation_data=(x, y), validation_freq=[1, 3], verbose=0)
    assert len(named.history["val_loss"]) == 2


def test_validation_steps_evaluates_that_many_validation_batches():
    x, y = _regression(samples=32)
    vx, vy = _regression(samples=40, seed=3)
    vy[16:] += 100.0  # batches 3 onward (batch size 8) would dominate the validation loss
    model = _model()
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False, validation_data=(vx, vy),
                        validation_steps=2, validation_batch_size=8)
    first_two = model.evaluate(vx[:16], vy[:16], batch_size=8, verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(first_two, rel=1e-6)
    assert history.history["val_loss"][0] < model.evaluate(vx, vy, batch_size=8, verbose=0) / 100
