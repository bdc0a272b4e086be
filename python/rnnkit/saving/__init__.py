"""Saving and loading models in the .rnnkit file (docs/file_format.md); Keras 3 `.keras` and `.weights.h5`
import."""
import os

from rnnkit.saving.atomic import atomic_write
from rnnkit.saving.file_format import read_model_file, write_model_file
from rnnkit.saving.keras_objects import deserialize_keras_object, serialize_keras_object
from rnnkit.saving.object_registry import (CustomObjectScope, custom_object_scope, get_custom_objects,
                                           get_registered_name, get_registered_object, register_keras_serializable)

MODEL_SUFFIX = ".rnnkit"
WEIGHTS_SUFFIX = ".weights.rnnkit"

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "MODEL_SUFFIX", "WEIGHTS_SUFFIX",
           "register_keras_serializable", "get_custom_objects", "custom_object_scope", "CustomObjectScope",
           "get_registered_name", "get_registered_object", "restore_model_state", "serialize_keras_object",
           "deserialize_keras_object"]


def _require_suffix(path, suffixes, function):
    if not str(path).endswith(suffixes):
        raise ValueError(f"{function}: file {os.fspath(path)!r} must end with one of {list(suffixes)}")


def _check_overwrite(filepath, overwrite, function):
    """overwrite=False and the file exists: an error. Keras 3 asks on the terminal instead, which would block a
    program that has no one at its terminal."""
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{function}: {os.fspath(filepath)!r} exists and overwrite=False")


def _model_config(model):
    from rnnkit.models.functional import Functional

    if not isinstance(model, Functional):  # a subclassed model: found again by its class, built, then filled
        from rnnkit.layers import serialize

        return {**serialize(model), "build_config": model.build_config}
    return {"module": "keras", "class_name": type(model).__name__, "config": model.get_config(),
            "registered_name": None}


def _named(prefix, variables):
    # The index keeps names unique even if two variables share a path; the path keeps files readable.
    return {f"{prefix}/{i:04d}/{v.path}": v.value for i, v in enumerate(variables)}


def save_model(model, filepath, overwrite=True, zipped=None):
    """Writes architecture, weights, compile config and optimizer state to `filepath` (".rnnkit") atomically. A
    ".keras" path gets Keras 3's archive instead (the same four; h5py needed), which Keras' load_model reads.
    overwrite=False refuses to replace a file."""
    _require_suffix(filepath, (MODEL_SUFFIX, ".keras"), "save_model")
    if zipped is False:
        raise NotImplementedError("save_model: zipped=False (Keras' unzipped directory) is not supported by rnnkit, "
                                  "which writes one file")
    _check_overwrite(filepath, overwrite, "save_model")
    if str(filepath).endswith(".keras"):
        from rnnkit.saving.keras_archive import keras_weights_bytes, write_keras_archive

        weights = keras_weights_bytes(model)
        with atomic_write(filepath) as stream:
            write_keras_archive(stream, model, weights)
        return
    from rnnkit.saving.layer_assets import rnnkit_layer_assets

    weights = _named("weights", model.weights)
    optimizer = getattr(model, "optimizer", None)
    optimizer_state = _named("optimizer", optimizer.variables) if optimizer is not None else {}
    with atomic_write(filepath) as stream:
        write_model_file(stream, {**weights, **optimizer_state}, model_config=_model_config(model),
                         compile_config=getattr(model, "compile_config", None), weights=list(weights),
                         optimizer_variables=list(optimizer_state), layer_assets=rnnkit_layer_assets(model))


def _model_from_config(config, custom_objects, path):
    import rnnkit.layers
    import rnnkit.models

    if not isinstance(config, dict):
        raise ValueError(f"load_model: {os.fspath(path)!r} holds weights only (no model_config); "
                         "build the model and use load_weights")
    model_class = {"Sequential": rnnkit.models.Sequential, "Functional": rnnkit.models.Functional,
                   "Model": rnnkit.models.Model}.get(config.get("class_name"))
    try:
        if model_class is not None:
            return model_class.from_config(dict(config.get("config") or {}), custom_objects=custom_objects)
        model = rnnkit.layers.deserialize(config, custom_objects=custom_objects)
        build_config = config.get("build_config")
        if isinstance(model, rnnkit.models.Model) and isinstance(build_config, dict):
            model.build_from_config(build_config)
        return model
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
        # A file from elsewhere may hold any JSON here: whatever breaks, the error names the file and the field.
        raise ValueError(f"load_model: {os.fspath(path)!r} has a model_config rnnkit cannot rebuild: "
                         f"{type(error).__name__}: {error}") from error

def _names_by_path(variables, names):
    """`names` reordered to match `variables` when every name ends in a distinct variable path, as save_model
    writes them ("weights/0003/lstm/lstm_cell/kernel"), and those paths are the variables': files saved before
    functional models listed their layers in Keras' order keep their meaning. Otherwise None (match by position)."""
    by_path = {}
    for name in names:
        parts = name.split("/", 2)
        if len(parts) != 3 or parts[2] in by_path:
            return None
        by_path[parts[2]] = name
    try:
        return [by_path[variable.path] for variable in variables]
    except KeyError:
        return None


def _assign_all(variables, names, tensors, path, what):
    variables = list(variables)
    if len(variables) == len(names):
        names = _names_by_path(variables, names) or names
    if len(variables) != len(names):
        raise ValueError(f"{os.fspath(path)!r}: the file has {len(names)} {what} but the model has {len(variables)}")
    for variable, name in zip(variables, names):
        if tuple(tensors[name].shape) != tuple(variable.shape):
            raise ValueError(f"{os.fspath(path)!r}: {what} {name!r} has shape {tensors[name].shape}, "
                             f"the model's {variable.path!r} has shape {variable.shape}")
    for variable, name in zip(variables, names):
        variable.assign(tensors[name])


