"""Models built and saved by Python predict the same in C++ (rnnkit::load_model, via _core.CppModel).

Weights are random (not trained) so every weight matters; each model is saved with rnnkit.saving.save_model and
read back by the C++ loader, which rebuilds the layers from model_config on its own.
"""
import json

import numpy as np
import pytest

from rnnkit import _core, layers, models, ops, saving

RNG = np.random.default_rng(7)


def randomize(model):
    model.set_weights([RNG.standard_normal(w.shape).astype(np.float32) * 0.5 for w in model.get_weights()])
    return model


def sequential(input_shape, *stack):
    return randomize(models.Sequential([layers.Input(shape=input_shape), *stack]))


def ids(batch, steps, vocab):
    x = RNG.integers(1, vocab, size=(batch, steps))
    x[0, steps // 2:] = 0  # padded tail, masked when mask_zero
    return x  # integers for Python; the C++ API takes token ids as floats


SEQ = RNG.standard_normal((3, 6, 4)).astype(np.float32)
SEQ_WITH_PADDING = SEQ.copy()
SEQ_WITH_PADDING[1, 4:] = 0.0

CASES = {
    "dense_activations": lambda: (sequential((4,), layers.Dense(5, activation="relu"), layers.Dense(3, activation="selu"),
                                             layers.Activation("softmax")), SEQ[:, 0]),
    "dense_layer_only_activations": lambda: (sequential(
        (4,), layers.Dense(5, activation="gelu"), layers.Dense(4, activation="swish"), layers.Activation("mish"),
        layers.Dense(4, activation="leaky_relu"), layers.Dense(3, activation="log_softmax")), SEQ[:, 0]),
    "conv_pooling_lstm": lambda: (sequential(
        (12, 4), layers.Conv1D(5, 3, padding="causal", activation="relu"), layers.MaxPooling1D(2),
        layers.Conv1D(4, 2, strides=2, padding="same", activation="gelu"), layers.AveragePooling1D(2, padding="same"),
        layers.Conv1D(3, 1, use_bias=False), layers.LSTM(3)), np.concatenate([SEQ, SEQ[:, ::-1]], axis=1)),
    "reshape_permute_spatial_dropout": lambda: (sequential(
        (12,), layers.Reshape((4, -1)), layers.SpatialDropout1D(0.3), layers.Permute((2, 1)), layers.LSTM(3),
        layers.Reshape((3, 1))), SEQ[:, :3].reshape(3, 12)),
    "activation_layers": lambda: (sequential(
        (6, 4), layers.Dense(5), layers.ReLU(max_value=0.8, negative_slope=0.1, threshold=0.05),
        layers.LSTM(4, return_sequences=True), layers.LeakyReLU(), layers.ELU(alpha=0.5), layers.Softmax(),
        layers.Flatten()), SEQ),
    "conv_lstm_1d": lambda: (sequential(
        (6, 5, 4), layers.ConvLSTM1D(3, 3, padding="same", return_sequences=True, go_backwards=True),
        layers.ConvLSTM1D(2, 2, strides=2, activation="relu", dropout=0.2, recurrent_dropout=0.1), layers.Flatten(),
        layers.Dense(2)),
        RNG.standard_normal((3, 6, 5, 4)).astype(np.float32)),
    "conv_lstm_2d_3d": lambda: (sequential(
        (3, 5, 4, 2), layers.ConvLSTM2D(3, (3, 2), dilation_rate=(2, 1), use_bias=False, return_sequences=True),
        layers.Reshape((3, 1, 3, 3, 1)), layers.ConvLSTM3D(2, (1, 2, 2), padding="same")),
        RNG.standard_normal((2, 3, 5, 4, 2)).astype(np.float32)),
    "simple_rnn_go_backwards": lambda: (sequential((6, 4), layers.SimpleRNN(5, go_backwards=True,
                                                                            return_sequences=True)), SEQ),
    "gaussian_noise_layers": lambda: (sequential((6, 4), layers.GaussianNoise(0.2), layers.GRU(5),
                                                 layers.GaussianDropout(0.3), layers.Dense(2)), SEQ),
    "functional_activation_operations": lambda: (functional_activation_operations(), SEQ),
    "steps_resizing": lambda: (sequential((6, 4), layers.ZeroPadding1D((1, 2)), layers.Conv1D(3, 2),
                                          layers.UpSampling1D(2), layers.Cropping1D((2, 1)), layers.Identity(),
                                          layers.ZeroPadding1D(1, data_format="channels_first"), layers.LSTM(3)), SEQ),
    "lstm_stack_dropout": lambda: (sequential((6, 4), layers.LSTM(5, return_sequences=True, dropout=0.3),
                                              layers.Dropout(0.5), layers.LSTM(3)), SEQ),
    "peephole_lstm": lambda: (sequential((6, 4), layers.PeepholeLSTM(4), layers.Dense(1, activation="sigmoid")),
                              SEQ),
    "gru_reset_after_false": lambda: (sequential((6, 4), layers.GRU(4, reset_after=False,
                                                                    activation="relu")), SEQ),
    "recurrent_portable_activations": lambda: (sequential(
        (6, 4), layers.LSTM(4, activation="softsign", recurrent_activation="softplus", return_sequences=True),
        layers.GRU(3, activation="elu", recurrent_activation="softsign")), SEQ),
    "embedding_mask_bidirectional": lambda: (sequential(
        (7,), layers.Embedding(11, 4, mask_zero=True), layers.Bidirectional(layers.LSTM(3)),
        layers.Dense(2)), ids(3, 7, 11)),
    "masking_pooling": lambda: (sequential((6, 4), layers.Masking(0.0), layers.GRU(3, return_sequences=True),
                                           layers.GlobalAveragePooling1D()), SEQ_WITH_PADDING),
    "bidirectional_merges": lambda: (sequential(
        (6, 4), layers.Bidirectional(layers.GRU(3, return_sequences=True), merge_mode="mul"),
        layers.Bidirectional(layers.SimpleRNN(2, return_sequences=True), merge_mode="ave"),
        layers.Bidirectional(layers.LSTM(2), merge_mode="sum")), SEQ),
    "seq2seq_repeat_time_distributed": lambda: (sequential(
        (6, 4), layers.LSTM(5), layers.RepeatVector(3), layers.GRU(4, return_sequences=True),
        layers.TimeDistributed(layers.Dense(2, activation="tanh")), layers.Flatten()), SEQ),
    "max_pooling": lambda: (sequential((6, 4), layers.SimpleRNN(3, return_sequences=True),
                                       layers.GlobalMaxPooling1D()), SEQ),
    "zero_output_for_mask_last_output": lambda: (sequential(
        (6, 4), layers.Masking(0.0), layers.LSTM(3, zero_output_for_mask=True)), SEQ_WITH_PADDING),
    "rnn_over_one_cell": lambda: (sequential((6, 4), layers.RNN(layers.GRUCell(3, reset_after=False),
                                                                return_sequences=True), layers.Flatten()), SEQ),
    "stacked_cells_go_backwards_masked": lambda: (sequential(
        (6, 4), layers.Masking(0.0),
        layers.RNN([layers.LSTMCell(4), layers.GRUCell(3), layers.SimpleRNNCell(2, activation="relu")],
                   go_backwards=True, return_sequences=True, zero_output_for_mask=True),
        layers.GlobalAveragePooling1D()), SEQ_WITH_PADDING),
    "embedding_stacked_cells": lambda: (sequential(
        (7,), layers.Embedding(11, 4, mask_zero=True), layers.RNN([layers.GRUCell(3), layers.PeepholeLSTMCell(2)]),
        layers.Dense(2)), ids(3, 7, 11)),
    "bidirectional_stacked_cells": lambda: (sequential(
        (6, 4), layers.Bidirectional(layers.RNN([layers.SimpleRNNCell(3), layers.LSTMCell(2)]), merge_mode="sum")),
        SEQ),
}


def functional_add_concatenate():
    inputs = layers.Input(shape=(6, 4))
    a = layers.LSTM(3, return_sequences=True)(inputs)
    b = layers.GRU(3, return_sequences=True)(inputs)
    merged = layers.Concatenate()([layers.Add()([a, b]), a])
    shared = layers.Dense(2)
    projected = layers.Dense(3)(merged)
    outputs = layers.Concatenate(axis=1)([shared(projected), shared(b)])  # one layer at two nodes
    return randomize(models.Model(inputs, outputs)), SEQ


CASES["functional_add_concatenate_shared"] = functional_add_concatenate


def functional_subtract_average():
    inputs = layers.Input(shape=(6, 4))
    a = layers.GRU(3, return_sequences=True)(inputs)
    b = layers.Conv1D(3, 2, padding="causal")(inputs)
    merged = layers.Average()([layers.Subtract()([a, b]), a, b])
    return randomize(models.Model(inputs, layers.Dense(2)(merged))), SEQ


CASES["functional_subtract_average"] = functional_subtract_average


def functional_multiply_maximum_minimum_dot():
    """Masked sequences (Embedding mask_zero) into Multiply, Maximum and Minimum, whose rules replace masked
    values, then Luong-style scores by Dot and a normalised Dot."""
    inputs = layers.Input(shape=(7,))
    embedded = layers.Embedding(11, 4, mask_zero=True)(inputs)
    a = layers.LSTM(3, return_sequences=True)(embedded)
    b = layers.GRU(3, return_sequences=True)(embedded)
    product = layers.Multiply()([a, b])
    highest = layers.Maximum()([a, b, product])
    lowest = layers.Minimum()([product, a])
    scores = layers.Dot(axes=(2, 2))([highest, lowest])
    cosine = layers.Dot(axes=1, normalize=True)([layers.GlobalAveragePooling1D()(a), layers.LSTM(3)(embedded)])
    outputs = layers.Concatenate()([layers.Flatten()(scores), cosine])
    return randomize(models.Model(inputs, layers.Dense(2)(outputs))), ids(3, 7, 11)


CASES["functional_multiply_maximum_minimum_dot"] = functional_multiply_maximum_minimum_dot


def functional_operations():
    """x[...], arithmetic and rnnkit.ops on symbolic tensors (Keras' operation nodes): sliced ids into an Embedding,
    an LSTM's sequence read at two steps and mixed with numbers, broadcasts, a reversed new-axis slice, reductions,
    expand_dims, squeeze, transpose, concatenate, attention-like matmul and softmax, stack and reshape."""
    inputs = layers.Input(shape=(8,))
    embedded = layers.Embedding(11, 4)(ops.cast(inputs, "int32")[:, 1:])
    hidden = layers.LSTM(3, return_sequences=True)(embedded)
    last, first = hidden[:, -1], hidden[..., 0, :]
    mixed = (last + 1.0) * first - last / 2.0 + 0.5 * (2.0 - first) / (first * first + 1.0)
    mixed = ops.maximum(ops.tanh(mixed), ops.sigmoid(last)) - ops.minimum(ops.abs(first), 0.2) + ops.relu(last)
    mixed = mixed + ops.sqrt(ops.square(first) + 1.0) * ops.log(ops.exp(last) + 1.0)
    steps = hidden[:, ::-2, None, 1:] * hidden[:, -1:, None, :1] - hidden[:, :1, None, :2]
    lowest = ops.min(hidden, axis=(1, 2), keepdims=True)[:, 0]
    pooled = ops.concatenate([ops.mean(hidden, axis=1), ops.max(hidden, axis=-1), lowest], axis=-1)
    shaped = ops.sum(ops.transpose(ops.expand_dims(hidden, -1), (0, 2, 1, 3)), axis=-1)
    shaped = shaped + ops.squeeze(steps[:, :1, :, :1], axis=3)
    attended = ops.matmul(ops.softmax(ops.matmul(hidden, ops.transpose(hidden, (0, 2, 1))), axis=-1), hidden)
    flat = ops.reshape(ops.stack([attended, hidden], axis=-1), (-1, 42))
    outputs = layers.Concatenate()([layers.Dense(2)(-mixed), layers.Flatten()(steps), pooled,
                                    layers.Flatten()(ops.squeeze(ops.expand_dims(shaped, 1))), flat])
    return randomize(models.Model(inputs, outputs)), ids(3, 8, 11)


CASES["functional_operations"] = functional_operations


def functional_activation_operations():
    inputs = layers.Input(shape=(6, 4))
    hidden = layers.Dense(8)(inputs)
    parts = [ops.silu(hidden), ops.relu6(hidden * 4.0), ops.softplus(hidden), ops.selu(hidden),
             ops.hard_sigmoid(hidden * 3.0), ops.softsign(hidden), ops.elu(hidden, alpha=0.5),
             ops.leaky_relu(hidden, negative_slope=0.1), ops.gelu(hidden), ops.gelu(hidden, approximate=False)]
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return randomize(models.Model(inputs, layers.LSTM(3)(total)))


def functional_conditions():
    """Comparisons, logical operators, where, clip and powers on an LSTM's sequence (bool results cast to float)."""
    inputs = layers.Input(shape=(6, 4))
    hidden = layers.LSTM(3, return_sequences=True)(inputs)
    inside = (hidden > -0.2) & ~(hidden >= 0.3) | ops.equal(hidden, hidden[:, :1]) ^ (hidden < -0.4)
    chosen = ops.where(inside, hidden ** 2, ops.clip(hidden, -0.1, 0.1)) + ops.where(hidden < 0.0, 1.0, hidden)
    flags = ops.cast(ops.logical_and(hidden != 0.0, ops.logical_or(hidden <= -0.3, ops.logical_not(hidden < 0.1))),
                     "float32") + ops.cast(ops.logical_xor(hidden > -0.1, hidden < 0.2), "float32")
    powered = ops.power(ops.square(hidden) + 1.0, 0.5) - 2.0 ** hidden + ops.power(ops.abs(hidden) + 0.5, hidden)
    return randomize(models.Model(inputs, layers.Flatten()(chosen * flags + powered))), SEQ


CASES["functional_conditions"] = functional_conditions


def sequential_lambda():
    """A Lambda between layers of a Sequential model: the C++ loader runs the operations it was traced into."""
    return randomize(sequential((6, 4), layers.LSTM(3, return_sequences=True),
                                layers.Lambda(lambda h: h[:, -1] * 2.0 + ops.mean(h, axis=1) - h[:, 0] ** 2),
                                layers.Dense(2))), SEQ


def functional_lambda():
    """One Lambda called on two tensors (each call its own copy of the graph), and a Lambda holding a Lambda."""
    inputs = layers.Input(shape=(6, 4))
    hidden = layers.GRU(3, return_sequences=True)(inputs)
    shared = layers.Lambda(lambda t: ops.where(t > 0.0, t, 0.1 * t))
    outer = layers.Lambda(lambda t: layers.Lambda(lambda u: ops.max(u, axis=1))(t) + 1.0)
    merged = layers.Concatenate()([outer(shared(hidden)), layers.Flatten()(shared(hidden * 2.0))])
    return randomize(models.Model(inputs, layers.Dense(2)(merged))), SEQ


CASES["sequential_lambda"] = sequential_lambda
CASES["functional_lambda"] = functional_lambda


def batch_normalization_lstm_dense():
    """After an LSTM's sequences and after a Dense (without gamma and beta); predict reads the moving statistics,
    random like the other weights but with positive variances."""
    model = sequential((6, 4), layers.LSTM(5, return_sequences=True), layers.BatchNormalization(), layers.Dense(3),
                       layers.BatchNormalization(momentum=0.9, epsilon=0.01, center=False, scale=False))
    for variable in model.weights:
        if variable.path.endswith("moving_variance"):
            variable.assign(np.abs(variable.value) + 0.5)
    return model, SEQ


CASES["batch_normalization_lstm_dense"] = batch_normalization_lstm_dense


LONG_SEQ = RNG.standard_normal((3, 21, 4)).astype(np.float32)


def depthwise_separable_group_norm():
    """Strided "same" and dilated "valid" windows, depth multipliers 2 and 3, activations, with and without biases,
    then GroupNormalization with groups of 2 channels and with one group a channel (-1) without beta. Flattened, as
    a global average of channels normalised one by one over the steps would be a constant."""
    return sequential(
        (21, 4), layers.DepthwiseConv1D(3, strides=2, padding="same", depth_multiplier=2, activation="relu"),
        layers.SeparableConv1D(6, 2, dilation_rate=2, depth_multiplier=3, activation="tanh"),
        layers.GroupNormalization(3), layers.DepthwiseConv1D(2, dilation_rate=2, use_bias=False),
        layers.SeparableConv1D(4, 3, strides=2, padding="same", use_bias=False),
        layers.GroupNormalization(-1, center=False, epsilon=0.01), layers.Flatten(), layers.Dense(2)), LONG_SEQ


CASES["depthwise_separable_group_norm"] = depthwise_separable_group_norm
# GroupNormalization passes Masking's mask on to the LSTM (its statistics see every step, as in Keras); over
# (batch, features) each example's features are one group's positions.
CASES["group_norm_mask_and_features"] = lambda: (sequential(
    (6, 4), layers.Masking(0.0), layers.GroupNormalization(2, scale=False), layers.LSTM(4),
    layers.GroupNormalization(1), layers.Dense(2)), SEQ_WITH_PADDING)


# Conv1DTranspose: strided "same" (Keras' crop), "valid" with output_padding beyond the scatter (bias-only steps),
# dilated "same" with output_padding 0, with and without bias, each followed by layers that read every step.
CASES["conv_transpose"] = lambda: (sequential(
    (6, 4), layers.Conv1DTranspose(4, 3, strides=2, padding="same", activation="relu"),
    layers.Conv1DTranspose(3, 2, strides=3, output_padding=2, use_bias=False),
    layers.Conv1DTranspose(3, 2, dilation_rate=2, padding="same", output_padding=0, activation="tanh"),
    layers.Conv1D(2, 3), layers.GRU(3), layers.Dense(2)), SEQ)


# Rescaling by a numpy array (Keras' __numpy__ config form) over the features and a nested list over the steps, then
# by numbers; AlphaDropout (the identity in predict) after a SELU layer.
CASES["rescaling_alpha_dropout"] = lambda: (sequential(
    (6, 4), layers.Rescaling(np.array([0.5, 1.0, 2.0, -1.5], np.float32), [[0.1], [0.2], [0.3], [0.4], [0.5], [0.6]]),
    layers.Dense(5, activation="selu"), layers.AlphaDropout(0.3, noise_shape=(None, 1, 5)),
    layers.Rescaling(1 / 127.5, offset=-1), layers.AlphaDropout(0.1), layers.LSTM(3)), SEQ)
# Adaptive poolings to fewer steps (overlapping bins: 20 to 6, 6 to 4) and to more steps than the input has (6 to 9).
CASES["adaptive_pooling"] = lambda: (sequential(
    (21, 4), layers.Conv1D(3, 2, activation="tanh"), layers.AdaptiveAveragePooling1D(6),
    layers.AdaptiveMaxPooling1D((4,)), layers.Flatten(), layers.Dense(2)), LONG_SEQ)
CASES["adaptive_pooling_to_more_steps"] = lambda: (sequential(
    (6, 4), layers.AdaptiveMaxPooling1D(9), layers.GRU(3, return_sequences=True), layers.AdaptiveAveragePooling1D(7),
    layers.Flatten()), SEQ)
# ReversibleEmbedding's forward role: untied (its reverse_embeddings loaded and saved, unread), with mask_zero and a
# soft cap kept in the config; tied, feeding a Dense.
CASES["reversible_embedding"] = lambda: (sequential(
    (7,), layers.ReversibleEmbedding(11, 4, tie_weights=False, mask_zero=True, logit_soft_cap=30.0),
    layers.LSTM(3, return_sequences=True), layers.GlobalAveragePooling1D(), layers.Dense(2)), ids(3, 7, 11))
CASES["reversible_embedding_tied"] = lambda: (sequential(
    (7,), layers.ReversibleEmbedding(11, 3), layers.Dense(2), layers.Flatten()), ids(3, 7, 11))

# LayerNormalization after a masked GRU's sequences (the mask passes on to the next GRU) and without gamma and beta.
CASES["layer_normalization"] = lambda: (sequential(
    (6, 4), layers.Masking(0.0), layers.GRU(5, return_sequences=True), layers.LayerNormalization(epsilon=0.01),
    layers.GRU(3, return_sequences=True), layers.LayerNormalization(center=False, scale=False), layers.Flatten(),
    layers.Dense(2)), SEQ_WITH_PADDING)

# The position layers return the encoding alone (keras_hub's): here the encoding of the input's shape, which the
# masked LSTM reads; a learned table longer than the input, of which the first rows are read.
CASES["position_layers"] = lambda: (sequential(
    (6, 4), layers.Masking(0.0), layers.PositionEmbedding(9), layers.GRU(3, return_sequences=True),
    layers.SinePositionEncoding(max_wavelength=100), layers.LSTM(2)), SEQ_WITH_PADDING)


@pytest.mark.parametrize("case", sorted(CASES))
def test_cpp_predict_matches_python(tmp_path, case):
    model, x = CASES[case]()
    path = tmp_path / f"{case}.rnnkit"
    saving.save_model(model, str(path))
    expected = model.predict(x, verbose=0)
    got = _core.CppModel(str(path)).predict(x.astype(np.float32))
    assert got.shape == expected.shape
    assert np.max(np.abs(got - expected)) <= 1e-6


@pytest.mark.parametrize("case", sorted(c for c in CASES if not c.startswith("functional") and "lambda" not in c))
def test_cpp_save_model_is_read_back_by_python(tmp_path, case):
    """Python saves, C++ loads and saves again (rnnkit::save_model), Python loads that: same predictions."""
    model, x = CASES[case]()
    saving.save_model(model, str(tmp_path / "python.rnnkit"))
    _core.CppModel(str(tmp_path / "python.rnnkit")).save(str(tmp_path / "cpp.rnnkit"))
    restored = saving.load_model(str(tmp_path / "cpp.rnnkit"))
    assert [type(layer).__name__ for layer in restored.layers] == [type(layer).__name__ for layer in model.layers]
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))


