"""Position information for attention, which alone has no notion of order (keras_hub's layers and semantics).

Both layers return the encoding to add to the embeddings (shape of the input), not the sum; ``start_index``
offsets the positions when decoding one token at a time.
"""
import numpy as np

from rnnkit import initializers
from rnnkit.layers._gradients import for_trainable_weights
from rnnkit.layers._validation import expect_min_rank, positive_int
from rnnkit.layers.attention_call import call_with_options, non_default
from rnnkit.layers.layer import Layer


def sine_position_encoding(length, features, max_wavelength=10000.0, start_index=0):
    """(length, features): sin on even, cos on odd feature indices, angle position * max_wavelength^(-2*(i//2)/d).

    Computed in float64 and rounded once, so long positions keep their accuracy.
    """
    positions = np.arange(start_index, start_index + length, dtype=np.float64)[:, None]
    pair = 2 * (np.arange(features) // 2)
    angles = positions * np.power(float(max_wavelength), -pair / float(features))[None, :]
    odd = (np.arange(features) % 2).astype(bool)[None, :]
    return np.where(odd, np.cos(angles), np.sin(angles)).astype(np.float32)


class SinePositionEncoding(Layer):
    def __init__(self, max_wavelength=10000, **kwargs):
        super().__init__(**kwargs)
        self.max_wavelength = max_wavelength
        self.supports_masking = True

    def __call__(self, inputs, start_index=0, training=None, mask=None):
        return call_with_options(self, inputs, training=training, mask=mask,
                                 options=non_default({"start_index": int(start_index)}, {"start_index": 0}),
                                 output_shapes=tuple)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, inputs, *, training=False, mask=None, start_index=0):
        shape = np.shape(inputs)
        expect_min_rank(self.name, shape, 2)
        encoding = sine_position_encoding(shape[-2], shape[-1], self.max_wavelength, start_index)
        return np.ascontiguousarray(np.broadcast_to(encoding, shape)), (shape if training else None)

    def backward(self, ctx, d_outputs):
        return None, []  # the encoding does not depend on the input's values

    def get_config(self):
        return {**super().get_config(), "max_wavelength": self.max_wavelength}


class PositionEmbedding(Layer):
    """A learned (sequence_length, features) table; position t of the input gets row start_index + t."""

    def __init__(self, sequence_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.sequence_length = positive_int(self.name, "sequence_length", sequence_length)
        self.initializer = initializers.get(initializer)
        self.supports_masking = True

    def __call__(self, inputs, start_index=0, training=None, mask=None):
        return call_with_options(self, inputs, training=training, mask=mask,
                                 options=non_default({"start_index": int(start_index)}, {"start_index": 0}),
                                 output_shapes=tuple)

    def build(self, input_shape):
        expect_min_rank(self.name, input_shape, 2)
        self.position_embeddings = self.add_weight((self.sequence_length, input_shape[-1]), self.initializer,
                                                   name="embeddings")
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, inputs, *, training=False, mask=None, start_index=0):
        shape = np.shape(inputs)
        length = shape[-2]
        if start_index < 0 or start_index + length > self.sequence_length:
            raise ValueError(f"{self.name}: positions {start_index}..{start_index + length - 1} exceed "
                             f"sequence_length={self.sequence_length}")
        rows = self.position_embeddings.value[start_index:start_index + length]
        return np.ascontiguousarray(np.broadcast_to(rows, shape)), ((shape, start_index) if training else None)

    def backward(self, ctx, d_outputs):
        shape, start = ctx
        d_y = np.asarray(d_outputs, dtype=np.float32).reshape((-1,) + tuple(shape[-2:]))
        d_table = np.zeros(self.position_embeddings.shape, dtype=np.float32)
        d_table[start:start + shape[-2]] = d_y.sum(axis=0)
        return None, for_trainable_weights(self, [(self.position_embeddings, d_table)])

    def get_config(self):
        return {**super().get_config(), "sequence_length": self.sequence_length,
                "initializer": initializers.serialize(self.initializer)}
