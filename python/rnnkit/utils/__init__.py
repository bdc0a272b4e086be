"""Keras 3 `keras.utils` helpers."""
import numpy as np

from rnnkit.preprocessing.sequence import pad_sequences, to_categorical
from rnnkit.preprocessing.text_dataset import TextDataset, text_dataset_from_directory
from rnnkit.preprocessing.timeseries import TimeseriesDataset, timeseries_dataset_from_array
from rnnkit.saving.keras_objects import deserialize_keras_object, serialize_keras_object
from rnnkit.saving.object_registry import (CustomObjectScope, custom_object_scope, get_custom_objects,
                                           get_registered_name, get_registered_object, register_keras_serializable)
from rnnkit.utils.model_plot import model_to_dot, plot_model
from rnnkit.utils.progbar import Progbar
from rnnkit.utils.py_dataset import PyDataset

Sequence = PyDataset  # Keras 2's name, kept by Keras 3


def set_random_seed(seed):
    """Seed numpy, Python and rnnkit's random streams (delegates to rnnkit.random)."""
    # Imported at call time so this package does not depend on rnnkit.random being importable first.
    from rnnkit import random

    return random.set_random_seed(seed)


def normalize(x, axis=-1, order=2):
    """x divided by its `order`-norm along `axis` (zero vectors stay zero), as float32."""
    x = np.asarray(x, np.float32)
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """x alone, (x, y) or (x, y, sample_weight): what a data set's batches hold."""
    if y is None:
        return x
    return (x, y) if sample_weight is None else (x, y, sample_weight)


def unpack_x_y_sample_weight(data):
    """(x, y, sample_weight) from a batch of one, two or three entries (None for the missing ones)."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if not 1 <= len(data) <= 3:
        raise ValueError(f"unpack_x_y_sample_weight: expected a tuple of 1 to 3 entries, received {len(data)}")
    return data + (None,) * (3 - len(data))


def clear_session(free_memory=True):
    """``rnnkit.backend.clear_session``: layer names start again."""
    from rnnkit import backend

    return backend.clear_session(free_memory)


def is_keras_tensor(x):
    """``rnnkit.backend.is_keras_tensor``: True for a functional model's symbolic tensor."""
    from rnnkit import backend

    return backend.is_keras_tensor(x)


def dataset_to_arrays(dataset):
    """Whole contents of a TimeseriesDataset as arrays: (x, y), or x when it has no targets."""
    if not isinstance(dataset, TimeseriesDataset):
        raise TypeError(f"dataset_to_arrays: expected a TimeseriesDataset, received {type(dataset).__name__}")
    return dataset.as_arrays()


__all__ = ["pad_sequences", "to_categorical", "timeseries_dataset_from_array", "TimeseriesDataset",
           "dataset_to_arrays", "set_random_seed", "PyDataset", "register_keras_serializable", "get_custom_objects",
           "custom_object_scope", "CustomObjectScope", "get_registered_name", "get_registered_object", "Sequence",
           "normalize", "pack_x_y_sample_weight", "unpack_x_y_sample_weight", "clear_session",
           "text_dataset_from_directory", "TextDataset", "plot_model", "model_to_dot", "is_keras_tensor",
           "serialize_keras_object", "deserialize_keras_object", "Progbar"]