def test_new_layer_configs_survive_the_cpp_save(tmp_path):
    """What C++ writes back of Rescaling (arrays as __numpy__ dicts, lists as lists, numbers as numbers), AlphaDropout
    (noise_shape), the adaptive poolings and an untied ReversibleEmbedding is what Python reads as the same layers."""
    model = sequential((6, 4), layers.Rescaling(np.array([[2.0], [3.0], [4.0], [5.0], [6.0], [7.0]]), [1, 2, 3, 4]),
                       layers.AlphaDropout(0.25, noise_shape=(None, 1, 4)), layers.AdaptiveMaxPooling1D(3))
    saving.save_model(model, str(tmp_path / "python.rnnkit"))
    _core.CppModel(str(tmp_path / "python.rnnkit")).save(str(tmp_path / "cpp.rnnkit"))
    restored = saving.load_model(str(tmp_path / "cpp.rnnkit"))
    rescaling, dropout, pooling = restored.layers
    np.testing.assert_array_equal(rescaling._scale, model.layers[0]._scale)
    assert isinstance(rescaling.scale, np.ndarray) and rescaling.offset == [1.0, 2.0, 3.0, 4.0]
    assert dropout.noise_shape == (None, 1, 4) and dropout.rate == pytest.approx(0.25)
    assert pooling.output_size == (3,) and pooling.data_format == "channels_last"

    model = sequential((7,), layers.ReversibleEmbedding(11, 4, tie_weights=False, logit_soft_cap=2.5))
    saving.save_model(model, str(tmp_path / "embedding.rnnkit"))
    _core.CppModel(str(tmp_path / "embedding.rnnkit")).save(str(tmp_path / "embedding_cpp.rnnkit"))
    restored = saving.load_model(str(tmp_path / "embedding_cpp.rnnkit")).layers[0]
    assert (restored.tie_weights, restored.logit_soft_cap, restored.reverse_dtype) == (False, 2.5, None)
    np.testing.assert_array_equal(restored.reverse_embeddings.value, model.layers[0].reverse_embeddings.value)


