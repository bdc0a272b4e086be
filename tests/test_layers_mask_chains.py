"""Masks flowing from Embedding(mask_zero) and Masking into recurrent layers: values and gradients."""
import numpy as np
from reference.gradient_check import check_layer_gradients

from rnnkit import layers


class MaskedChain:
    """Two layers where the second consumes the first's output mask; exposes the forward/backward contract."""

    def __init__(self, producer, consumer):
        self.producer, self.consumer = producer, consumer

    @property
    def trainable_weights(self):
        return self.producer.trainable_weights + self.consumer.trainable_weights

    def forward(self, inputs, *, training, mask=None):
        hidden, producer_ctx = self.producer.forward(inputs, training=training)
        outputs, consumer_ctx = self.consumer.forward(hidden, training=training,
                                                      mask=self.producer.compute_mask(inputs, None))
        return outputs, (producer_ctx, consumer_ctx)

    def backward(self, ctx, d_outputs):
        producer_ctx, consumer_ctx = ctx
        d_hidden, d_consumer = self.consumer.backward(consumer_ctx, d_outputs)
        d_inputs, d_producer = self.producer.backward(producer_ctx, d_hidden)
        return d_inputs, d_producer + d_consumer


def built(layer, shape):
    layer.build(shape)
    return layer


def test_embedding_mask_zero_makes_lstm_skip_padding():
    rng = np.random.default_rng(0)
    embedding = built(layers.Embedding(7, 3, mask_zero=True), (None, 5))
    lstm = built(layers.LSTM(2), (None, 5, 3))
    lstm.set_weights([0.5 * rng.standard_normal(w.shape).astype(np.float32) for w in lstm.weights])
    chain = MaskedChain(embedding, lstm)
    padded = np.array([[4, 2, 6, 0, 0], [3, 0, 0, 0, 0]])
    outputs, _ = chain.forward(padded, training=False)
    for row, length in enumerate([3, 1]):
        unpadded, _ = lstm.forward(embedding.forward(padded[row:row + 1, :length], training=False)[0],
                                   training=False)
        np.testing.assert_allclose(outputs[row], unpadded[0], rtol=1e-5, atol=1e-6)
    check_layer_gradients(chain, padded)


def test_masking_makes_gru_skip_masked_steps_and_gradients_agree():
    rng = np.random.default_rng(1)
    masking = layers.Masking(mask_value=0.0)
    gru = built(layers.GRU(2, return_sequences=True), (None, 4, 3))
    gru.set_weights([0.5 * rng.standard_normal(w.shape).astype(np.float32) for w in gru.weights])
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    x[0, 1] = 0.0
    x[1, 2:] = 0.0
    outputs, _ = MaskedChain(masking, gru).forward(x, training=False)
    np.testing.assert_array_equal(outputs[0, 1], outputs[0, 0])  # a masked step repeats the previous output
    np.testing.assert_array_equal(outputs[1, 3], outputs[1, 1])
    unmasked, _ = gru.forward(x[:1, [0, 2, 3]], training=False)
    np.testing.assert_allclose(outputs[0, 3], unmasked[0, 2], rtol=1e-5, atol=1e-6)
    kept_steps = (x != 0).any(axis=-1)[..., None]
    check_layer_gradients(MaskedChain(masking, gru), x, input_where=kept_steps)
