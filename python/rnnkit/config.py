"""Keras 3's `keras.config` (the float type, the fuzz factor, the backend's name) and, called, the C++ core's
run-time configuration: `rnnkit.config()` returns the ISA in use, the thread count and the build facts.

Keras' `keras.config` is a module and rnnkit's `config()` a function that came first; this module is both, so
`keras.config.floatx()` and `from keras.config import floatx` run unchanged on rnnkit."""
import sys
import types

from rnnkit._runtime import core_config
from rnnkit.backend import backend, epsilon, floatx, image_data_format, set_epsilon, set_floatx, set_image_data_format
from rnnkit.mixed_precision import dtype_policy, set_dtype_policy

__all__ = ["backend", "epsilon", "floatx", "image_data_format", "set_epsilon", "set_floatx", "set_image_data_format",
           "enable_unsafe_deserialization", "dtype_policy", "set_dtype_policy"]


def enable_unsafe_deserialization():
    """Keras' switch for loading a Lambda layer's saved bytecode: accepted, without effect. rnnkit never runs code
    from a file, so such a Lambda is refused either way (saving.load_model)."""


class _CallableModule(types.ModuleType):
    def __call__(self):
        return core_config()


sys.modules[__name__].__class__ = _CallableModule
