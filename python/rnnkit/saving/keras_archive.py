"""Keras 3's `.keras` archives, read and written: a zip of `config.json` (the model's Keras config),
`metadata.json` and `model.weights.h5` (the `.weights.h5` layout, read by keras_h5; needs h5py, the "h5" extra).

Nothing is extracted to disk and nothing is executed: the two members are read into memory, each at most
MAX_MEMBER_BYTES (a zip's declared sizes can lie, so the reads themselves are bounded), and layers are looked up
by class name as for `.rnnkit` files.
"""
import io
import json
import os
import zipfile

# The largest config.json or model.weights.h5 read (a weights file of 2 GiB is half a billion float32 weights).
MAX_MEMBER_BYTES = 2 << 30
CONFIG_MEMBER, WEIGHTS_MEMBER = "config.json", "model.weights.h5"


def _read_member(archive, name, path):
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise ValueError(f"load_model: {os.fspath(path)!r} is not a Keras 3 model archive: no {name}") from None
    if info.file_size > MAX_MEMBER_BYTES:
        raise ValueError(f"load_model: {os.fspath(path)!r}: {name} declares {info.file_size} bytes, more than "
                         f"the {MAX_MEMBER_BYTES} read")
    with archive.open(info) as member:
        data = member.read(MAX_MEMBER_BYTES + 1)
    if len(data) > MAX_MEMBER_BYTES:
        raise ValueError(f"load_model: {os.fspath(path)!r}: {name} holds more than the {MAX_MEMBER_BYTES} bytes read")
    return data


def read_keras_archive(path):
    """(the model's Keras config as a dict, the weights file's bytes)."""
    try:
        with zipfile.ZipFile(os.fspath(path)) as archive:
            config_bytes = _read_member(archive, CONFIG_MEMBER, path)
            weights = _read_member(archive, WEIGHTS_MEMBER, path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError) as error:
        # NotImplementedError: a compression method zipfile lacks; RuntimeError: an encrypted member.
        raise ValueError(f"load_model: {os.fspath(path)!r} is not a readable .keras archive: {error}") from error
    try:
        config = json.loads(config_bytes)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"load_model: {os.fspath(path)!r}: {CONFIG_MEMBER} is not JSON: {error}") from error
    if not isinstance(config, dict):
        raise ValueError(f"load_model: {os.fspath(path)!r}: {CONFIG_MEMBER} holds no model config")
    return config, io.BytesIO(weights)


def read_keras_members(path, names):
    """{name: bytes} of the members among `names` that the archive at `path` holds, each read as bounded as
    read_keras_archive's."""
    try:
        with zipfile.ZipFile(os.fspath(path)) as archive:
            held = set(archive.namelist())
            return {name: _read_member(archive, name, path) for name in names if name in held}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError) as error:
        raise ValueError(f"load_model: {os.fspath(path)!r} is not a readable .keras archive: {error}") from error


def _keras_node_args(args, tensors):
    """rnnkit's tensor references ["__keras_tensor__", layer, node, index] in Keras 3's form, which also states
    each tensor's shape and dtype (in an inbound node's args or kwargs)."""
    if isinstance(args, list) and len(args) == 4 and args[0] == "__keras_tensor__":
        tensor = tensors[tuple(args[1:])]
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(tensor.shape), "dtype": tensor.dtype, "keras_history": list(args[1:])}}
    if isinstance(args, list):
        return [_keras_node_args(item, tensors) for item in args]
    if isinstance(args, dict):  # keyword arguments (a recurrent layer's initial_state)
        return {key: _keras_node_args(value, tensors) for key, value in args.items()}
    return args


def _without_traced_graphs(value):
    """Drops the traced graphs rnnkit keeps in Lambda configs, which Keras' Lambda does not take."""
    if isinstance(value, dict):
        if value.get("class_name") == "Lambda" and isinstance(value.get("config"), dict):
            value["config"].pop("graph", None)
        for item in value.values():
            _without_traced_graphs(item)
    elif isinstance(value, list):
        for item in value:
            _without_traced_graphs(item)


