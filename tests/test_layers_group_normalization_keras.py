"""Oracle: GroupNormalization against Keras 3's (torch backend), same weights: outputs (1e-5 of the largest),
torch-autograd gradients of the input, gamma and beta (1e-4), config."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

from rnnkit import layers  # noqa: E402
from reference.layer_checks import assert_layer_matches_keras  # noqa: E402

pytestmark = pytest.mark.oracle


@pytest.mark.parametrize("shape, options", [((3, 5, 8), {"groups": 4}), ((2, 4, 3, 6), {"groups": 3}),
                                            ((2, 6, 7), {"groups": -1, "axis": 1}),
                                            ((3, 4, 6), {"groups": 2, "center": False, "epsilon": 1e-5})])
def test_matches_keras(shape, options):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(np.float32)
    assert_layer_matches_keras(keras.layers.GroupNormalization(**options), layers.GroupNormalization(**options), x,
                               rng, torch)
