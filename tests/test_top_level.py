"""The top level of `rnnkit` as of `keras`: the base classes Keras 3 code subclasses (`keras.Layer`, `keras.Loss`,
...), `keras.version()`, `keras.device`, and `keras.config` both as Keras' module and as rnnkit's call that
reports the core. The Keras oracle (the same names are the same objects there) is in test_top_level_keras.py."""
import numpy as np
import pytest

import rnnkit
from rnnkit import layers


@pytest.mark.parametrize("name, module", [("Layer", "layers"), ("InputSpec", "layers"), ("Input", "layers"),
                                          ("Loss", "losses"), ("Metric", "metrics"), ("Optimizer", "optimizers"),
                                          ("Initializer", "initializers"), ("Regularizer", "regularizers"),
                                          ("Model", "models"), ("Sequential", "models"), ("Variable", "variables")])
def test_top_level_names_are_the_modules_objects(name, module):
    __import__(f"rnnkit.{module}")
    assert getattr(rnnkit, name) is getattr(getattr(rnnkit, module), name)


def test_a_layer_subclassing_the_top_level_class_runs():
    class Doubling(rnnkit.Layer):
        def call(self, x):
            return x * 2.0

    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    inputs = rnnkit.Input((3,))
    assert isinstance(inputs, rnnkit.KerasTensor)
    model = rnnkit.Model(inputs, Doubling()(inputs))
    np.testing.assert_array_equal(model.predict(x, verbose=0), 2 * x)


def test_version_is_the_package_version():
    assert rnnkit.version() == rnnkit.__version__ and rnnkit.__version__.count(".") == 2


@pytest.mark.parametrize("name", ["cpu", "CPU", "cpu:0", "CPU:1"])
def test_device_scope_takes_the_cpu(name):
    with rnnkit.device(name):
        y = rnnkit.Sequential([layers.Input((3,)), layers.Dense(2)]).predict(np.ones((1, 3), np.float32), verbose=0)
    assert y.shape == (1, 2)


@pytest.mark.parametrize("name", ["gpu:0", "GPU", "cuda", "tpu:0", "cpu0", None])
def test_device_scope_refuses_other_devices_before_running_anything(name):
    ran = []
    with pytest.raises(ValueError, match="CPU only"):
        with rnnkit.device(name):
            ran.append(True)
    assert not ran


def test_config_is_called_for_the_core_and_read_as_keras_config():
    core = rnnkit.config()
    assert core["isa"] in {"generic", "avx2", "avx512"} and core["num_threads"] >= 1
    from rnnkit.config import floatx, set_epsilon

    assert floatx() == rnnkit.config.floatx() == rnnkit.backend.floatx() == "float32"
    assert rnnkit.config.backend() == "rnnkit" and rnnkit.config.image_data_format() == "channels_last"
    before = rnnkit.config.epsilon()
    try:
        set_epsilon(1e-5)
        assert rnnkit.backend.epsilon() == 1e-5
    finally:
        set_epsilon(before)
    rnnkit.config.enable_unsafe_deserialization()
    rnnkit.config.set_image_data_format("channels_last")
    with pytest.raises(ValueError, match="channels last only"):
        rnnkit.config.set_image_data_format("channels_first")
    with pytest.raises(ValueError, match="float32 only"):
        rnnkit.config.set_floatx("float64")


def test_float32_is_the_one_dtype_policy():
    policy = rnnkit.mixed_precision.global_policy()
    assert (policy.name, policy.compute_dtype, policy.variable_dtype) == ("float32", "float32", "float32")
    assert policy == rnnkit.DTypePolicy() == rnnkit.dtype_policies.get("float32") == rnnkit.config.dtype_policy()
    rnnkit.mixed_precision.set_global_policy("float32")
    rnnkit.config.set_dtype_policy(rnnkit.FloatDTypePolicy("float32"))
    for name in ("mixed_float16", "mixed_bfloat16", "float16", "int8"):
        with pytest.raises(ValueError, match="float32 only"):
            rnnkit.mixed_precision.set_global_policy(name)
    config = rnnkit.dtype_policies.serialize(policy)
    assert config == {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
                      "registered_name": None}
    assert rnnkit.dtype_policies.deserialize(config) == policy and repr(policy) == '<DTypePolicy "float32">'
