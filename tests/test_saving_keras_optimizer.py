"""Optimizer state in Keras 3's files (`.keras`, `.weights.h5`): written in Keras' order under optimizer/vars, read
back so that training resumes exactly, and bad state refused. Keras' own files put it so (iteration, learning rate,
then the slots; Adam's momentum and velocity alternate variable by variable, AMSGrad's velocity_hat after them):
the oracle tests in test_saving_keras_archive.py resume training across the two libraries."""
import warnings

import numpy as np
import pytest

h5py = pytest.importorskip("h5py", reason="Keras' weight files need h5py (pip install '.[h5]')")

import rnnkit  # noqa: E402
from rnnkit import saving  # noqa: E402
from rnnkit.saving.keras_archive import WEIGHTS_MEMBER  # noqa: E402


def model_and_data(optimizer):
    model = rnnkit.Sequential([rnnkit.Input((5, 3)), rnnkit.layers.GRU(4), rnnkit.layers.Dense(2)])
    model.compile(optimizer=optimizer, loss="mse")
    rng = np.random.default_rng(0)
    return model, rng.standard_normal((16, 5, 3)).astype(np.float32), rng.standard_normal((16, 2)).astype(np.float32)


def fit(model, x, y, epochs=2):
    model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0)


def optimizer_datasets(path):
    import io
    import zipfile

    data = zipfile.ZipFile(path).read(WEIGHTS_MEMBER) if str(path).endswith(".keras") else open(path, "rb").read()
    with h5py.File(io.BytesIO(data), "r") as file:
        group = file["optimizer/vars"]
        return [group[key][()] for key in sorted(group, key=int)]


def test_adam_state_is_written_in_keras_order(tmp_path):
    model, x, y = model_and_data(rnnkit.optimizers.Adam(0.01, amsgrad=True))
    fit(model, x, y)
    model.save(tmp_path / "m.keras")
    stored = optimizer_datasets(tmp_path / "m.keras")
    optimizer, variables = model.optimizer, model.trainable_variables
    slots = optimizer._slots
    assert int(stored[0]) == int(optimizer.iterations) == 4
    assert float(stored[1]) == pytest.approx(0.01)
    assert len(stored) == 2 + 3 * len(variables)
    for i in range(len(variables)):  # m_i, v_i alternate; every velocity_hat after them
        np.testing.assert_array_equal(stored[2 + 2 * i], slots["momentum"][i].value)
        np.testing.assert_array_equal(stored[3 + 2 * i], slots["velocity"][i].value)
        np.testing.assert_array_equal(stored[2 + 2 * len(variables) + i], slots["velocity_hat"][i].value)
    assert np.abs(stored[2]).max() > 0  # trained state, not zeros


@pytest.mark.parametrize("optimizer", [
    lambda: rnnkit.optimizers.Adam(0.01),
    lambda: rnnkit.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    lambda: rnnkit.optimizers.SGD(0.05, momentum=0.9),
    lambda: rnnkit.optimizers.Adagrad(0.1),
    lambda: rnnkit.optimizers.AdamW(0.01, amsgrad=True),
    lambda: rnnkit.optimizers.Nadam(0.01),
    lambda: rnnkit.optimizers.Lion(0.003),
], ids=["adam", "rmsprop", "sgd", "adagrad", "adamw", "nadam", "lion"])
@pytest.mark.parametrize("suffix", [".keras", ".weights.h5"])
def test_training_resumes_exactly_from_a_keras_file(tmp_path, optimizer, suffix):
    model, x, y = model_and_data(optimizer())
    fit(model, x, y)
    if suffix == ".keras":
        model.save(tmp_path / "m.keras")
        loaded = saving.load_model(tmp_path / "m.keras")
    else:
        model.save_weights(tmp_path / "m.weights.h5")
        loaded, _, _ = model_and_data(optimizer())
        loaded.load_weights(tmp_path / "m.weights.h5")
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations)
    fresh, _, _ = model_and_data(optimizer())
    fresh.set_weights(model.get_weights())  # the same weights without the optimizer's state
    for m in (model, loaded, fresh):
        fit(m, x, y)
    for ours, theirs in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    assert max(np.abs(a - b).max() for a, b in zip(fresh.get_weights(), model.get_weights())) > 1e-4


