"""rnnkit.saving: atomic replacement, weights files, Keras .weights.h5 import, and model round trips."""
import os
import sys

import numpy as np
import pytest

from rnnkit import saving
from rnnkit.saving import file_format
from rnnkit.saving.atomic import atomic_write
from rnnkit.saving.keras_h5 import keras_group_name
from rnnkit.variables import Variable


class WeightsOnlyModel:
    """The slice of the model interface that save_weights/load_weights use, independent of the engine."""

    def __init__(self, shapes, seed):
        rng = np.random.default_rng(seed)
        self.weights = [Variable(rng.standard_normal(shape), name=f"w{i}", path=f"layer/w{i}")
                        for i, shape in enumerate(shapes)]
        self.layers = []

    def get_config(self):
        return {"name": "stand_in"}


def leftover_temp_files(directory):
    return [name for name in os.listdir(directory) if name.endswith(".tmp")]


def test_atomic_write_replaces_the_file(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    with atomic_write(target) as stream:
        stream.write(b"new contents")
    assert target.read_bytes() == b"new contents"
    assert leftover_temp_files(tmp_path) == []


def test_atomic_write_keeps_the_replaced_files_mode(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    target.chmod(0o640)
    with atomic_write(target) as stream:
        stream.write(b"new")
    assert target.stat().st_mode & 0o777 == 0o640
    with atomic_write(tmp_path / "fresh.bin") as stream:
        stream.write(b"new")
    assert (tmp_path / "fresh.bin").stat().st_mode & 0o777 == 0o644


def test_failure_mid_write_keeps_previous_file_and_removes_temp(tmp_path, monkeypatch):
    path = tmp_path / "m.weights.rnnkit"
    saving.save_weights(WeightsOnlyModel([(2, 3)], seed=0), path)
    before = path.read_bytes()

    def write_half_then_fail(stream, arrays):
        stream.write(b"\x01" * 10)
        raise OSError("disk full (injected)")

    monkeypatch.setattr(file_format, "write_tensor_data", write_half_then_fail)
    with pytest.raises(OSError, match="injected"):
        saving.save_weights(WeightsOnlyModel([(2, 3)], seed=1), path)
    assert path.read_bytes() == before
    assert leftover_temp_files(tmp_path) == []


def test_weights_round_trip_between_models(tmp_path):
    path = tmp_path / "w.weights.rnnkit"
    source, target = WeightsOnlyModel([(3, 4), (4,), ()], seed=0), WeightsOnlyModel([(3, 4), (4,), ()], seed=1)
    saving.save_weights(source, path)
    saving.load_weights(target, path)
    for expected, loaded in zip(source.weights, target.weights):
        np.testing.assert_array_equal(loaded.value, expected.value)


def test_overwrite_false_refuses_to_replace_a_file(tmp_path):
    path = tmp_path / "w.weights.rnnkit"
    first, second = WeightsOnlyModel([(2,)], seed=0), WeightsOnlyModel([(2,)], seed=1)
    saving.save_weights(first, path, overwrite=False)  # no file yet
    with pytest.raises(FileExistsError, match=r"save_weights: .*w\.weights\.rnnkit' exists and overwrite=False"):
        saving.save_weights(second, path, overwrite=False)
    target = WeightsOnlyModel([(2,)], seed=2)
    saving.load_weights(target, path)
    np.testing.assert_array_equal(target.weights[0].value, first.weights[0].value)  # kept
    saving.save_weights(second, path)
    saving.load_weights(target, path)
    np.testing.assert_array_equal(target.weights[0].value, second.weights[0].value)  # replaced


def test_keras_file_arguments_rnnkit_does_not_implement_are_refused_by_name(tmp_path):
    model = WeightsOnlyModel([(2,)], seed=0)
    path = tmp_path / "w.weights.rnnkit"
    with pytest.raises(NotImplementedError, match="max_shard_size"):
        saving.save_weights(model, path, max_shard_size=1)
    saving.save_weights(model, filepath=path)
    with pytest.raises(NotImplementedError, match="skip_mismatch"):
        saving.load_weights(model, path, skip_mismatch=True)
    saving.load_weights(model, filepath=path, skip_mismatch=False)
    with pytest.raises(NotImplementedError, match="zipped=False"):
        saving.save_model(model, tmp_path / "m.rnnkit", zipped=False)


def test_load_weights_refuses_a_different_architecture(tmp_path):
    path = tmp_path / "w.weights.rnnkit"
    saving.save_weights(WeightsOnlyModel([(3, 4)], seed=0), path)
    with pytest.raises(ValueError, match=r"w\.weights\.rnnkit.*shape \(3, 4\).*shape \(4, 3\)"):
        saving.load_weights(WeightsOnlyModel([(4, 3)], seed=0), path)
    with pytest.raises(ValueError, match="1 weights but the model has 2"):
        saving.load_weights(WeightsOnlyModel([(3, 4), (1,)], seed=0), path)


def test_weights_only_file_is_not_a_model(tmp_path):
    path = tmp_path / "w.weights.rnnkit"
    saving.save_weights(WeightsOnlyModel([(1,)], seed=0), path)
    os.replace(path, tmp_path / "w.rnnkit")
    pytest.importorskip("rnnkit.models", reason="the model engine (rnnkit.models) has not landed yet")
    with pytest.raises(ValueError, match="no model_config"):
        saving.load_model(tmp_path / "w.rnnkit")


@pytest.mark.parametrize("call", [lambda p: saving.save_weights(WeightsOnlyModel([], 0), p),
                                  lambda p: saving.load_weights(WeightsOnlyModel([], 0), p),
                                  lambda p: saving.load_model(p)])
def test_wrong_suffix_is_a_clear_error(tmp_path, call):
    with pytest.raises(ValueError, match=r"model\.h5.*must end with"):
        call(tmp_path / "model.h5")  # Keras 2's whole-model HDF5 files are not read


def test_missing_h5py_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"rnnkit\[h5\]"):
        saving.load_weights(WeightsOnlyModel([], 0), tmp_path / "k.weights.h5")


@pytest.mark.parametrize("class_name, group", [("SimpleRNN", "simple_rnn"), ("LSTM", "lstm"), ("GRU", "gru"),
                                               ("GlobalAveragePooling1D", "global_average_pooling1d"),
                                               ("TimeDistributed", "time_distributed"), ("Dense", "dense")])
def test_keras_group_names(class_name, group):
    assert keras_group_name(class_name) == group


def test_keras_weights_h5_arrays_come_in_keras_weight_order(tmp_path):
    pytest.importorskip("h5py", reason="h5py (extra 'h5') is not installed")
    keras = pytest.importorskip("keras", reason="the Keras oracle group is not installed")
    from rnnkit.saving.keras_h5 import read_keras_weights

    reference = keras.Sequential([keras.layers.Input(shape=(6, 3)), keras.layers.LSTM(5, return_sequences=True),
                                  keras.layers.Bidirectional(keras.layers.GRU(3)), keras.layers.Dense(2),
                                  keras.layers.Dense(1)])
    reference.save_weights(tmp_path / "k.weights.h5")

    import rnnkit

    model = rnnkit.Sequential([rnnkit.layers.Input(shape=(6, 3)), rnnkit.layers.LSTM(5, return_sequences=True),
                               rnnkit.layers.Bidirectional(rnnkit.layers.GRU(3)), rnnkit.layers.Dense(2),
                               rnnkit.layers.Dense(1)])
    loaded = read_keras_weights(tmp_path / "k.weights.h5", model)
    expected = reference.get_weights()
    assert len(loaded) == len(expected) == 13
    for value, reference_value in zip(loaded, expected):
        np.testing.assert_array_equal(value, reference_value)


def test_keras_weights_h5_for_another_architecture_is_refused(tmp_path):
    h5py = pytest.importorskip("h5py", reason="h5py (extra 'h5') is not installed")
    from rnnkit.saving.keras_h5 import read_keras_weights

    with h5py.File(tmp_path / "k.weights.h5", "w") as file:
        file.create_dataset("layers/dense/vars/0", data=np.zeros((2, 2), np.float32))
    import rnnkit

    model = rnnkit.Sequential([rnnkit.layers.Input(shape=(4, 2)), rnnkit.layers.GRU(3, name="gru_7")])
    with pytest.raises(ValueError, match=r"k\.weights\.h5.*no group 'layers/gru' for layer 'gru_7'"):
        read_keras_weights(tmp_path / "k.weights.h5", model)
