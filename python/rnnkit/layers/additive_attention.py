"""AdditiveAttention: Bahdanau's attention (Keras 3's ``keras.layers.AdditiveAttention``), called on
[query, value(, key)].

scores[b, i, j] = sum_d scale[d] * tanh(query[b, i, d] + key[b, j, d]), ``scale`` of shape (dim,) with
use_scale=True (the default), else 1; then the masks, softmax, dropout and weighted sum of Attention, in the
core's additive kernel. Differences from Keras are Attention's.
"""
from rnnkit import initializers
from rnnkit.layers.additive_attention_ops import AdditiveScore
from rnnkit.layers.attention import Attention


class AdditiveAttention(Attention):
    def __init__(self, use_scale=True, dropout=0.0, seed=None, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, seed=seed, **kwargs)

    def build(self, input_shape):
        self._check_shapes(input_shape)
        self.scale = None
        if self.use_scale:
            self.scale = self.add_weight((input_shape[0][-1],), initializers.get("glorot_uniform"), name="scale")
        self.built = True

    def _additive_score(self):
        return AdditiveScore(None if self.scale is None else self.scale.value, 1.0, 1.0)

    def _score_gradients(self, grads):
        return [(self.scale, grads.d_weight)] if self.use_scale else []

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]  # Keras' AdditiveAttention has no score_mode argument
        return config
