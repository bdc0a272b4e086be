"""Writes the seed corpus: small valid .rnnkit files from the Python writer (python/rnnkit/saving/file_format.py).

Usage: python cpp/fuzz/make_seeds.py <output directory>
"""
import importlib.util
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load_writer():
    # Loaded by path: seeds need only numpy, not the compiled rnnkit extension.
    spec = importlib.util.spec_from_file_location("file_format", ROOT / "python/rnnkit/saving/file_format.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_model_file


def seeds():
    rng = np.random.default_rng(0)
    yield "empty", {}, {}
    counter = "optimizer/0000/iteration"
    yield "scalar_int", {counter: np.array(3, np.int64)}, {"optimizer_variables": [counter]}
    dense = {"weights/0000/dense/kernel": rng.standard_normal((4, 2)), "weights/0001/dense/bias": np.zeros(2)}
    yield "dense", dense, {"weights": list(dense), "model_config": {"class_name": "Sequential", "config": {
        "name": "s", "layers": [{"class_name": "Dense", "config": {"units": 2, "activation": "linear"}}]}},
        "compile_config": {"optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.001}}, "loss": "mse"}}
    lstm = {"weights/0000/lstm/kernel": rng.standard_normal((3, 8)), "zero_size": np.zeros((0, 5)),
            "unicodé/ключ": np.ones((1, 1, 2))}
    yield "lstm_unicode", lstm, {"weights": list(lstm), "model_config": {"name": "é\u2713\U0001F600", "x": [[], {}]}}


def _layer(class_name, **config):
    return {"module": "keras.layers", "class_name": class_name, "config": config, "registered_name": None}


def _sequential(*layers):
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": "s", "layers": list(layers)}}


def model_seeds():
    """Complete small models in the layout Python's model.save writes, for the load_model target."""
    lstm = _sequential(_layer("InputLayer", batch_shape=[None, 4, 3], name="x"),
                       _layer("LSTM", name="lstm", units=2, return_sequences=False),
                       _layer("Dense", name="d", units=1, activation="linear"))
    yield "model_lstm_dense", lstm, [(3, 8), (2, 8), (8,), (2, 1), (1,)]
    gru = {"units": 2, "return_sequences": True, "reset_after": True}
    embedding = _sequential(
        _layer("InputLayer", batch_shape=[None, 5], name="ids"),
        _layer("Embedding", name="e", input_dim=6, output_dim=3, mask_zero=True),
        _layer("Bidirectional", name="bi", merge_mode="concat",
               layer=_layer("GRU", name="forward_gru", **gru),
               backward_layer=_layer("GRU", name="backward_gru", go_backwards=True, **gru)),
        _layer("GlobalAveragePooling1D", name="pool"),
        _layer("Dense", name="d", units=1, activation="sigmoid"))
    yield "model_embedding_bigru", embedding, [(6, 3), (3, 6), (2, 6), (2, 6), (3, 6), (2, 6), (2, 6), (4, 1), (1,)]
    repeat = _sequential(_layer("InputLayer", batch_shape=[None, 3], name="x"),
                         _layer("RepeatVector", name="r", n=4),
                         _layer("SimpleRNN", name="rnn", units=2, return_sequences=True),
                         _layer("TimeDistributed", name="td", layer=_layer("Dense", name="d", units=2)),
                         _layer("Flatten", name="f"))
    yield "model_repeat_timedistributed", repeat, [(3, 2), (2, 2), (2,), (2, 2), (2,)]
    cells = [_layer("LSTMCell", name="c0", units=2), _layer("GRUCell", name="c1", units=2, reset_after=False)]
    stacked = _sequential(_layer("InputLayer", batch_shape=[None, 4, 3], name="x"),
                          _layer("RNN", name="rnn", go_backwards=True, zero_output_for_mask=True,
                                 cell=_layer("StackedRNNCells", name="stack", cells=cells)))
    yield "model_stacked_cells", stacked, [(3, 8), (2, 8), (8,), (2, 6), (2, 6), (6,)]
    reshaping = _sequential(_layer("InputLayer", batch_shape=[None, 4, 6], name="x"),
                            _layer("Reshape", name="r", target_shape=[-1, 3]),
                            _layer("Permute", name="p", dims=[2, 1]),
                            _layer("SpatialDropout1D", name="s", rate=0.25, seed=None),
                            _layer("GaussianNoise", name="n", stddev=0.1, seed=None),
                            _layer("GaussianDropout", name="g", rate=0.2, seed=None),
                            _layer("ZeroPadding1D", name="z", padding=[1, 2], data_format="channels_last"),
                            _layer("UpSampling1D", name="u", size=2),
                            _layer("Cropping1D", name="c", cropping=[1, 1]),
                            _layer("Identity", name="i"),
                            _layer("Dense", name="d", units=2))
    yield "model_reshape_permute", reshaping, [(8, 2), (2,)]
    normalized = _sequential(_layer("InputLayer", batch_shape=[None, 5, 2], name="x"),
                             _layer("BatchNormalization", name="bn", axis=-1, momentum=0.99, epsilon=0.001,
                                    center=True, scale=False, synchronized=False, renorm=False, trainable=False),
                             _layer("Dropout", name="drop", rate=0.5, noise_shape=[None, 1, 2], seed=None),
                             _layer("Dense", name="d", units=2))
    yield "model_batch_normalization", normalized, [(2,), (2,), (2,), (2, 2), (2,)]
    windows = _sequential(_layer("InputLayer", batch_shape=[None, 6, 2], name="x"),
                          _layer("Conv1D", name="c", filters=3, kernel_size=[2], strides=[1], padding="causal",
                                 data_format="channels_last", dilation_rate=[2], groups=1, activation="gelu",
                                 use_bias=True),
                          _layer("MaxPooling1D", name="m", pool_size=[2], strides=None, padding="same"),
                          _layer("AveragePooling1D", name="a", pool_size=[2], strides=[1], padding="valid"),
                          _layer("ReLU", name="r", max_value=1.5, negative_slope=0.1, threshold=0.2),
                          _layer("LeakyReLU", name="l", negative_slope=0.3),
                          _layer("ELU", name="e", alpha=1.0),
                          _layer("Softmax", name="s", axis=-1))
    yield "model_conv_pooling_activations", windows, [(2, 2, 3), (3,)]
    yield "model_functional_operations", _functional_operations(), [(6, 2), (2,)]
    lambda_graph = _functional_operations()["config"]  # a Lambda's traced operations: its Dense left out
    lambda_graph["layers"] = lambda_graph["layers"][:-1]
    lambda_graph["output_layers"] = [["joined", 0, 0]]
    with_lambda = _sequential(_layer("InputLayer", batch_shape=[None, 4, 3], name="x"),
                              _layer("Lambda", name="lam", function={"class_name": "__lambda__", "config": {}},
                                     arguments={}, graph=lambda_graph),
                              _layer("Dense", name="head", units=1))
    yield "model_sequential_lambda", with_lambda, [(6, 1), (1,)]


def _node(*args):
    return [{"args": list(args), "kwargs": {}}]


def _tensor(layer):
    return ["__keras_tensor__", layer, 0, 0]


def _functional_operations():
    """x[:, -1], x[..., ::-1, None], 2.0 * x, -(a / b), sigmoid, maximum, x > 0.5, clip, where, x ** 2, mean and
    concatenate as Keras' operation nodes, into a Dense."""
    def operation(class_name, name, *args):
        return {"module": "keras.src.ops.numpy", "class_name": class_name, "config": {"name": name},
                "registered_name": class_name, "name": name, "inbound_nodes": _node(*args)}

    every = {"class_name": "__slice__", "config": {"start": None, "stop": None, "step": -1}}
    layers = [
        {**_layer("InputLayer", batch_shape=[None, 4, 3], name="x"), "name": "x", "inbound_nodes": []},
        operation("GetItem", "last", _tensor("x"), [{"class_name": "__slice__", "config": {}}, -1]),
        operation("GetItem", "reversed", _tensor("x"), [{"class_name": "__ellipsis__", "config": {}}, every, None]),
        operation("Multiply", "twice", 2.0, _tensor("last")),
        operation("TrueDivide", "ratio", _tensor("twice"), _tensor("last")),
        operation("Negative", "negated", _tensor("ratio")),
        {**operation("Sigmoid", "squashed", _tensor("negated")), "module": "keras.src.ops.nn"},
        operation("Maximum", "larger", _tensor("squashed"), 0.25),
        operation("Greater", "positive", _tensor("larger"), 0.5),
        {**operation("Clip", "clipped", _tensor("ratio")), "config": {"name": "clipped", "x_min": -1.0, "x_max": 1.0}},
        operation("Where", "chosen", _tensor("positive"), _tensor("larger"), _tensor("clipped")),
        operation("Power", "raised", _tensor("chosen"), 2.0),
        {**operation("Mean", "mean", _tensor("x")), "config": {"name": "mean", "axis": [1], "keepdims": False}},
        {**operation("Concatenate", "joined", [_tensor("raised"), _tensor("mean")]),
         "config": {"name": "joined", "axis": -1}},
        {**_layer("Dense", name="d", units=2), "name": "d", "inbound_nodes": _node(_tensor("joined"))},
    ]
    return {"module": "keras.src.models.functional", "class_name": "Functional", "registered_name": "Functional",
            "config": {"name": "f", "layers": layers, "input_layers": [["x", 0, 0]], "output_layers": [["d", 0, 0]]}}


def main(directory):
    write_model_file = load_writer()
    out = pathlib.Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    for name, tensors, fields in seeds():
        with open(out / f"{name}.rnnkit", "wb") as stream:
            write_model_file(stream, tensors, **fields)
    rng = np.random.default_rng(1)
    for name, config, shapes in model_seeds():
        weights = {f"weights/{i:04d}/w": rng.standard_normal(shape) * 0.5 for i, shape in enumerate(shapes)}
        with open(out / f"{name}.rnnkit", "wb") as stream:
            write_model_file(stream, weights, model_config=config, weights=list(weights))


if __name__ == "__main__":
    main(sys.argv[1])
