"""Keras 3's serialize_keras_object / deserialize_keras_object: any of rnnkit's serialisable objects (layers,
initializers, regularizers, constraints, optimizers, losses, metrics, a registered custom class) to Keras' dict
{"module", "class_name", "config", "registered_name"} and back, and lists, tuples and dicts of them; plain values
(None, strings, numbers, booleans) stay as they are. What custom layers' get_config / from_config use for the
objects they hold, as Keras' guides show."""

_KINDS = ("layers", "initializers", "regularizers", "constraints", "optimizers", "losses", "metrics")
_BASES = {"layers": "Layer", "initializers": "Initializer", "regularizers": "Regularizer",
          "constraints": "Constraint", "optimizers": "Optimizer", "losses": "Loss", "metrics": "Metric"}


def _module(kind):
    import importlib

    return importlib.import_module(f"rnnkit.{kind}")


def serialize_keras_object(obj):
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(item) for item in obj]
    if isinstance(obj, dict):
        return {key: serialize_keras_object(value) for key, value in obj.items()}
    for kind in _KINDS:
        module = _module(kind)
        if isinstance(obj, getattr(module, _BASES[kind])):
            return module.serialize(obj)
    if hasattr(obj, "get_config"):  # a registered class of the user's that derives from none of them
        from rnnkit.saving.object_registry import serialize_object

        return serialize_object(obj, {}, type(obj).__module__)
    raise TypeError(f"serialize_keras_object: cannot serialize {obj!r} (of type {type(obj).__name__}): not a layer, "
                    "initializer, regularizer, constraint, optimizer, loss, metric or object with get_config()")


def deserialize_keras_object(config, custom_objects=None, safe_mode=True, **kwargs):
    """The object `config` describes (`safe_mode` has no effect: no code from a config runs in rnnkit)."""
    if kwargs:
        raise TypeError(f"deserialize_keras_object: unexpected arguments {sorted(kwargs)}")
    if config is None or isinstance(config, (str, int, float, bool)):
        return config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(item, custom_objects) for item in config]
    if not isinstance(config, dict):
        raise TypeError(f"deserialize_keras_object: expected a dict, list or plain value, received {config!r}")
    if "class_name" not in config:
        return {key: deserialize_keras_object(value, custom_objects) for key, value in config.items()}
    module = str(config.get("module") or "")
    # Keras' modules name the kind ("keras.layers", "keras.src.layers.core.dense", and on torch
    # "keras.src.backend.torch.optimizers.torch_sgd").
    kind = next((part for part in module.split(".") if part in _KINDS), None) if module.startswith("keras.") else None
    if kind:
        deserialize = _module(kind).deserialize
        return deserialize(config) if kind == "initializers" else deserialize(config, custom_objects)
    from rnnkit.saving.object_registry import find_class

    cls = find_class(config, {}, custom_objects)
    if cls is None:
        raise ValueError(f"deserialize_keras_object: unknown class {config.get('class_name')!r} of module "
                         f"{module!r} (a custom class is found through custom_objects, custom_object_scope or "
                         "register_keras_serializable)")
    return cls.from_config(dict(config.get("config") or {}))
