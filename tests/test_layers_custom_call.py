"""Custom layers written as in Keras 3 (build() with add_weight, call() with rnnkit.ops), which rnnkit traces into
operations: values against numpy float64 references, gradients to inputs and weights against float64 finite
differences, training-mode calls, sub-layers, saving, and clear errors for what cannot be traced."""
import numpy as np
import pytest

import rnnkit
from reference.custom_layers import attention_pooling_class
from reference.gradient_check import reference_gradients
from rnnkit import layers, ops, saving

RNG = np.random.default_rng(21)


AttentionPooling = attention_pooling_class(rnnkit)


def attention_reference(x, W, b, v):
    scores = np.tanh(x @ W + b) @ v
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return np.sum(e / e.sum(axis=1, keepdims=True) * x, axis=1)


def test_values_and_gradients_to_inputs_and_weights_match_numpy():
    layer = AttentionPooling(3)
    inputs = layers.Input((5, 4))
    model = rnnkit.Model(inputs, layer(inputs))
    layer.b.assign(RNG.standard_normal(3) * 0.3)
    assert [w.path for w in model.trainable_weights] == [f"{layer.name}/W", f"{layer.name}/b", f"{layer.name}/v"]
    x = RNG.standard_normal((2, 5, 4)).astype(np.float32)
    params = [w.value.astype(np.float64) for w in (layer.W, layer.b, layer.v)]
    y = model.predict(x, verbose=0)
    np.testing.assert_allclose(y, attention_reference(x.astype(np.float64), *params), rtol=1e-5, atol=1e-6)

    weights = RNG.standard_normal(y.shape)
    _, ctx = model.forward(x, training=True)
    d_x, d_params = model.backward(ctx, weights.astype(np.float32))
    numeric = reference_gradients(attention_reference, [x] + params, weights)
    for analytic, expected in zip([d_x] + list(d_params), numeric):
        np.testing.assert_allclose(analytic, expected, rtol=1e-4, atol=1e-5)


class NoisyScale(layers.Layer):
    """call(inputs, training): twice the input in training, the input itself in inference."""

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(), initializer="ones", name="scale")

    def call(self, inputs, training=None):
        return inputs * self.scale * 2.0 if training else inputs * self.scale


def test_training_mode_is_traced_apart():
    layer = NoisyScale()
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    inputs = layers.Input((3,))
    model = rnnkit.Model(inputs, layer(inputs))
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)
    trained, ctx = model.forward(x, training=True)
    np.testing.assert_array_equal(trained, 2 * x)
    _, (d_scale,) = model.backward(ctx, np.ones_like(x))
    assert d_scale == pytest.approx(2 * x.sum())
    np.testing.assert_array_equal(layer(x), x)  # eager, as Keras: inference unless training=True
    np.testing.assert_array_equal(layer(x, training=True), 2 * x)