def test_unsupported_rescaling_pooling_and_reverse_calls_are_clear_errors(tmp_path):
    """channels_first adaptive pooling, a Rescaling factor that would stretch the batch axis, and a ReversibleEmbedding
    called with reverse=True (a per-call option the C++ graph does not carry) are refused naming file and layer."""
    cases = [(layers.AdaptiveAveragePooling1D(3, data_format="channels_first"), "AdaptiveAveragePooling1D",
              "only data_format=channels_last is supported"),
             (layers.AdaptiveMaxPooling1D(2, data_format="channels_first"), "AdaptiveMaxPooling1D",
              "only data_format=channels_last is supported"),
             (layers.Rescaling(np.ones((3, 1, 1), np.float32)), "Rescaling", "the batch axis is never stretched")]
    for layer, class_name, message in cases:
        model = models.Sequential([layers.Input(shape=(6, 4)), layer, layers.Flatten()])
        path = tmp_path / f"{class_name}.rnnkit"
        saving.save_model(model, str(path))
        with pytest.raises(ValueError, match=rf"{class_name}\.rnnkit: layer {layer.name} \({class_name}\)"
                                             rf".*{message}"):
            _core.CppModel(str(path))

    inputs = layers.Input(shape=(7,))
    embedding = layers.ReversibleEmbedding(11, 4, name="tied")
    logits = embedding(layers.Dense(4)(embedding(inputs)), reverse=True)
    saving.save_model(models.Model(inputs, logits), str(tmp_path / "reverse.rnnkit"))
    with pytest.raises(ValueError, match=r"reverse\.rnnkit: layer tied.*\"reverse\" is not supported"):
        _core.CppModel(str(tmp_path / "reverse.rnnkit"))

