"""Keras 3's registry of custom classes: `@register_keras_serializable(package, name)` records a class under
"package>name" (the registered name Keras writes into configs), `custom_object_scope({...})` adds classes for the
code inside it, and loading finds a custom class there (the scope first, then the registry, then the loader's
`custom_objects`, as Keras searches)."""
import inspect
import threading

_REGISTERED = {}  # "package>name" -> class or function
_NAMES = {}  # class or function -> "package>name"
_scopes = threading.local()


def register_keras_serializable(package="Custom", name=None):
    """A decorator that registers a class (which must define get_config) or function under `package>name`, its
    own name by default."""

    def register(obj):
        registered = f"{package}>{name or obj.__name__}"
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError(f"cannot register {obj!r}: a registered class must define get_config()")
        if registered in _REGISTERED:
            raise ValueError(f"{registered!r} has already been registered to {_REGISTERED[registered]!r}")
        if obj in _NAMES:
            raise ValueError(f"{obj!r} has already been registered as {_NAMES[obj]!r}")
        _REGISTERED[registered] = obj
        _NAMES[obj] = registered
        return obj

    return register


def get_custom_objects():
    """The registry itself, a dict from registered name to object (changes to it take effect)."""
    return _REGISTERED


def get_registered_name(obj):
    """The name `obj` is registered under, else its own name."""
    return _NAMES.get(obj, obj.__name__)


class custom_object_scope:
    """`with custom_object_scope({"Name": Class}):` the classes are found by loading code inside the block."""

    def __init__(self, custom_objects):
        self.custom_objects = dict(custom_objects or {})

    def __enter__(self):
        _scopes.stack = getattr(_scopes, "stack", []) + [self.custom_objects]
        return self

    def __exit__(self, *exc):
        _scopes.stack = _scopes.stack[:-1]


CustomObjectScope = custom_object_scope


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object registered or given under `name`: the innermost custom_object_scope first, then the registry,
    then `custom_objects`, then `module_objects`; None when none has it."""
    for objects in reversed(getattr(_scopes, "stack", [])):
        if name in objects:
            return objects[name]
    for objects in (_REGISTERED, custom_objects or {}, module_objects or {}):
        if name in objects:
            return objects[name]
    return None


def serialize_object(obj, builtin, module):
    """Keras 3's {"module", "class_name", "config", "registered_name"} of a regularizer, constraint, ... (None for
    None): a class of `builtin` (names to classes) under Keras' `module`, any other under its own module and
    registered name."""
    if obj is None:
        return None
    cls = type(obj)
    if builtin.get(cls.__name__) is cls:
        return {"module": module, "class_name": cls.__name__, "config": obj.get_config(), "registered_name": None}
    return {"module": cls.__module__, "class_name": cls.__name__, "config": obj.get_config(),
            "registered_name": get_registered_name(cls)}


def find_class(config, builtin, custom_objects=None):
    """The class a serialized config names: a custom class under its registered name or class name (see
    get_registered_object), else the one of `builtin` (names to classes) of that class name; None when neither."""
    names = [n for n in (config.get("registered_name"), config.get("class_name")) if isinstance(n, str)]
    custom = next((found for found in (get_registered_object(n, custom_objects) for n in names) if found), None)
    return custom or builtin.get(config.get("class_name"))


def object_from_config(config, builtin, what, custom_objects=None):
    """The object serialize_object describes (its class from find_class)."""
    name = config.get("class_name")
    cls = find_class(config, builtin, custom_objects)
    if cls is None:
        raise ValueError(f"Unknown {what} {name!r}; known: {sorted(n for n in builtin if n[0].isupper())}")
    return cls.from_config(dict(config.get("config") or {}))


def get_object(identifier, base, builtin, what):
    """Keras' get(): None or an instance of `base` as it is, a serialized dict, or a name of `builtin` made with its
    defaults."""
    if identifier is None or isinstance(identifier, base):
        return identifier
    if isinstance(identifier, dict):
        return object_from_config(identifier, builtin, what)
    if isinstance(identifier, str) and identifier in builtin:
        return builtin[identifier]()
    raise ValueError(f"Could not interpret {what} identifier: {identifier!r} (rnnkit takes "
                     f"{', '.join(sorted(n for n in builtin if n[0].isupper()))}, their names or an instance of a "
                     f"{base.__name__} subclass)")
