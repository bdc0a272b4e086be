"""Oracle: each rnnkit layer against Keras 3 (torch backend) with the same weights: outputs, gradients, paths."""
import inspect

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

from rnnkit import activations, layers  # noqa: E402

pytestmark = pytest.mark.oracle

BATCH, STEPS, FEATURES, UNITS = 3, 5, 4, 3
MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], bool)


def inputs(seed=0, shape=(BATCH, STEPS, FEATURES)):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def to_numpy(value):
    if isinstance(value, (list, tuple)):
        return [to_numpy(v) for v in value]
    return keras.ops.convert_to_numpy(value)


def twin(keras_layer, rnnkit_layer, input_shape, seed=1):
    """Build both, give the Keras layer random weights and copy them into the rnnkit layer."""
    keras_layer.build(input_shape)
    rng = np.random.default_rng(seed)
    keras_layer.set_weights([0.5 * rng.standard_normal(w.shape).astype(np.float32) for w in keras_layer.weights])
    rnnkit_layer.build(input_shape)
    rnnkit_layer.set_weights(keras_layer.get_weights())
    return keras_layer, rnnkit_layer


def assert_same_outputs(keras_outputs, rnnkit_outputs):
    keras_outputs = keras_outputs if isinstance(keras_outputs, (list, tuple)) else [keras_outputs]
    rnnkit_outputs = rnnkit_outputs if isinstance(rnnkit_outputs, (list, tuple)) else [rnnkit_outputs]
    assert len(keras_outputs) == len(rnnkit_outputs)
    for expected, got in zip(keras_outputs, rnnkit_outputs):
        np.testing.assert_allclose(got, to_numpy(expected), rtol=1e-4, atol=1e-5)


RECURRENT = {
    "simple_rnn": ("SimpleRNN", {}),
    "lstm": ("LSTM", {}),
    "gru": ("GRU", {}),
    "gru_reset_before": ("GRU", {"reset_after": False}),
    "lstm_hard_sigmoid": ("LSTM", {"recurrent_activation": "hard_sigmoid", "activation": "relu"}),
}


@pytest.mark.parametrize("kind", sorted(RECURRENT))
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_recurrent_outputs_and_states(kind, go_backwards, masked):
    class_name, kwargs = RECURRENT[kind]
    options = dict(kwargs, return_sequences=True, return_state=True, go_backwards=go_backwards)
    theirs, ours = twin(getattr(keras.layers, class_name)(UNITS, **options),
                        getattr(layers, class_name)(UNITS, **options), (BATCH, STEPS, FEATURES))
    x, mask = inputs(), (MASK if masked else None)
    assert_same_outputs(theirs(x, mask=mask), ours.forward(x, training=False, mask=mask)[0])


@pytest.mark.parametrize("class_name", ["SimpleRNN", "LSTM", "GRU"])
def test_recurrent_initial_state(class_name):
    theirs, ours = twin(getattr(keras.layers, class_name)(UNITS), getattr(layers, class_name)(UNITS),
                        (BATCH, STEPS, FEATURES))
    state_count = 2 if class_name == "LSTM" else 1
    states = [inputs(seed=5 + i, shape=(BATCH, UNITS)) for i in range(state_count)]
    x = inputs()
    assert_same_outputs(theirs(x, initial_state=states), ours.forward([x, *states], training=False)[0])


def keras_gradients(keras_layer, x, mask, projection):
    x_tensor = torch.tensor(x, requires_grad=True)
    # Layers without masking support take no mask argument at all.
    outputs = keras_layer(x_tensor) if mask is None else keras_layer(x_tensor, mask=torch.tensor(mask))
    (outputs * torch.tensor(projection)).sum().backward()
    return [x_tensor.grad.numpy()] + [w.value.grad.numpy() for w in keras_layer.trainable_weights]


