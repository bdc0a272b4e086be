"""MultiHeadAttention with Keras 3's arguments, weight shapes and order, mask rules and numerics.

Projections run as GEMMs in the core; the attention itself is the core's tiled kernel (the materialising one when
the scores are returned). One documented difference from Keras: a query that may attend to no key (for example a
masked query position) gets zero attention weights, where Keras spreads them uniformly.
"""
import math

import numpy as np

from rnnkit import _core, initializers, regularizers
from rnnkit.layers._gradients import for_trainable_weights
from rnnkit.layers._validation import expect_rank, float_input, fraction, positive_int, unsupported_options
from rnnkit.layers.attention_call import call_with_options, non_default
from rnnkit.layers.attention_ops import attention, attention_backward
from rnnkit.layers.core import random_stream
from rnnkit.layers.layer import Layer, _is_symbolic

_CALL_DEFAULTS = {"attention_mask": None, "return_attention_scores": False, "use_causal_mask": False}


def keep_mask(batch, q_len, kv_len, query_mask=None, value_mask=None, key_mask=None, attention_mask=None):
    """Keras' merged boolean mask as a (B, 1, T or 1, S or 1) uint8 array for the core, or None."""
    keep = None
    for part in (None if query_mask is None else np.asarray(query_mask, dtype=bool)[:, :, None],
                 None if value_mask is None else np.asarray(value_mask, dtype=bool)[:, None, :],
                 None if key_mask is None else np.asarray(key_mask, dtype=bool)[:, None, :],
                 None if attention_mask is None else np.asarray(attention_mask, dtype=bool)):
        if part is not None:
            keep = part if keep is None else np.logical_and(keep, part)
    if keep is None:
        return None
    keep = keep.reshape((1,) * (3 - keep.ndim) + keep.shape)
    if keep.shape[0] not in (1, batch) or keep.shape[1] not in (1, q_len) or keep.shape[2] not in (1, kv_len):
        raise ValueError(f"attention mask of shape {keep.shape} does not broadcast to (batch, T, S) = "
                         f"({batch}, {q_len}, {kv_len})")
    return np.ascontiguousarray(keep[:, None], dtype=np.uint8)


def checked_sliding_window(layer, window):
    if window is not None and (isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window <= 0):
        raise ValueError(f"{layer}: sliding_window must be None or a positive integer, received {window!r}")
    return None if window is None else int(window)


def with_sliding_window(keep, q_len, kv_len, window, offset=0):
    """``keep`` (from keep_mask, or None) and Keras' symmetric band: query i (at position offset + i, as a
    decoder step sees it) may attend to key j when |offset + i - j| < window."""
    if window is None:
        return keep
    band = np.abs(np.arange(offset, offset + q_len)[:, None] - np.arange(kv_len)[None, :]) < window
    band = band[None, None].astype(np.uint8)
    return band if keep is None else np.ascontiguousarray(keep & band)


def checked_input_shapes(layer, input_shape):
    """(query, value, key) shapes of an attention layer's [query, value(, key)] input shapes, validated."""
    query_shape, value_shape = tuple(input_shape[0]), tuple(input_shape[1])
    key_shape = tuple(input_shape[2]) if len(input_shape) > 2 else value_shape
    for what, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
        expect_rank(layer, shape, 3, what)
        if shape[-1] is None:
            raise ValueError(f"{layer}: the last dimension of {what} must be known, received {shape}")
    if value_shape[1:-1] != key_shape[1:-1]:
        raise ValueError(f"{layer}: value and key must match in every axis but the last, received "
                         f"value_shape={value_shape} and key_shape={key_shape}")
    return query_shape, value_shape, key_shape


