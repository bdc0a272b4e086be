"""Oracle: ConvLSTM1D/2D/3D against Keras 3's on the torch backend, same weights: outputs and states (1e-5 of
the largest, float32 on both sides), gradients of every weight, the input and the initial states (1e-4 of the
largest; Keras' by torch autograd), the config, and a Keras `.keras` archive loaded by rnnkit."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

import rnnkit  # noqa: E402
from rnnkit import layers  # noqa: E402

pytestmark = pytest.mark.oracle

CASES = [
    ("ConvLSTM1D", (4, 9, 3), {"kernel_size": 3}),
    ("ConvLSTM1D", (4, 8, 2), {"kernel_size": 2, "padding": "same", "strides": 2, "go_backwards": True}),
    ("ConvLSTM1D", (3, 10, 2), {"kernel_size": 3, "padding": "same", "dilation_rate": 2, "use_bias": False}),
    ("ConvLSTM1D", (3, 2, 7), {"kernel_size": 3, "data_format": "channels_first", "activation": "relu"}),
    ("ConvLSTM2D", (3, 6, 5, 2), {"kernel_size": (3, 2), "padding": "same"}),
    ("ConvLSTM2D", (3, 7, 6, 2), {"kernel_size": 2, "strides": (2, 1), "recurrent_activation": "hard_sigmoid"}),
    ("ConvLSTM3D", (2, 4, 3, 4, 2), {"kernel_size": 2, "padding": "same"}),
]


def relative_error(actual, expected):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-30)


@pytest.mark.parametrize("name, shape, options", CASES, ids=[f"{n}-{o}" for n, _, o in CASES])
def test_forward_and_gradients_match_keras(name, shape, options):
    rng = np.random.default_rng(11)
    theirs = getattr(keras.layers, name)(3, return_sequences=True, return_state=True, **options)
    ours = getattr(layers, name)(3, return_sequences=True, return_state=True, **options)
    x = rng.standard_normal((2, *shape)).astype(np.float32)
    theirs.build(x.shape)
    ours.build(x.shape)
    weights = [(0.4 * rng.standard_normal(tuple(w.shape))).astype(np.float32) for w in theirs.weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)

    x_t = torch.tensor(x, requires_grad=True)
    keras_out = theirs(x_t)
    initial_shape = tuple(keras_out[1].shape)
    h0, c0 = (rng.standard_normal(initial_shape).astype(np.float32) for _ in range(2))
    h0_t, c0_t = torch.tensor(h0, requires_grad=True), torch.tensor(c0, requires_grad=True)
    x_t.grad = None
    keras_out = theirs(x_t, initial_state=[h0_t, c0_t])
    projections = [rng.standard_normal(tuple(o.shape)).astype(np.float32) for o in keras_out]
    loss = sum((o * torch.tensor(p)).sum() for o, p in zip(keras_out, projections))
    loss.backward()

    outputs, ctx = ours.forward([x, h0, c0], training=True)
    for got, expected in zip(outputs, keras_out):
        assert relative_error(got, expected.detach().numpy()) < 1e-5
    d_inputs, d_weights = ours.backward(ctx, projections)
    expected_inputs = [x_t.grad, h0_t.grad, c0_t.grad]
    for got, expected in zip(d_inputs, expected_inputs):
        assert relative_error(got, expected.numpy()) < 1e-4
    for got, variable in zip(d_weights, theirs.trainable_weights):
        assert relative_error(got, variable.value.grad.numpy()) < 1e-4, variable.path


@pytest.mark.parametrize("name", ["ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"])
def test_config_and_positional_arguments_are_keras_own(name):
    import inspect

    ours = list(inspect.signature(getattr(layers, name).__init__).parameters)
    theirs = list(inspect.signature(getattr(keras.layers, name).__init__).parameters)
    assert ours[:len(theirs) - 1] == theirs[:-1]  # up to **kwargs; rnnkit adds RNN's unroll, zero_output_for_mask
    rank = int(name[-2])
    kwargs = {"padding": "same", "strides": 1, "return_sequences": True, "unit_forget_bias": False}
    mine, keras_config = (getattr(module, name)(5, 2, **kwargs).get_config() for module in (layers, keras.layers))
    for key in keras_config:
        if key not in ("dtype", "name"):
            assert mine[key] == keras_config[key], key
    assert mine["kernel_size"] == (2,) * rank


def test_keras_archive_loads_and_predicts_as_keras(tmp_path):
    pytest.importorskip("h5py", reason="reading .keras archives needs h5py (pip install '.[h5]')")
    model = keras.Sequential([keras.Input((4, 6, 5, 2)), keras.layers.ConvLSTM2D(3, 3, padding="same",
                                                                                return_sequences=True,
                                                                                recurrent_dropout=0.2),
                              keras.layers.ConvLSTM2D(2, 2), keras.layers.Flatten(), keras.layers.Dense(1)])
    x = np.random.default_rng(12).standard_normal((3, 4, 6, 5, 2)).astype(np.float32)
    model.compile("adam", "mse")
    model.fit(x, np.ones((3, 1), np.float32), epochs=1, verbose=0)  # batch of 3: Keras' dropout needs 4 (below)
    path = tmp_path / "conv_lstm.keras"
    model.save(path)
    loaded = rnnkit.saving.load_model(path)
    assert [tuple(w.shape) for w in loaded.weights] == [tuple(w.shape) for w in model.weights]
    assert relative_error(loaded.predict(x, verbose=0), model.predict(x, verbose=0)) < 1e-5


def test_bidirectional_conv_lstm_matches_keras():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((2, 3, 7, 2)).astype(np.float32)
    theirs = keras.layers.Bidirectional(keras.layers.ConvLSTM1D(3, 2, padding="same", return_sequences=True))
    ours = layers.Bidirectional(layers.ConvLSTM1D(3, 2, padding="same", return_sequences=True))
    theirs.build(x.shape)
    ours.build(x.shape)
    weights = [(0.4 * rng.standard_normal(tuple(w.shape))).astype(np.float32) for w in theirs.weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    def structure(path):  # the names' numbers depend on how many layers each library made before
        parts = path.split("/")
        return parts[1].split("_")[0], parts[2:]

    assert [structure(v.path) for v in ours.weights] == [structure(v.path) for v in theirs.weights]
    assert relative_error(ours(x), theirs(torch.tensor(x)).detach().numpy()) < 1e-5
