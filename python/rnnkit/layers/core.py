"""Element-wise layers: Activation, Dropout, SpatialDropout1D, GaussianNoise, GaussianDropout and Masking."""
import numpy as np

from rnnkit import activations
from rnnkit.layers._validation import expect_min_rank, expect_rank, float_input, fraction
from rnnkit.layers.layer import Layer


class Activation(Layer):
    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.supports_masking = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        y = self.activation(x)
        return y, ((x if activations.serialize(self.activation) in activations.NEEDS_INPUT else None, y)
                   if training else None)

    def backward(self, ctx, d_outputs):
        x, y = ctx
        d_x = activations.gradient(activations.serialize(self.activation), y,
                                   np.asarray(d_outputs, dtype=np.float32), x)
        return d_x, []

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


def random_stream(seeded_stream):
    """The layer's own seeded stream, else the shared ``rnnkit.random.generator()``."""
    if seeded_stream is not None:
        return seeded_stream
    from rnnkit import random as rnnkit_random  # the engine module; imported late so layers import alone

    return rnnkit_random.generator()


def dropout_keep_mask(rng, shape, rate):
    """Inverted dropout: kept entries scaled by 1 / (1 - rate) so the expected value is unchanged."""
    return (rng.random(shape) >= rate).astype(np.float32) / np.float32(1.0 - rate)


def concrete_noise_shape(layer, noise_shape, shape):
    """The shape of a dropout mask: the input's, or noise_shape with its None sizes taken from the input."""
    if noise_shape is None:
        return shape
    if len(noise_shape) != len(shape):
        raise ValueError(f"{layer}: noise_shape {noise_shape} does not match the input rank {len(shape)} (input "
                         f"shape {shape})")
    return tuple(d if n is None else n for n, d in zip(noise_shape, shape))


class Dropout(Layer):
    """Zeroes a fraction ``rate`` of the inputs in training, scaling the rest by 1 / (1 - rate)."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = fraction(self.name, "rate", rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._seed_stream = None if seed is None else np.random.default_rng(seed)
        self.supports_masking = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _noise_shape(self, shape):
        return concrete_noise_shape(self.name, self.noise_shape, shape)

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        if not training:
            return x, None
        keep = dropout_keep_mask(random_stream(self._seed_stream), self._noise_shape(x.shape), self.rate)
        return x * keep, keep

    def backward(self, ctx, d_outputs):
        d_y = np.asarray(d_outputs, dtype=np.float32)
        return (d_y * ctx).astype(np.float32), []

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}


class SpatialDropout1D(Dropout):
    """Dropout of whole channels: one keep mask per (sample, channel), shared by every step of a (batch, steps,
    channels) input."""

    def __init__(self, rate, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)

    def _noise_shape(self, shape):
        expect_rank(self.name, shape, 3)
        return (shape[0], 1, shape[2])

    def get_config(self):  # Keras' keys, which leave out noise_shape and trainable (its __init__ takes neither)
        return {"name": self.name, "dtype": self.dtype, "rate": self.rate, "seed": self.seed}


class _GaussianNoiseBase(Layer):
    """Noise drawn from a normal distribution in training (``_apply`` says how it meets the input); the identity
    at inference. Keeps the mask, as Keras' do."""

    def __init__(self, stddev, seed, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self._stddev = stddev
        self._seed_stream = None if seed is None else np.random.default_rng(seed)
        self.supports_masking = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        if not training or self._stddev == 0.0:
            return x, None
        noise = random_stream(self._seed_stream).standard_normal(x.shape).astype(np.float32) * np.float32(self._stddev)
        return self._apply(x, noise)

    def backward(self, ctx, d_outputs):
        d_y = np.asarray(d_outputs, dtype=np.float32)
        return (d_y if ctx is None else d_y * ctx).astype(np.float32), []


class GaussianNoise(_GaussianNoiseBase):
    """Adds zero-mean Gaussian noise of standard deviation ``stddev`` in training."""

    def __init__(self, stddev, seed=None, **kwargs):
        stddev = _unit_interval(kwargs.get("name") or "gaussian_noise", "stddev", stddev)
        super().__init__(stddev, seed, **kwargs)
        self.stddev = stddev

    def _apply(self, x, noise):
        return x + noise, None  # the gradient passes unchanged

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(_GaussianNoiseBase):
    """Multiplies by Gaussian noise of mean 1 and standard deviation sqrt(rate / (1 - rate)) in training."""

    def __init__(self, rate, seed=None, **kwargs):
        rate = fraction(kwargs.get("name") or "gaussian_dropout", "rate", rate)
        super().__init__(float(np.sqrt(rate / (1.0 - rate))), seed, **kwargs)
        self.rate = rate

    def _apply(self, x, noise):
        factor = noise + np.float32(1.0)
        return x * factor, factor

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def _unit_interval(layer, arg, value):
    """A float in [0, 1], as Keras checks GaussianNoise's stddev."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{layer}: expected {arg} to be a float in [0, 1], received {value!r}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{layer}: expected {arg} in [0, 1], received {arg}={value}")
    return float(value)


class Masking(Layer):
    """Masks the time steps whose features all equal ``mask_value`` and zeroes them."""

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self.supports_masking = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _kept_steps(self, x):
        return np.any(x != np.float32(self.mask_value), axis=-1)

    def compute_mask(self, inputs, mask=None):
        if not isinstance(inputs, np.ndarray):
            return None
        return self._kept_steps(float_input(self.name, inputs))

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        expect_min_rank(self.name, x.shape, 2)
        keep = self._kept_steps(x)[..., None].astype(np.float32)
        return x * keep, (keep if training else None)

    def backward(self, ctx, d_outputs):
        return (np.asarray(d_outputs, dtype=np.float32) * ctx).astype(np.float32), []

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