class MultiHeadAttention(Layer):
    positional_inputs = True
    # Keras keeps these weights in EinsumDense sub-layers (its weight files' groups), kernel and bias each, in this
    # order; the gate's group keeps its attribute's underscore (Keras gives it no public property).
    _weight_groups = ("query_dense", "key_dense", "_gate_dense", "value_dense", "output_dense")

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, sliding_window=None, flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, use_gate=False, seed=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.num_heads = positive_int(self.name, "num_heads", num_heads)
        self.key_dim = positive_int(self.name, "key_dim", key_dim)
        self.value_dim = self.key_dim if not value_dim else positive_int(self.name, "value_dim", value_dim)
        self.dropout = fraction(self.name, "dropout", dropout)
        self.use_bias = bool(use_bias)
        if isinstance(output_shape, (int, np.integer)):
            output_shape = (int(output_shape),)
        if output_shape is not None and len(tuple(output_shape)) != 1:
            raise ValueError(f"{self.name}: rnnkit projects to one output axis; received output_shape={output_shape}")
        self.output_shape = None if not output_shape else tuple(int(d) for d in output_shape)
        if attention_axes is not None and tuple(np.atleast_1d(attention_axes)) not in ((1,), (-2,)):
            raise ValueError(f"{self.name}: rnnkit attends over the sequence axis of (batch, T, features) inputs "
                             f"only; received attention_axes={attention_axes}")
        self.sliding_window = checked_sliding_window(self.name, sliding_window)
        unsupported_options(self.name, kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                            kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self.use_gate = bool(use_gate)
        self._key_value_heads = self.num_heads  # GroupedQueryAttention shares each among several query heads
        self.flash_attention = flash_attention
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.seed = seed
        self._seed_stream = None if seed is None else np.random.default_rng(seed)
        self.supports_masking = True

    # Keras: mha(query, value, key=None, ...); the engine and from_config pass [query, value(, key)] instead.
    def __call__(self, query, value=None, key=None, query_mask=None, value_mask=None, key_mask=None,
                 attention_mask=None, return_attention_scores=False, training=None, use_causal_mask=False,
                 mask=None):
        inputs = list(query) if value is None else [query, value] + ([] if key is None else [key])
        if len(inputs) not in (2, 3):
            raise ValueError(f"{self.name}: expected query and value (and optionally key), received "
                             f"{len(inputs)} inputs")
        if mask is None and any(m is not None for m in (query_mask, value_mask, key_mask)):
            mask = [query_mask, value_mask] + ([key_mask] if len(inputs) == 3 else [])
        options = {"attention_mask": attention_mask, "return_attention_scores": bool(return_attention_scores),
                   "use_causal_mask": bool(use_causal_mask)}
        if attention_mask is not None and _is_symbolic(inputs):
            raise ValueError(f"{self.name}: in a functional model rnnkit builds the attention mask from the inputs' "
                             "masks and use_causal_mask; pass attention_mask only in eager calls")
        return call_with_options(self, inputs, training=training, mask=mask,
                                 options=non_default(options, _CALL_DEFAULTS),
                                 output_shapes=lambda shape: self._output_shapes(shape, return_attention_scores))

    def _output_shapes(self, input_shape, return_attention_scores):
        out = self.compute_output_shape(input_shape)
        if not return_attention_scores:
            return out
        query_shape, value_shape = input_shape[0], input_shape[1]
        return [out, (query_shape[0], self.num_heads, query_shape[1], value_shape[1])]

    @property
    def keras_weight_groups(self):
        return tuple(group for group in self._weight_groups if self.use_gate or "gate" not in group)

    def build(self, input_shape):
        query_shape, value_shape, key_shape = checked_input_shapes(self.name, input_shape)
        heads, out_dim = self.num_heads, self.output_shape[0] if self.output_shape else query_shape[-1]
        kernel, bias = self.kernel_initializer, self.bias_initializer

        def projection(name, features, projected_heads, dim):
            w = self.add_weight((features, projected_heads, dim), kernel, name=f"{name}/kernel")
            return w, self.add_weight((projected_heads, dim), bias, name=f"{name}/bias") if self.use_bias else None

        # Keras' order: query, key, gate, value.
        query = projection("query", query_shape[-1], heads, self.key_dim)
        key = projection("key", key_shape[-1], self._key_value_heads, self.key_dim)
        self._gate = projection("gate", query_shape[-1], heads, self.value_dim) if self.use_gate else None
        value = projection("value", value_shape[-1], self._key_value_heads, self.value_dim)
        self._projections = [query, key, value]
        self.output_kernel = self.add_weight((heads, self.value_dim, out_dim), kernel, name="attention_output/kernel")
        self.output_bias = self.add_weight((out_dim,), bias, name="attention_output/bias") if self.use_bias else None
        self.built = True

    def compute_output_shape(self, input_shape):
        query_shape = tuple(input_shape[0])
        return query_shape[:-1] + (self.output_shape[0] if self.output_shape else query_shape[-1],)

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[0]

    # Layouts: a projection's output rows (B * L, heads * dim) are a (B, L, heads, dim) array, and the attention
    # kernel reads its (B, heads, L, dim) operands through strides, so q, k and v are transposed views of the
    # projections (no copies). The kernel writes its output, and the backward its gradients, positions-major
    # (``attention(..., positions_major=True)``), so the output projection's rows (B * T, heads * dim) and the
    # projections' d_y are reshapes of them, not copies either.
    def _project(self, index, x):
        """(B, L, features) -> rows (B * L, features) and a (B, heads, L, dim) view of their projection ``index``
        (0 query, 1 key, 2 value)."""
        rows = x.reshape(-1, x.shape[-1])
        return rows, self._project_rows(index, rows, x.shape[0], x.shape[1])

    def _project_self(self, x):
        """Self-attention's query, key and value projections as one product against the three kernels side by
        side: one pass over x's rows (the kernels' copy is small next to the activations). q, k and v are views of
        its (B, T, 3, heads, dim) output."""
        rows = x.reshape(-1, x.shape[-1])
        kernel = np.concatenate([w.value.reshape(w.shape[0], -1) for w, _ in self._projections], axis=1)
        bias = None if not self.use_bias else np.concatenate([b.value.reshape(-1) for _, b in self._projections])
        y = _core.dense_forward(rows, kernel, bias).reshape(x.shape[0], x.shape[1], 3, self.num_heads, self.key_dim)
        return rows, tuple(y[:, :, i].transpose(0, 2, 1, 3) for i in range(3))

    def _project_rows(self, index, rows, batch, length):
        """(B, heads, L, dim) view of the projection of rows (B * L, features)."""
        w, b = self._projections[index]
        y = _core.dense_forward(rows, w.value.reshape(w.shape[0], -1), None if b is None else b.value.reshape(-1))
        return y.reshape(batch, length, w.shape[1], w.shape[2]).transpose(0, 2, 1, 3)

    def _unproject(self, index, rows, d_heads):
        """(d_x, d_kernel, d_bias) of ``_project`` from a positions-major d(B, heads, L, dim)."""
        w, b = self._projections[index]
        d_y = d_heads.transpose(0, 2, 1, 3).reshape(rows.shape[0], -1)
        d_x, d_w, d_b = _core.dense_backward(rows, w.value.reshape(w.shape[0], -1), d_y, with_bias=b is not None)
        return d_x, d_w.reshape(w.shape), None if b is None else d_b.reshape(b.shape)

    def _repeated(self, heads):
        """(B, key/value heads, L, dim) -> (B, heads, L, dim): key/value head h serves query heads h * g to
        h * g + g - 1 (GroupedQueryAttention; MultiHeadAttention's g is 1)."""
        group = self.num_heads // self._key_value_heads
        return heads if group == 1 else np.repeat(heads, group, axis=1)

    def _summed(self, d_heads):
        """The gradient of ``_repeated``: each key/value head's query heads summed back."""
        group = self.num_heads // self._key_value_heads
        if group == 1:
            return d_heads
        batch, _, length, dim = d_heads.shape
        return d_heads.reshape(batch, self._key_value_heads, group, length, dim).sum(axis=2)

    def _gate_values(self, query_rows):
        """use_gate: sigmoid(query · gate kernel + bias) as rows (B * T, heads * value_dim); else None."""
        if self._gate is None:
            return None
        w, b = self._gate
        pre = _core.dense_forward(query_rows, w.value.reshape(w.shape[0], -1),
                                  None if b is None else b.value.reshape(-1))
        return 1.0 / (1.0 + np.exp(-pre))

    def _attend_projected(self, query_rows, q, k, v, batch, q_len, **options):
        """(output rows (B * T, output), attention output, lse, weights, the attention output's rows (B * T,
        heads * dim), gate rows or None) from projected (B, heads, L, dim) views; the attention rows are a view of
        the positions-major output, and the output projection reads them times the gate."""
        if options.get("kv_len") is not None:  # a preallocated cache: repeat only the positions in use
            k, v = k[:, :, :options["kv_len"]], v[:, :, :options["kv_len"]]
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
        if (query is value and key is value and self.key_dim == self.value_dim
                and self._key_value_heads == self.num_heads):
            q_rows, (q, k, v) = self._project_self(query)
            k_rows = v_rows = q_rows
        else:
            q_rows, q = self._project(0, query)
            k_rows, k = self._project(1, key)
            v_rows, v = self._project(2, value)
        dropout = self.dropout if training else 0.0
        seed = int(random_stream(self._seed_stream).integers(0, 2**63)) if dropout > 0 else 0
        options = dict(keep=keep, is_causal=use_causal_mask, scale=1.0 / math.sqrt(self.key_dim), dropout_p=dropout,
                       seed=seed)
        y, out, lse, weights, heads, gate = self._attend_projected(q_rows, q, k, v, batch, q_len,
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
        d_heads, d_out_kernel, d_out_bias = _core.dense_backward(heads if gate is None else heads * gate, kernel,
                                                                 d_y, with_bias=self.output_bias is not None)
        gradients = [(self.output_kernel, d_out_kernel.reshape(self.output_kernel.shape))]
        if self.output_bias is not None:
            gradients.append((self.output_bias, d_out_bias))
        d_query_by_gate = None
        if gate is not None:  # y reads heads * gate: each factor's gradient is d_heads times the other
            w, b = self._gate
            d_gate_pre = np.ascontiguousarray(d_heads * heads * gate * (1.0 - gate), dtype=np.float32)
            d_query_by_gate, d_w, d_b = _core.dense_backward(q_rows, w.value.reshape(w.shape[0], -1), d_gate_pre,
                                                             with_bias=b is not None)
            gradients += [(w, d_w.reshape(w.shape))] + ([] if b is None else [(b, d_b.reshape(b.shape))])
            d_heads = d_heads * gate
        batch, n_heads, q_len = out.shape[:3]
        d_out = d_heads.reshape(batch, q_len, n_heads, -1).transpose(0, 2, 1, 3)
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
        if d_query_by_gate is not None:
            d_query = d_query + d_query_by_gate.reshape(d_query.shape)
        if n_inputs == 2:  # key was value: both paths reach the same input
            return [d_query, d_value + d_key], for_trainable_weights(self, gradients)
        return [d_query, d_value, d_key], for_trainable_weights(self, gradients)

    # Incremental decoding: keys and values are projected once and kept by the caller (a KV cache), so step t
    # costs one query against t cached keys instead of recomputing the whole prefix. The *_rows forms take the
    # (B * L, features) rows of a decoder step as they are: each step is a few small products, so reshaping and
    # re-validating arrays would cost as much as the arithmetic.
    def project_key_value(self, value, key=None):
        """(keys, values) as (B, heads, S, dim) arrays for ``attend``."""
        value = float_input(self.name, value, "value")
        key = value if key is None else float_input(self.name, key, "key")
        return self._project(1, key)[1], self._project(2, value)[1]

    def project_key_value_rows(self, rows, batch, length):
        """(keys, values) (B, heads, L, dim) views of float32 rows (B * L, features), for writing into a cache."""
        return self._project_rows(1, rows, batch, length), self._project_rows(2, rows, batch, length)

    def attend(self, query, keys, values, value_mask=None, causal_offset=None, length=None):
        """Inference with projected keys/values: ``causal_offset`` (S - T when decoding) hides later keys;
        ``length`` uses only the first positions of keys/values (a preallocated cache, read in place)."""
        query = float_input(self.name, query, "query")
        batch, q_len = query.shape[:2]
        y = self.attend_rows(query.reshape(batch * q_len, -1), batch, q_len, keys, values, value_mask, causal_offset,
                             length)
        return y.reshape(batch, q_len, -1)

    def attend_rows(self, rows, batch, q_len, keys, values, value_mask=None, causal_offset=None, length=None):
        """``attend`` on C-contiguous float32 query rows (B * T, features); returns rows (B * T, output)."""
        kv_len = keys.shape[2] if length is None else length
        keep = with_sliding_window(None if value_mask is None else keep_mask(batch, q_len, kv_len,
                                                                             value_mask=value_mask),
                                   q_len, kv_len, self.sliding_window, causal_offset or 0)
        q = self._project_rows(0, rows, batch, q_len)
        return self._attend_projected(rows, q, keys, values, batch, q_len, keep=keep,
                                      is_causal=causal_offset is not None, causal_offset=causal_offset or 0,
                                      scale=1.0 / math.sqrt(self.key_dim), kv_len=length)[0]

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias, "use_gate": self.use_gate,
                "output_shape": self.output_shape, "attention_axes": None, "sliding_window": self.sliding_window,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer), "kernel_regularizer": None,
                "bias_regularizer": None,
                "activity_regularizer": regularizers.serialize(self.activity_regularizer), "kernel_constraint": None,
                "bias_constraint": None, "seed": self.seed}