def assert_same_training_step(theirs, ours, x):
    """Outputs, input gradient and weight gradients of one training forward and backward, against Keras."""
    outputs, ctx = ours.forward(x, training=True)
    assert_same_outputs(theirs(x), outputs)
    projection = np.random.default_rng(3).standard_normal(outputs.shape).astype(np.float32)
    d_x, d_weights = ours.backward(ctx, projection)
    for got, want in zip([d_x] + list(d_weights), keras_gradients(theirs, x, None, projection)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("factory", [
    lambda m: m.LSTM(UNITS, return_sequences=True),
    lambda m: m.GRU(UNITS),
    lambda m: m.GRU(UNITS, reset_after=False, return_sequences=True, go_backwards=True),
    lambda m: m.SimpleRNN(UNITS, return_sequences=True),
    lambda m: m.Bidirectional(m.LSTM(UNITS, return_sequences=True), merge_mode="mul"),
    lambda m: m.Bidirectional(m.GRU(UNITS), merge_mode="concat"),
])
def test_gradients_match_keras(factory):
    theirs, ours = twin(factory(keras.layers), factory(layers), (BATCH, STEPS, FEATURES))
    x = inputs()
    outputs, ctx = ours.forward(x, training=True, mask=MASK)
    projection = np.random.default_rng(3).standard_normal(outputs.shape).astype(np.float32)
    d_x, d_weights = ours.backward(ctx, projection)
    expected = keras_gradients(theirs, x, MASK, projection)
    for got, want in zip([d_x] + list(d_weights), expected):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_outputs(merge_mode, return_sequences):
    theirs, ours = twin(
        keras.layers.Bidirectional(keras.layers.LSTM(UNITS, return_sequences=return_sequences), merge_mode=merge_mode),
        layers.Bidirectional(layers.LSTM(UNITS, return_sequences=return_sequences), merge_mode=merge_mode),
        (BATCH, STEPS, FEATURES))
    x = inputs()
    assert_same_outputs(theirs(x, mask=MASK), ours.forward(x, training=False, mask=MASK)[0])


def test_weight_paths_match_keras():
    pairs = [
        (keras.layers.LSTM(UNITS, name="lstm"), layers.LSTM(UNITS, name="lstm")),
        (keras.layers.GRU(UNITS, name="gru"), layers.GRU(UNITS, name="gru")),
        (keras.layers.Bidirectional(keras.layers.LSTM(UNITS, name="lstm"), name="bidirectional"),
         layers.Bidirectional(layers.LSTM(UNITS, name="lstm"), name="bidirectional")),
        (keras.layers.TimeDistributed(keras.layers.Dense(2, name="dense"), name="time_distributed"),
         layers.TimeDistributed(layers.Dense(2, name="dense"), name="time_distributed")),
        (keras.layers.Embedding(7, 2, name="embedding"), layers.Embedding(7, 2, name="embedding")),
    ]
    for theirs, ours in pairs:
        theirs.build((BATCH, STEPS, FEATURES) if "embedding" not in theirs.name else (BATCH, STEPS))
        ours.build((BATCH, STEPS, FEATURES) if "embedding" not in ours.name else (BATCH, STEPS))
        assert [w.path for w in ours.weights] == [w.path for w in theirs.weights]
        assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]


def test_keras_initial_lstm_bias_and_config_keys():
    theirs, ours = keras.layers.LSTM(UNITS), layers.LSTM(UNITS)
    theirs.build((None, STEPS, FEATURES))
    ours.build((None, STEPS, FEATURES))
    np.testing.assert_array_equal(ours.get_weights()[2], to_numpy(theirs.weights[2]))
    for class_name in ("LSTM", "GRU", "SimpleRNN"):
        keras_keys = set(getattr(keras.layers, class_name)(UNITS).get_config())
        assert keras_keys - {"use_cudnn"} <= set(getattr(layers, class_name)(UNITS).get_config())


def test_use_cudnn_taken_and_refused_where_keras_takes_and_refuses_it():
    for class_name in ("LSTM", "GRU"):
        theirs, ours = getattr(keras.layers, class_name), getattr(layers, class_name)
        assert ours(UNITS).use_cudnn == theirs(UNITS).use_cudnn
        for value in ("auto", True, False):
            assert ours(UNITS, use_cudnn=value).use_cudnn == theirs(UNITS, use_cudnn=value).use_cudnn == value
        for refused in ("yes", None):
            with pytest.raises(ValueError, match="use_cudnn"):
                theirs(UNITS, use_cudnn=refused)
            with pytest.raises(ValueError, match="use_cudnn"):
                ours(UNITS, use_cudnn=refused)
    with pytest.raises(ValueError, match="use_cudnn"):
        keras.layers.SimpleRNN(UNITS, use_cudnn=False)
    with pytest.raises(TypeError, match="use_cudnn"):
        layers.SimpleRNN(UNITS, use_cudnn=False)


