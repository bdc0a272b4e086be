"""Oracle: Conv1DTranspose against Keras 3's (torch backend), same weights, over a grid of kernel sizes, strides,
padding, output_padding and dilation: outputs (1e-5 of the largest), torch-autograd gradients of the input, kernel and
bias (1e-5), output shapes, configs, weight paths and shapes, and a Keras-saved .keras model loaded by rnnkit
(predictions within 1e-5 of the largest)."""
import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

import rnnkit  # noqa: E402
from rnnkit import layers  # noqa: E402
from reference.layer_checks import assert_layer_matches_keras  # noqa: E402

pytestmark = pytest.mark.oracle


def grid():
    """Every (kernel_size, strides, padding, output_padding, dilation_rate) Keras accepts from small values:
    output_padding below strides, strides and dilation not both above 1."""
    for size, stride, dilation, padding in itertools.product((1, 2, 3, 4), (1, 2, 3), (1, 2), ("valid", "same")):
        if stride > 1 and dilation > 1:
            continue
        for output_padding in (None, *range(stride)):
            yield size, stride, padding, output_padding, dilation


CASES = list(grid())


@pytest.mark.parametrize("size, stride, padding, output_padding, dilation", CASES)
def test_matches_keras(size, stride, padding, output_padding, dilation):
    rng = np.random.default_rng(size * 100 + stride * 10 + dilation)
    options = {"strides": stride, "padding": padding, "output_padding": output_padding, "dilation_rate": dilation,
               "name": "transpose"}  # auto-names count each library's earlier layers
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    theirs, ours = keras.layers.Conv1DTranspose(3, size, **options), layers.Conv1DTranspose(3, size, **options)
    assert_layer_matches_keras(theirs, ours, x, rng, torch, gradient_tolerance=1e-5)
    assert ours.compute_output_shape(x.shape) == tuple(theirs.compute_output_shape(x.shape))
    assert [(v.path, tuple(v.shape)) for v in ours.weights] == [(v.path, tuple(v.shape)) for v in theirs.weights]


@pytest.mark.parametrize("options", [{"data_format": "channels_first", "activation": "relu", "strides": 2},
                                     {"use_bias": False, "padding": "same", "activation": "tanh"},
                                     {"kernel_regularizer": "l2", "bias_constraint": "non_neg"}])
def test_options_match_keras(options):
    rng = np.random.default_rng(9)
    shape = (2, 4, 6) if options.get("data_format") == "channels_first" else (2, 6, 4)
    x = rng.standard_normal(shape).astype(np.float32)
    theirs, ours = keras.layers.Convolution1DTranspose(5, 3, **options), layers.Convolution1DTranspose(5, 3, **options)
    assert_layer_matches_keras(theirs, ours, x, rng, torch, gradient_tolerance=1e-5)


def test_keras_saved_model_loads_and_predicts_as_keras(tmp_path):
    inputs = keras.Input((7, 3))
    hidden = keras.layers.Conv1DTranspose(4, 3, strides=2, padding="same", activation="relu")(inputs)
    hidden = keras.layers.Conv1DTranspose(2, 4, strides=3, output_padding=1, name="upsample")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(hidden)))
    model.save(tmp_path / "transpose.keras")
    x = np.random.default_rng(7).standard_normal((5, 7, 3)).astype(np.float32)
    loaded = rnnkit.saving.load_model(tmp_path / "transpose.keras")
    expected = model.predict(x, verbose=0)
    assert np.abs(loaded.predict(x, verbose=0) - expected).max() < 1e-5 * np.abs(expected).max()
    assert loaded.get_layer("upsample").get_config()["output_padding"] == (1,)
