"""Oracle: AdaptiveAveragePooling1D and AdaptiveMaxPooling1D against Keras 3's (torch backend): outputs (1e-5 of the
largest), torch-autograd input gradients (1e-5), configs, and a Keras-saved .keras model loaded by rnnkit (1e-5)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

import rnnkit  # noqa: E402
from rnnkit import layers  # noqa: E402
from reference.layer_checks import assert_layer_matches_keras  # noqa: E402

pytestmark = pytest.mark.oracle


@pytest.mark.parametrize("name", ["AdaptiveAveragePooling1D", "AdaptiveMaxPooling1D"])
@pytest.mark.parametrize("steps, output_size, data_format", [(12, 4, None), (10, 3, "channels_last"),
                                                             (5, 8, None), (9, 1, None), (11, (4,), "channels_first")])
def test_matches_keras(name, steps, output_size, data_format):
    rng = np.random.default_rng(6)
    shape = (3, 6, steps) if data_format == "channels_first" else (3, steps, 6)
    x = rng.standard_normal(shape).astype(np.float32)
    theirs = getattr(keras.layers, name)(output_size, data_format=data_format)
    ours = getattr(layers, name)(output_size, data_format=data_format)
    assert_layer_matches_keras(theirs, ours, x, rng, torch, gradient_tolerance=1e-5)
    assert ours.compute_output_shape(x.shape) == tuple(theirs.compute_output_shape(x.shape))


def test_keras_saved_model_loads_and_predicts_as_keras(tmp_path):
    inputs = keras.Input((13, 3))
    hidden = keras.layers.AdaptiveMaxPooling1D(6)(keras.layers.Conv1D(4, 3)(inputs))
    outputs = keras.layers.Dense(2)(keras.layers.Flatten()(keras.layers.AdaptiveAveragePooling1D(4)(hidden)))
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "adaptive.keras")
    x = np.random.default_rng(7).standard_normal((5, 13, 3)).astype(np.float32)
    loaded = rnnkit.saving.load_model(tmp_path / "adaptive.keras")
    expected = model.predict(x, verbose=0)
    assert np.abs(loaded.predict(x, verbose=0) - expected).max() < 1e-5 * np.abs(expected).max()
