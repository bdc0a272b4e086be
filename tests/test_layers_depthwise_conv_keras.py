"""Oracle: DepthwiseConv1D and SeparableConv1D against Keras 3's (torch backend), same weights: outputs (1e-5 of the
largest), torch-autograd gradients of the input and every weight (1e-4), weight names and shapes, configs."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

from rnnkit import layers  # noqa: E402
from reference.layer_checks import assert_layer_matches_keras  # noqa: E402

pytestmark = pytest.mark.oracle

CASES = [("DepthwiseConv1D", (3,), {"depth_multiplier": 2}),
         ("DepthwiseConv1D", (2,), {"strides": 2, "padding": "same", "activation": "relu"}),
         ("DepthwiseConv1D", (3,), {"dilation_rate": 2, "padding": "same", "use_bias": False}),
         ("SeparableConv1D", (4, 3), {"depth_multiplier": 3, "activation": "tanh"}),
         ("SeparableConv1D", (2, 2), {"strides": 2, "padding": "same"}),
         ("SeparableConv1D", (3, 3), {"data_format": "channels_first", "use_bias": False})]


@pytest.mark.parametrize("name, args, options", CASES, ids=[f"{n}-{o}" for n, _, o in CASES])
def test_matches_keras(name, args, options):
    rng = np.random.default_rng(5)
    shape = (3, 4, 9) if options.get("data_format") == "channels_first" else (3, 9, 4)
    x = rng.standard_normal(shape).astype(np.float32)
    theirs, ours = getattr(keras.layers, name)(*args, **options), getattr(layers, name)(*args, **options)
    assert_layer_matches_keras(theirs, ours, x, rng, torch)
    assert [(v.name, tuple(v.shape)) for v in ours.weights] == [(v.name, tuple(v.shape)) for v in theirs.weights]
