"""Subclassed models (a Model subclass whose call() uses layers and rnnkit.ops), against float64 numpy references:
predictions, a training step's gradients, the `training` argument, several inputs and outputs, layer tracking,
summary and weight files. Keras itself is compared in test_models_subclassed_keras.py."""
import numpy as np
import pytest

import rnnkit
from rnnkit import layers, ops


def random(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


class ScaledDense(rnnkit.Model):
    """y = (x W + b) * s + (1 if training else 0): a layer, a weight of the model's own, a branch on training."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(2)
        self.scale = self.add_weight(shape=(2,), initializer="ones", name="scale")

    def call(self, x, training=False):
        return self.dense(x) * self.scale + (1.0 if training else 0.0)


def scaled_dense(x):
    model = ScaledDense()
    model(x)
    kernel, bias, scale = random((3, 2), 1), random((2,), 2), random((2,), 3)
    model.dense.set_weights([kernel, bias])
    model.scale.assign(scale)
    return model, kernel.astype(np.float64), bias.astype(np.float64), scale.astype(np.float64)


def test_predictions_and_the_training_graph_match_numpy():
    x = random((5, 3), 0)
    model, kernel, bias, scale = scaled_dense(x)
    expected = (x.astype(np.float64) @ kernel + bias) * scale
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(model(x), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(model(x, training=True), expected + 1.0, rtol=1e-6, atol=1e-6)


def test_a_training_step_follows_the_numpy_gradient():
    x, y = random((5, 3), 0), random((5, 2), 4)
    model, kernel, bias, scale = scaled_dense(x)
    model.compile(optimizer=rnnkit.optimizers.SGD(0.1), loss="mse")
    x64 = x.astype(np.float64)
    linear = x64 @ kernel + bias
    error = linear * scale + 1.0 - y  # fit runs the training graph
    loss = model.train_on_batch(x, y)
    np.testing.assert_allclose(loss, np.mean(error ** 2), rtol=1e-5)
    d_out = 2 * error / error.size
    d_linear = d_out * scale
    expected = [kernel - 0.1 * x64.T @ d_linear, bias - 0.1 * d_linear.sum(0), scale - 0.1 * (d_out * linear).sum(0)]
    # model.weights: the model's own weight first, then its layers' (Keras' order)
    for value, reference in zip(model.get_weights(), [expected[2], expected[0], expected[1]]):
        np.testing.assert_allclose(value, reference, rtol=1e-5, atol=1e-6)


class TwoHeads(rnnkit.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.heads = {"sum": layers.Dense(1), "pair": layers.Dense(2)}

    def call(self, inputs):
        a, b = inputs
        joined = ops.concatenate([a, b], axis=-1)
        return [self.heads["sum"](joined), self.heads["pair"](joined)]


def test_several_inputs_and_outputs():
    a, b = random((6, 2), 0), random((6, 3), 1)
    model = TwoHeads()
    first, second = model.predict([a, b], verbose=0)
    assert [layer.name for layer in model.layers] == [model.heads["sum"].name, model.heads["pair"].name]
    joined = np.concatenate([a, b], axis=1).astype(np.float64)
    for output, head in ((first, model.heads["sum"]), (second, model.heads["pair"])):
        kernel, bias = head.get_weights()
        np.testing.assert_allclose(output, joined @ kernel + bias, rtol=1e-5, atol=1e-6)
    model.compile(optimizer="sgd", loss=["mse", "mae"], loss_weights=[1.0, 0.5])
    y = [random((6, 1), 2), random((6, 2), 3)]
    total, sum_loss, pair_loss = model.evaluate([a, b], y, verbose=0)
    np.testing.assert_allclose(sum_loss, np.mean((first - y[0]) ** 2), rtol=1e-5)
    np.testing.assert_allclose(pair_loss, np.mean(np.abs(second - y[1])), rtol=1e-5)
    np.testing.assert_allclose(total, sum_loss + 0.5 * pair_loss, rtol=1e-5)
    history = model.fit([a, b], y, epochs=2, verbose=0).history
    assert len(history["loss"]) == 2


def test_compiled_before_its_first_call_the_model_learns_its_outputs_then():
    model = TwoHeads()
    model.compile(optimizer="sgd", loss="mse")  # one loss for every output, however many there turn out to be
    a, b = random((4, 2), 0), random((4, 3), 1)
    losses = model.train_on_batch([a, b], [random((4, 1), 2), random((4, 2), 3)])
    assert len(losses) == 3


class Blocks(layers.Layer):
    """A custom layer holding its sub-layers in a list: Keras tracks them, so their weights are the layer's."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.parts = [layers.Dense(3), layers.Dense(3)]

    def call(self, x):
        return self.parts[0](x) + self.parts[1](x)


def test_layers_held_in_lists_have_their_weights_tracked_and_trained():
    x, y = random((4, 3), 0), random((4, 3), 1)
    inputs = layers.Input((3,))
    blocks = Blocks()
    model = rnnkit.Model(inputs, blocks(inputs))
    assert len(blocks.weights) == 4 and blocks.count_params() == 24
    (k0, b0), (k1, b1) = blocks.parts[0].get_weights(), blocks.parts[1].get_weights()
    np.testing.assert_allclose(model.predict(x, verbose=0), x @ k0 + b0 + x @ k1 + b1, rtol=1e-5, atol=1e-6)
    model.compile(optimizer="sgd", loss="mse")
    model.train_on_batch(x, y)
    assert not np.array_equal(blocks.parts[1].get_weights()[0], k1)


def test_weights_follow_layers_held_after_the_first_look():
    """Layers assigned, appended, replaced in place or deleted after trainable_weights was read count at once
    (the layer keeps which attributes hold layers, not the layers themselves)."""
    blocks = Blocks()
    blocks(random((2, 3), 0))
    assert len(blocks.trainable_weights) == 4
    extra = layers.Dense(3)
    extra.build((None, 3))
    blocks.parts.append(extra)
    assert len(blocks.trainable_weights) == 6
    blocks.parts[0] = layers.Embedding(5, 3)
    blocks.parts[0].build((None,))
    assert len(blocks.trainable_weights) == 5
    blocks.by_name = {"head": layers.Dense(1)}
    blocks.by_name["head"].build((None, 3))
    assert len(blocks.trainable_weights) == 7
    blocks.parts = None
    assert [w.name for w in blocks.trainable_weights] == ["kernel", "bias"]
    del blocks.by_name
    assert blocks.trainable_weights == [] and blocks.weights == []


def test_summary_lists_the_layers_with_their_traced_output_shapes():
    model, *_ = scaled_dense(random((5, 3), 0))
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert f" {model.dense.name} (Dense)" in text and "(None, 2)" in text
    assert "Total params: 10" in text  # Dense 3x2 + 2, and the model's own scale of 2
    assert "Connected to" not in text  # Keras' subclassed summary has three columns


def test_an_unbuilt_model_summarises_and_refuses_to_load_weights(tmp_path):
    model = ScaledDense()
    lines = []
    model.summary(print_fn=lines.append)
    assert "(unbuilt)" in "\n".join(lines)
    with pytest.raises(ValueError, match="not built yet.*call it on data or call model.build"):
        model.load_weights(tmp_path / "any.weights.rnnkit")


@pytest.mark.parametrize("suffix", [".weights.rnnkit", ".weights.h5"])
def test_weights_files_round_trip(tmp_path, suffix):
    if suffix.endswith(".h5"):
        pytest.importorskip("h5py", reason="h5py (extra 'h5') is not installed")
    x = random((5, 3), 0)
    model, *_ = scaled_dense(x)
    model.save_weights(tmp_path / f"m{suffix}")
    other = ScaledDense()
    other.build((None, 3))
    other.load_weights(tmp_path / f"m{suffix}")
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))