def _compile_from_config(model, compile_config):
    import rnnkit.optimizers

    settings = dict(compile_config)
    settings["optimizer"] = rnnkit.optimizers.deserialize(settings["optimizer"])
    model.compile(**settings)


def _assign_keras_weights(model, weights_file, path):
    """The model's weights from a Keras 3 weights file (a path or a file object read from `path`), and when the
    model has an optimizer the optimizer state the file holds (built on the model's trainable variables)."""
    from rnnkit.saving.keras_h5 import read_keras_optimizer_values, read_keras_weights
    from rnnkit.saving.keras_optimizer import assign_keras_optimizer_values

    values = read_keras_weights(weights_file, model, source=path)
    names = [f"{i}" for i in range(len(values))]
    _assign_all(model.weights, names, dict(zip(names, values)), path, "weights")
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        if hasattr(weights_file, "seek"):
            weights_file.seek(0)
        state = read_keras_optimizer_values(weights_file, source=path)
        if state is not None:
            assign_keras_optimizer_values(optimizer, model.trainable_variables, state, path)


def _load_keras_archive(path, custom_objects, compile):
    """A model Keras 3 saved with `model.save("....keras")`: its architecture and weights (h5py needed), and with
    `compile` its compile settings and optimizer state."""
    from rnnkit.saving.keras_archive import read_keras_archive, read_keras_members
    from rnnkit.saving.layer_assets import restore_keras_layer_assets

    config, weights_file = read_keras_archive(path)
    model = _model_from_config(config, custom_objects, path)
    if compile and config.get("compile_config"):
        _compile_from_config(model, config["compile_config"])
    _assign_keras_weights(model, weights_file, path)
    restore_keras_layer_assets(model, weights_file, path, lambda names: read_keras_members(path, names))
    return model


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Rebuilds the model saved by `save_model`; with `compile`, training resumes exactly where it stopped. Also
    reads Keras 3's `.keras` archives (needs h5py, the "h5" extra). rnnkit runs no code from a file whatever
    `safe_mode` says: a Lambda Keras saved (its function as bytecode) is refused even with safe_mode=False."""
    del safe_mode
    _require_suffix(filepath, (MODEL_SUFFIX, ".keras"), "load_model")
    if str(filepath).endswith(".keras"):
        return _load_keras_archive(filepath, custom_objects, compile)
    header, tensors = read_model_file(filepath)
    model = _model_from_config(header["model_config"], custom_objects, filepath)
    if compile and header.get("compile_config"):
        _compile_from_config(model, header["compile_config"])
    _assign_state(model, header, tensors, filepath)
    return model


def restore_model_state(model, path):
    """Sets `model`'s weights (and layer assets) and, when it has an optimizer, the optimizer state from a file
    `model.save` wrote for a model of the same architecture (what BackupAndRestore resumes from)."""
    header, tensors = read_model_file(path)
    _assign_state(model, header, tensors, path)


def _assign_state(model, header, tensors, path):
    _assign_all(model.weights, header["weights"], tensors, path, "weights")
    if header.get("layer_assets") is not None:  # vocabularies of text layers (saving.layer_assets)
        from rnnkit.saving.layer_assets import restore_rnnkit_layer_assets

        restore_rnnkit_layer_assets(model, header["layer_assets"], path)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not header["optimizer_variables"]:
        return
    # An optimizer saved before its first step holds no slots yet: built only when the file has them.
    if len(header["optimizer_variables"]) > len(optimizer.variables):
        optimizer.build(model.trainable_variables)
    _assign_all(optimizer.variables, header["optimizer_variables"], tensors, path, "optimizer variables")


def save_weights(model, filepath, overwrite=True, max_shard_size=None):
    """Writes the model's weights (no optimizer state) to `filepath` (".weights.rnnkit") atomically; a
    ".weights.h5" path gets Keras 3's weights file (h5py needed), which Keras' load_weights reads: like Keras', it
    also holds a compiled model's optimizer state. overwrite=False refuses to replace a file."""
    _require_suffix(filepath, (WEIGHTS_SUFFIX, ".weights.h5"), "save_weights")
    if max_shard_size is not None:
        raise NotImplementedError("save_weights: max_shard_size (Keras' sharded weights files) is not supported by "
                                  "rnnkit, which writes one file")
    _check_overwrite(filepath, overwrite, "save_weights")
    if str(filepath).endswith(".h5"):
        from rnnkit.saving.keras_archive import keras_weights_bytes

        data = keras_weights_bytes(model)
        with atomic_write(filepath) as stream:
            stream.write(data)
        return
    weights = _named("weights", model.weights)
    with atomic_write(filepath) as stream:
        write_model_file(stream, weights, weights=list(weights))


def load_weights(model, filepath, skip_mismatch=False):
    """Loads weights from a ".weights.rnnkit" file, or from a Keras 3 ".weights.h5" file (extra "h5"), with the
    optimizer state such a file holds when the model has an optimizer."""
    _require_suffix(filepath, (WEIGHTS_SUFFIX, MODEL_SUFFIX, ".weights.h5"), "load_weights")
    if skip_mismatch:
        raise NotImplementedError("load_weights: skip_mismatch=True is not supported by rnnkit: every weight must "
                                  "match the file's")
    if str(filepath).endswith(".h5"):
        from rnnkit.saving.layer_assets import restore_keras_layer_assets

        _assign_keras_weights(model, filepath, filepath)
        restore_keras_layer_assets(model, filepath, filepath)  # idf weights, as Keras' load_own_variables
        return
    header, tensors = read_model_file(filepath)
    _assign_all(model.weights, header["weights"], tensors, filepath, "weights")
