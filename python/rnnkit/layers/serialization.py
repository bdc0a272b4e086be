"""Layer (de)serialization in Keras 3's format: {"module", "class_name", "config", "registered_name"}."""
import difflib


def _layer_classes():
    import rnnkit.layers as layers_module
    from rnnkit.layers.layer import Layer

    return {name: obj for name, obj in vars(layers_module).items()
            if isinstance(obj, type) and issubclass(obj, Layer)}


def serialize(layer):
    from rnnkit.layers.layer import Layer

    if not isinstance(layer, Layer):
        raise TypeError(f"serialize expects a Layer, received {layer!r}")
    name = type(layer).__name__
    if _layer_classes().get(name) is type(layer):
        return {"module": "keras.layers", "class_name": name, "config": layer.get_config(), "registered_name": None}
    # A custom layer as Keras writes one: its module and its registered name, which custom_objects look up.
    return {"module": type(layer).__module__, "class_name": name, "config": layer.get_config(), "registered_name": name}


def deserialize(config, custom_objects=None):
    """A new layer from ``serialize``'s dict (also Keras 3's). ``custom_objects`` maps extra class names."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"deserialize expects a dict with 'class_name' and 'config', received {config!r}")
    classes = {**_layer_classes(), **(custom_objects or {})}
    name = config["class_name"]
    if name not in classes:
        close = difflib.get_close_matches(name, list(classes), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown layer class {name!r}{hint}")
    return classes[name].from_config(dict(config.get("config") or {}))


def get(identifier):
    """A layer from a Layer (returned as is), a serialized dict, or the class name of a layer without arguments."""
    from rnnkit.layers.layer import Layer

    if isinstance(identifier, Layer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return deserialize({"class_name": identifier, "config": {}})
    raise TypeError(f"Could not interpret layer identifier {identifier!r}")