class Fresh:
    """A required argument made anew for each construction (a layer or cell can be wrapped only once)."""

    def __init__(self, make):
        self.make = make


# The arguments without a default that the layers both libraries have need, by name.
REQUIRED = {
    "Activation": {"activation": "relu"}, "AveragePooling1D": {"pool_size": 2},
    "AdaptiveAveragePooling1D": {"output_size": 2}, "AdaptiveMaxPooling1D": {"output_size": 2},
    "AlphaDropout": {"rate": 0.1}, "Rescaling": {"scale": 0.5},
    "ReversibleEmbedding": {"input_dim": 5, "output_dim": 2},
    "Bidirectional": {"layer": Fresh(lambda: layers.LSTM(2))}, "CategoryEncoding": {"num_tokens": 3},
    "Conv1D": {"filters": 2, "kernel_size": 3}, "ConvLSTM1D": {"filters": 2, "kernel_size": 3},
    "ConvLSTM2D": {"filters": 2, "kernel_size": 3}, "ConvLSTM3D": {"filters": 2, "kernel_size": 3},
    "Dense": {"units": 2}, "DepthwiseConv1D": {"kernel_size": 3}, "Discretization": {"num_bins": 3},
    "EinsumDense": {"equation": "ab,bc->ac", "output_shape": 2},
    "SeparableConv1D": {"filters": 2, "kernel_size": 3}, "Conv1DTranspose": {"filters": 2, "kernel_size": 3},
    "Dot": {"axes": 1}, "Dropout": {"rate": 0.1}, "Embedding": {"input_dim": 5, "output_dim": 2},
    "GaussianDropout": {"rate": 0.1}, "GaussianNoise": {"stddev": 0.1}, "GRU": {"units": 2}, "GRUCell": {"units": 2},
    "Hashing": {"num_bins": 4}, "InputLayer": {"shape": (2,)}, "Lambda": {"function": lambda x: x},
    "LSTM": {"units": 2}, "LSTMCell": {"units": 2}, "MultiHeadAttention": {"num_heads": 2, "key_dim": 4},
    "Permute": {"dims": (1,)}, "RepeatVector": {"n": 2}, "Reshape": {"target_shape": (2,)},
    "RNN": {"cell": Fresh(lambda: layers.LSTMCell(2))}, "SimpleRNN": {"units": 2}, "SimpleRNNCell": {"units": 2},
    "SpatialDropout1D": {"rate": 0.1}, "StackedRNNCells": {"cells": Fresh(lambda: [layers.LSTMCell(2)])},
    "TimeDistributed": {"layer": Fresh(lambda: layers.Dense(2))}, "Wrapper": {"layer": Fresh(lambda: layers.Dense(2))},
}
SHARED_LAYERS = sorted(name for name in dir(layers)  # each class once: not under its other names (MaxPool1D)
                       if name[:1].isupper() and inspect.isclass(getattr(keras.layers, name, None))
                       and getattr(layers, name).__name__ == name)


def positional_parameters(function):
    return [name for name, p in inspect.signature(function).parameters.items()
            if name != "self" and p.kind == p.POSITIONAL_OR_KEYWORD]


@pytest.mark.parametrize("name", SHARED_LAYERS)
def test_constructor_takes_every_keras_argument_at_its_default_and_in_keras_positional_order(name):
    theirs, ours = getattr(keras.layers, name), getattr(layers, name)
    keras_order = positional_parameters(theirs.__init__)
    # Layers that route their arguments by name declare Keras' order for the positional ones after the first.
    our_order = positional_parameters(ours.__init__) + list(getattr(ours, "keras_positional_arguments", ()))
    assert our_order[:len(keras_order)] == keras_order

    def required():
        return {key: value.make() if isinstance(value, Fresh) else value
                for key, value in REQUIRED.get(name, {}).items()}

    leading = keras_order[:len(REQUIRED.get(name, {}))]
    if set(leading) == set(REQUIRED.get(name, {})):  # the required arguments by position, as Keras takes them
        ours(*[required()[key] for key in leading])
    for parameter, spec in inspect.signature(theirs.__init__).parameters.items():
        if parameter not in ("self", *REQUIRED.get(name, {})) and spec.default is not spec.empty:
            ours(**required(), **{parameter: spec.default})


