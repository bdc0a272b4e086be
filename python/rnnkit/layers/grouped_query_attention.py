"""GroupQueryAttention (Keras 3's GroupedQueryAttention): num_key_value_heads key/value heads, each shared by
num_query_heads / num_key_value_heads query heads, with Keras' arguments, weight shapes and order, mask rules
(sliding_window included), optional sigmoid gate and numerics.

Keys and values are projected to their own heads (a decoder's key/value cache holds only those) and repeated for
their query heads before the core's attention kernel; in BPTT the repeated heads' gradients are summed back. The
one documented difference from Keras is MultiHeadAttention's: a query that may attend to no key gets zero
attention weights.
"""
import numpy as np

from rnnkit import _core
from rnnkit.layers._gradients import for_trainable_weights
from rnnkit.layers._validation import float_input, positive_int
from rnnkit.layers.attention_ops import attention, attention_backward
from rnnkit.layers.core import random_stream
from rnnkit.layers.multi_head_attention import (MultiHeadAttention, checked_input_shapes, keep_mask,
                                                with_sliding_window)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class GroupedQueryAttention(MultiHeadAttention):
    def __init__(self, head_dim, num_query_heads, num_key_value_heads, dropout=0.0, use_bias=True, sliding_window=None,
                 flash_attention=None, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, use_gate=False, seed=None, **kwargs):
        super().__init__(num_query_heads, head_dim, dropout=dropout, use_bias=use_bias, sliding_window=sliding_window,
                         flash_attention=flash_attention, kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                         kernel_constraint=kernel_constraint, bias_constraint=bias_constraint, seed=seed, **kwargs)
        self.num_key_value_heads = positive_int(self.name, "num_key_value_heads", num_key_value_heads)
        if self.num_heads % self.num_key_value_heads:
            raise ValueError(f"{self.name}: num_query_heads must be divisible by num_key_value_heads, received "
                             f"{self.num_heads} and {self.num_key_value_heads}")
        self.use_gate = bool(use_gate)

    @property
    def head_dim(self):
        return self.key_dim

    @property
    def num_query_heads(self):
        return self.num_heads

    @property
    def keras_weight_groups(self):
        # Keras holds the weights in EinsumDense sub-layers without public properties: their file groups keep the
        # attribute's underscore. The gate is built after the key projection, before the value's.
        gate = ("_gate_dense",) if self.use_gate else ()
        return ("_query_dense", "_key_dense") + gate + ("_value_dense", "_output_dense")

    def build(self, input_shape):
        query_shape, value_shape, key_shape = checked_input_shapes(self.name, input_shape)
        dim, q_heads, kv_heads = self.key_dim, self.num_heads, self.num_key_value_heads
        kernel, bias = self.kernel_initializer, self.bias_initializer

        def projection(name, features, heads):
            w = self.add_weight((features, heads, dim), kernel, name=f"{name}/kernel")
            return w, self.add_weight((heads, dim), bias, name=f"{name}/bias") if self.use_bias else None

        query = projection("query", query_shape[-1], q_heads)
        key = projection("key", key_shape[-1], kv_heads)
        self._gate = projection("gate", query_shape[-1], q_heads) if self.use_gate else None
        value = projection("value", value_shape[-1], kv_heads)
        self._projections = [query, key, value]
        self.output_kernel = self.add_weight((q_heads, dim, query_shape[-1]), kernel, name="attention_output/kernel")
        self.output_bias = (self.add_weight((query_shape[-1],), bias, name="attention_output/bias")
                            if self.use_bias else None)
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def _repeated(self, heads):
        """(B, kv_heads, L, dim) -> (B, query_heads, L, dim): kv head h serves query heads h * g ... h * g + g - 1."""
        return np.repeat(heads, self.num_heads // self.num_key_value_heads, axis=1)

    def _summed(self, d_heads):
        """The gradient of ``_repeated``: each kv head's query heads summed back."""
        batch, _, length, dim = d_heads.shape
        group = self.num_heads // self.num_key_value_heads
        return d_heads.reshape(batch, self.num_key_value_heads, group, length, dim).sum(axis=2)

    def _gate_values(self, query_rows):
        """sigmoid(query · gate kernel + bias) as rows (B * T, query_heads * dim), or None without a gate."""
        if self._gate is None:
            return None
        w, b = self._gate
        pre = _core.dense_forward(query_rows, w.value.reshape(w.shape[0], -1),
                                  None if b is None else b.value.reshape(-1))
        return _sigmoid(pre)

    def _attend(self, query_rows, q, k, v, batch, q_len, **options):
        """(output rows (B * T, output), attention output, lse, weights, attention rows, gate) from (B, heads, L, dim)
        views; the output projection reads the attention rows times the gate."""
        out, lse, weights = attention(q, self._repeated(k), self._repeated(v), positions_major=True, **options)
        heads = out.transpose(0, 2, 1, 3).reshape(batch * q_len, -1)
        gate = self._gate_values(query_rows)
        kernel = self.output_kernel.value.reshape(-1, self.output_kernel.shape[-1])
        y = _core.dense_forward(heads if gate is None else heads * gate, kernel,
                                None if self.output_bias is None else self.output_bias.value)
        return y, out, lse, weights, heads, gate

    def forward(self, inputs, *, training=False, mask=None, attention_mask=None, return_attention_scores=False,
                use_causal_mask=False):
        query = float_input(self.name, inputs[0], "query")
        value = float_input(self.name, inputs[1], "value")
        key = float_input(self.name, inputs[2], "key") if len(inputs) > 2 else value
        masks = list(mask) if isinstance(mask, (list, tuple)) else [None] * len(inputs)
        masks += [None] * (3 - len(masks))
        batch, q_len, kv_len = query.shape[0], query.shape[1], value.shape[1]
        keep = with_sliding_window(keep_mask(batch, q_len, kv_len, masks[0], masks[1],
                                             masks[2] if len(inputs) > 2 else None, attention_mask),
                                   q_len, kv_len, self.sliding_window)
        (q_rows, q), (k_rows, k), (v_rows, v) = self._project(0, query), self._project(1, key), self._project(2, value)
        dropout = self.dropout if training else 0.0
        seed = int(random_stream(self._seed_stream).integers(0, 2**63)) if dropout > 0 else 0
        options = dict(keep=keep, is_causal=use_causal_mask, scale=1.0 / np.sqrt(self.key_dim), dropout_p=dropout,
                       seed=seed)
        y, out, lse, weights, heads, gate = self._attend(q_rows, q, k, v, batch, q_len,
                                                         return_weights=return_attention_scores, **options)
        y = y.reshape(batch, q_len, -1)
        ctx = None
        if training:
            ctx = (q_rows, k_rows, v_rows, q, k, v, out, lse, heads, gate, options, len(inputs),
                   return_attention_scores)
        return ([y, weights] if return_attention_scores else y), ctx

    def backward(self, ctx, d_outputs):
        q_rows, k_rows, v_rows, q, k, v, out, lse, heads, gate, options, n_inputs, with_scores = ctx
        if with_scores:
            d_outputs, d_scores = d_outputs
            if d_scores is not None and np.any(d_scores):
                raise ValueError(f"{self.name}: rnnkit does not differentiate through the returned attention scores")
        d_y = np.asarray(d_outputs, dtype=np.float32).reshape(heads.shape[0], -1)
        kernel = self.output_kernel.value.reshape(-1, self.output_kernel.shape[-1])
        gated = heads if gate is None else heads * gate
        d_gated, d_out_kernel, d_out_bias = _core.dense_backward(gated, kernel, d_y,
                                                                 with_bias=self.output_bias is not None)
        gradients = [(self.output_kernel, d_out_kernel.reshape(self.output_kernel.shape))]
        if self.output_bias is not None:
            gradients.append((self.output_bias, d_out_bias))
        d_query_from_gate = None
        if gate is not None:
            d_gate_pre = np.ascontiguousarray(d_gated * heads * gate * (1.0 - gate), dtype=np.float32)
            w, b = self._gate
            d_query_from_gate, d_w, d_b = _core.dense_backward(q_rows, w.value.reshape(w.shape[0], -1), d_gate_pre,
                                                               with_bias=b is not None)
            gradients += [(w, d_w.reshape(w.shape))] + ([] if b is None else [(b, d_b.reshape(b.shape))])
            d_gated = d_gated * gate
        batch, n_heads, q_len = out.shape[:3]
        d_out = d_gated.reshape(batch, q_len, n_heads, -1).transpose(0, 2, 1, 3)
        d_q, d_k, d_v = attention_backward(q, self._repeated(k), self._repeated(v), out, lse, d_out,
                                           positions_major=True, **options)
        d_inputs = []
        for index, (rows, d_proj) in enumerate(((q_rows, d_q), (k_rows, self._summed(d_k)),
                                                (v_rows, self._summed(d_v)))):
            d_x, d_w, d_b = self._unproject(index, rows, d_proj)
            w, b = self._projections[index]
            gradients += [(w, d_w)] + ([] if b is None else [(b, d_b)])
            d_inputs.append(d_x.reshape(batch, -1, rows.shape[1]))
        d_query, d_key, d_value = d_inputs
        if d_query_from_gate is not None:
            d_query = d_query + d_query_from_gate.reshape(d_query.shape)
        if n_inputs == 2:  # key was value: both paths reach the same input
            return [d_query, d_value + d_key], for_trainable_weights(self, gradients)
        return [d_query, d_value, d_key], for_trainable_weights(self, gradients)

    def attend_rows(self, rows, batch, q_len, keys, values, value_mask=None, causal_offset=None, length=None):
        """MultiHeadAttention.attend_rows with keys / values of num_key_value_heads heads (the cache GQA shrinks)."""
        kv_len = keys.shape[2] if length is None else length
        keep = with_sliding_window(None if value_mask is None else keep_mask(batch, q_len, kv_len,
                                                                             value_mask=value_mask),
                                   q_len, kv_len, self.sliding_window, causal_offset or 0)
        q = self._project_rows(0, rows, batch, q_len)
        return self._attend(rows, q, keys, values, batch, q_len, keep=keep, is_causal=causal_offset is not None,
                            causal_offset=causal_offset or 0, scale=1.0 / np.sqrt(self.key_dim), kv_len=length)[0]

    def get_config(self):
        config = super().get_config()
        for key in ("num_heads", "key_dim", "value_dim", "output_shape", "attention_axes"):
            del config[key]
        return {**config, "head_dim": self.key_dim, "num_query_heads": self.num_heads,
                "num_key_value_heads": self.num_key_value_heads, "use_gate": self.use_gate}


GroupQueryAttention = GroupedQueryAttention