def test_frozen_layers_stay_frozen_through_the_cpp_loader(tmp_path):
    """layer.trainable = False reaches the C++ model (which then leaves the layer's weights alone in training and
    normalises with the moving statistics) and comes back in its save: a frozen pretrained Embedding, a frozen
    BatchNormalization, the frozen forward LSTM of a trainable Bidirectional."""
    model = sequential((7,), layers.Embedding(11, 4, trainable=False), layers.BatchNormalization(),
                       layers.Bidirectional(layers.LSTM(3, return_sequences=True)), layers.GlobalMaxPooling1D(),
                       layers.Dense(1))
    model.layers[1].trainable = False
    model.layers[2].forward_layer.trainable = False
    saving.save_model(model, str(tmp_path / "python.rnnkit"))
    _core.CppModel(str(tmp_path / "python.rnnkit")).save(str(tmp_path / "cpp.rnnkit"))
    header, _ = _core.read_model_file(str(tmp_path / "cpp.rnnkit"))
    saved = [entry["config"] for entry in json.loads(header)["model_config"]["config"]["layers"][1:]]
    assert [config["trainable"] for config in saved] == [False, False, True, True, True]
    wrapped = saved[2]
    assert (wrapped["layer"]["config"]["trainable"], wrapped["backward_layer"]["config"]["trainable"]) == (False, True)
    restored = saving.load_model(str(tmp_path / "cpp.rnnkit"))
    assert [layer.trainable for layer in restored.layers] == [False, False, True, True, True]
    assert len(restored.trainable_weights) == len(model.trainable_weights) == 5  # the backward LSTM's, the Dense's
    x = ids(3, 7, 11)
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))