def test_input_takes_keras_arguments_in_keras_order():
    assert positional_parameters(layers.Input) == positional_parameters(keras.Input)
    for parameter, spec in inspect.signature(keras.Input).parameters.items():
        if parameter != "shape":
            layers.Input(shape=(2,), **{parameter: spec.default})
    for flag in ("sparse", "ragged", "optional"):
        with pytest.raises(ValueError, match=f"{flag}=True inputs are not supported"):
            layers.Input(shape=(2,), **{flag: True})


def test_recurrent_arguments_by_position_mean_what_they_mean_in_keras():
    x = inputs()
    shown = ("activation", "recurrent_activation", "use_bias", "kernel_initializer")
    for class_name, arguments in [("LSTM", ("relu", "hard_sigmoid", False)),
                                  ("GRU", ("relu", "sigmoid", True, "he_uniform")),
                                  ("SimpleRNN", ("relu", False))]:
        theirs = getattr(keras.layers, class_name)(UNITS, *arguments)
        ours = getattr(layers, class_name)(UNITS, *arguments)
        their_config, our_config = theirs.get_config(), ours.get_config()
        for key in shown:
            if key in their_config:
                assert our_config[key] == their_config[key] or key == "kernel_initializer"
        twin(theirs, ours, x.shape)
        np.testing.assert_allclose(np.asarray(ours(x)), to_numpy(theirs(x)), rtol=1e-5, atol=1e-6)
    assert layers.GRU(UNITS, "relu", "sigmoid", True, "he_uniform").cell.kernel_initializer.__class__.__name__ == \
        "HeUniform"
    for cell in ("LSTMCell", "GRUCell", "SimpleRNNCell"):
        theirs, ours = getattr(keras.layers, cell)(UNITS, "relu"), getattr(layers, cell)(UNITS, "relu")
        assert ours.get_config()["activation"] == theirs.get_config()["activation"] == "relu"
    with pytest.raises(TypeError, match="two values for argument 'activation'"):
        layers.GRU(UNITS, "relu", activation="tanh")


def test_keras_configs_load_into_rnnkit():
    for keras_layer in (keras.layers.LSTM(4, dropout=0.1, return_sequences=True), keras.layers.GRU(2),
                        keras.layers.Dense(3, activation="relu"), keras.layers.Embedding(5, 2, mask_zero=True),
                        keras.layers.Bidirectional(keras.layers.GRU(2), merge_mode="ave")):
        config = keras.layers.serialize(keras_layer)
        ours = layers.deserialize(config)
        assert type(ours).__name__ == type(keras_layer).__name__


@pytest.mark.parametrize("keras_layer", [
    lambda: keras.layers.Conv1D(4, 3, padding="causal", activation="gelu"), lambda: keras.layers.MaxPooling1D(),
    lambda: keras.layers.AveragePooling1D(3, strides=1), lambda: keras.layers.Reshape((-1, 2)),
    lambda: keras.layers.Permute((2, 1)), lambda: keras.layers.SpatialDropout1D(0.25, seed=2),
    lambda: keras.layers.BatchNormalization(momentum=0.9, center=False),
    lambda: keras.layers.ReLU(max_value=2.0, negative_slope=0.1, threshold=0.3), lambda: keras.layers.LeakyReLU(),
    lambda: keras.layers.ELU(alpha=0.5), lambda: keras.layers.Softmax(),
    lambda: keras.layers.GaussianNoise(0.3, seed=5), lambda: keras.layers.GaussianDropout(0.2),
    lambda: keras.layers.ZeroPadding1D((2, 1)), lambda: keras.layers.ZeroPadding1D(3, data_format="channels_first"),
    lambda: keras.layers.Cropping1D(2), lambda: keras.layers.UpSampling1D(4), lambda: keras.layers.Identity()])