def _with_infinite_norm_orders(value):
    """norm's ord=inf as Keras writes it (JSON's Infinity), where rnnkit's strict-JSON configs hold "inf"."""
    if isinstance(value, dict):
        if value.get("class_name") == "Norm" and value.get("config", {}).get("ord") in ("inf", "-inf"):
            value["config"]["ord"] = float(value["config"]["ord"])
        for item in value.values():
            _with_infinite_norm_orders(item)
    elif isinstance(value, list):
        for item in value:
            _with_infinite_norm_orders(item)


def keras_model_config(model):
    """The model's config as Keras 3 deserialises it: Functional under Keras' module, inbound tensors in Keras'
    dict form, Lambda layers with their function only, norm's infinite orders as numbers."""
    from rnnkit.saving import _model_config

    config = json.loads(json.dumps(_model_config(model)))  # a deep copy of plain JSON data
    _without_traced_graphs(config)
    _with_infinite_norm_orders(config)
    if config.get("class_name") in ("Functional", "Model"):  # where Keras 3 finds its functional class
        config.update(module="keras.src.models.functional", class_name="Functional", registered_name="Functional")
        tensors = {tuple(model._tensor_ref(t)[1:]): t for node in model._nodes for t in node.output_tensors}
        for layer in config["config"]["layers"]:
            for node in layer.get("inbound_nodes", []):
                node["args"] = _keras_node_args(node["args"], tensors)
                node["kwargs"] = _keras_node_args(node.get("kwargs", {}), tensors)
    return config


def _write_vars(h5py_group, name, values):
    own = h5py_group.create_group("vars")
    own.attrs["name"] = name
    for index, value in enumerate(values):
        own.create_dataset(str(index), data=value)


def _write_variables(h5py_group, layer):
    """Keras' layout of one layer's weights: its own in vars/0, vars/1, ..., each held layer (RNN cell, wrapped
    layer, attention projection) in a group named after the attribute holding it (attribute_paths)."""
    from rnnkit.saving.keras_h5 import attribute_paths
    from rnnkit.saving.layer_assets import write_keras_own_variables

    groups = getattr(layer, "keras_weight_groups", None)
    if groups:  # weights rnnkit holds itself where Keras holds them in sub-layers, evenly split in that order
        share = len(layer._weights) // len(groups)
        for position, name in enumerate(groups):
            weights = layer._weights[position * share:(position + 1) * share]
            _write_vars(h5py_group.create_group(name), name, [w.value for w in weights])
        own = []
    else:
        own = layer._weights
    _write_vars(h5py_group, layer.name, [w.value for w in own])
    write_keras_own_variables(h5py_group["vars"], layer)
    for path, held in attribute_paths(layer):
        _write_variables(h5py_group.create_group(path), held)


def keras_weights_bytes(model):
    """The model.weights.h5 member: layers named as Keras numbers them (class name in snake case, then _1, _2...),
    and a compiled model's optimizer state in Keras' order, as Keras' `save` and `save_weights` write them."""
    from rnnkit.saving.keras_h5 import import_h5py, keras_layer_paths
    from rnnkit.saving.keras_optimizer import keras_optimizer_values

    h5py = import_h5py()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as file:
        _write_vars(file, model.name, [w.value for w in model._weights])  # a subclassed model's add_weight
        for path, layer in keras_layer_paths(model):
            _write_variables(file.create_group(path), layer)
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None:
            _write_vars(file.create_group("optimizer"), optimizer.name,
                        keras_optimizer_values(optimizer, model.trainable_variables))
    return buffer.getvalue()


def write_keras_archive(stream, model, weights):
    """A `.keras` archive Keras 3's load_model reads: config.json, metadata.json, model.weights.h5 (`weights`,
    from keras_weights_bytes) and the layers' assets (layer_assets: vocabularies)."""
    import datetime

    import rnnkit
    from rnnkit.saving.layer_assets import keras_asset_members

    assets = keras_asset_members(model)
    config = {**keras_model_config(model), "compile_config": getattr(model, "compile_config", None)}
    metadata = {"keras_version": "3", "rnnkit_version": rnnkit.__version__,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("metadata.json", json.dumps(metadata))
        archive.writestr(CONFIG_MEMBER, json.dumps(config))
        archive.writestr(WEIGHTS_MEMBER, weights)
        for name, data in assets.items():
            archive.writestr(name, data)
