"""Keras 3's dtype policies, for the one rnnkit has: float32 variables and float32 computation.

Keras' "mixed_float16" and "mixed_bfloat16" halve the work on GPUs and TPUs; rnnkit computes in float32 on the CPU,
so asking for them (or for a quantized policy) is a ValueError that says so rather than a policy silently ignored.
"""
__all__ = ["DTypePolicy", "FloatDTypePolicy", "deserialize", "get", "serialize"]


class DTypePolicy:
    """Keras' DTypePolicy: name, compute_dtype and variable_dtype, all "float32" here."""

    def __init__(self, name=None):
        name = "float32" if name is None else name
        if name != "float32":
            raise ValueError(f"rnnkit computes in float32 only: received the dtype policy {name!r} (mixed "
                             "precision pays on GPUs and TPUs; rnnkit's kernels are float32 CPU kernels)")
        self._name = name

    name = property(lambda self: self._name)
    compute_dtype = property(lambda self: "float32")
    variable_dtype = property(lambda self: "float32")
    quantization_mode = property(lambda self: None)

    def get_config(self):
        return {"name": self._name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return f'<{type(self).__name__} "{self.name}">'


class FloatDTypePolicy(DTypePolicy):
    """Keras 3's name for a policy of floating-point types."""


def serialize(policy):
    return {"module": "keras", "class_name": type(policy).__name__, "config": policy.get_config(),
            "registered_name": None}


def deserialize(config, custom_objects=None):
    classes = {"DTypePolicy": DTypePolicy, "FloatDTypePolicy": FloatDTypePolicy}
    if not isinstance(config, dict) or config.get("class_name") not in classes:
        raise ValueError(f"expected a serialized DTypePolicy or FloatDTypePolicy, received {config!r}")
    return classes[config["class_name"]].from_config(config.get("config") or {})


def get(identifier):
    """A policy from a name ("float32"), a serialized policy or a policy."""
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return DTypePolicy(identifier)
    raise ValueError(f"cannot interpret {identifier!r} as a dtype policy")
