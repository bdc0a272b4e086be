"""ReversibleEmbedding (Keras 3's): an Embedding that, called with reverse=True, projects hidden states
(..., output_dim) back to logits over the input_dim ids, by the transposed embeddings (tie_weights) or by a
(output_dim, input_dim) reverse_embeddings of its own, optionally soft-capped as tanh(logits / cap) * cap. The
projection is one GEMM each way in the core; the forward call is the Embedding's."""
import numbers

import numpy as np

from rnnkit import _core
from rnnkit.layers._gradients import for_trainable_weights
from rnnkit.layers._validation import expect_last_dim, expect_min_rank, float_input
from rnnkit.layers.attention_call import call_with_options, non_default
from rnnkit.layers.embedding import Embedding


class _ReverseCall:
    """What the backward of a reverse call needs: its hidden states (rows, output_dim) and soft-capped tanh."""

    def __init__(self, hidden, capped, shape):
        self.hidden, self.capped, self.shape = hidden, capped, shape


def _reverse_dtype(layer, value):
    if value is not None and str(getattr(value, "name", value)) != "float32":
        raise ValueError(f"{layer}: rnnkit computes in float32, received reverse_dtype={value!r}")
    return value


def _soft_cap(layer, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value == 0:
        raise ValueError(f"{layer}: expected logit_soft_cap to be None or a finite non-zero number, received "
                         f"{value!r}")
    return value


class ReversibleEmbedding(Embedding):
    def __init__(self, input_dim, output_dim, tie_weights=True, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False, reverse_dtype=None,
                 logit_soft_cap=None, **kwargs):
        super().__init__(input_dim, output_dim, embeddings_initializer=embeddings_initializer,
                         embeddings_regularizer=embeddings_regularizer, embeddings_constraint=embeddings_constraint,
                         mask_zero=mask_zero, **kwargs)
        self.tie_weights = bool(tie_weights)
        self.reverse_dtype = _reverse_dtype(self.name, reverse_dtype)
        self.logit_soft_cap = _soft_cap(self.name, logit_soft_cap)

    def build(self, input_shape=None):
        initial_weights, self._initial_weights = self._initial_weights, None
        super().build(input_shape)
        if not self.tie_weights:  # Keras' untied projection: no regularizer or constraint
            self.reverse_embeddings = self.add_weight((self.output_dim, self.input_dim), self.embeddings_initializer,
                                                      name="reverse_embeddings")
        if initial_weights is not None:  # weights= lists the reverse_embeddings too when untied
            self.set_weights(initial_weights)

    def __call__(self, inputs, reverse=False, training=None, mask=None):
        return call_with_options(self, inputs, training=training, mask=mask,
                                 options=non_default({"reverse": bool(reverse)}, {"reverse": False}),
                                 output_shapes=lambda shape: self.compute_output_shape(shape, bool(reverse)))

    def compute_output_shape(self, input_shape, reverse=False):
        if not reverse:
            return super().compute_output_shape(input_shape)
        expect_min_rank(self.name, input_shape, 1)
        expect_last_dim(self.name, input_shape, self.output_dim)
        return tuple(input_shape[:-1]) + (self.input_dim,)

    def compute_mask(self, inputs, mask=None):
        # A reverse call reads hidden states, never ids, and its logits carry no mask (Keras': none is set).
        if isinstance(inputs, np.ndarray) and np.issubdtype(inputs.dtype, np.floating):
            return None
        return super().compute_mask(inputs, mask)

    def forward(self, inputs, *, training=False, mask=None, reverse=False):
        if not reverse:
            return super().forward(inputs, training=training, mask=mask)
        x = float_input(self.name, inputs)
        self.compute_output_shape(x.shape, reverse=True)
        hidden = x.reshape(-1, self.output_dim)
        logits = np.empty((hidden.shape[0], self.input_dim), np.float32)
        if self.tie_weights:
            _core.sgemm(False, True, 1.0, hidden, self.embeddings.value, 0.0, logits)
        else:
            _core.sgemm(False, False, 1.0, hidden, self.reverse_embeddings.value, 0.0, logits)
        capped = None
        if self.logit_soft_cap is not None:
            cap = np.float32(self.logit_soft_cap)
            capped = np.tanh(logits / cap)
            logits = capped * cap
        logits = logits.reshape(x.shape[:-1] + (self.input_dim,))
        return logits, (_ReverseCall(hidden, capped, x.shape) if training else None)

    def backward(self, ctx, d_outputs):
        if not isinstance(ctx, _ReverseCall):  # a forward call: only the embeddings' rows it read
            return None, for_trainable_weights(self, [(self.embeddings, self._table_gradient(ctx, d_outputs))] +
                                               ([] if self.tie_weights else [(self.reverse_embeddings, None)]))
        d_logits = np.asarray(d_outputs, dtype=np.float32).reshape(-1, self.input_dim)
        if ctx.capped is not None:
            d_logits = np.ascontiguousarray(d_logits * (np.float32(1) - ctx.capped * ctx.capped))
        d_hidden = np.empty(ctx.hidden.shape, np.float32)
        if self.tie_weights:
            _core.sgemm(False, False, 1.0, d_logits, self.embeddings.value, 0.0, d_hidden)
            d_weight = np.empty(self.embeddings.shape, np.float32)
            _core.sgemm(True, False, 1.0, d_logits, ctx.hidden, 0.0, d_weight)
            gradients = [(self.embeddings, d_weight)]
        else:
            _core.sgemm(False, True, 1.0, d_logits, self.reverse_embeddings.value, 0.0, d_hidden)
            d_weight = np.empty(self.reverse_embeddings.shape, np.float32)
            _core.sgemm(True, False, 1.0, ctx.hidden, d_logits, 0.0, d_weight)
            gradients = [(self.embeddings, None), (self.reverse_embeddings, d_weight)]
        return d_hidden.reshape(ctx.shape), for_trainable_weights(self, gradients)

    def get_config(self):
        return {**super().get_config(), "tie_weights": self.tie_weights, "reverse_dtype": self.reverse_dtype,
                "logit_soft_cap": self.logit_soft_cap}
