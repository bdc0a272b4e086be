"""The C++ inference API (rnnkit::load_model via _core.CppModel) against float64 numpy references of Keras math."""
import numpy as np
import pytest

from rnnkit import _core
from rnnkit.saving.file_format import write_model_file

RNG = np.random.default_rng(0)


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def recurrent_reference(kind, x, kernel, recurrent, bias, *, go_backwards=False, return_sequences=False, mask=None):
    """Keras 3 SimpleRNN / LSTM / GRU(reset_after=True) forward in float64."""
    batch, steps, _ = x.shape
    units = recurrent.shape[0]
    h, c = np.zeros((batch, units)), np.zeros((batch, units))
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    outputs = []
    for t in order:
        if kind == "SimpleRNN":
            new_h, new_c = np.tanh(x[:, t] @ kernel + h @ recurrent + bias), c
        elif kind == "LSTM":
            z = x[:, t] @ kernel + h @ recurrent + bias
            i, f, g, o = np.split(z, 4, axis=1)
            new_c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            new_h = sigmoid(o) * np.tanh(new_c)
        else:
            xz, hz = x[:, t] @ kernel + bias[0], h @ recurrent + bias[1]
            z = sigmoid(xz[:, :units] + hz[:, :units])
            r = sigmoid(xz[:, units:2 * units] + hz[:, units:2 * units])
            candidate = np.tanh(xz[:, 2 * units:] + r * hz[:, 2 * units:])
            new_h, new_c = z * h + (1 - z) * candidate, c
        keep = np.ones((batch, 1), bool) if mask is None else mask[:, t:t + 1]
        h, c = np.where(keep, new_h, h), np.where(keep, new_c, c)
        outputs.append(h)
    return np.stack(outputs, axis=1) if return_sequences else h


def gate_count(kind):
    return {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}[kind]


def recurrent_weights(kind, features, units):
    width = gate_count(kind) * units
    bias_shape = (2, width) if kind == "GRU" else (width,)
    return [RNG.standard_normal(s) * 0.5 for s in ((features, width), (units, width), bias_shape)]


def layer(class_name, **config):
    return {"module": "keras.layers", "class_name": class_name, "config": {"name": class_name.lower(), **config}}


def save(path, input_shape, layers, weights):
    tensors = {f"weights/{i:04d}": np.asarray(w, np.float32) for i, w in enumerate(weights)}
    config = {"class_name": "Sequential", "config": {
        "name": "sequential", "layers": [layer("InputLayer", batch_shape=[None, *input_shape])] + layers}}
    with open(path, "wb") as stream:
        write_model_file(stream, tensors, model_config=config, weights=list(tensors))
    return _core.CppModel(str(path))


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("return_sequences, go_backwards", [(False, False), (True, False), (True, True)])
def test_recurrent_layer_matches_keras_math(tmp_path, kind, return_sequences, go_backwards):
    x = RNG.standard_normal((3, 5, 4)).astype(np.float32)
    weights = recurrent_weights(kind, 4, 6)
    model = save(tmp_path / "r.rnnkit", (5, 4), [layer(kind, units=6, return_sequences=return_sequences,
                                                       go_backwards=go_backwards)], weights)
    expected = recurrent_reference(kind, x.astype(np.float64), *weights, go_backwards=go_backwards,
                                   return_sequences=return_sequences)
    np.testing.assert_allclose(model.predict(x), expected, atol=1e-5)


def test_sentiment_stack_embedding_mask_bidirectional_dense(tmp_path):
    ids = np.array([[3, 7, 1, 0, 0], [9, 2, 5, 8, 4]], np.float32)
    table = RNG.standard_normal((10, 4))
    forward, backward = recurrent_weights("LSTM", 4, 3), recurrent_weights("LSTM", 4, 3)
    kernel, bias = RNG.standard_normal((6, 1)), RNG.standard_normal(1)
    model = save(tmp_path / "s.rnnkit", (5,), [
        layer("Embedding", input_dim=10, output_dim=4, mask_zero=True),
        layer("Bidirectional", merge_mode="concat", layer=layer("LSTM", units=3)),
        layer("Dropout", rate=0.5), layer("Dense", units=1, activation="sigmoid")],
        [table, *forward, *backward, kernel, bias])
    embedded, mask = table[ids.astype(int)], ids != 0
    features = np.concatenate([recurrent_reference("LSTM", embedded, *forward, mask=mask),
                               recurrent_reference("LSTM", embedded, *backward, mask=mask, go_backwards=True)], 1)
    np.testing.assert_allclose(model.predict(ids), sigmoid(features @ kernel + bias), atol=1e-5)


def test_forecast_stack_pooling_repeat_time_distributed(tmp_path):
    x = RNG.standard_normal((2, 4, 3)).astype(np.float32)
    gru = recurrent_weights("GRU", 3, 5)
    dense_kernel, dense_bias = RNG.standard_normal((5, 2)), RNG.standard_normal(2)
    model = save(tmp_path / "f.rnnkit", (4, 3), [
        layer("GRU", units=5, return_sequences=True), layer("GlobalAveragePooling1D"), layer("RepeatVector", n=3),
        layer("TimeDistributed", layer=layer("Dense", units=2)), layer("Flatten"), layer("Activation",
                                                                                           activation="softmax")],
        [*gru, dense_kernel, dense_bias])
    pooled = recurrent_reference("GRU", x.astype(np.float64), *gru, return_sequences=True).mean(axis=1)
    logits = np.repeat(pooled[:, None], 3, axis=1) @ dense_kernel + dense_bias
    flat = logits.reshape(2, 6)
    expected = np.exp(flat - flat.max(1, keepdims=True))
    np.testing.assert_allclose(model.predict(x), expected / expected.sum(1, keepdims=True), atol=1e-6)


