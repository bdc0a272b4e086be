"""AlphaDropout (Keras 3's): dropout for SELU networks. Dropped inputs become SELU's negative saturation value
-alpha * scale, then an affine map a * x + b restores the inputs' mean and variance (zero and one). The identity at
inference; in training the keep mask comes from rnnkit's seeded stream, as Dropout's does."""
import numpy as np

from rnnkit.layers._validation import float_input
from rnnkit.layers.core import Dropout, random_stream

# SELU's constants, as Keras writes them.
_ALPHA = 1.6732632423543772848170429916717
_SCALE = 1.0507009873554804934193349852946
SATURATION = -_ALPHA * _SCALE


def affine_correction(rate):
    """(a, b) with which a * x + b keeps unit variance and zero mean after dropping a `rate` fraction to SATURATION."""
    a = ((1.0 - rate) * (1.0 + rate * SATURATION ** 2)) ** -0.5
    return a, -a * SATURATION * rate


class AlphaDropout(Dropout):
    """Dropout's arguments, seeded stream and noise shapes; only what a dropped input becomes differs."""

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        if not training or self.rate == 0.0:
            return x, None
        kept = random_stream(self._seed_stream).random(self._noise_shape(x.shape)) >= self.rate
        a, b = affine_correction(self.rate)
        scale = np.where(kept, np.float32(a), np.float32(0))
        shift = np.where(kept, np.float32(b), np.float32(a * SATURATION + b))
        return (x * scale + shift).astype(np.float32), scale

    def backward(self, ctx, d_outputs):
        d_y = np.asarray(d_outputs, dtype=np.float32)
        if ctx is None:
            return d_y, []
        return super().backward(ctx, d_y)
