"""Weight initializers with Keras 3 names, arguments and distributions.

Unseeded initializers draw from ``rnnkit.random.generator()`` so ``rnnkit.random.set_random_seed`` makes model
construction reproducible; a seeded one draws the same values on every call, as Keras 3 documents.
"""
import difflib
import math

import numpy as np

# Keras' truncated normal keeps draws within two standard deviations; dividing by this constant (the stddev of
# a unit normal truncated there) gives the variance-scaling initializers their intended variance.
_TRUNCATED_NORMAL_STDDEV = 0.87962566103423978


def _random_stream(seed):
    if seed is not None:
        return np.random.default_rng(seed)
    from rnnkit import random as rnnkit_random  # the engine module; imported late so this file imports alone

    return rnnkit_random.generator()


def _shape_tuple(shape):
    return tuple(int(d) for d in shape)


def _truncated_normal(rng, shape, mean, stddev):
    values = rng.standard_normal(shape)
    out_of_range = np.abs(values) > 2.0
    while out_of_range.any():
        values[out_of_range] = rng.standard_normal(int(out_of_range.sum()))
        out_of_range = np.abs(values) > 2.0
    return (mean + stddev * values).astype(np.float32)


def compute_fans(shape, input_axes=None, output_axes=None):
    """(fan_in, fan_out) as Keras counts them: the given axes' sizes, else rows and columns times the receptive
    field for rank > 2."""
    shape = _shape_tuple(shape)
    if input_axes is not None and output_axes is not None:
        return math.prod(shape[a] for a in input_axes), math.prod(shape[a] for a in output_axes)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class Initializer:
    """Base class: ``initializer(shape, dtype=None)`` returns a float32 array of that shape."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}({self.get_config()})"


class Zeros(Initializer):
    def __call__(self, shape, dtype=None):
        return np.zeros(_shape_tuple(shape), dtype=np.float32)


class Ones(Initializer):
    def __call__(self, shape, dtype=None):
        return np.ones(_shape_tuple(shape), dtype=np.float32)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        return np.full(_shape_tuple(shape), self.value, dtype=np.float32)

    def get_config(self):
        return {"value": self.value}


class RandomInitializer(Initializer):
    def __init__(self, seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise TypeError(f"{type(self).__name__}: expected seed to be an int or None, received {seed!r}")
        self.seed = seed

    def get_config(self):
        return {"seed": self.seed}


class RandomNormal(RandomInitializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        rng = _random_stream(self.seed)
        return (self.mean + self.stddev * rng.standard_normal(_shape_tuple(shape))).astype(np.float32)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class TruncatedNormal(RandomInitializer):
    """Normal draws re-drawn until within two standard deviations of the mean."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        return _truncated_normal(_random_stream(self.seed), _shape_tuple(shape), self.mean, self.stddev)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class RandomUniform(RandomInitializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype=None):
        rng = _random_stream(self.seed)
        return rng.uniform(self.minval, self.maxval, _shape_tuple(shape)).astype(np.float32)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class VarianceScaling(RandomInitializer):
    """Draws with variance ``scale / n``, n the fan selected by ``mode``."""

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("uniform", "truncated_normal", "untruncated_normal")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None, input_axes=None,
                 output_axes=None):
        super().__init__(seed)
        self.input_axes, self.output_axes = input_axes, output_axes
        if scale <= 0.0:
            raise ValueError(f"VarianceScaling: expected scale > 0, received scale={scale}")
        if mode not in self._MODES:
            raise ValueError(f"VarianceScaling: expected mode in {self._MODES}, received mode={mode!r}")
        distribution = "truncated_normal" if distribution == "normal" else distribution
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError(
                f"VarianceScaling: expected distribution in {self._DISTRIBUTIONS}, received {distribution!r}"
            )
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape, dtype=None):
        shape = _shape_tuple(shape)
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, fan)
        rng = _random_stream(self.seed)
        if self.distribution == "truncated_normal":
            return _truncated_normal(rng, shape, 0.0, math.sqrt(variance) / _TRUNCATED_NORMAL_STDDEV)
        if self.distribution == "untruncated_normal":
            return (math.sqrt(variance) * rng.standard_normal(shape)).astype(np.float32)
        limit = math.sqrt(3.0 * variance)
        return rng.uniform(-limit, limit, shape).astype(np.float32)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, **super().get_config(),
                "input_axes": self.input_axes, "output_axes": self.output_axes}


def _fixed_variance_scaling(class_name, scale, mode, distribution):
    def __init__(self, seed=None, input_axes=None, output_axes=None):
        VarianceScaling.__init__(self, scale=scale, mode=mode, distribution=distribution, seed=seed,
                                 input_axes=input_axes, output_axes=output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}

    return type(class_name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config})


GlorotUniform = _fixed_variance_scaling("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _fixed_variance_scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _fixed_variance_scaling("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _fixed_variance_scaling("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _fixed_variance_scaling("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _fixed_variance_scaling("LecunNormal", 1.0, "fan_in", "truncated_normal")


class Orthogonal(RandomInitializer):
    """Q of the QR decomposition of a normal matrix (rows = product of all but the last axis), times gain."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape, dtype=None):
        shape = _shape_tuple(shape)
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: expected a shape of rank >= 2, received shape={shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        draws = _random_stream(self.seed).standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(draws)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q).reshape(shape).astype(np.float32)

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}


class Identity(Initializer):
    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        shape = _shape_tuple(shape)
        if len(shape) != 2:
            raise ValueError(f"Identity: expected a 2-D shape, received shape={shape}")
        return (self.gain * np.eye(*shape)).astype(np.float32)

    def get_config(self):
        return {"gain": self.gain}


def _snake_case(name):
    return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))


_CLASSES = (Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling, GlorotUniform,
            GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Orthogonal, Identity)
_BY_NAME = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update({_snake_case(cls.__name__): cls for cls in _CLASSES})
_BY_NAME.update({"uniform": RandomUniform, "normal": RandomNormal, "zero": Zeros, "one": Ones,
                 "IdentityInitializer": Identity, "OrthogonalInitializer": Orthogonal})

zeros, ones, constant = Zeros, Ones, Constant
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling, orthogonal, identity = VarianceScaling, Orthogonal, Identity
IdentityInitializer, OrthogonalInitializer = Identity, Orthogonal  # Keras 3's other names
glorot_uniform, glorot_normal = GlorotUniform, GlorotNormal
he_uniform, he_normal, lecun_uniform, lecun_normal = HeUniform, HeNormal, LecunUniform, LecunNormal


def _class_named(name):
    if name not in _BY_NAME:
        close = difflib.get_close_matches(name, list(_BY_NAME), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown initializer {name!r}{hint} Known: {sorted(_BY_NAME)}")
    return _BY_NAME[name]


def serialize(initializer):
    """Keras 3's serialized form: {"module", "class_name", "config", "registered_name"}."""
    if not isinstance(initializer, Initializer):
        raise TypeError(f"serialize expects an rnnkit initializer, received {initializer!r}")
    return {"module": "keras.initializers", "class_name": type(initializer).__name__,
            "config": initializer.get_config(), "registered_name": None}


def deserialize(config):
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"deserialize expects a dict with 'class_name' and 'config', received {config!r}")
    return _class_named(config["class_name"]).from_config(config.get("config") or {})


def get(identifier):
    """An initializer from a name ("glorot_uniform", "GlorotUniform"), a serialized dict, a class or an instance."""
    if identifier is None or isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        return _class_named(identifier)()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret initializer identifier {identifier!r}: expected a name, dict or callable")