def test_dropout_noise_shape_reaches_the_cpp_model(tmp_path):
    """Dropout's noise_shape is read by the C++ loader (which draws its training mask in that shape) and written
    back by its save; Python reads the result with the same configuration."""
    model = sequential((6, 4), layers.Dropout(0.3, noise_shape=(None, 1, 4)), layers.LSTM(3))
    saving.save_model(model, str(tmp_path / "python.rnnkit"))
    _core.CppModel(str(tmp_path / "python.rnnkit")).save(str(tmp_path / "cpp.rnnkit"))
    header, _ = _core.read_model_file(str(tmp_path / "cpp.rnnkit"))
    saved = json.loads(header)["model_config"]["config"]["layers"][1]["config"]
    assert saved["noise_shape"] == [None, 1, 4] and saved["rate"] == pytest.approx(0.3)  # a float32 in C++
    restored = saving.load_model(str(tmp_path / "cpp.rnnkit")).layers[0]
    assert restored.noise_shape == model.layers[0].noise_shape == (None, 1, 4)


def test_cpp_save_model_refuses_graphs(tmp_path):
    model, _ = functional_add_concatenate()
    saving.save_model(model, str(tmp_path / "f.rnnkit"))
    with pytest.raises(ValueError, match="only Sequential models without operations"):
        _core.CppModel(str(tmp_path / "f.rnnkit")).save(str(tmp_path / "again.rnnkit"))


