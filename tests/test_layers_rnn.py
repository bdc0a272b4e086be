"""SimpleRNN, LSTM, GRU and PeepholeLSTM layers against the float64 step-by-step reference."""
import numpy as np
import pytest
from reference.gradient_check import check_layer_gradients
from reference.recurrent_layers import run_rnn

from rnnkit import layers

BATCH, STEPS, FEATURES, UNITS = 2, 4, 3, 2
MASK = np.array([[True, True, False, True], [True, False, False, False]])


def random_array(rng, *shape, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(np.float32)


def built(layer, shape=(BATCH, STEPS, FEATURES)):
    layer.build(shape)
    return layer


def randomize_weights(layer, rng):
    layer.set_weights([random_array(rng, *w.shape, scale=0.6) for w in layer.weights])


def reference_weights(layer):
    cell = layer.cell
    weights = {"kernel": cell.kernel.value, "recurrent_kernel": cell.recurrent_kernel.value,
               "bias": cell.bias.value if cell.use_bias else None}
    if isinstance(cell, layers.PeepholeLSTMCell):
        weights["peephole"] = cell.peephole_weights.value
    return weights


def reference_run(layer, x, **kwargs):
    options = {"reset_after": layer.cell.reset_after} if layer.cell.kind == "gru" else {}
    return run_rnn(layer.cell.kind, x, reference_weights(layer), go_backwards=layer.go_backwards, **kwargs,
                   **options)


LAYERS = {
    "simple_rnn": lambda **kw: layers.SimpleRNN(UNITS, **kw),
    "lstm": lambda **kw: layers.LSTM(UNITS, **kw),
    "gru": lambda **kw: layers.GRU(UNITS, **kw),
    "gru_reset_before": lambda **kw: layers.GRU(UNITS, reset_after=False, **kw),
    "peephole_lstm": lambda **kw: layers.PeepholeLSTM(UNITS, **kw),
    "lstm_without_bias": lambda **kw: layers.LSTM(UNITS, use_bias=False, **kw),
}


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_sequences_and_states_match_reference(kind, go_backwards, masked):
    rng = np.random.default_rng(0)
    layer = built(LAYERS[kind](return_sequences=True, return_state=True, go_backwards=go_backwards))
    randomize_weights(layer, rng)
    x = random_array(rng, BATCH, STEPS, FEATURES)
    mask = MASK if masked else None
    outputs, _ = layer.forward(x, training=False, mask=mask)
    expected_outputs, expected_last, expected_states = reference_run(layer, x, mask=mask)
    np.testing.assert_allclose(outputs[0], expected_outputs, rtol=1e-4, atol=1e-5)
    assert len(outputs) == 1 + len(expected_states)
    for got, expected in zip(outputs[1:], expected_states):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    last_only = built(LAYERS[kind](go_backwards=go_backwards))
    last_only.set_weights(layer.get_weights())
    np.testing.assert_allclose(last_only.forward(x, training=False, mask=mask)[0], expected_last, rtol=1e-4,
                               atol=1e-5)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_initial_state_is_used(kind):
    rng = np.random.default_rng(1)
    layer = built(LAYERS[kind](return_sequences=True))
    randomize_weights(layer, rng)
    x = random_array(rng, BATCH, STEPS, FEATURES)
    states = [random_array(rng, BATCH, UNITS) for _ in layer.cell.state_size]
    outputs, _ = layer.forward([x, *states], training=False)
    np.testing.assert_allclose(outputs, reference_run(layer, x, initial_state=states)[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("return_sequences", [False, True])
def test_gradients_through_mask_and_initial_state(kind, return_sequences):
    rng = np.random.default_rng(2)
    layer = built(LAYERS[kind](return_sequences=return_sequences, return_state=True))
    randomize_weights(layer, rng)
    x = random_array(rng, BATCH, STEPS, FEATURES)
    states = [random_array(rng, BATCH, UNITS, scale=0.5) for _ in layer.cell.state_size]
    check_layer_gradients(layer, [x, *states], mask=[MASK] + [None] * len(states))


def test_go_backwards_gradients():
    rng = np.random.default_rng(3)
    layer = built(layers.GRU(UNITS, return_sequences=True, go_backwards=True))
    randomize_weights(layer, rng)
    check_layer_gradients(layer, random_array(rng, BATCH, STEPS, FEATURES), mask=MASK)


@pytest.mark.parametrize("kind, shapes", [
    ("simple_rnn", [(3, 2), (2, 2), (2,)]),
    ("lstm", [(3, 8), (2, 8), (8,)]),
    ("gru", [(3, 6), (2, 6), (2, 6)]),
    ("gru_reset_before", [(3, 6), (2, 6), (6,)]),
    ("peephole_lstm", [(3, 8), (2, 8), (8,), (3, 2)]),
])
def test_weights_follow_keras_shapes_order_and_paths(kind, shapes):
    layer = built(LAYERS[kind]())
    assert [tuple(w.shape) for w in layer.weights] == shapes
    cell_name = layer.cell.name
    names = ["kernel", "recurrent_kernel", "bias", "peephole_weights"][:len(shapes)]
    assert [w.path for w in layer.weights] == [f"{layer.name}/{cell_name}/{n}" for n in names]
    assert layer.count_params() == sum(int(np.prod(s)) for s in shapes)


def test_lstm_initial_weights_follow_keras_defaults():
    layer = built(layers.LSTM(UNITS))
    bias = layer.cell.bias.value
    np.testing.assert_array_equal(bias, np.r_[np.zeros(UNITS), np.ones(UNITS), np.zeros(2 * UNITS)])
    recurrent = layer.cell.recurrent_kernel.value
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(UNITS), atol=1e-5)  # orthogonal rows
    assert not built(layers.LSTM(UNITS, unit_forget_bias=False)).cell.bias.value.any()


def test_input_dropout_mask_is_drawn_once_per_call():
    # Identity kernel, no recurrence, linear activation: each output step is the input times the dropout mask.
    layer = built(layers.SimpleRNN(FEATURES, activation="linear", use_bias=False, dropout=0.5,
                                   return_sequences=True, seed=1))
    layer.set_weights([np.eye(FEATURES, dtype=np.float32), np.zeros((FEATURES, FEATURES), np.float32)])
    x = np.ones((16, STEPS, FEATURES), np.float32)
    outputs, _ = layer.forward(x, training=True)
    assert set(np.unique(outputs)) <= {0.0, 2.0}
    np.testing.assert_array_equal(outputs, np.broadcast_to(outputs[:, :1], outputs.shape))
    assert 0 < (outputs == 0).mean() < 1
    np.testing.assert_array_equal(layer.forward(x, training=False)[0], x)


def test_recurrent_dropout_mask_is_fixed_across_steps():
    # h_t = x_t + (h_{t-1} * m) with one input at t=0: unit u is 2**t where m=2 throughout, and 0 where m=0.
    layer = built(layers.SimpleRNN(FEATURES, activation="linear", use_bias=False, recurrent_dropout=0.5,
                                   return_sequences=True, seed=2))
    layer.set_weights([np.eye(FEATURES, dtype=np.float32), np.eye(FEATURES, dtype=np.float32)])
    x = np.zeros((16, STEPS, FEATURES), np.float32)
    x[:, 0] = 1.0
    outputs, _ = layer.forward(x, training=True)
    kept = outputs[:, 1] != 0
    for t in range(STEPS):
        np.testing.assert_allclose(outputs[:, t], np.where(kept, 2.0 ** t, 0.0 if t else 1.0))


def test_stateful_layer_carries_state_between_calls_until_reset():
    rng = np.random.default_rng(4)
    layer = built(layers.LSTM(UNITS, stateful=True, return_sequences=True))
    randomize_weights(layer, rng)
    x = random_array(rng, BATCH, STEPS, FEATURES)
    whole = reference_run(layer, x)[0]
    first, _ = layer.forward(x[:, :2], training=False)
    second, _ = layer.forward(x[:, 2:], training=False)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, rtol=1e-4, atol=1e-5)
    layer.reset_states()
    np.testing.assert_allclose(layer.forward(x[:, :2], training=False)[0], first, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="batch"):
        layer.forward(x[:1], training=False)
    with pytest.raises(ValueError, match="fixed batch size"):
        built(layers.GRU(UNITS, stateful=True), (None, STEPS, FEATURES))


def test_rnn_over_a_cell_equals_the_layer():
    rng = np.random.default_rng(5)
    lstm = built(layers.LSTM(UNITS, return_sequences=True))
    randomize_weights(lstm, rng)
    generic = built(layers.RNN(layers.LSTMCell(UNITS), return_sequences=True))
    generic.set_weights(lstm.get_weights())
    x = random_array(rng, BATCH, STEPS, FEATURES)
    np.testing.assert_allclose(generic.forward(x, training=False)[0], lstm.forward(x, training=False)[0],
                               rtol=1e-6)


def test_output_shapes_and_masks():
    lstm = layers.LSTM(UNITS, return_sequences=True, return_state=True)
    assert lstm.compute_output_shape((None, 5, 3)) == [(None, 5, UNITS), (None, UNITS), (None, UNITS)]
    assert layers.GRU(UNITS).compute_output_shape((None, 5, 3)) == (None, UNITS)
    assert lstm.compute_mask(None, MASK)[0] is MASK
    assert layers.GRU(UNITS).compute_mask(None, MASK) is None


@pytest.mark.parametrize("factory", [
    lambda: layers.LSTM(3, dropout=0.2, recurrent_dropout=0.1, unit_forget_bias=False, go_backwards=True,
                        return_sequences=True, name="encoder"),
    lambda: layers.GRU(4, reset_after=False, recurrent_activation="hard_sigmoid", stateful=True),
    lambda: layers.SimpleRNN(2, activation="relu", use_bias=False, return_state=True),
    lambda: layers.PeepholeLSTM(2, kernel_initializer="he_uniform"),
    lambda: layers.RNN(layers.GRUCell(3), return_sequences=True),
])
def test_config_round_trip(factory):
    layer = factory()
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config
    assert layers.deserialize(layers.serialize(layer)).get_config() == config


def test_keras_config_keys():
    config = layers.GRU(3).get_config()
    for key in ("units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
                "recurrent_initializer", "bias_initializer", "dropout", "recurrent_dropout", "return_sequences",
                "return_state", "go_backwards", "stateful", "unroll", "reset_after", "seed"):
        assert key in config
    assert config["activation"] == "tanh" and config["reset_after"] is True
    assert layers.LSTM(3).get_config()["unit_forget_bias"] is True


def test_argument_and_shape_errors():
    with pytest.raises(ValueError, match="units"):
        layers.LSTM(0)
    with pytest.raises(ValueError, match="dropout"):
        layers.GRU(2, dropout=1.0)
    with pytest.raises(ValueError, match="recurrent_dropout"):
        layers.SimpleRNN(2, recurrent_dropout=-0.1)
    with pytest.raises(ValueError, match="did you mean 'sigmoid'"):
        layers.LSTM(2, recurrent_activation="sigmod")
    layer = built(layers.LSTM(UNITS, name="enc"))
    with pytest.raises(ValueError, match=r"enc.*rank 3"):
        layer.forward(np.zeros((2, 3), np.float32), training=False)
    with pytest.raises(ValueError, match=r"enc.*last dimension 3"):
        layer.forward(np.zeros((2, 4, 5), np.float32), training=False)
    with pytest.raises(ValueError, match=r"enc.*2 initial state"):
        layer.forward([np.zeros((2, 4, 3), np.float32), np.zeros((2, UNITS), np.float32)], training=False)


def test_use_cudnn_is_taken_by_lstm_and_gru_only_as_in_keras():
    x = np.random.default_rng(5).standard_normal((2, 4, 3)).astype(np.float32)
    for cls in (layers.LSTM, layers.GRU):
        reference = cls(2)
        assert reference.use_cudnn == "auto"
        expected = np.asarray(reference(x))
        for value in ("auto", True, False):
            layer = cls(2, use_cudnn=value)
            assert layer.use_cudnn == value and "use_cudnn" not in layer.get_config()
            layer.build(x.shape)
            layer.set_weights(reference.get_weights())
            np.testing.assert_array_equal(np.asarray(layer(x)), expected)  # one CPU path whatever it says
        with pytest.raises(ValueError, match="use_cudnn must be 'auto', True or False, got 'yes'"):
            cls(2, use_cudnn="yes")
    for cls in (layers.SimpleRNN, layers.PeepholeLSTM):
        with pytest.raises(TypeError, match="unexpected keyword argument.*use_cudnn"):
            cls(2, use_cudnn=False)


def test_positional_arguments_bind_in_keras_order():
    lstm = layers.LSTM(3, "relu", "hard_sigmoid", False, "zeros", "zeros", "ones", False)
    assert (lstm.get_config()["activation"], lstm.get_config()["recurrent_activation"]) == ("relu", "hard_sigmoid")
    assert lstm.use_bias is False and lstm.unit_forget_bias is False
    gru = layers.GRU(3, "relu", "sigmoid", True, *["zeros"] * 3, *[None] * 7, 0.0, 0.0, 7, True, False, True)
    assert (gru.seed, gru.return_sequences, gru.return_state, gru.go_backwards) == (7, True, False, True)
    assert layers.SimpleRNN(3, "relu", False).get_config()["use_bias"] is False
    cell = layers.LSTMCell(3, "relu")  # the second argument is the activation, not unit_forget_bias
    assert cell.get_config()["activation"] == "relu" and cell.unit_forget_bias is True
    cell = layers.GRUCell(3, "relu", "hard_sigmoid")
    assert cell.get_config()["recurrent_activation"] == "hard_sigmoid" and cell.reset_after is True
    assert layers.SimpleRNNCell(3, "relu", False).use_bias is False
    with pytest.raises(TypeError, match="GRU: received two values for argument 'activation'"):
        layers.GRU(3, "relu", activation="tanh")
    with pytest.raises(TypeError, match="SimpleRNNCell: takes at most 15 positional arguments, received 16"):
        layers.SimpleRNNCell(3, *[None] * 15)
    for simple in (layers.SimpleRNN, layers.SimpleRNNCell):  # no gate: Keras refuses the argument too
        with pytest.raises(TypeError, match=r"unexpected keyword argument.*recurrent_activation"):
            simple(3, recurrent_activation="sigmoid")


def test_a_cells_activation_set_after_construction_is_the_one_that_runs():
    rng = np.random.default_rng(3)
    layer = built(layers.SimpleRNN(UNITS, return_sequences=True))
    randomize_weights(layer, rng)
    x = random_array(rng, BATCH, STEPS, FEATURES)
    layer.forward(x, training=False)  # a call with tanh first
    layer.cell.activation = "relu"
    kernel, recurrent, bias = (w.astype(np.float64) for w in layer.get_weights())
    h, expected = np.zeros((BATCH, UNITS)), []
    for t in range(STEPS):
        h = np.maximum(x[:, t] @ kernel + h @ recurrent + bias, 0.0)
        expected.append(h)
    np.testing.assert_allclose(layer.forward(x, training=False)[0], np.stack(expected, axis=1), rtol=1e-5,
                               atol=1e-6)
    assert layer.get_config()["activation"] == "relu"
    with pytest.raises(ValueError, match="not supported inside a recurrent cell"):
        layer.cell.recurrent_activation = "softmax"


def test_in_a_model_initial_state_leaves_the_sequence_mask_out_of_the_computation_as_keras_does():
    """Keras 3 fills in a call's mask only when the call has one tensor argument: an LSTM called with initial_state
    runs over the padded steps as well (unless given mask= itself), and its output still carries the mask."""
    import rnnkit

    ids = rnnkit.Input((5,), dtype="int32")
    embedded = layers.Embedding(9, 3, mask_zero=True)(ids)
    lstm = layers.LSTM(4, return_sequences=True)
    state = layers.Dense(4)(layers.GlobalAveragePooling1D()(embedded))
    decoded = lstm(embedded, initial_state=[state, state])
    model = rnnkit.Model(ids, [decoded, layers.GlobalAveragePooling1D()(decoded)])
    tokens = np.array([[1, 2, 0, 0, 0], [3, 4, 5, 6, 7]], np.int32)
    sequences, pooled = model.predict(tokens, verbose=0)
    inner = rnnkit.Model(ids, [embedded, state]).predict(tokens, verbose=0)
    unmasked = lstm([inner[0], inner[1], inner[1]])  # the layer eagerly, no mask
    np.testing.assert_allclose(sequences, unmasked, rtol=1e-6, atol=1e-6)
    assert not np.allclose(sequences[0, 2], sequences[0, 1])  # padded steps computed, not carried
    kept = (tokens != 0)[..., None]
    np.testing.assert_allclose(pooled, (sequences * kept).sum(1) / kept.sum(1), rtol=1e-5)  # the mask reaches on
    masked = lstm([inner[0], inner[1], inner[1]], mask=[tokens != 0, None, None])  # given mask=: applied
    np.testing.assert_allclose(masked[0, 2:], np.repeat(masked[0, 1:2], 3, axis=0), rtol=1e-6)
