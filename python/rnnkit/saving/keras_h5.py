"""Weights from Keras 3 `.weights.h5` files, in rnnkit's `model.weights` order, and the optimizer state they hold.

Keras 3 stores each layer of a functional model under `layers/<snake_case class name>[_<n>]` (names independent of
the layers' own names; a subclassed model's layers as keras_layer_paths says), the layer's own variables as datasets
`vars/0`, `vars/1`, ... and sub-layers in groups named after the attribute holding them (`cell`, `forward_layer`,
`backward_layer`, `layer`; a list's layers under `<attribute>/<snake_case class name>[_<n>]`, as StackedRNNCells'
`cells`): attribute_paths.
"""
import os

import numpy as np

from rnnkit.layers.layer import to_snake_case

def import_h5py():
    try:
        import h5py
    except ImportError as error:
        raise ImportError("Reading Keras .weights.h5 files needs h5py: pip install 'rnnkit[h5]' "
                          "(the optional extra \"h5\")") from error
    return h5py


# Keras names a layer's group by the snake case of its class name, its rule for layer names too.
keras_group_name = to_snake_case


def _own_values(group):
    own = group.get("vars")
    return [] if own is None else [own[key][()] for key in sorted(own, key=int)]


def keras_layer_paths(model):
    """(group path, layer) of each of the model's layers as Keras 3's weight files place them: a functional or
    Sequential model's under `layers/<snake_case class name>[_<n>]`, a subclassed model's as attribute_paths
    finds them, its `layers` list (all its layers) taken as one more attribute."""
    from rnnkit.models.functional import Functional

    if isinstance(model, Functional):
        return list(_numbered("layers", model.layers))
    return attribute_paths(model, [("layers", model.layers)])


def attribute_paths(owner, extra=()):
    """(group path, layer) of the layers an object holds, as Keras walks its attributes (public names sorted, then
    private ones): a layer under its attribute's name, the layers of a list or dict under
    `<attribute>/<snake_case class name>[_<n>]`; each layer where the walk first meets it."""
    from rnnkit.layers.layer import Layer

    attributes = [(name, value) for name, value in vars(owner).items() if not name.startswith("__")] + list(extra)
    met, paths = set(), []
    for name, value in sorted(attributes, key=lambda item: ("~" if item[0].startswith("_") else "") + item[0]):
        if isinstance(value, Layer):
            placed = [(name, value)]
        elif isinstance(value, (list, tuple, dict)):
            placed = _numbered(name, value.values() if isinstance(value, dict) else value)
        else:
            continue
        for path, layer in placed:
            if id(layer) not in met:
                met.add(id(layer))
                paths.append((path, layer))
    return paths


def _numbered(parent, items):
    """(parent/<snake_case class name>[_<n>], layer) for the layers among items, numbered per class name."""
    from rnnkit.layers.layer import Layer

    counts = {}
    for item in items:
        if isinstance(item, Layer):
            base = keras_group_name(type(item).__name__)
            counts[base] = counts.get(base, -1) + 1
            yield f"{parent}/{base}" if counts[base] == 0 else f"{parent}/{base}_{counts[base]}", item


def _opened(path, source):
    """(what h5py opens, the name errors give): a path, or a binary file object read from `source`."""
    return (path, source) if hasattr(path, "read") else (os.fspath(path), path)


def read_keras_weights(path, model, source=None):
    """The arrays of a Keras 3 weights file (a path, or a binary file object named by `source`) for `model`,
    aligned with `model.weights`."""
    h5py = import_h5py()
    opened, path = _opened(path, source)
    with h5py.File(opened, "r") as file:
        return _held_values(h5py, file, model, keras_layer_paths(model), os.fspath(path))


def _held_values(h5py, group, owner, paths, path):
    """owner.weights' values: its own variables (`vars`), then each held layer's, in owner.weights' order (the
    order the layers were assigned), whatever order the file lists their groups in."""
    per_layer = {}
    for key, layer in paths:
        if key in group:
            per_layer[id(layer)] = _layer_values(h5py, group[key], layer, path)
        elif layer.weights:
            raise ValueError(f"{path!r}: no group {(group.name + '/' + key).lstrip('/')!r} for layer {layer.name!r}; "
                             "the file was saved from a different architecture")
    own = _own_values(group) if owner._weights else []
    return own + [value for layer in owner._sublayers() for value in per_layer.get(id(layer), [])]


def _layer_values(h5py, group, layer, path):
    groups = getattr(layer, "keras_weight_groups", None)
    if groups:  # weights rnnkit holds itself where Keras holds them in sub-layers, in that order
        missing = [name for name in groups if name not in group]
        if missing:
            raise ValueError(f"{path!r}: no group {group.name.lstrip('/') + '/' + missing[0]!r} for layer "
                             f"{layer.name!r}; the file was saved from a different architecture")
        return _own_values(group) + [value for name in groups for value in _own_values(group[name])]
    return _held_values(h5py, group, layer, attribute_paths(layer), path)


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
