"""Custom layers written once for Keras 3 and rnnkit alike (`lib` is either module): build() with add_weight,
call() with lib.ops, as a user writes them."""


def attention_pooling_class(lib):
    ops = lib.ops

    class AttentionPooling(lib.layers.Layer):
        """Additive attention over the steps: softmax_t(v . tanh(h_t W + b)) weighted sum of the h_t."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.W = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="W")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")
            self.v = self.add_weight(shape=(self.units, 1), initializer="glorot_uniform", name="v")

        def call(self, inputs):
            scores = ops.matmul(ops.tanh(ops.matmul(inputs, self.W) + self.b), self.v)
            return ops.sum(ops.softmax(scores, axis=1) * inputs, axis=1)

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return AttentionPooling


def masked_attention_class(lib):
    ops = lib.ops

    class MaskedAttention(lib.layers.Layer):
        """Attention pooling over the steps an Embedding's mask keeps."""

        def build(self, input_shape):
            self.v = self.add_weight(shape=(input_shape[-1], 1), initializer="glorot_uniform", name="v")

        def call(self, inputs, mask=None):
            scores = ops.squeeze(ops.matmul(inputs, self.v), -1)
            if mask is not None:
                scores = ops.where(mask, scores, -1e9)
            weights = ops.expand_dims(ops.softmax(scores, axis=1), -1)
            return ops.sum(weights * inputs, axis=1)

        def compute_mask(self, inputs, mask=None):
            return None

    return MaskedAttention


def gated_sum_class(lib):
    class GatedSum(lib.layers.Layer):
        """Held layers in an order the alphabet does not follow (`value` before `gate`) and in a list, whose weights
        Keras' files place by attribute name (`gate`, `parts/dense`, `parts/dense_1`, `value`)."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.value = lib.layers.Dense(units)
            self.gate = lib.layers.Dense(units, activation="sigmoid")
            self.parts = [lib.layers.Dense(units), lib.layers.Dense(units, use_bias=False)]

        def call(self, inputs):
            mixed = self.parts[0](inputs) + self.parts[1](inputs)
            return self.gate(inputs) * self.value(inputs) + mixed

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return GatedSum
