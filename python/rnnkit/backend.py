"""Keras 3's `keras.backend` functions a model's code calls: the session reset, the fuzz factor and the float type.

rnnkit computes in float32 on its own C++ core, so `backend()` names rnnkit and only float32 is accepted."""
import gc

import numpy as np

_EPSILON = 1e-7


def clear_session(free_memory=True):
    """Resets Keras' global state as keras.backend.clear_session does: layer names start again from "dense",
    "lstm", ... (models and layers already made keep theirs); free_memory runs Python's garbage collection."""
    from rnnkit.layers import layer

    layer.reset_names()
    if free_memory:
        gc.collect()


def backend():
    return "rnnkit"


def epsilon():
    """Keras' fuzz factor, 1e-7 unless set_epsilon changed it."""
    return _EPSILON


def set_epsilon(value):
    global _EPSILON
    _EPSILON = float(value)


def floatx():
    return "float32"


def set_floatx(value):
    if str(np.dtype(value)) != "float32":
        raise ValueError(f"rnnkit computes in float32 only, received set_floatx({value!r})")


def image_data_format():
    return "channels_last"


def set_image_data_format(data_format):
    if str(data_format).lower() != "channels_last":
        raise ValueError(f"rnnkit's layers take channels last only, received set_image_data_format({data_format!r})")


def is_keras_tensor(x):
    """True for a symbolic tensor of a functional model (keras.Input's and what layers make of it)."""
    from rnnkit.layers.input_layer import KerasTensor

    return isinstance(x, KerasTensor)