def test_window_and_shape_layers_write_every_key_keras_writes(keras_layer):
    keras_layer = keras_layer()
    keras_config = keras_layer.get_config()
    config = layers.deserialize(keras.layers.serialize(keras_layer)).get_config()
    assert {k: config[k] for k in keras_config if k != "dtype"} == {k: v for k, v in keras_config.items()
                                                                     if k != "dtype"}


@pytest.mark.parametrize("activation", [*activations.NAMES, "swish", "hard_swish"])
def test_dense_activations_outputs_gradients_and_configs_match_keras(activation):
    make = lambda m: m.Dense(UNITS, activation=activation)  # noqa: E731
    theirs, ours = twin(make(keras.layers), make(layers), (BATCH, STEPS, FEATURES))
    keras_row = to_numpy(keras.activations.sparsemax(np.array([[0.0, 0.5, 1.0]], np.float32)))
    if activation == "sparsemax" and not np.isclose(keras_row.sum(), 1.0):
        # Keras up to 3.15 computes sparsemax's threshold wrongly (keras-team/keras#23425, fixed by #23469): the
        # Keras Dense then the fixed algorithm in torch, differentiated by autograd, stand in for it.
        theirs.activation = _torch_sparsemax
    assert_same_training_step(theirs, ours, 2.0 * inputs(seed=len(activation)))
    assert ours.get_config()["activation"] == theirs.get_config()["activation"]


def _torch_sparsemax(logits):
    """Martins & Astudillo's sparsemax over the last axis: tau from the cumulative sum at the support's size."""
    ordered, _ = torch.sort(logits, dim=-1, descending=True)
    ranks = torch.arange(1, logits.shape[-1] + 1, dtype=logits.dtype)
    cumulative = torch.cumsum(ordered, dim=-1)
    support = (1 + ranks * ordered > cumulative).sum(dim=-1, keepdim=True)
    tau = (torch.gather(cumulative, -1, support - 1) - 1) / support.to(logits.dtype)
    return torch.clamp(logits - tau, min=0.0)


_torch_sparsemax.__name__ = "sparsemax"


# Padding "same" of the pooling layers only where it splits evenly: Keras on torch pads an uneven split with copies
# of the edge step, which then count in an average (on JAX and TensorFlow they do not; rnnkit follows those).
@pytest.mark.parametrize("make", [
    lambda m: m.Conv1D(UNITS, 3), lambda m: m.Conv1D(UNITS, 4, padding="same", activation="gelu"),
    lambda m: m.Conv1D(UNITS, 3, strides=2, padding="same", use_bias=False),
    lambda m: m.Conv1D(UNITS, 2, padding="causal", dilation_rate=2, activation="tanh"),
    lambda m: m.Conv1D(UNITS, 2, data_format="channels_first"),
    lambda m: m.MaxPooling1D(), lambda m: m.MaxPooling1D(3, strides=1, padding="same"),
    lambda m: m.MaxPooling1D(2, padding="same"), lambda m: m.AveragePooling1D(2, strides=1),
    lambda m: m.AveragePooling1D(3, strides=1, padding="same"), lambda m: m.AveragePooling1D(3, strides=2),
    lambda m: m.ReLU(max_value=1.0, negative_slope=0.1, threshold=0.3), lambda m: m.LeakyReLU(),
    lambda m: m.ELU(alpha=0.5), lambda m: m.Softmax(),
])
def test_window_and_activation_layers_match_keras(make):
    theirs, ours = twin(make(keras.layers), make(layers), (BATCH, STEPS, FEATURES))
    assert_same_training_step(theirs, ours, inputs())
    config, keras_config = ours.get_config(), theirs.get_config()
    assert {k: config[k] for k in keras_config if k not in ("name", "dtype")} == \
        {k: v for k, v in keras_config.items() if k not in ("name", "dtype")}


