"""Embedding: integer ids -> rows of a (input_dim, output_dim) table; ids of 0 can mask the following layers."""
import numpy as np

from rnnkit import _core, constraints, initializers, regularizers
from rnnkit.layers._gradients import for_trainable_weights
from rnnkit.layers._validation import positive_int, unsupported_options
from rnnkit.layers.layer import Layer
from rnnkit.layers.rnn.token_table import TokenRowsGradient


class Embedding(Layer):
    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, lora_rank=None, lora_alpha=None,
                 quantization_config=None, input_length=None, **kwargs):
        super().__init__(quantization_config=quantization_config, **kwargs)
        self.input_dim = positive_int(self.name, "input_dim", input_dim)
        self.output_dim = positive_int(self.name, "output_dim", output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        unsupported_options(self.name, lora_rank=lora_rank)  # lora_alpha scales LoRA's update: no LoRA, no effect
        self._initial_weights = weights

    def build(self, input_shape=None):
        self.embeddings = self.add_weight((self.input_dim, self.output_dim), self.embeddings_initializer,
                                          name="embeddings", regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint)
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def ids(self, inputs):
        """The inputs as int64 ids, or a TypeError naming this layer."""
        ids = np.asarray(inputs)
        if not (np.issubdtype(ids.dtype, np.integer) or ids.dtype == np.bool_):
            raise TypeError(f"{self.name}: expected integer ids, received dtype {ids.dtype}")
        if ids.dtype == np.uint64 and ids.size and ids.max() > np.iinfo(np.int64).max:
            # Checked before the cast, which would wrap such an id to a negative one and misreport it.
            raise ValueError(f"{self.name}: expected ids in [0, {self.input_dim}), received id {ids.max()}")
        return ids.astype(np.int64, copy=False)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero or not isinstance(inputs, np.ndarray):
            return None
        return self.ids(inputs) != 0

    def forward(self, inputs, *, training=False, mask=None):
        ids = self.ids(inputs)
        try:
            outputs = _core.embedding_forward(ids, self.embeddings.value)
        except ValueError as error:
            raise ValueError(f"{self.name}: {error} (input_dim={self.input_dim})") from None
        return outputs, (ids if training else None)

    def backward(self, ctx, d_outputs):
        return None, for_trainable_weights(self, [(self.embeddings, self._table_gradient(ctx, d_outputs))])

    def _table_gradient(self, ctx, d_outputs):
        if isinstance(d_outputs, TokenRowsGradient):  # from a recurrent layer that read this layer's ids itself
            return _core.embedding_backward(d_outputs.rows, d_outputs.values, self.input_dim)
        return _core.embedding_backward(ctx, np.asarray(d_outputs, dtype=np.float32), self.input_dim)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
                "mask_zero": self.mask_zero}