def test_unsupported_options_are_clear_errors(tmp_path):
    model = sequential((6, 4), layers.LSTM(3, return_sequences=True, zero_output_for_mask=True), layers.LSTM(2))
    path = tmp_path / "ok.rnnkit"
    saving.save_model(model, str(path))
    _core.CppModel(str(path))  # zero_output_for_mask is supported

    inputs = layers.Input(shape=(6, 4))
    outputs = layers.LSTM(3, return_state=True)(inputs)[0]
    model = models.Model(inputs, outputs)
    path = tmp_path / "state.rnnkit"
    saving.save_model(model, str(path))
    with pytest.raises(ValueError, match=r"state\.rnnkit.*return_state=true is not supported"):
        _core.CppModel(str(path))

    inputs = layers.Input(shape=(6, 4))
    state = layers.Dense(3)(layers.GlobalAveragePooling1D()(inputs))
    model = models.Model(inputs, layers.GRU(3)(inputs, initial_state=[state]))
    path = tmp_path / "initial.rnnkit"
    saving.save_model(model, str(path))
    with pytest.raises(ValueError, match=r"initial\.rnnkit: layer gru.*\"initial_state\" is not supported"):
        _core.CppModel(str(path))


def test_depthwise_separable_group_norm_in_cpp_match_keras(tmp_path):
    """The C++ model's predictions against Keras 3's own layers (torch backend) holding the same weights: an
    oracle independent of rnnkit's Python layers. Tolerance 1e-5 (float32 sums in another order, outputs of order 1)."""
    pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
    keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")
    model, x = depthwise_separable_group_norm()
    saving.save_model(model, str(tmp_path / "model.rnnkit"))
    theirs = keras.Sequential([keras.layers.Input(shape=(21, 4))] + [
        getattr(keras.layers, type(layer).__name__).from_config(layer.get_config()) for layer in model.layers])
    theirs.set_weights(model.get_weights())
    expected = np.asarray(theirs.predict(x, verbose=0))
    got = _core.CppModel(str(tmp_path / "model.rnnkit")).predict(x)
    assert got.shape == expected.shape
    assert np.max(np.abs(got - expected)) <= 1e-5


