"""Oracle: GroupNormalization against Keras 3's (torch backend), same weights: outputs (1e-5 of the largest),
torch-autograd gradients of the input, gamma and beta (1e-4), config."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

from rnnkit import layers  # noqa: E402

pytestmark = pytest.mark.oracle


def relative_error(actual, expected):
    return np.abs(np.asarray(actual, np.float64) - expected).max() / max(np.abs(expected).max(), 1e-30)


@pytest.mark.parametrize("shape, options", [((3, 5, 8), {"groups": 4}), ((2, 4, 3, 6), {"groups": 3}),
                                            ((2, 6, 7), {"groups": -1, "axis": 1}),
                                            ((3, 4, 6), {"groups": 2, "center": False, "epsilon": 1e-5})])
def test_matches_keras(shape, options):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(np.float32)
    theirs, ours = keras.layers.GroupNormalization(**options), layers.GroupNormalization(**options)
    theirs.build(x.shape)
    ours.build(x.shape)
    weights = [rng.standard_normal(tuple(w.shape)).astype(np.float32) for w in theirs.weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    x_t = torch.tensor(x, requires_grad=True)
    y_t = theirs(x_t)
    d_y = rng.standard_normal(shape).astype(np.float32)
    (y_t * torch.tensor(d_y)).sum().backward()
    y, ctx = ours.forward(x, training=True)
    assert relative_error(y, y_t.detach().numpy()) < 1e-5
    d_x, d_weights = ours.backward(ctx, d_y)
    assert relative_error(d_x, x_t.grad.numpy()) < 1e-4
    for got, variable in zip(d_weights, theirs.trainable_weights):
        assert relative_error(got, variable.value.grad.numpy()) < 1e-4, variable.name
    mine, keras_config = ours.get_config(), theirs.get_config()
    for key in keras_config:
        if key not in ("dtype", "name"):
            assert mine[key] == keras_config[key], key
