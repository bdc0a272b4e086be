"""TransformerEncoder and TransformerDecoder blocks (keras_hub's names, arguments and defaults) built from
MultiHeadAttention, Dropout, LayerNormalization and Dense, with the sublayers' backward chained by hand.

Each attention and feed-forward sublayer is wrapped in a residual connection and a layer normalisation, after
the sublayer (normalize_first=False, "Attention is all you need") or before it (normalize_first=True). Padding
masks hide padded keys (keras_hub's rule); the decoder's self-attention is causal and can decode one token at a
time with a key/value cache.
"""
import numpy as np

from rnnkit import _core, activations, initializers
from rnnkit.layers._validation import expect_rank, fraction, positive_int
from rnnkit.layers.core import Dropout
from rnnkit.layers.dense import Dense
from rnnkit.layers.layer import Layer
from rnnkit.layers.layer_normalization import LayerNormalization
from rnnkit.layers.multi_head_attention import MultiHeadAttention


class _Block(Layer):
    """Residual sublayers shared by the encoder and decoder blocks."""

    def __init__(self, intermediate_dim, num_heads, dropout=0.0, activation="relu", layer_norm_epsilon=1e-05,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", normalize_first=False, **kwargs):
        super().__init__(**kwargs)
        self.intermediate_dim = positive_int(self.name, "intermediate_dim", intermediate_dim)
        self.num_heads = positive_int(self.name, "num_heads", num_heads)
        self.dropout = fraction(self.name, "dropout", dropout)
        self.activation = activations.get(activation)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.normalize_first = bool(normalize_first)
        self.supports_masking = True

    def _attention_layer(self, name, hidden):
        if hidden % self.num_heads:
            raise ValueError(f"{self.name}: the feature size {hidden} must be divisible by num_heads="
                             f"{self.num_heads}")
        return MultiHeadAttention(self.num_heads, hidden // self.num_heads, dropout=self.dropout,
                                  kernel_initializer=initializers.serialize(self.kernel_initializer),
                                  bias_initializer=initializers.serialize(self.bias_initializer),
                                  name=f"{self.name}/{name}")

    def _norm(self, name):
        return LayerNormalization(epsilon=self.layer_norm_epsilon, name=f"{self.name}/{name}")

    def _build_feedforward(self, hidden):
        self._feedforward_layer_norm = self._norm("feedforward_layer_norm")
        self._feedforward_layer_norm.build((None, None, hidden))
        kernel = initializers.serialize(self.kernel_initializer)
        bias = initializers.serialize(self.bias_initializer)
        self._feedforward_intermediate_dense = Dense(self.intermediate_dim, activation=self.activation,
                                                     kernel_initializer=kernel, bias_initializer=bias,
                                                     name=f"{self.name}/feedforward_intermediate_dense")
        self._feedforward_intermediate_dense.build((None, None, hidden))
        self._feedforward_output_dense = Dense(hidden, kernel_initializer=kernel, bias_initializer=bias,
                                               name=f"{self.name}/feedforward_output_dense")
        self._feedforward_output_dense.build((None, None, self.intermediate_dim))
        self._feedforward_dropout = Dropout(self.dropout, name=f"{self.name}/feedforward_dropout")

    def _residual(self, x, norm, dropout, body, training, trail):
        """x + dropout(body(x')) with x' = norm(x) first or the sum normalised after; ``trail`` collects ctxs."""
        h = x
        if self.normalize_first:
            h, ctx = norm.forward(h, training=training)
            trail.append((norm, ctx))
        h = body(h)
        h, ctx = dropout.forward(h, training=training)
        trail.append((dropout, ctx))
        h = x + h
        if not self.normalize_first:
            h, ctx = norm.forward(h, training=training)
            trail.append((norm, ctx))
        return h

    def _residual_backward(self, d_out, norm, dropout, body_backward, trail, grads):
        """Inverse of ``_residual``: pops its ctxs from ``trail``, accumulates weight gradients in ``grads``."""
        if not self.normalize_first:
            d_out = _pop_backward(trail, norm, d_out, grads)
        d_x = d_out
        d_h = _pop_backward(trail, dropout, d_out, grads)
        d_h = body_backward(d_h)
        if self.normalize_first:
            d_h = _pop_backward(trail, norm, d_h, grads)
        return d_x + d_h

    def _feedforward(self, h, training, trail):
        for layer in (self._feedforward_intermediate_dense, self._feedforward_output_dense):
            h, ctx = layer.forward(h, training=training)
            trail.append((layer, ctx))
        return h

    def _feedforward_backward(self, d_h, trail, grads):
        for layer in (self._feedforward_output_dense, self._feedforward_intermediate_dense):
            d_h = _pop_backward(trail, layer, d_h, grads)
        return d_h

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0] if isinstance(input_shape, list) else input_shape)

    def compute_mask(self, inputs, mask=None):
        return mask[0] if isinstance(mask, (list, tuple)) else mask

    def _weight_gradients(self, grads):
        return [grads.get(id(variable), np.zeros(variable.shape, np.float32)) for variable in self.trainable_weights]

    def get_config(self):
        return {**super().get_config(), "intermediate_dim": self.intermediate_dim, "num_heads": self.num_heads,
                "dropout": self.dropout, "activation": activations.serialize(self.activation),
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "normalize_first": self.normalize_first}


