"""Attention: Keras 3's ``keras.layers.Attention``, called on [query, value(, key)].

score_mode="dot" (Luong): scores = query key^T (times the learned scalar ``scale`` with use_scale=True), no
1/sqrt(d), in the core's dot-product kernel. score_mode="concat": scores = concat_score_weight *
sum_d tanh(scale * (query_d + key_d)) (no scale without use_scale), in the core's additive kernel. Differences
from Keras: a query that sees no key gets zero weights (Keras: uniform), and with dropout in training the
returned scores are the weights before dropout.
"""
import numpy as np

from rnnkit import initializers
from rnnkit.layers._gradients import for_trainable_weights
from rnnkit.layers._validation import expect_rank, float_input, fraction
from rnnkit.layers.additive_attention_ops import AdditiveScore, additive_attention, additive_attention_backward
from rnnkit.layers.attention_call import call_with_options, non_default
from rnnkit.layers.attention_ops import attention, attention_backward
from rnnkit.layers.core import random_stream
from rnnkit.layers.layer import Layer

_CALL_DEFAULTS = {"return_attention_scores": False, "use_causal_mask": False}


class Attention(Layer):
    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"{self.name}: expected score_mode 'dot' or 'concat', received {score_mode!r}")
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = fraction(self.name, "dropout", dropout)
        self.seed = seed
        self._seed_stream = None if seed is None else np.random.default_rng(seed)
        self.supports_masking = True

    def __call__(self, inputs, mask=None, training=None, return_attention_scores=False, use_causal_mask=False):
        self._validate(inputs)
        options = {"return_attention_scores": bool(return_attention_scores), "use_causal_mask": bool(use_causal_mask)}
        return call_with_options(self, list(inputs), training=training, mask=mask,
                                 options=non_default(options, _CALL_DEFAULTS),
                                 output_shapes=lambda shape: self._output_shapes(shape, return_attention_scores))

    def _validate(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
            raise ValueError(f"{self.name}: must be called on a list [query, value] or [query, value, key], "
                             f"received {type(inputs).__name__}")

    def _output_shapes(self, input_shape, return_attention_scores):
        out = self.compute_output_shape(input_shape)
        return [out, tuple(input_shape[0][:-1]) + (input_shape[1][1],)] if return_attention_scores else out

    def _check_shapes(self, input_shape):
        self._validate(input_shape)
        for shape in input_shape:
            expect_rank(self.name, shape, 3)
        key_shape = input_shape[2] if len(input_shape) > 2 else input_shape[1]
        if input_shape[0][-1] != key_shape[-1]:
            raise ValueError(f"{self.name}: query and key must have the same last dimension, received "
                             f"{input_shape[0]} and {key_shape}")

    def build(self, input_shape):
        self._check_shapes(input_shape)
        self.scale = self.concat_score_weight = None
        if self.use_scale:
            self.scale = self.add_weight((), initializers.get("ones"), name="scale")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight((), initializers.get("ones"), name="concat_score_weight")
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (input_shape[1][-1],)

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[0]

    def _additive_score(self):
        """The tanh score's parameters, or None for dot-product scores."""
        if self.score_mode == "dot":
            return None
        inner = float(self.scale.value) if self.use_scale else 1.0
        return AdditiveScore(None, float(self.concat_score_weight.value), inner)

    def _score_gradients(self, grads):
        """(Variable, gradient) pairs from the additive kernel's ScoreGradients."""
        gradients = [(self.concat_score_weight, np.asarray(grads.d_outer, np.float32))]
        if self.use_scale:
            gradients.append((self.scale, np.asarray(grads.d_inner, np.float32)))
        return gradients

    def forward(self, inputs, *, training=False, mask=None, return_attention_scores=False, use_causal_mask=False):
        self._validate(inputs)
        query = float_input(self.name, inputs[0], "query")
        value = float_input(self.name, inputs[1], "value")
        key = float_input(self.name, inputs[2], "key") if len(inputs) > 2 else value
        query_mask, value_mask = (list(mask) + [None, None])[:2] if isinstance(mask, (list, tuple)) else (None, None)
        dropout = self.dropout if training else 0.0
        seed = int(random_stream(self._seed_stream).integers(0, 2**63)) if dropout > 0 else 0
        score = self._additive_score()
        masks_and_dropout = (query_mask, value_mask, use_causal_mask, dropout, seed)
        if score is None:
            y, weights, saved = self._dot_attention(query, key, value, *masks_and_dropout, return_attention_scores)
        else:
            y, weights, saved = self._additive_attention(score, query, key, value, *masks_and_dropout)
        ctx = (score, saved, len(inputs), return_attention_scores) if training else None
        return ([y, weights] if return_attention_scores else y), ctx

    def _dot_attention(self, query, key, value, query_mask, value_mask, causal, dropout, seed, with_weights):
        keep = None
        if value_mask is not None:
            keep = np.ascontiguousarray(np.asarray(value_mask, dtype=bool)[:, None, None, :], dtype=np.uint8)
        # The learned scale multiplies the query, so d(scale) = sum(query * d(scaled query)).
        scale = float(self.scale.value) if self.use_scale else 1.0
        q = np.ascontiguousarray((query * np.float32(scale))[:, None])
        k, v = np.ascontiguousarray(key[:, None]), np.ascontiguousarray(value[:, None])
        options = dict(keep=keep, is_causal=causal, scale=1.0, dropout_p=dropout, seed=seed)
        out, lse, weights = attention(q, k, v, return_weights=with_weights, **options)
        y = out[:, 0]
        query_keep = None
        if query_mask is not None:
            query_keep = np.asarray(query_mask, dtype=bool)[:, :, None]
            y = np.where(query_keep, y, np.float32(0.0))
        return y, None if weights is None else weights[:, 0], (query, q, k, v, out, lse, options, query_keep, scale)

    def _additive_attention(self, score, query, key, value, query_mask, value_mask, causal, dropout, seed):
        options = dict(value_mask=value_mask, query_mask=query_mask, is_causal=causal, dropout_p=dropout, seed=seed)
        y, weights = additive_attention(query, key, value, score, **options)
        return y, weights, (query, key, value, weights, options)

    def backward(self, ctx, d_outputs):
        score, saved, n_inputs, with_scores = ctx
        if with_scores:
            d_outputs, d_scores = d_outputs
            if d_scores is not None and np.any(d_scores):
                raise ValueError(f"{self.name}: rnnkit does not differentiate through the returned attention scores")
        d_y = np.asarray(d_outputs, dtype=np.float32)
        if score is None:
            d_query, d_key, d_value, gradients = self._dot_backward(saved, d_y)
        else:
            query, key, value, weights, options = saved
            d_query, d_key, d_value, grads = additive_attention_backward(query, key, value, weights, d_y, score,
                                                                         **options)
            gradients = self._score_gradients(grads)
        d_inputs = [d_query, d_value + d_key] if n_inputs == 2 else [d_query, d_value, d_key]
        return d_inputs, for_trainable_weights(self, gradients)

    def _dot_backward(self, saved, d_y):
        query, q, k, v, out, lse, options, query_keep, scale = saved
        if query_keep is not None:
            d_y = np.where(query_keep, d_y, np.float32(0.0))
        d_q, d_k, d_v = attention_backward(q, k, v, out, lse, np.ascontiguousarray(d_y[:, None]), **options)
        gradients = []
        if self.use_scale:
            gradients.append((self.scale, np.asarray(np.sum(query * d_q[:, 0], dtype=np.float64), np.float32)))
        return d_q[:, 0] * np.float32(scale), d_k[:, 0], d_v[:, 0], gradients

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale, "score_mode": self.score_mode,
                "dropout": self.dropout, "seed": self.seed}
