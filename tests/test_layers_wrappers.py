"""Bidirectional and TimeDistributed: Keras 3 semantics, gradients, weights and configs."""
import numpy as np
import pytest
from reference.gradient_check import check_layer_gradients
from reference.recurrent_layers import run_rnn

from rnnkit import layers

BATCH, STEPS, FEATURES, UNITS = 2, 4, 3, 2
MASK = np.array([[True, True, True, False], [True, True, False, False]])


def random_array(rng, *shape, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(np.float32)


def built_bidirectional(rng, layer, **kwargs):
    bidirectional = layers.Bidirectional(layer, **kwargs)
    bidirectional.build((BATCH, STEPS, FEATURES))
    bidirectional.set_weights([random_array(rng, *w.shape, scale=0.6) for w in bidirectional.weights])
    return bidirectional


def gru_reference(weights, x, mask, go_backwards):
    kernel, recurrent_kernel, bias = weights
    return run_rnn("gru", x, {"kernel": kernel, "recurrent_kernel": recurrent_kernel, "bias": bias}, mask=mask,
                   go_backwards=go_backwards)


MERGES = {
    "concat": lambda a, b: np.concatenate([a, b], axis=-1),
    "sum": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "ave": lambda a, b: (a + b) / 2,
}


@pytest.mark.parametrize("merge_mode", sorted(MERGES) + [None])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_outputs_match_reference(merge_mode, return_sequences):
    rng = np.random.default_rng(0)
    layer = built_bidirectional(rng, layers.GRU(UNITS, return_sequences=return_sequences), merge_mode=merge_mode)
    x = random_array(rng, BATCH, STEPS, FEATURES)
    weights = layer.get_weights()
    forward_seq, forward_last, _ = gru_reference(weights[:3], x, MASK, go_backwards=False)
    backward_seq, backward_last, _ = gru_reference(weights[3:], x, MASK, go_backwards=True)
    if return_sequences:  # Keras zeroes masked steps and flips the backward sequence into input order
        y, y_rev = forward_seq * MASK[..., None], (backward_seq * MASK[:, ::-1, None])[:, ::-1]
    else:
        y, y_rev = forward_last, backward_last
    outputs, _ = layer.forward(x, training=False, mask=MASK)
    if merge_mode is None:
        np.testing.assert_allclose(outputs[0], y, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(outputs[1], y_rev, rtol=1e-4, atol=1e-5)
    else:
        np.testing.assert_allclose(outputs, MERGES[merge_mode](y, y_rev), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("merge_mode", sorted(MERGES) + [None])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_gradients_each_merge_mode(merge_mode, return_sequences):
    rng = np.random.default_rng(1)
    layer = built_bidirectional(rng, layers.LSTM(UNITS, return_sequences=return_sequences), merge_mode=merge_mode)
    check_layer_gradients(layer, random_array(rng, BATCH, STEPS, FEATURES), mask=MASK)


def test_return_state_and_initial_state_split_in_halves():
    rng = np.random.default_rng(2)
    layer = built_bidirectional(rng, layers.LSTM(UNITS, return_state=True))
    x = random_array(rng, BATCH, STEPS, FEATURES)
    states = [random_array(rng, BATCH, UNITS, scale=0.5) for _ in range(4)]
    outputs, _ = layer.forward([x, *states], training=False)
    assert len(outputs) == 5 and outputs[0].shape == (BATCH, 2 * UNITS)
    weights = layer.get_weights()
    names = ("kernel", "recurrent_kernel", "bias")
    _, last, forward_states = run_rnn("lstm", x, dict(zip(names, weights[:3])), initial_state=states[:2])
    _, last_rev, backward_states = run_rnn("lstm", x, dict(zip(names, weights[3:])), initial_state=states[2:],
                                           go_backwards=True)
    np.testing.assert_allclose(outputs[0], np.concatenate([last, last_rev], axis=-1), rtol=1e-4, atol=1e-5)
    for got, expected in zip(outputs[1:], forward_states + backward_states):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    check_layer_gradients(layer, [x, *states])
    assert layer.compute_output_shape((None, STEPS, FEATURES)) == [(None, 2 * UNITS)] + [(None, UNITS)] * 4


def test_weights_forward_then_backward_with_keras_paths():
    layer = layers.Bidirectional(layers.LSTM(UNITS, name="lstm"), name="bidirectional")
    layer.build((None, STEPS, FEATURES))
    assert [w.path for w in layer.weights] == [
        f"bidirectional/{direction}_lstm/lstm_cell/{name}"
        for direction in ("forward", "backward") for name in ("kernel", "recurrent_kernel", "bias")]
    assert layer.backward_layer.go_backwards and not layer.forward_layer.go_backwards


def test_custom_backward_layer_and_config_round_trip():
    layer = layers.Bidirectional(layers.GRU(UNITS, return_sequences=True),
                                 backward_layer=layers.GRU(UNITS, return_sequences=True, go_backwards=True,
                                                           activation="relu"), merge_mode="sum")
    config = layer.get_config()
    assert config["merge_mode"] == "sum" and config["backward_layer"]["config"]["activation"] == "relu"
    clone = layers.Bidirectional.from_config(config)
    assert clone.get_config() == config
    assert layers.deserialize(layers.serialize(layer)).get_config() == config


def test_bidirectional_errors():
    with pytest.raises(ValueError, match="did you mean 'concat'"):
        layers.Bidirectional(layers.LSTM(2), merge_mode="concatenate")
    with pytest.raises(ValueError, match="recurrent layer"):
        layers.Bidirectional(layers.Dense(2))
    with pytest.raises(ValueError, match="go_backwards"):
        layers.Bidirectional(layers.LSTM(2), backward_layer=layers.LSTM(2))
    with pytest.raises(ValueError, match="return_sequences"):
        layers.Bidirectional(layers.LSTM(2), backward_layer=layers.LSTM(2, go_backwards=True,
                                                                         return_sequences=True))


def test_bidirectional_masks():
    layer = layers.Bidirectional(layers.GRU(UNITS, return_sequences=True))
    assert layer.compute_mask(None, MASK) is MASK
    assert layers.Bidirectional(layers.GRU(UNITS)).compute_mask(None, MASK) is None


def test_time_distributed_dense_per_step_and_gradients():
    rng = np.random.default_rng(3)
    layer = layers.TimeDistributed(layers.Dense(UNITS, activation="tanh"))
    layer.build((BATCH, STEPS, FEATURES))
    x = random_array(rng, BATCH, STEPS, FEATURES)
    kernel, bias = layer.get_weights()
    outputs, _ = layer.forward(x, training=False)
    np.testing.assert_allclose(outputs, np.tanh(x.astype(np.float64) @ kernel + bias), rtol=1e-5, atol=1e-6)
    check_layer_gradients(layer, x)
    assert layer.compute_output_shape((None, STEPS, FEATURES)) == (None, STEPS, UNITS)
    assert layer.compute_mask(x, MASK) is MASK
    config = layer.get_config()
    assert layers.TimeDistributed.from_config(config).get_config() == config


def test_a_users_wrapper_subclass_builds_trains_and_round_trips_its_config():
    import rnnkit

    @rnnkit.utils.register_keras_serializable(package="tests")
    class Doubled(layers.Wrapper):
        def call(self, inputs):
            return 2.0 * self.layer(inputs)

    wrapper = Doubled(layers.Dense(3, name="inner"), name="doubled")
    assert isinstance(layers.TimeDistributed(layers.Dense(2)), layers.Wrapper)
    model = rnnkit.Sequential([rnnkit.Input((4,)), wrapper])
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    kernel, bias = wrapper.layer.get_weights()
    np.testing.assert_allclose(model.predict(x, verbose=0), 2.0 * (x @ kernel + bias), rtol=1e-5, atol=1e-6)
    assert [w.shape for w in wrapper.weights] == [(4, 3), (3,)]
    model.compile("sgd", "mse")
    model.fit(x, np.zeros((5, 3), np.float32), epochs=1, verbose=0)
    assert not np.allclose(wrapper.layer.get_weights()[0], kernel)  # the wrapped layer's weights train
    again = layers.deserialize(layers.serialize(wrapper))
    assert type(again) is Doubled and again.layer.get_config()["units"] == 3 and again.name == "doubled"
    with pytest.raises(ValueError, match="Layer instance"):
        Doubled("dense")