@pytest.mark.parametrize("name, make, shape, masked", [
    ("dense", lambda m: m.Dense(UNITS, activation="relu"), (BATCH, STEPS, FEATURES), False),
    ("time_distributed", lambda m: m.TimeDistributed(m.Dense(UNITS, activation="tanh")), (BATCH, STEPS, FEATURES),
     False),
    ("activation", lambda m: m.Activation("softmax"), (BATCH, STEPS, FEATURES), False),
    ("flatten", lambda m: m.Flatten(), (BATCH, STEPS, FEATURES), False),
    ("repeat_vector", lambda m: m.RepeatVector(3), (BATCH, FEATURES), False),
    ("reshape", lambda m: m.Reshape((2, -1)), (BATCH, STEPS, FEATURES), False),
    ("permute", lambda m: m.Permute((2, 1)), (BATCH, STEPS, FEATURES), False),
    ("spatial_dropout_at_inference", lambda m: m.SpatialDropout1D(0.5), (BATCH, STEPS, FEATURES), False),
    ("gaussian_noise_at_inference", lambda m: m.GaussianNoise(0.5), (BATCH, STEPS, FEATURES), False),
    ("gaussian_dropout_at_inference", lambda m: m.GaussianDropout(0.5), (BATCH, STEPS, FEATURES), False),
    ("zero_padding", lambda m: m.ZeroPadding1D((2, 1)), (BATCH, STEPS, FEATURES), False),
    ("cropping", lambda m: m.Cropping1D((1, 2)), (BATCH, STEPS, FEATURES), False),
    ("up_sampling", lambda m: m.UpSampling1D(2), (BATCH, STEPS, FEATURES), False),
    ("identity", lambda m: m.Identity(), (BATCH, STEPS, FEATURES), False),
    ("average_pooling", lambda m: m.GlobalAveragePooling1D(), (BATCH, STEPS, FEATURES), True),
    ("max_pooling", lambda m: m.GlobalMaxPooling1D(), (BATCH, STEPS, FEATURES), False),
])
def test_feed_forward_layers(name, make, shape, masked):
    theirs, ours = twin(make(keras.layers), make(layers), shape)
    x = inputs(shape=shape)
    mask = MASK if masked else None
    assert_same_outputs(theirs(x, mask=mask) if masked else theirs(x), ours.forward(x, training=False, mask=mask)[0])


def test_embedding_and_masking_masks():
    theirs, ours = twin(keras.layers.Embedding(7, 2, mask_zero=True), layers.Embedding(7, 2, mask_zero=True),
                        (BATCH, STEPS))
    ids = np.array([[1, 2, 0, 0, 0], [6, 5, 4, 3, 2], [0, 0, 0, 0, 0]])
    assert_same_outputs(theirs(ids), ours.forward(ids, training=False)[0])
    np.testing.assert_array_equal(ours.compute_mask(ids, None), to_numpy(theirs.compute_mask(ids)))
    x = inputs()
    x[0, 2] = 0.0
    keras_masking, masking = keras.layers.Masking(), layers.Masking()
    keras_out = keras_masking(x)
    assert_same_outputs(keras_out, masking.forward(x, training=False)[0])
    np.testing.assert_array_equal(masking.compute_mask(x, None), to_numpy(keras_out._keras_mask))


def test_merging_layers_and_masks():
    a, b = inputs(1), inputs(2)
    mask_a, mask_b = MASK, MASK[::-1]
    for keras_layer, ours in ((keras.layers.Concatenate(), layers.Concatenate()), (keras.layers.Add(), layers.Add()),
                              (keras.layers.Subtract(), layers.Subtract()), (keras.layers.Average(), layers.Average())):
        assert_same_outputs(keras_layer([a, b]), ours.forward([a, b], training=False)[0])
        np.testing.assert_array_equal(ours.compute_mask([a, b], [mask_a, mask_b]),
                                      to_numpy(keras_layer.compute_mask([a, b], [mask_a, mask_b])))