class Widened(rnnkit.Model):
    """Made with plain arguments and no get_config: its config is those arguments, as Keras 3's automatic one."""

    def __init__(self, units, activation="tanh", **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(units, activation=activation)

    def call(self, x):
        return self.dense(x)


def test_a_saved_model_comes_back_from_its_class_built_compiled_and_with_its_weights(tmp_path):
    x, y = random((6, 3), 0), random((6, 4), 1)
    model = Widened(4, activation="relu", name="widened")
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=2, verbose=0)
    assert model.get_config() == {"name": "widened", "trainable": True, "dtype": "float32", "units": 4,
                                  "activation": "relu"}
    assert model.build_config == {"input_shape": [None, 3]}
    model.save(tmp_path / "m.rnnkit")
    back = rnnkit.saving.load_model(tmp_path / "m.rnnkit", custom_objects={"Widened": Widened})
    assert type(back) is Widened and back.dense.units == 4 and back.name == "widened"
    np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))
    assert int(back.optimizer.iterations.value) == int(model.optimizer.iterations.value) == 2
    for saved, restored in zip(model.optimizer.variables, back.optimizer.variables):
        np.testing.assert_array_equal(restored.value, saved.value)


class HoldsALayer(rnnkit.Model):
    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner

    def call(self, x):
        return self.inner(x)


def test_what_is_not_supported_says_so(tmp_path):
    x = random((5, 3), 0)
    model = HoldsALayer(layers.Dense(2))
    model(x)
    with pytest.raises(NotImplementedError, match="no automatic config: define get_config"):
        model.save(tmp_path / "m.rnnkit")
    with pytest.raises(ValueError, match="as a dict is not supported for a subclassed model"):
        model.predict({"x": x}, verbose=0)

    class NoCall(rnnkit.Model):
        pass

    with pytest.raises(NotImplementedError, match="needs a call\\(\\) method"):
        NoCall().predict(x, verbose=0)


class DoubledTanh(rnnkit.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(3, activation="tanh")

    def call(self, x):
        return self.dense(x) * 2.0


def test_a_subclassed_model_inside_a_functional_one_predicts_and_trains():
    x, y = random((5, 4), 0), random((5, 1), 1)
    inputs = layers.Input((4,))
    inner = DoubledTanh()
    model = rnnkit.Model(inputs, layers.Dense(1)(inner(inputs)))
    (kernel, bias), (head_kernel, head_bias) = inner.dense.get_weights(), model.layers[-1].get_weights()
    expected = (np.tanh(x.astype(np.float64) @ kernel + bias) * 2) @ head_kernel + head_bias
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    model.compile(optimizer="sgd", loss="mse")
    model.train_on_batch(x, y)
    assert not np.array_equal(inner.dense.get_weights()[0], kernel)
