"""Keras 3's automatic config of a subclassed model: the arguments its __init__ was called with, when they are
plain JSON values, so that a model without get_config() still saves and comes back as cls(**config)."""
import inspect

_PLAIN = (str, int, float, bool, type(None))


def init_arguments(cls, args, kwargs):
    """The arguments of cls(*args, **kwargs) by name, defaults included and `name` left out (the layer's config
    holds it), or None when they are not all plain values (lists, tuples and dicts of them included) or cannot be
    named (positional-only or *args)."""
    signature = inspect.signature(cls.__init__)
    try:
        bound = signature.bind(None, *args, **kwargs)
    except TypeError:
        return None
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    parameters = list(signature.parameters.values())
    arguments.pop(parameters[0].name)  # self
    for parameter in parameters[1:]:
        if parameter.kind is inspect.Parameter.POSITIONAL_ONLY:
            return None
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            if arguments.pop(parameter.name):
                return None
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            arguments.update(arguments.pop(parameter.name))
    arguments.pop("name", None)
    return arguments if all(_plain(value) for value in arguments.values()) else None


def _plain(value):
    if isinstance(value, (list, tuple)):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    return isinstance(value, _PLAIN)


def accepted(cls, config):
    """The entries of config that cls.__init__ takes (all of them when it takes **kwargs)."""
    parameters = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return dict(config)
    return {key: value for key, value in config.items() if key in parameters}