def _pop_backward(trail, layer, d_out, grads):
    owner, ctx = trail.pop()
    assert owner is layer, "forward and backward visit the sublayers in mirrored order"
    d_in, d_weights = layer.backward(ctx, d_out)
    for variable, gradient in zip(layer.trainable_weights, d_weights):
        grads[id(variable)] = grads.get(id(variable), 0) + gradient
    return d_in


class TransformerEncoder(_Block):
    """Self-attention then a feed-forward network, each with residual + LayerNormalization; (B, T, d) -> same."""

    def build(self, input_shape):
        expect_rank(self.name, input_shape, 3)
        hidden = input_shape[-1]
        self._self_attention_layer = self._attention_layer("self_attention", hidden)
        self._self_attention_layer.build([input_shape, input_shape])
        self._self_attention_layer_norm = self._norm("self_attention_layer_norm")
        self._self_attention_layer_norm.build(input_shape)
        self._self_attention_dropout = Dropout(self.dropout, name=f"{self.name}/self_attention_dropout")
        self._build_feedforward(hidden)
        self.built = True

    def forward(self, inputs, *, training=False, mask=None):
        x = np.asarray(inputs, np.float32)
        trail = []
        attention = self._self_attention_layer

        def attend(h):
            out, ctx = attention.forward([h, h], training=training, mask=[None, mask])
            trail.append((attention, ctx))
            return out

        h = self._residual(x, self._self_attention_layer_norm, self._self_attention_dropout, attend, training, trail)
        h = self._residual(h, self._feedforward_layer_norm, self._feedforward_dropout,
                           lambda z: self._feedforward(z, training, trail), training, trail)
        return h, (trail if training else None)

    def backward(self, ctx, d_outputs):
        trail, grads = list(ctx), {}
        d = np.asarray(d_outputs, np.float32)
        d = self._residual_backward(d, self._feedforward_layer_norm, self._feedforward_dropout,
                                    lambda g: self._feedforward_backward(g, trail, grads), trail, grads)

        def attend_backward(g):
            d_query, d_value = _pop_backward(trail, self._self_attention_layer, g, grads)
            return d_query + d_value

        d = self._residual_backward(d, self._self_attention_layer_norm, self._self_attention_dropout,
                                    attend_backward, trail, grads)
        return d, self._weight_gradients(grads)


