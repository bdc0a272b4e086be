"""rnnkit.optimizers: Keras 3 optimizers whose updates run in the C++ core, plus get/serialize/deserialize."""
import difflib

from rnnkit.optimizers import schedules
from rnnkit.optimizers.adadelta import Adadelta
from rnnkit.optimizers.adagrad import Adagrad
from rnnkit.optimizers.adam import Adam
from rnnkit.optimizers.adamax import Adamax
from rnnkit.optimizers.adamw import AdamW
from rnnkit.optimizers.base import Optimizer
from rnnkit.optimizers.lion import Lion
from rnnkit.optimizers.nadam import Nadam
from rnnkit.optimizers.rmsprop import RMSprop
from rnnkit.optimizers.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Nadam", "Adamax", "Adadelta", "Lion",
           "schedules", "get", "serialize", "deserialize"]

_CLASSES = {cls.__name__: cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad, Nadam, Adamax, Adadelta, Lion)}
# Keras looks names up by class name and by their lower-case form ("adam", "sgd", "nadam", ...).
_BY_NAME = {**_CLASSES, **{name.lower(): cls for name, cls in _CLASSES.items()}}


def _lookup(name, custom_objects=None):
    cls = (custom_objects or {}).get(name) or _BY_NAME.get(name)
    if cls is None:
        close = difflib.get_close_matches(str(name).lower(), sorted({n.lower() for n in _BY_NAME}), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ValueError(f"Could not interpret optimizer identifier: {name!r}.{hint} "
                         f"Known optimizers: {sorted(n.lower() for n in _CLASSES)}")
    return cls


def serialize(optimizer):
    """Keras' serialized form: {"module", "class_name", "config", "registered_name"}."""
    return {"module": "keras.optimizers", "class_name": type(optimizer).__name__,
            "config": optimizer.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None):
    if isinstance(config, Optimizer):
        return config
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret serialized optimizer: {config!r}")
    return _lookup(config["class_name"], custom_objects).from_config(dict(config.get("config") or {}),
                                                                     custom_objects=custom_objects)


def get(identifier):
    """An Optimizer from an instance, a name ('adam', 'sgd', 'rmsprop', 'nadam', ...) or a serialized dict."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return _lookup(identifier)()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")
