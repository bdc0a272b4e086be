"""Layer (de)serialization in Keras 3's format: {"module", "class_name", "config", "registered_name"}."""
import difflib

from rnnkit.saving.object_registry import find_class, serialize_object


def _layer_classes():
    import rnnkit.layers as layers_module
    from rnnkit.layers.layer import Layer

    return {name: obj for name, obj in vars(layers_module).items()
            if isinstance(obj, type) and issubclass(obj, Layer)}


def serialize(layer):
    from rnnkit.layers.layer import Layer

    if not isinstance(layer, Layer):
        raise TypeError(f"serialize expects a Layer, received {layer!r}")
    # A custom layer as Keras writes one: its module and its registered name ("package>Name" when registered with
    # register_keras_serializable), which loading looks up.
    return serialize_object(layer, _layer_classes(), "keras.layers")


def deserialize(config, custom_objects=None):
    """A new layer from ``serialize``'s dict (also Keras 3's). A custom class is found by its registered name or
    class name in a custom_object_scope, the register_keras_serializable registry or ``custom_objects``."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"deserialize expects a dict with 'class_name' and 'config', received {config!r}")
    name = config["class_name"]
    cls = find_class(config, _layer_classes(), custom_objects)
    if cls is None:
        known = list(_layer_classes()) + list(custom_objects or {})
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown layer class {name!r}{hint} (a custom class is found through custom_objects, "
                         "custom_object_scope or register_keras_serializable)")
    return cls.from_config(dict(config.get("config") or {}))


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
