"""Keras 3's custom-object registry: register_keras_serializable, custom_object_scope, get_custom_objects; and
keras.backend's session reset and constants, keras.ops' conversions."""
import gc

import numpy as np
import pytest

import rnnkit
from rnnkit import layers, saving


def scaled_class():
    class Scaled(layers.Layer):
        """y = x * factor, a config value."""

        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    return Scaled


def model_with(layer):
    inputs = layers.Input((3,))
    return rnnkit.Model(inputs, layers.Dense(2)(layer(inputs)))


@pytest.mark.parametrize("suffix", [".rnnkit", ".keras"])
def test_a_registered_layer_is_found_by_its_registered_name_without_custom_objects(tmp_path, suffix):
    if suffix == ".keras":
        pytest.importorskip("h5py", reason="h5py (extra 'h5') is not installed")
    scaled = saving.register_keras_serializable(package=f"Registry{suffix[1:]}")(scaled_class())
    assert saving.get_registered_name(scaled) == f"Registry{suffix[1:]}>Scaled"
    assert saving.get_custom_objects()[f"Registry{suffix[1:]}>Scaled"] is scaled
    model = model_with(scaled(3.0))
    assert layers.serialize(model.layers[1])["registered_name"] == f"Registry{suffix[1:]}>Scaled"
    model.save(tmp_path / f"m{suffix}")
    back = saving.load_model(tmp_path / f"m{suffix}")
    assert type(back.layers[1]) is scaled and back.layers[1].factor == 3.0
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))


def test_custom_object_scope_supplies_classes_to_loading_inside_it(tmp_path):
    scaled = scaled_class()
    model_with(scaled()).save(tmp_path / "m.rnnkit")
    with pytest.raises(ValueError, match="Unknown layer class 'Scaled'.*custom_object_scope"):
        saving.load_model(tmp_path / "m.rnnkit")
    with rnnkit.utils.custom_object_scope({"Scaled": scaled}):
        assert type(saving.load_model(tmp_path / "m.rnnkit").layers[1]) is scaled
    with pytest.raises(ValueError, match="Unknown layer class"):  # the scope has ended
        saving.load_model(tmp_path / "m.rnnkit")


def test_registration_refuses_doubles_and_classes_without_a_config():
    register = saving.register_keras_serializable(package="Doubles")
    register(scaled_class())
    with pytest.raises(ValueError, match="'Doubles>Scaled' has already been registered"):
        register(scaled_class())

    class Plain:
        pass

    with pytest.raises(ValueError, match="must define get_config"):
        register(Plain)


def test_clear_session_restarts_layer_names_and_the_backend_constants():
    rnnkit.backend.clear_session()
    assert [layers.Dense(1).name, layers.Dense(1).name, layers.LSTM(1).name] == ["dense", "dense_1", "lstm"]
    rnnkit.backend.clear_session()
    assert layers.Dense(1).name == "dense"
    assert rnnkit.backend.epsilon() == 1e-7 and rnnkit.backend.floatx() == "float32"
    assert rnnkit.backend.backend() == "rnnkit" and rnnkit.backend.image_data_format() == "channels_last"
    with pytest.raises(ValueError, match="float32 only"):
        rnnkit.backend.set_floatx("float64")


def test_clear_session_collects_garbage_unless_told_not_to():
    collections = []

    def count(phase, info):
        if phase == "start":
            collections.append(info["generation"])

    gc.callbacks.append(count)
    try:
        rnnkit.backend.clear_session(free_memory=False)
        assert 2 not in collections  # no full collection (an automatic young one may happen)
        rnnkit.utils.clear_session()
        assert 2 in collections  # a full collection: Keras' gc.collect()
    finally:
        gc.callbacks.remove(count)
    assert layers.Dense(1).name == "dense"


def test_convert_to_numpy_and_tensor():
    variable = layers.Dense(2)
    variable.build((None, 3))
    kernel = variable.kernel
    copied = rnnkit.ops.convert_to_numpy(kernel)
    np.testing.assert_array_equal(copied, kernel.numpy())
    assert rnnkit.ops.convert_to_tensor([1.0, 2.0]).dtype == np.float32  # Python floats: float32, as in Keras
    assert rnnkit.ops.convert_to_tensor(np.arange(3)).dtype == np.arange(3).dtype
    assert rnnkit.ops.convert_to_tensor(np.ones(2), dtype="float16").dtype == np.float16
    symbolic = layers.Input((3,))
    assert rnnkit.ops.convert_to_tensor(symbolic) is symbolic
    with pytest.raises(TypeError, match="symbolic tensor has no value"):
        rnnkit.ops.convert_to_numpy(symbolic)