@pytest.mark.parametrize("name", ["Multiply", "Maximum", "Minimum"])
@pytest.mark.parametrize("masks", [None, (MASK, MASK[::-1], MASK[:, ::-1]), (None, MASK, MASK[::-1])])
def test_multiply_maximum_minimum_match_keras_with_masks(name, masks):
    """Keras reads the masks off its input tensors inside the merge: a masked entry counts as 1 (Multiply) or
    takes the other side's value (Maximum, Minimum); gradients through PyTorch's autograd."""
    from keras.src import backend as keras_backend
    xs = [inputs(seed) for seed in (3, 4, 5)]
    xs[2][:, 1] = xs[0][:, 1]  # equal entries: PyTorch's maximum and minimum split their gradient
    tensors = [torch.tensor(x, requires_grad=True) for x in xs]
    masked = []
    for tensor, mask in zip(tensors, masks or (None,) * 3):
        view = tensor * 1.0  # a fresh tensor to carry the mask, the leaf keeps its gradient
        if mask is not None:
            keras_backend.set_keras_mask(view, torch.tensor(mask.copy()))
        masked.append(view)
    expected = getattr(keras.layers, name)()(masked)
    ours = getattr(layers, name)()
    outputs, ctx = ours.forward(xs, training=True, mask=None if masks is None else list(masks))
    assert_same_outputs(expected, outputs)
    projection = np.random.default_rng(6).standard_normal(outputs.shape).astype(np.float32)
    (expected * torch.tensor(projection)).sum().backward()
    for got, tensor in zip(ours.backward(ctx, projection)[0], tensors):
        np.testing.assert_allclose(got, tensor.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shapes, axes", [(((3, 5, 4), (3, 6, 4)), (2, 2)), (((3, 5, 4), (3, 4, 6)), (2, 1)),
                                          (((3, 5, 4), (3, 5, 2)), 1), (((3, 4), (3, 4)), -1),
                                          (((3, 5, 4), (3, 4)), (2, 1))])
