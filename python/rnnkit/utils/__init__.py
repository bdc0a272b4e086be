"""Keras 3 `keras.utils` helpers."""
from rnnkit.preprocessing.sequence import pad_sequences, to_categorical
from rnnkit.preprocessing.timeseries import TimeseriesDataset, timeseries_dataset_from_array
from rnnkit.saving.object_registry import (CustomObjectScope, custom_object_scope, get_custom_objects,
                                           get_registered_name, get_registered_object, register_keras_serializable)
from rnnkit.utils.py_dataset import PyDataset


def set_random_seed(seed):
    """Seed numpy, Python and rnnkit's random streams (delegates to rnnkit.random)."""
    # Imported at call time so this package does not depend on rnnkit.random being importable first.
    from rnnkit import random

    return random.set_random_seed(seed)


def dataset_to_arrays(dataset):
    """Whole contents of a TimeseriesDataset as arrays: (x, y), or x when it has no targets."""
    if not isinstance(dataset, TimeseriesDataset):
        raise TypeError(f"dataset_to_arrays: expected a TimeseriesDataset, received {type(dataset).__name__}")
    return dataset.as_arrays()


__all__ = ["pad_sequences", "to_categorical", "timeseries_dataset_from_array", "TimeseriesDataset",
           "dataset_to_arrays", "set_random_seed", "PyDataset", "register_keras_serializable", "get_custom_objects",
           "custom_object_scope", "CustomObjectScope", "get_registered_name", "get_registered_object"]