def test_unsupported_layer_and_weight_mismatch_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match=r"u\.rnnkit.*layer class \"EinsumDense\" is not supported"):
        save(tmp_path / "u.rnnkit", (4, 3), [layer("EinsumDense")], [])
    with pytest.raises(ValueError, match=r"w\.rnnkit.*does not have the shape"):
        save(tmp_path / "w.rnnkit", (3,), [layer("Dense", units=2)], [np.zeros((2, 2)), np.zeros(2)])
    with pytest.raises(ValueError, match="more weights than"):
        save(tmp_path / "x.rnnkit", (3,), [layer("Dense", units=2)], [np.zeros((3, 2)), np.zeros(2), np.zeros(1)])


def test_input_of_the_wrong_shape_is_refused_before_compute(tmp_path):
    model = save(tmp_path / "d.rnnkit", (3,), [layer("Dense", units=2)], [np.zeros((3, 2)), np.zeros(2)])
    for wrong in (np.zeros((2, 4), np.float32), np.zeros((2, 3, 1), np.float32), np.zeros(3, np.float32)):
        with pytest.raises(ValueError, match=r"expected an input of shape \(batch, 3\)"):
            model.predict(wrong)


def test_configs_inconsistent_with_the_layers_are_refused(tmp_path):
    with pytest.raises(ValueError, match="wraps Dense; only SimpleRNN, LSTM, PeepholeLSTM and GRU"):
        save(tmp_path / "b.rnnkit", (4, 3), [layer("Bidirectional", layer=layer("Dense", units=2))], [])
    with pytest.raises(ValueError, match=r"RepeatVector\) needs a \(features,\) input"):
        save(tmp_path / "r.rnnkit", (4, 3), [layer("RepeatVector", n=2)], [])


@pytest.mark.parametrize("cell, message", [
    (layer("StackedRNNCells", cells=[]), r"StackedRNNCells\): needs a non-empty list of cells"),
    (layer("StackedRNNCells"), r"StackedRNNCells\): needs a non-empty list of cells"),
    (layer("StackedRNNCells", cells=[layer("LSTM", units=2)]), "expected cells"),
    (layer("StackedRNNCells", cells=[layer("StackedRNNCells", cells=[layer("GRUCell", units=2)])]),
     "expected SimpleRNN, LSTM, PeepholeLSTM or GRU, or one of their cells"),
    (layer("Dense", units=2), "expected SimpleRNN, LSTM, PeepholeLSTM or GRU, or one of their cells"),
    (layer("LSTMCell", units=0), "needs a positive integer units"),
    (layer("GRUCell", units=2, kernel_regularizer={"class_name": "L2", "config": {"l2": 0.1}}),
     r"kernel_regularizer is not supported by the C\+\+ model API")])
def test_malformed_rnn_cells_are_refused(tmp_path, cell, message):
    with pytest.raises(ValueError, match=message):
        save(tmp_path / "c.rnnkit", (4, 3), [layer("RNN", cell=cell)], [])
    with pytest.raises(ValueError, match=r"layer rnn \(RNN\) has no \"cell\""):
        save(tmp_path / "n.rnnkit", (4, 3), [layer("RNN")], [])


@pytest.mark.parametrize("class_name, config, message", [
    ("ReLU", {"negative_slope": None}, "negative_slope must be a number, received null"),
    ("ReLU", {"threshold": None}, "threshold must be a number, received null"),
    ("LeakyReLU", {"alpha": None}, "alpha must be a number, received null"),
    ("ELU", {"alpha": None}, "alpha must be a number, received null"),
    ("LeakyReLU", {"negative_slope": -0.5}, "negative_slope must be >= 0")])
def test_arguments_keras_refuses_are_refused_in_files(tmp_path, class_name, config, message):
    """Keras raises for these arguments rather than taking the default, and so do Python's layers."""
    with pytest.raises(ValueError, match=message):
        save(tmp_path / "a.rnnkit", (4, 3), [layer(class_name, **config)], [])


def test_leaky_relu_takes_alpha_over_negative_slope_as_python_does(tmp_path):
    """A config holding both names (Keras 2's alpha and Keras 3's negative_slope): alpha, as in Python's layer."""
    from rnnkit import layers as py_layers
    config = {"negative_slope": 0.5, "alpha": 0.1}
    assert py_layers.LeakyReLU.from_config({"name": "both", **config}).negative_slope == 0.1
    model = save(tmp_path / "both.rnnkit", (2, 3), [layer("LeakyReLU", **config)], [])
    x = np.array([[[-1.0, 2.0, -3.0], [0.5, -0.5, 0.0]]], np.float32)
    np.testing.assert_allclose(model.predict(x), np.where(x > 0, x, 0.1 * x), rtol=1e-7)