def test_an_optimizer_that_has_not_run_is_written_as_its_initial_state(tmp_path):
    model, x, y = model_and_data(rnnkit.optimizers.Adagrad(0.1, initial_accumulator_value=0.25))
    model.save(tmp_path / "m.keras")
    assert not model.optimizer.built
    stored = optimizer_datasets(tmp_path / "m.keras")
    assert [np.shape(v) for v in stored[2:]] == [tuple(v.shape) for v in model.trainable_variables]
    assert all(np.all(v == np.float32(0.25)) for v in stored[2:])
    loaded = saving.load_model(tmp_path / "m.keras")
    fit(model, x, y), fit(loaded, x, y)
    for ours, theirs in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_a_learning_rate_schedule_has_no_learning_rate_variable(tmp_path):
    schedule = rnnkit.optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    model, x, y = model_and_data(rnnkit.optimizers.SGD(schedule, momentum=0.5))
    fit(model, x, y)
    model.save(tmp_path / "m.keras")
    stored = optimizer_datasets(tmp_path / "m.keras")
    assert len(stored) == 1 + len(model.trainable_variables)  # iteration, then one momentum each
    loaded = saving.load_model(tmp_path / "m.keras")
    assert loaded.optimizer.learning_rate == pytest.approx(model.optimizer.learning_rate)


def test_the_stored_learning_rate_is_restored(tmp_path):
    model, x, y = model_and_data(rnnkit.optimizers.Adam(0.01))
    fit(model, x, y)
    model.optimizer.learning_rate = 0.003  # changed after compile: the config and the variable disagree
    model.save(tmp_path / "m.keras")
    assert saving.load_model(tmp_path / "m.keras").optimizer.learning_rate == pytest.approx(0.003)


def rewrite_optimizer_vars(path, values):
    with h5py.File(path, "r+") as file:
        del file["optimizer/vars"]
        group = file.create_group("optimizer/vars")
        for i, value in enumerate(values):
            group.create_dataset(str(i), data=value)


def test_a_different_number_of_values_warns_as_keras_and_assigns_nothing(tmp_path):
    model, x, y = model_and_data(rnnkit.optimizers.Adam(0.01))
    fit(model, x, y)
    model.save_weights(tmp_path / "m.weights.h5")
    rewrite_optimizer_vars(tmp_path / "m.weights.h5", optimizer_datasets(tmp_path / "m.weights.h5")[:-1])
    other, _, _ = model_and_data(rnnkit.optimizers.Adam(0.01))
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer 'adam'"):
        other.load_weights(tmp_path / "m.weights.h5")
    assert int(other.optimizer.iterations) == 0
    np.testing.assert_array_equal(other.get_weights()[0], model.get_weights()[0])  # the weights still load


@pytest.mark.parametrize("corrupt, message", [
    (lambda values: values[:2] + [np.zeros((1, 1), np.float32)] + values[3:], r"optimizer variable 2 has shape"),
    (lambda values: [np.zeros(3)] + values[1:], r"optimizer variable 0 has shape"),
    (lambda values: values[:2] + [np.array([b"abc"])] + values[3:], r"optimizer/vars/2 is not an array of numbers"),
])
def test_malformed_optimizer_state_is_refused_with_the_file_named(tmp_path, corrupt, message):
    model, x, y = model_and_data(rnnkit.optimizers.Adam(0.01))
    fit(model, x, y)
    model.save_weights(tmp_path / "m.weights.h5")
    rewrite_optimizer_vars(tmp_path / "m.weights.h5", corrupt(optimizer_datasets(tmp_path / "m.weights.h5")))
    other, _, _ = model_and_data(rnnkit.optimizers.Adam(0.01))
    with pytest.raises(ValueError, match=message) as error:
        other.load_weights(tmp_path / "m.weights.h5")
    assert "m.weights.h5" in str(error.value)
    assert int(other.optimizer.iterations) == 0


def test_a_model_without_optimizer_writes_and_reads_no_state(tmp_path):
    model = rnnkit.Sequential([rnnkit.Input((3,)), rnnkit.layers.Dense(2)])
    model.save_weights(tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5", "r") as file:
        assert "optimizer" not in file
    compiled = rnnkit.Sequential([rnnkit.Input((3,)), rnnkit.layers.Dense(2)])
    compiled.compile(optimizer="adam", loss="mse")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compiled.load_weights(tmp_path / "m.weights.h5")
    assert not compiled.optimizer.built
