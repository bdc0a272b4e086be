"""GroupQueryAttention (Keras 3's GroupedQueryAttention): num_key_value_heads key/value heads, each shared by
num_query_heads / num_key_value_heads query heads, with Keras' arguments, weight shapes and order, mask rules
(sliding_window included), optional sigmoid gate and numerics.

It is MultiHeadAttention with fewer key/value heads than query heads: keys and values are projected to their own
heads (a decoder's key/value cache holds only those) and repeated for their query heads before the core's
attention kernel; in BPTT the repeated heads' gradients are summed back. MultiHeadAttention's documented
difference from Keras holds: a query that may attend to no key gets zero attention weights.
"""
from rnnkit.layers._validation import positive_int
from rnnkit.layers.multi_head_attention import MultiHeadAttention


class GroupedQueryAttention(MultiHeadAttention):
    # Keras holds these weights in EinsumDense sub-layers without public properties: every file group keeps the
    # attribute's underscore.
    _weight_groups = ("_query_dense", "_key_dense", "_gate_dense", "_value_dense", "_output_dense")

    def __init__(self, head_dim, num_query_heads, num_key_value_heads, dropout=0.0, use_bias=True, sliding_window=None,
                 flash_attention=None, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, use_gate=False, seed=None, **kwargs):
        super().__init__(num_query_heads, head_dim, dropout=dropout, use_bias=use_bias, sliding_window=sliding_window,
                         flash_attention=flash_attention, kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                         kernel_constraint=kernel_constraint, bias_constraint=bias_constraint, use_gate=use_gate,
                         seed=seed, **kwargs)
        self._key_value_heads = positive_int(self.name, "num_key_value_heads", num_key_value_heads)
        if self.num_heads % self._key_value_heads:
            raise ValueError(f"{self.name}: num_query_heads must be divisible by num_key_value_heads, received "
                             f"{self.num_heads} and {self._key_value_heads}")

    @property
    def head_dim(self):
        return self.key_dim

    @property
    def num_query_heads(self):
        return self.num_heads

    @property
    def num_key_value_heads(self):
        return self._key_value_heads

    def get_config(self):
        config = super().get_config()
        for key in ("num_heads", "key_dim", "value_dim", "output_shape", "attention_axes"):
            del config[key]
        return {**config, "head_dim": self.key_dim, "num_query_heads": self.num_heads,
                "num_key_value_heads": self._key_value_heads}


GroupQueryAttention = GroupedQueryAttention