@pytest.mark.parametrize("normalize", [False, True])
def test_dot_matches_keras(shapes, axes, normalize):
    x1, x2 = inputs(7, shapes[0]), inputs(8, shapes[1])
    x1[0, 0] = 0.0  # a zero slice along some axis: the clamped norm (Keras' gradient there is NaN, ours finite)
    tensors = [torch.tensor(x, requires_grad=True) for x in (x1, x2)]
    theirs, ours = keras.layers.Dot(axes=axes, normalize=normalize), layers.Dot(axes=axes, normalize=normalize)
    expected = theirs(tensors)
    outputs, ctx = ours.forward([x1, x2], training=True)
    assert_same_outputs(expected, outputs)
    assert ours.get_config()["axes"] == (list(axes) if isinstance(axes, tuple) else axes)
    projection = np.random.default_rng(9).standard_normal(outputs.shape).astype(np.float32)
    (expected * torch.tensor(projection)).sum().backward()
    for got, tensor in zip(ours.backward(ctx, projection)[0], tensors):
        wanted = tensor.grad.numpy()
        assert np.all(np.isfinite(got)) and (normalize or np.all(np.isfinite(wanted)))
        finite = np.isfinite(wanted)
        np.testing.assert_allclose(got[finite], wanted[finite], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("training, masked, frozen", [(True, False, False), (True, True, False),
                                                      (False, False, False), (True, False, True)])
def test_batch_normalization_matches_keras(training, masked, frozen):
    theirs, ours = twin(keras.layers.BatchNormalization(momentum=0.9), layers.BatchNormalization(momentum=0.9),
                        (BATCH, STEPS, FEATURES))
    variance = np.abs(theirs.get_weights()[3]) + 0.5
    theirs.set_weights(theirs.get_weights()[:3] + [variance])
    ours.set_weights(theirs.get_weights())
    theirs.trainable = ours.trainable = not frozen
    x = 2.0 * inputs() + 1.0
    mask = MASK if masked else None
    x_tensor = torch.tensor(x, requires_grad=True)
    expected = theirs(x_tensor, training=training, mask=None if mask is None else torch.tensor(mask))
    outputs, ctx = ours.forward(x, training=training, mask=mask)
    assert_same_outputs(expected, outputs)
    for got, want in zip(ours.get_weights(), theirs.get_weights()):  # the moving statistics after the step
        np.testing.assert_allclose(got, to_numpy(want), rtol=1e-5, atol=1e-6)
    if training:
        projection = np.random.default_rng(3).standard_normal(outputs.shape).astype(np.float32)
        (expected * torch.tensor(projection)).sum().backward()
        d_x, d_weights = ours.backward(ctx, projection)
        want = [x_tensor.grad.numpy()] + [w.value.grad.numpy() for w in theirs.trainable_weights]
        for got, wanted in zip([d_x] + list(d_weights), want):
            np.testing.assert_allclose(got, wanted, rtol=1e-4, atol=1e-5)


def test_model_weights_follow_keras_order_with_non_trainable_weights():
    def paths(module):
        model = module.Sequential([module.layers.Input((5, 3)), module.layers.Dense(4, name="d1"),
                                   module.layers.BatchNormalization(name="bn"), module.layers.Dense(2, name="d2")],
                                  name="s")
        model.layers[2].trainable = False
        return ([w.path.removeprefix("s/") for w in model.weights],
                [w.path.removeprefix("s/") for w in model.trainable_weights],
                [w.path.removeprefix("s/") for w in model.non_trainable_weights])

    import rnnkit

    assert paths(rnnkit) == paths(keras)


def branching_graph(module):
    """Branches of different depths, a layer shared at two depths, two LSTMs (Keras numbers same-class layers
    in its weight files by this order) and an input no output reads."""
    layers = module.layers
    main, unused = layers.Input((6, 3), name="main"), layers.Input((2,), name="unused")
    shared = layers.Dense(3, name="shared")
    short = layers.LSTM(4, name="short_lstm")(main)
    deep = layers.LSTM(4, return_sequences=True, name="deep_lstm")(shared(layers.Dense(3, name="d0")(main)))
    deep = layers.GRU(4, name="gru")(layers.Conv1D(3, 2, name="conv")(deep))
    wide = layers.Dense(4, name="d1")(layers.Flatten(name="flat")(shared(main)))
    merged = layers.Add(name="add")([short, deep, wide])
    return module.Model([main, unused], layers.Dense(2, name="out")(merged), name="m")


def test_functional_layer_and_weight_order_is_keras():
    """Keras orders a functional model's layers deepest first (keras.src.ops.function.map_graph); get_weights,
    set_weights and Keras' weight files follow that order."""
    import rnnkit

    theirs, ours = branching_graph(keras), branching_graph(rnnkit)
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    assert [w.path for w in ours.weights] == [w.path for w in theirs.weights]
    ours.set_weights(theirs.get_weights())
    x = [inputs(11, (4, 6, 3)), inputs(12, (4, 2))]
    assert_same_outputs(theirs.predict(x, verbose=0), ours.predict(x, verbose=0))


def test_keras_weights_file_of_a_branching_model(tmp_path):
    pytest.importorskip("h5py", reason="reading .weights.h5 files needs h5py (pip install '.[h5]')")
    import rnnkit

    theirs, ours = branching_graph(keras), branching_graph(rnnkit)
    theirs.save_weights(tmp_path / "m.weights.h5")
    ours.load_weights(tmp_path / "m.weights.h5")
    x = [inputs(13, (4, 6, 3)), inputs(14, (4, 2))]
    assert_same_outputs(theirs.predict(x, verbose=0), ours.predict(x, verbose=0))


def test_keras_other_names_for_shared_layers_are_rnnkit_names_too():
    """Keras exports some classes under two names (MaxPool1D is MaxPooling1D): rnnkit has both where it has the
    class."""
    public = [name for name in dir(keras.layers) if name[:1].isupper()]
    pairs = [(alias, name) for alias in public for name in public
             if alias != name and getattr(keras.layers, alias) is getattr(keras.layers, name)
             and getattr(keras.layers, name).__name__ == name and hasattr(layers, name)]
    assert ("MaxPool1D", "MaxPooling1D") in pairs
    for alias, name in pairs:
        assert getattr(layers, alias, None) is getattr(layers, name), alias


@pytest.mark.parametrize("shared_axes", [None, [1]])
def test_prelu_matches_keras(shared_axes):
    theirs, ours = twin(keras.layers.PReLU(shared_axes=shared_axes), layers.PReLU(shared_axes=shared_axes),
                        (BATCH, STEPS, FEATURES))
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    assert_same_training_step(theirs, ours, inputs())
    assert set(ours.get_config()) == set(theirs.get_config())