class GatedDense(layers.Layer):
    """A sub-layer made in __init__ and called in call(): its weights are the layer's, after its own."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.proj = layers.Dense(units, name="proj")

    def build(self, input_shape):
        self.gate = self.add_weight(shape=(self.units,), initializer="zeros", name="gate")

    def call(self, inputs):
        return self.proj(inputs) * ops.sigmoid(self.gate)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_sub_layers_train_and_the_model_saves_and_loads_with_custom_objects(tmp_path):
    inputs = layers.Input((6, 3))
    hidden = layers.LSTM(4, return_sequences=True)(inputs)
    outputs = GatedDense(1)(AttentionPooling(5)(hidden))
    model = rnnkit.Model(inputs, outputs)
    assert [w.path.split("/")[-1] for w in model.layers[-1].weights] == ["gate", "kernel", "bias"]
    x = RNG.standard_normal((64, 6, 3)).astype(np.float32)
    y = np.tanh(x[:, :, :1].mean(axis=1) * 2.0)
    model.compile(optimizer=rnnkit.optimizers.Adam(0.02), loss="mse")
    before = [w.numpy() for w in model.weights]
    start = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=25, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.5 * start
    assert all(np.abs(a - b.value).max() > 0 for a, b in zip(before, model.weights))  # every weight learned
    model.save(tmp_path / "m.rnnkit")
    custom = {"AttentionPooling": AttentionPooling, "GatedDense": GatedDense}
    loaded = saving.load_model(tmp_path / "m.rnnkit", custom_objects=custom)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    loaded.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)  # training resumes on the loaded model
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_variables_compute_on_their_values_outside_a_trace():
    layer = NoisyScale()
    layer(np.ones((1, 3), np.float32))
    layer.scale.assign(3.0)
    assert float(layer.scale * 2.0) == 6.0 and float(1.0 - layer.scale) == -2.0 and float(-layer.scale) == -3.0
    np.testing.assert_array_equal(np.asarray(layer.scale), np.float32(3.0))
    np.testing.assert_array_equal(ops.add(layer.scale, np.ones(2, np.float32)), [4.0, 4.0])


def test_what_cannot_be_traced_is_refused_clearly():
    class NumpyInside(layers.Layer):
        def call(self, inputs):
            return np.tanh(inputs)

    class Nothing(layers.Layer):
        pass

    x = layers.Input((3,))
    with pytest.raises(TypeError, match=r"its call\(\) must be written with rnnkit.ops"):
        NumpyInside()(x)
    with pytest.raises(NotImplementedError, match="defines neither compute_output_shape nor call"):
        Nothing()(x)
    with pytest.raises(NotImplementedError, match="overwrite_with_gradient is not supported"):
        layers.Layer().add_weight(shape=(2,), overwrite_with_gradient=True)
    with pytest.raises(ValueError, match="weights are float32"):
        layers.Layer().add_weight(shape=(2,), dtype="float64")


class MaskedMean(layers.Layer):
    """The mean over the kept steps: call(inputs, mask) sees the Embedding's mask_zero mask."""

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.mean(inputs, axis=1)
        kept = ops.expand_dims(ops.cast(mask, "float32"), -1)
        return ops.sum(inputs * kept, axis=1) / ops.maximum(ops.sum(kept, axis=1), 1.0)

    def compute_mask(self, inputs, mask=None):
        return None


def test_a_mask_reaches_call_and_its_gradient_respects_it():
    ids = layers.Input((5,), dtype="int32")
    embedded = layers.Embedding(7, 3, mask_zero=True)(ids)
    pooled = MaskedMean()(embedded)
    assert not pooled.has_mask
    model = rnnkit.Model(ids, pooled)
    tokens = np.array([[1, 2, 0, 0, 0], [3, 4, 5, 6, 1]], np.int32)
    table = model.layers[1].embeddings.value.astype(np.float64)
    expected = np.stack([table[[1, 2]].mean(axis=0), table[[3, 4, 5, 6, 1]].mean(axis=0)])
    # atol: the table is random, and a mean of a few entries of +-0.05 can land near zero, where rtol alone fails
    np.testing.assert_allclose(model.predict(tokens, verbose=0), expected, rtol=1e-6, atol=1e-7)
    _, ctx = model.forward(tokens, training=True)
    _, (d_table,) = model.backward(ctx, np.ones((2, 3), np.float32))
    counts = np.zeros(7)
    np.add.at(counts, [1, 2], 1 / 2)
    np.add.at(counts, [3, 4, 5, 6, 1], 1 / 5)
    np.testing.assert_allclose(d_table, np.repeat(counts[:, None], 3, axis=1), rtol=1e-6)  # padding: no gradient
    plain = layers.Input((5, 3))  # no mask: call gets mask=None
    np.testing.assert_allclose(rnnkit.Model(plain, MaskedMean()(plain)).predict(table[tokens], verbose=0),
                               table[tokens].mean(axis=1), rtol=1e-6, atol=1e-7)
