"""Oracle: the names at the top of `keras` and in `keras.config` against rnnkit's. Where Keras exports one
object under a top-level name and a module's name (keras.Layer is keras.layers.Layer), rnnkit's top-level name
is its module's object too; rnnkit.config's functions take Keras' parameters."""
import inspect

import pytest

torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

import rnnkit  # noqa: E402

pytestmark = pytest.mark.oracle


def keras_top_level_aliases():
    modules = [name for name in dir(keras) if not name.startswith("_") and name != "src"
               and inspect.ismodule(getattr(keras, name))]
    pairs = []
    for name in dir(keras):
        obj = getattr(keras, name)
        if name.startswith("_") or inspect.ismodule(obj):
            continue
        pairs += [(name, module, other) for module in modules for other in dir(getattr(keras, module))
                  if getattr(getattr(keras, module), other, None) is obj]
    return pairs


def test_keras_top_level_aliases_are_rnnkit_aliases_where_rnnkit_has_the_object():
    pairs = keras_top_level_aliases()
    assert ("Layer", "layers", "Layer") in pairs
    checked = 0
    for name, module, other in pairs:
        if hasattr(getattr(rnnkit, module, None), other):
            assert getattr(rnnkit, name, None) is getattr(getattr(rnnkit, module), other), f"{name} / {module}.{other}"
            checked += 1
    assert checked >= 10


def test_config_functions_take_keras_parameters():
    ours = [name for name in rnnkit.config.__all__]
    assert {"floatx", "set_floatx", "epsilon", "set_epsilon", "backend"} <= set(ours)
    for name in ours:
        assert list(inspect.signature(getattr(rnnkit.config, name)).parameters) == \
            list(inspect.signature(getattr(keras.config, name)).parameters), name


def test_keras_and_rnnkit_agree_on_float_type_and_defaults():
    assert rnnkit.config.floatx() == keras.config.floatx()
    assert rnnkit.config.epsilon() == keras.config.epsilon()
    assert rnnkit.config.image_data_format() == keras.config.image_data_format()


def test_keras_tensor_and_version_shapes():
    assert inspect.isclass(rnnkit.KerasTensor) and isinstance(rnnkit.Input((2,)), rnnkit.KerasTensor)
    assert isinstance(keras.Input((2,)), keras.KerasTensor)
    assert isinstance(rnnkit.version(), str) and isinstance(keras.version(), str)


def test_float32_policy_reads_as_keras_one():
    ours, theirs = rnnkit.mixed_precision.global_policy(), keras.mixed_precision.global_policy()
    assert (ours.name, ours.compute_dtype, ours.variable_dtype) == (theirs.name, theirs.compute_dtype,
                                                                     theirs.variable_dtype)
    assert rnnkit.dtype_policies.serialize(ours) == keras.dtype_policies.serialize(theirs)
    assert repr(ours) == repr(theirs) and ours.get_config() == theirs.get_config()