def test_unsupported_depthwise_and_group_norm_options_are_clear_errors(tmp_path):
    """channels_first and axes other than the last are refused by the C++ loader, naming the file and the layer."""
    cases = [(layers.DepthwiseConv1D(2, data_format="channels_first"), "DepthwiseConv1D",
              "only data_format=channels_last is supported"),
             (layers.SeparableConv1D(3, 2, data_format="channels_first"), "SeparableConv1D",
              "only data_format=channels_last is supported"),
             (layers.GroupNormalization(2, axis=1), "GroupNormalization", "normalises over the last axis only"),
             (layers.Conv1DTranspose(3, 2, data_format="channels_first"), "Conv1DTranspose",
              "only data_format=channels_last is supported")]
    for layer, class_name, message in cases:
        model = sequential((6, 4), layer, layers.Flatten())
        path = tmp_path / f"{class_name}.rnnkit"
        saving.save_model(model, str(path))
        with pytest.raises(ValueError, match=rf"{class_name}\.rnnkit: layer {layer.name} \({class_name}\)"
                                             rf".*{message}"):
            _core.CppModel(str(path))


def functional_transformer_encoder():
    """A causal encoder block from the primitives over Embedding(mask_zero) ids plus their sine encoding: padded
    queries see no key (zero weights, as in Python) and padded keys are hidden from every query."""
    inputs = layers.Input(shape=(7,))
    x = layers.Embedding(11, 8, mask_zero=True)(inputs)
    x = layers.Add()([x, layers.SinePositionEncoding()(x)])
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=4)(x, x, use_causal_mask=True)
    x = layers.LayerNormalization()(layers.Add()([x, attended]))
    feed_forward = layers.Dense(8)(layers.Dense(16, activation="relu")(x))
    x = layers.LayerNormalization(epsilon=1e-5)(layers.Add()([x, feed_forward]))
    return randomize(models.Model(inputs, layers.Dense(2)(x))), ids(3, 7, 11)


def functional_cross_attention():
    """Queries of 6 steps (plus a learned position embedding) against 3 value/key steps given apart (features 5, 3
    and 6), value_dim != key_dim, one-axis output_shape and no biases; then queries from a Conv1D against masked
    values and keys of their own."""
    inputs = layers.Input(shape=(6, 4))
    masked = layers.Masking(0.0)(inputs)
    query = layers.Dense(5)(masked)
    query = layers.Add()([query, layers.PositionEmbedding(8)(query)])
    value = layers.Conv1D(3, 2, strides=2)(inputs)
    key = layers.Dense(6)(value)
    crossed = layers.MultiHeadAttention(num_heads=3, key_dim=2, value_dim=3, output_shape=4, use_bias=False)(
        query, value, key)
    second = layers.MultiHeadAttention(num_heads=2, key_dim=3)(
        layers.Conv1D(4, 3, padding="same")(inputs), layers.Dense(3)(masked), layers.Dense(2)(masked))
    outputs = layers.Concatenate()([crossed, second])
    return randomize(models.Model(inputs, layers.Dense(2)(outputs))), SEQ_WITH_PADDING


def functional_grouped_query_attention():
    """4 query heads sharing 2 key/value heads, with the gate and a sliding window of 2, causal, over masked steps;
    then without bias or gate, one key/value head."""
    inputs = layers.Input(shape=(6, 4))
    x = layers.Dense(6)(layers.Masking(0.0)(inputs))
    attended = layers.GroupedQueryAttention(head_dim=3, num_query_heads=4, num_key_value_heads=2, use_gate=True,
                                            sliding_window=2)(x, x, use_causal_mask=True)
    attended = layers.GroupedQueryAttention(head_dim=2, num_query_heads=3, num_key_value_heads=1, use_bias=False)(
        attended, x)
    return randomize(models.Model(inputs, layers.Dense(2)(attended))), SEQ_WITH_PADDING


ATTENTION_CASES = {"functional_transformer_encoder": functional_transformer_encoder,
                   "functional_cross_attention": functional_cross_attention,
                   "functional_grouped_query_attention": functional_grouped_query_attention}


