"""AlphaDropout (Keras 3's): dropout for SELU networks. Dropped inputs become SELU's negative saturation value
-alpha * scale, then an affine map a * x + b restores the inputs' mean and variance (zero and one). The identity at
inference; in training the keep mask comes from rnnkit's seeded stream, as Dropout's does."""
import numpy as np

from rnnkit.layers._validation import float_input, fraction
from rnnkit.layers.core import concrete_noise_shape, random_stream
from rnnkit.layers.layer import Layer

# SELU's constants, as Keras writes them.
_ALPHA = 1.6732632423543772848170429916717
_SCALE = 1.0507009873554804934193349852946
SATURATION = -_ALPHA * _SCALE


def affine_correction(rate):
    """(a, b) with which a * x + b keeps unit variance and zero mean after dropping a `rate` fraction to SATURATION."""
    a = ((1.0 - rate) * (1.0 + rate * SATURATION ** 2)) ** -0.5
    return a, -a * SATURATION * rate


class AlphaDropout(Layer):
    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = fraction(self.name, "rate", rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._seed_stream = None if seed is None else np.random.default_rng(seed)
        self.supports_masking = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        if not training or self.rate == 0.0:
            return x, None
        shape = concrete_noise_shape(self.name, self.noise_shape, x.shape)
        kept = random_stream(self._seed_stream).random(shape) >= self.rate
        a, b = affine_correction(self.rate)
        scale = np.where(kept, np.float32(a), np.float32(0))
        shift = np.where(kept, np.float32(b), np.float32(a * SATURATION + b))
        return (x * scale + shift).astype(np.float32), scale

    def backward(self, ctx, d_outputs):
        d_y = np.asarray(d_outputs, dtype=np.float32)
        if ctx is None:
            return d_y, []
        return (d_y * ctx).astype(np.float32), []

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape}
