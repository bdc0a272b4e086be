"""Graph forward/backward of functional models, checked against float64 numpy references."""
import numpy as np
import pytest

from rnnkit import layers
from rnnkit.layers.layer import Layer, to_snake_case
from rnnkit.models import Model, Sequential


class Linear(Layer):
    """y = x @ w: a test-local layer whose float64 reference is one matmul."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="w")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, inputs, *, training, mask=None):
        return (inputs @ self.w.value).astype(np.float32), (inputs if training else None)

    def backward(self, ctx, d_outputs):
        return d_outputs @ self.w.value.T, [ctx.T @ d_outputs]


class Split(Layer):
    """Two outputs (first half, second half of the features) to exercise list outputs."""

    def compute_output_shape(self, input_shape):
        half = input_shape[-1] // 2
        return [tuple(input_shape[:-1]) + (half,), tuple(input_shape[:-1]) + (input_shape[-1] - half,)]

    def forward(self, inputs, *, training, mask=None):
        half = inputs.shape[-1] // 2
        return [inputs[..., :half], inputs[..., half:]], inputs.shape

    def backward(self, ctx, d_outputs):
        half = ctx[-1] // 2
        parts = [np.zeros(ctx[:-1] + (half,), np.float32) if d_outputs[0] is None else d_outputs[0],
                 np.zeros(ctx[:-1] + (ctx[-1] - half,), np.float32) if d_outputs[1] is None else d_outputs[1]]
        return np.concatenate(parts, axis=-1), []


def _w(layer):
    return layer.w.value.astype(np.float64)


def test_snake_case_names_follow_keras():
    assert [to_snake_case(n) for n in ["SimpleRNN", "LSTM", "GRU", "Dense", "GlobalAveragePooling1D"]] == \
        ["simple_rnn", "lstm", "gru", "dense", "global_average_pooling1d"]


def test_second_instance_gets_a_numbered_name_and_explicit_names_are_kept():
    class NamingProbeRNN(Linear):
        pass

    explicit = NamingProbeRNN(1, name="my_probe")
    first, second, third = NamingProbeRNN(1), NamingProbeRNN(1), NamingProbeRNN(1)
    assert explicit.name == "my_probe"
    assert [first.name, second.name, third.name] == ["naming_probe_rnn", "naming_probe_rnn_1", "naming_probe_rnn_2"]


def test_eager_call_builds_weights_and_matches_reference():
    rng = np.random.default_rng(0)
    layer = Linear(3)
    x = rng.normal(size=(4, 5)).astype(np.float32)
    y = layer(x)
    assert layer.w.shape == (5, 3)
    np.testing.assert_allclose(y, x.astype(np.float64) @ _w(layer), rtol=1e-5, atol=1e-6)


def test_shared_layer_gradients_sum_over_its_nodes():
    rng = np.random.default_rng(1)
    a, b = layers.Input(shape=(3,)), layers.Input(shape=(3,))
    shared, head = Linear(2), Linear(1)
    first, second = shared(a), shared(b)
    model = Model([a, b], [head(first), second])
    xa, xb = (rng.normal(size=(5, 3)).astype(np.float32) for _ in range(2))
    outputs, _, ctx = model._forward([xa, xb], training=True)
    d0 = rng.normal(size=(5, 1)).astype(np.float32)
    d1 = rng.normal(size=(5, 2)).astype(np.float32)
    grads = model._backward(ctx, [d0, d1])
    w_shared, w_head = _w(shared), _w(head)
    np.testing.assert_allclose(outputs[0], xa @ w_shared @ w_head, rtol=1e-5, atol=1e-5)
    expected_shared = xa.T.astype(np.float64) @ (d0 @ w_head.T) + xb.T.astype(np.float64) @ d1
    np.testing.assert_allclose(grads[id(shared.w)], expected_shared, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grads[id(head.w)], (xa @ w_shared).T @ d0, rtol=1e-4, atol=1e-5)
    assert model.count_params() == 3 * 2 + 2 * 1


def test_tensor_used_twice_accumulates_its_gradient():
    rng = np.random.default_rng(2)
    x_in = layers.Input(shape=(3,))
    hidden = Linear(3)(x_in)
    left, right = Linear(1), Linear(1)
    model = Model(x_in, [left(hidden), right(hidden)])
    x = rng.normal(size=(4, 3)).astype(np.float32)
    _, _, ctx = model._forward([x], training=True)
    ones = np.ones((4, 1), np.float32)
    grads = model._backward(ctx, [ones, ones])
    first = model.layers[1]
    d_hidden = ones @ _w(left).T + ones @ _w(right).T
    np.testing.assert_allclose(grads[id(first.w)], x.T.astype(np.float64) @ d_hidden, rtol=1e-4, atol=1e-5)


def test_multi_output_layer_outputs_are_indexed_by_the_next_layers():
    rng = np.random.default_rng(3)
    x_in = layers.Input(shape=(4,))
    low, high = Split()(x_in)
    head = Linear(1)
    model = Model(x_in, head(high))
    assert model.outputs[0].shape == (None, 1)
    x = rng.normal(size=(6, 4)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x), x[:, 2:].astype(np.float64) @ _w(head), rtol=1e-5, atol=1e-6)


def test_finite_differences_agree_with_backward_through_a_chain():
    rng = np.random.default_rng(4)
    model = Sequential([layers.Input(shape=(3,)), Linear(4), Linear(2)])
    x = rng.normal(size=(2, 3)).astype(np.float32)
    _, _, ctx = model._forward([x], training=True)
    grads = model._backward(ctx, [np.ones((2, 2), np.float32)])
    first = model.layers[0]
    w0 = first.w.value.astype(np.float64).copy()
    w1 = _w(model.layers[1])
    eps, numeric = 1e-6, np.zeros_like(w0)
    for index in np.ndindex(*w0.shape):
        plus, minus = w0.copy(), w0.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric[index] = ((x @ plus @ w1).sum() - (x @ minus @ w1).sum()) / (2 * eps)
    np.testing.assert_allclose(grads[id(first.w)], numeric, rtol=1e-3, atol=1e-4)


def test_wrong_feature_size_names_the_model_and_shapes():
    model = Sequential([layers.Input(shape=(3,)), Linear(1)], name="probe")
    with pytest.raises(ValueError, match=r"probe.*\(None, 3\).*\(2, 5\)"):
        model.predict(np.zeros((2, 5), np.float32))


def test_set_weights_rejects_wrong_count_and_shape():
    model = Sequential([layers.Input(shape=(3,)), Linear(2)])
    with pytest.raises(ValueError, match="expects 1 weight arrays, received 2"):
        model.set_weights([np.zeros((3, 2)), np.zeros(2)])
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        model.set_weights([np.zeros((2, 3))])


def test_sequential_defers_build_until_data_and_accepts_input_shape_kwarg():
    deferred = Sequential([Linear(2)])
    assert not deferred.built
    assert deferred.predict(np.ones((3, 4), np.float32)).shape == (3, 2)
    keras2_style = Sequential([Linear(2, input_shape=(5,))])
    assert keras2_style.built and keras2_style.outputs[0].shape == (None, 2)


def test_sequential_pop_and_add_rebuild_the_graph():
    model = Sequential([layers.Input(shape=(3,)), Linear(4), Linear(2)])
    model.pop()
    assert model.outputs[0].shape == (None, 4)
    model.add(Linear(5))
    assert model.outputs[0].shape == (None, 5) and len(model.layers) == 2


def test_functional_config_round_trip_rebuilds_the_same_graph():
    a, b = layers.Input(shape=(3,)), layers.Input(shape=(3,))
    merged = layers.Concatenate()([layers.Dense(2)(a), layers.Dense(2)(b)])
    model = Model([a, b], layers.Dense(1)(merged))
    clone = Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    xa, xb = np.ones((2, 3), np.float32), np.full((2, 3), 2.0, np.float32)
    np.testing.assert_allclose(clone.predict([xa, xb]), model.predict([xa, xb]), rtol=1e-6)


def test_training_skips_the_input_gradient_of_recurrent_layers_on_the_models_inputs(monkeypatch):
    """Nothing trains upstream of a model's inputs, so a recurrent layer reading them skips dL/dx (a product as
    large as dL/dW); one behind another layer, or in a model nested in another, still makes it. The weights
    after a step equal those of the same model where every layer makes it (float32 rounding: the same products)."""
    import rnnkit
    from rnnkit import ops

    asked, backward = [], ops.rnn_backward
    monkeypatch.setattr(ops, "rnn_backward",
                        lambda *a, **k: asked.append(k.get("x_gradient", True)) or backward(*a, **k))

    def build(first):
        net = Sequential([layers.Input((5, 3)), first, layers.Dense(2)])
        net.set_weights([np.random.default_rng(i).standard_normal(w.shape).astype(np.float32) * 0.5
                         for i, w in enumerate(net.get_weights())])
        net.compile(optimizer=rnnkit.optimizers.SGD(0.1), loss="mse")
        return net

    x = np.random.default_rng(7).standard_normal((4, 5, 3)).astype(np.float32)
    y = np.random.default_rng(8).standard_normal((4, 2)).astype(np.float32)
    skipping = build(layers.Bidirectional(layers.GRU(4)))
    skipping.train_on_batch(x, y)
    assert asked == [False, False]
    making = build(layers.Bidirectional(layers.GRU(4)))
    making.layers[0].skips_input_gradients = False
    making.train_on_batch(x, y)
    assert asked[2:] == [True, True]
    for got, expected in zip(skipping.get_weights(), making.get_weights()):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)

    asked.clear()
    behind = Sequential([layers.Input((5, 3)), layers.Dense(3), layers.LSTM(4), layers.Dense(2)])
    behind.compile(optimizer="sgd", loss="mse")
    behind.train_on_batch(x, y)
    inner = Sequential([layers.Input((5, 3)), layers.SimpleRNN(4)])
    outer = Sequential([layers.Input((5, 3)), layers.Dense(3), inner, layers.Dense(2)])
    outer.compile(optimizer="sgd", loss="mse")
    outer.train_on_batch(x, y)
    assert asked == [True, True]


def test_outputs_must_come_from_the_models_inputs():
    """An output reading an Input the model was not given is refused when the model is made (it used to fail at
    predict with a bare KeyError), as Keras refuses an output not connected to `inputs`."""
    x, other = layers.Input((3,)), layers.Input((3,))
    with pytest.raises(ValueError, match=r"depend on the Input '.*', which is not among the model's inputs"):
        Model(x, layers.Add()([x, other]))
