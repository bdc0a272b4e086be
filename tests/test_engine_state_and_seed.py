"""Stateful RNNs through the engine, masks reaching the loss, and set_random_seed reproducibility."""
import numpy as np

from rnnkit import layers
from rnnkit import random as rnnkit_random
from rnnkit.models import Sequential
from engine_stand_ins import SGD, MeanSquaredError


def test_stateful_model_carries_state_across_calls_until_reset_states():
    rng = np.random.default_rng(0)
    sequence = rng.normal(size=(2, 6, 1)).astype(np.float32)
    stateful = Sequential([layers.Input(shape=(3, 1), batch_size=2), layers.SimpleRNN(4, stateful=True)])
    whole = Sequential([layers.Input(shape=(6, 1)), layers.SimpleRNN(4)])
    whole.set_weights(stateful.get_weights())
    first_half = stateful.predict(sequence[:, :3], batch_size=2)
    continued = stateful.predict(sequence[:, 3:], batch_size=2)
    np.testing.assert_allclose(continued, whole.predict(sequence), rtol=1e-5, atol=1e-6)
    stateful.reset_states()
    np.testing.assert_allclose(stateful.predict(sequence[:, :3], batch_size=2), first_half, rtol=1e-6)


def test_first_layer_batch_input_shape_fixes_the_batch_size():
    model = Sequential([layers.SimpleRNN(3, stateful=True, batch_input_shape=(4, 5, 2))])
    assert model.inputs[0].shape == (4, 5, 2)


class _MaskRecordingLoss(MeanSquaredError):
    def __init__(self):
        self.masks = []

    def value_and_grad(self, y_true, y_pred, sample_weight=None, mask=None):
        self.masks.append(mask)
        return super().value_and_grad(y_true, y_pred, sample_weight, mask)


def test_output_mask_reaches_the_loss():
    x = np.array([[[1.0], [2.0], [0.0]], [[3.0], [0.0], [0.0]]], np.float32)
    model = Sequential([layers.Input(shape=(3, 1)), layers.Masking(0.0),
                        layers.SimpleRNN(2, return_sequences=True)])
    loss = _MaskRecordingLoss()
    model.compile(optimizer=SGD(), loss=loss)
    model.train_on_batch(x, np.zeros((2, 3, 2), np.float32))
    np.testing.assert_array_equal(loss.masks[0], [[True, True, False], [True, False, False]])


def _seeded_training_run():
    rnnkit_random.set_random_seed(123)
    model = Sequential([layers.Input(shape=(4, 2)), layers.LSTM(3), layers.Dropout(0.5), layers.Dense(1)])
    model.compile(optimizer=SGD(0.1), loss=MeanSquaredError())
    data = np.random.default_rng(9)
    x = data.normal(size=(12, 4, 2)).astype(np.float32)
    y = data.normal(size=(12, 1)).astype(np.float32)
    model.fit(x, y, batch_size=4, epochs=2, shuffle=True, verbose=0)
    return model.get_weights()


def test_set_random_seed_makes_init_dropout_and_shuffling_bit_identical():
    first, second = _seeded_training_run(), _seeded_training_run()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    rnnkit_random.set_random_seed(124)
    other = Sequential([layers.Input(shape=(4, 2)), layers.LSTM(3)]).get_weights()
    assert not np.array_equal(other[0], first[0])