class TransformerDecoder(_Block):
    """Causal self-attention, cross-attention to the encoder's outputs (when given), feed-forward; inputs
    ``decoder_sequence`` or ``[decoder_sequence, encoder_sequence]``."""

    def build(self, input_shape):
        several = isinstance(input_shape, list) and isinstance(input_shape[0], (list, tuple))
        decoder_shape = tuple(input_shape[0] if several else input_shape)
        expect_rank(self.name, decoder_shape, 3)
        hidden = decoder_shape[-1]
        self._self_attention_layer = self._attention_layer("self_attention", hidden)
        self._self_attention_layer.build([decoder_shape, decoder_shape])
        self._self_attention_layer_norm = self._norm("self_attention_layer_norm")
        self._self_attention_layer_norm.build(decoder_shape)
        self._self_attention_dropout = Dropout(self.dropout, name=f"{self.name}/self_attention_dropout")
        self._cross_attention_layer = None
        if several and len(input_shape) > 1:
            encoder_shape = tuple(input_shape[1])
            self._cross_attention_layer = self._attention_layer("cross_attention", hidden)
            self._cross_attention_layer.build([decoder_shape, encoder_shape])
            self._cross_attention_layer_norm = self._norm("cross_attention_layer_norm")
            self._cross_attention_layer_norm.build(decoder_shape)
            self._cross_attention_dropout = Dropout(self.dropout, name=f"{self.name}/cross_attention_dropout")
        self._build_feedforward(hidden)
        self.built = True

    def _split(self, inputs, mask):
        several = isinstance(inputs, (list, tuple))
        x = np.asarray(inputs[0] if several else inputs, np.float32)
        encoder = np.asarray(inputs[1], np.float32) if several and len(inputs) > 1 else None
        masks = list(mask) if isinstance(mask, (list, tuple)) else [mask, None]
        if (encoder is None) != (self._cross_attention_layer is None):
            raise ValueError(f"{self.name}: built {'with' if self._cross_attention_layer else 'without'} an encoder "
                             f"sequence, called {'with' if encoder is not None else 'without'} one")
        return x, encoder, masks[0], (masks + [None])[1]

    def forward(self, inputs, *, training=False, mask=None):
        x, encoder, decoder_mask, encoder_mask = self._split(inputs, mask)
        trail = []
        self_attention = self._self_attention_layer

        def attend(h):
            out, ctx = self_attention.forward([h, h], training=training, mask=[None, decoder_mask],
                                              use_causal_mask=True)
            trail.append((self_attention, ctx))
            return out

        h = self._residual(x, self._self_attention_layer_norm, self._self_attention_dropout, attend, training, trail)
        if encoder is not None:
            cross = self._cross_attention_layer

            def cross_attend(z):
                out, ctx = cross.forward([z, encoder], training=training, mask=[None, encoder_mask])
                trail.append((cross, ctx))
                return out

            h = self._residual(h, self._cross_attention_layer_norm, self._cross_attention_dropout, cross_attend,
                               training, trail)
        h = self._residual(h, self._feedforward_layer_norm, self._feedforward_dropout,
                           lambda z: self._feedforward(z, training, trail), training, trail)
        return h, ((trail, encoder is not None) if training else None)

    def backward(self, ctx, d_outputs):
        trail, with_encoder = ctx
        trail, grads, d_encoder = list(trail), {}, None
        d = np.asarray(d_outputs, np.float32)
        d = self._residual_backward(d, self._feedforward_layer_norm, self._feedforward_dropout,
                                    lambda g: self._feedforward_backward(g, trail, grads), trail, grads)
        if with_encoder:
            def cross_backward(g):
                nonlocal d_encoder
                d_query, d_encoder = _pop_backward(trail, self._cross_attention_layer, g, grads)
                return d_query

            d = self._residual_backward(d, self._cross_attention_layer_norm, self._cross_attention_dropout,
                                        cross_backward, trail, grads)

        def attend_backward(g):
            d_query, d_value = _pop_backward(trail, self._self_attention_layer, g, grads)
            return d_query + d_value

        d = self._residual_backward(d, self._self_attention_layer_norm, self._self_attention_dropout,
                                    attend_backward, trail, grads)
        return ([d, d_encoder] if with_encoder else d), self._weight_gradients(grads)

    # Incremental decoding (inference): the cache holds each position's projected self-attention keys/values and
    # the encoder's projected keys/values, so decoding position t attends over t cached entries.
    def start_cache(self, batch, max_length, encoder_sequence=None, encoder_mask=None):
        attention = self._self_attention_layer
        cache = {"keys": np.zeros((batch, self.num_heads, max_length, attention.key_dim), np.float32),
                 "values": np.zeros((batch, self.num_heads, max_length, attention.value_dim), np.float32),
                 "length": 0, "encoder_mask": encoder_mask}
        if self._cross_attention_layer is not None:
            if encoder_sequence is None:
                raise ValueError(f"{self.name}: this decoder attends to an encoder; pass encoder_sequence")
            cache["cross"] = self._cross_attention_layer.project_key_value(encoder_sequence)
        return cache

    def decode_step(self, x, cache):
        """Outputs for the next positions x (B, n, d) given ``cache`` (updated in place); equals ``forward`` on
        the whole prefix at those positions."""
        x = np.asarray(x, np.float32)
        expect_rank(self.name, x.shape, 3)
        batch, n, hidden = x.shape
        start = cache["length"]
        if start + n > cache["keys"].shape[2]:
            raise ValueError(f"{self.name}: the cache holds {cache['keys'].shape[2]} positions, asked for "
                             f"{start + n}")
        attention = self._self_attention_layer

        # Works on the (B * n, d) rows throughout: a step is a few one-row products, so each array reshaped or
        # checked per sublayer costs as much as the arithmetic.
        def attend(rows):
            keys, values = attention.project_key_value_rows(rows, batch, n)
            cache["keys"][:, :, start:start + n] = keys
            cache["values"][:, :, start:start + n] = values
            cache["length"] = start + n
            return attention.attend_rows(rows, batch, n, cache["keys"], cache["values"], causal_offset=start,
                                         length=start + n)

        h = self._decode_residual(np.ascontiguousarray(x.reshape(batch * n, hidden)), self._self_attention_layer_norm,
                                  attend)
        if self._cross_attention_layer is not None:
            keys, values = cache["cross"]
            h = self._decode_residual(h, self._cross_attention_layer_norm,
                                      lambda z: self._cross_attention_layer.attend_rows(
                                          z, batch, n, keys, values, value_mask=cache["encoder_mask"]))
        h = self._decode_residual(h, self._feedforward_layer_norm, self._decode_feedforward)
        return h.reshape(batch, n, hidden)

    def _decode_residual(self, rows, norm, body):
        """``_residual`` at inference on rows, where dropout is the identity."""
        if self.normalize_first:
            return rows + body(norm.forward(rows)[0])
        return norm.forward(rows + body(rows))[0]

    def _decode_feedforward(self, rows):
        """``Dense.forward`` of both feed-forward layers on float32 rows, without its per-call input checks."""
        for layer in (self._feedforward_intermediate_dense, self._feedforward_output_dense):
            rows = layer.activation(_core.dense_forward(rows, layer.kernel.value,
                                                        layer.bias.value if layer.use_bias else None))
        return rows