@pytest.mark.parametrize("case", sorted(ATTENTION_CASES))
def test_cpp_attention_predict_matches_python(tmp_path, case):
    """Tolerance 1e-5: the attention's softmax and the projections sum in another order than Python's fused
    self-attention product (outputs of order 1)."""
    model, x = ATTENTION_CASES[case]()
    path = tmp_path / f"{case}.rnnkit"
    saving.save_model(model, str(path))
    expected = model.predict(x, verbose=0)
    got = _core.CppModel(str(path)).predict(np.asarray(x, dtype=np.float32))
    assert got.shape == expected.shape
    assert np.max(np.abs(got - expected)) <= 1e-5


def test_cpp_reads_use_causal_mask_from_the_graph(tmp_path):
    """The node's use_causal_mask changes the C++ prediction as it does Python's (the option is not ignored)."""
    inputs = layers.Input(shape=(6, 4))
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=2)
    predictions = []
    for causal in (False, True):
        model = randomize(models.Model(inputs, mha(inputs, inputs, use_causal_mask=causal)))
        saving.save_model(model, str(tmp_path / "m.rnnkit"))
        got = _core.CppModel(str(tmp_path / "m.rnnkit")).predict(SEQ)
        assert np.max(np.abs(got - model.predict(SEQ, verbose=0))) <= 1e-5
        predictions.append(got)
    assert np.max(np.abs(predictions[0] - predictions[1])) > 1e-3


def test_unsupported_attention_options_are_clear_errors(tmp_path):
    """Options the C++ attention lacks are refused naming the file and the layer: attention axes other than the
    steps', regularizers, returned scores, and one layer called both with and without the causal mask."""
    def saved(outputs, name, config_changes=None, layer=None):
        model = models.Model(inputs, outputs)
        if config_changes:
            original = layer.get_config
            layer.get_config = lambda: {**original(), **config_changes}
        saving.save_model(model, str(tmp_path / f"{name}.rnnkit"))
        return str(tmp_path / f"{name}.rnnkit")

    inputs = layers.Input(shape=(6, 4))
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=2, name="mha")
    path = saved(mha(inputs, inputs), "axes", {"attention_axes": [2]}, mha)
    with pytest.raises(ValueError, match=r"axes\.rnnkit: layer mha \(MultiHeadAttention\).*attention_axes"):
        _core.CppModel(path)
    gqa = layers.GroupedQueryAttention(2, 2, 1, name="gqa")
    path = saved(gqa(inputs, inputs), "regularized", {"kernel_regularizer": {"class_name": "L2", "config": {}}}, gqa)
    with pytest.raises(ValueError, match=r"regularized\.rnnkit: layer gqa \(GroupedQueryAttention\).*regulariz"):
        _core.CppModel(path)
    scored = layers.MultiHeadAttention(num_heads=2, key_dim=2, name="scored")
    path = saved(scored(inputs, inputs, return_attention_scores=True)[0], "scores")
    with pytest.raises(ValueError, match=r"scores\.rnnkit: layer scored.*\"return_attention_scores\" is not supported"):
        _core.CppModel(path)
    shared = layers.MultiHeadAttention(num_heads=2, key_dim=2, name="shared")
    path = saved(layers.Add()([shared(inputs, inputs), shared(inputs, inputs, use_causal_mask=True)]), "mixed")
    with pytest.raises(ValueError, match=r"mixed\.rnnkit: layer shared.*with and without use_causal_mask"):
        _core.CppModel(path)


def test_cpp_reads_keras_attention_nodes(tmp_path):
    """Keras 3 records an attention node as args (query, value) and every keyword: key as a tensor, the masks null,
    return_attention_scores false, use_causal_mask; the C++ loader reads that form too."""
    from rnnkit.saving.file_format import read_model_file, write_model_file

    inputs = layers.Input(shape=(6, 4))
    key = layers.Dense(3)(inputs)
    outputs = layers.MultiHeadAttention(num_heads=2, key_dim=2, name="mha")(inputs, inputs, key, use_causal_mask=True)
    model = randomize(models.Model(inputs, outputs))
    saving.save_model(model, str(tmp_path / "python.rnnkit"))
    header, tensors = read_model_file(str(tmp_path / "python.rnnkit"))

    def keras_ref(ref):
        return {"class_name": "__keras_tensor__", "config": {"shape": None, "dtype": "float32",
                                                             "keras_history": ref[1:]}}

    (entry,) = [e for e in header["model_config"]["config"]["layers"] if e["config"]["name"] == "mha"]
    query, value, key_ref = entry["inbound_nodes"][0]["args"]
    entry["inbound_nodes"] = [{"args": [keras_ref(query), keras_ref(value)], "kwargs": {
        "key": keras_ref(key_ref), "query_mask": None, "value_mask": None, "key_mask": None, "attention_mask": None,
        "return_attention_scores": False, "training": None, "use_causal_mask": True}}]
    with open(tmp_path / "keras_nodes.rnnkit", "wb") as stream:
        write_model_file(stream, tensors, model_config=header["model_config"], weights=header["weights"])
    got = _core.CppModel(str(tmp_path / "keras_nodes.rnnkit")).predict(SEQ)
    assert np.max(np.abs(got - model.predict(SEQ, verbose=0))) <= 1e-5
