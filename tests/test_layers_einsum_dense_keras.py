"""Oracle: EinsumDense against Keras 3's (torch backend) with the same weights: outputs, torch-autograd gradients of
the input, kernel and bias, config keys, weight names, paths and shapes, and Keras-written .weights.h5 and .keras
files loaded by rnnkit (and rnnkit's .weights.h5 by Keras).

Tolerances: float32 on both sides, 1e-5 of the largest entry for outputs and gradients."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

import rnnkit  # noqa: E402
from rnnkit import layers  # noqa: E402
from reference.layer_checks import assert_layer_matches_keras  # noqa: E402

pytestmark = pytest.mark.oracle

# (equation, output_shape, options, input shape)
CASES = [
    ("ab,bc->ac", 6, {"bias_axes": "c"}, (4, 5)),
    ("...b,bc->...c", 6, {"bias_axes": "c", "activation": "tanh"}, (2, 3, 4, 5)),
    ("abc,cd->abd", (None, 6), {"bias_axes": "d", "activation": "gelu"}, (2, 3, 5)),
    ("abc,cde->abde", (None, 2, 3), {"bias_axes": "de"}, (2, 3, 5)),
    ("abcd,cde->abe", (None, 4), {"bias_axes": "e", "activation": "relu"}, (2, 3, 4, 5)),
    ("btd,ndh->btnh", (None, 2, 3), {"bias_axes": "nh"}, (2, 4, 5)),
    ("bquh,uhm->bqm", (None, 6), {"bias_axes": "m"}, (2, 3, 4, 5)),
    ("ab...,bc->ac...", 6, {"bias_axes": "c"}, (2, 5, 3, 4)),
    ("abc,bcd->abd", (3, 6), {"bias_axes": "bd"}, (2, 3, 5)),
    ("abc,cd->adb", (6, None), {"bias_axes": "d", "activation": "sigmoid"}, (2, 3, 5)),
    ("abc,cd->abd", (3, 6), {"bias_axes": "b"}, (2, 3, 5)),
    ("abc,cd->ad", 6, {}, (2, 3, 5)),
]


@pytest.mark.parametrize("equation, output_shape, options, input_shape", CASES, ids=[case[0] for case in CASES])
def test_outputs_gradients_config_and_weights_match_keras(equation, output_shape, options, input_shape):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(input_shape).astype(np.float32)
    theirs = keras.layers.EinsumDense(equation, output_shape, **options)
    ours = layers.EinsumDense(equation, output_shape, **options)
    assert_layer_matches_keras(theirs, ours, x, rng, torch, forward_tolerance=1e-5, gradient_tolerance=1e-5)
    assert [(w.name, tuple(w.shape)) for w in ours.weights] == [(w.name, tuple(w.shape)) for w in theirs.weights]
    assert [w.path.replace(ours.name, "") for w in ours.weights] == \
        [w.path.replace(theirs.name, "") for w in theirs.weights]
    assert sorted(ours.get_config()) == sorted(theirs.get_config())


def model(lib):
    inputs = lib.Input((4, 5))
    y = lib.layers.EinsumDense("btd,ndh->btnh", (4, 2, 3), bias_axes="nh", activation="tanh", name="heads")(inputs)
    y = lib.layers.EinsumDense("...nh,nhm->...m", 3, bias_axes="m", name="merge")(y)
    return lib.Model(inputs, lib.layers.Dense(2, name="out")(lib.layers.Flatten()(y)))


def test_weights_files_and_archives_go_both_ways(tmp_path):
    x = np.random.default_rng(6).standard_normal((3, 4, 5)).astype(np.float32)
    theirs, ours = model(keras), model(rnnkit)
    rng = np.random.default_rng(7)
    theirs.set_weights([0.5 * rng.standard_normal(w.shape).astype(np.float32) for w in theirs.weights])
    assert [w.path for w in ours.weights] == [w.path for w in theirs.weights]
    expected = keras.ops.convert_to_numpy(theirs.predict(x, verbose=0))
    theirs.save_weights(tmp_path / "keras.weights.h5")
    ours.load_weights(tmp_path / "keras.weights.h5")
    np.testing.assert_allclose(ours.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    theirs.save(tmp_path / "keras.keras")
    loaded = rnnkit.models.load_model(tmp_path / "keras.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    ours.set_weights([w * 0.5 for w in ours.get_weights()])
    ours.save_weights(tmp_path / "rnnkit.weights.h5")
    theirs.load_weights(tmp_path / "rnnkit.weights.h5")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(theirs.predict(x, verbose=0)), ours.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    ours.save(tmp_path / "rnnkit.keras")
    keras_loaded = keras.saving.load_model(tmp_path / "rnnkit.keras")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras_loaded.predict(x, verbose=0)),
                               ours.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_refusals_and_keras_argument_order():
    with pytest.raises(ValueError, match="Invalid einsum equation"):
        keras.layers.EinsumDense("ab,bc", 4).build((2, 3))
    with pytest.raises(ValueError, match="invalid einsum equation"):
        layers.EinsumDense("ab,bc", 4)
    positional = ("ab,bc->ac", 4, "relu", "c", "ones", "zeros")
    assert layers.EinsumDense(*positional).get_config()["bias_axes"] == \
        keras.layers.EinsumDense(*positional).get_config()["bias_axes"] == "c"
