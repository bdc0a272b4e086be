"""Weights from Keras 3 `.weights.h5` files, in rnnkit's `model.weights` order, and the optimizer state they hold.

Keras 3 stores each layer of a model under `layers/<snake_case class name>[_<n>]` (names independent of the
layers' own names), the layer's own variables as datasets `vars/0`, `vars/1`, ... and sub-layers in groups
named after the attribute holding them (`cell`, `forward_layer`, `backward_layer`, `layer`).
"""
import os
import re

import numpy as np

# The order in which rnnkit (like Keras) lists a wrapper's weights: RNN cell, Bidirectional, TimeDistributed,
# MultiHeadAttention's projections.
_SUBLAYER_ORDER = ("cell", "forward_layer", "backward_layer", "layer", "query_dense", "key_dense", "value_dense",
                   "output_dense")


def import_h5py():
    try:
        import h5py
    except ImportError as error:
        raise ImportError("Reading Keras .weights.h5 files needs h5py: pip install 'rnnkit[h5]' "
                          "(the optional extra \"h5\")") from error
    return h5py


def keras_group_name(class_name):
    """Keras' snake_case of a class name: "SimpleRNN" -> "simple_rnn", "GlobalAveragePooling1D" -> ..."""
    words = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", words).lower()


def _group_values(h5py, group):
    values = []
    if "vars" in group:
        own = group["vars"]
        values.extend(own[key][()] for key in sorted(own, key=int))
    children = [name for name in group if name != "vars" and isinstance(group[name], h5py.Group)]
    ordered = [n for n in _SUBLAYER_ORDER if n in children] + sorted(set(children) - set(_SUBLAYER_ORDER))
    for name in ordered:
        values.extend(_group_values(h5py, group[name]))
    return values


def keras_layer_groups(model):
    """(group name, layer) of each of the model's layers, named as Keras 3's weight files name them."""
    counts = {}
    for layer in model.layers:
        base = keras_group_name(type(layer).__name__)
        counts[base] = counts.get(base, -1) + 1
        yield (base if counts[base] == 0 else f"{base}_{counts[base]}"), layer


def _opened(path, source):
    """(what h5py opens, the name errors give): a path, or a binary file object read from `source`."""
    return (path, source) if hasattr(path, "read") else (os.fspath(path), path)


def read_keras_weights(path, model, source=None):
    """The arrays of a Keras 3 weights file (a path, or a binary file object named by `source`) for `model`,
    aligned with `model.weights`."""
    h5py = import_h5py()
    values = []
    opened, path = _opened(path, source)
    with h5py.File(opened, "r") as file:
        for name, layer in keras_layer_groups(model):
            key = f"layers/{name}"
            if key in file:
                values.extend(_group_values(h5py, file[key]))
            elif layer.weights:
                raise ValueError(f"{os.fspath(path)!r}: no group {key!r} for layer {layer.name!r}; "
                                 "the file was saved from a different architecture")
    return values


def read_keras_optimizer_values(path, source=None):
    """The optimizer state a Keras 3 weights file holds (`optimizer/vars/0`, `1`, ...), or None when it holds
    none; `path` and `source` as for read_keras_weights."""
    h5py = import_h5py()
    opened, path = _opened(path, source)
    with h5py.File(opened, "r") as file:
        group = file.get("optimizer/vars")
        if not isinstance(group, h5py.Group):
            return None
        try:
            keys = sorted(group, key=int)
        except ValueError:
            raise ValueError(f"{os.fspath(path)!r}: optimizer/vars holds names other than 0, 1, 2, ...") from None
        values = [group[key][()] if isinstance(group[key], h5py.Dataset) else None for key in keys]
    for key, value in zip(keys, values):
        if value is None or np.asarray(value).dtype.kind not in "biuf":
            raise ValueError(f"{os.fspath(path)!r}: optimizer/vars/{key} is not an array of numbers")
    return values
