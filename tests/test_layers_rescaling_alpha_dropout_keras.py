"""Oracle: Rescaling and AlphaDropout against Keras 3's (torch backend). Rescaling: outputs (1e-5 of the largest),
torch-autograd input gradients (1e-5), configs, .keras files both ways. AlphaDropout draws from another generator,
so the comparison is of what a draw does: the kept inputs' affine map a * x + b, the dropped inputs' one value and the
input gradient a (1e-5 relative), the dropped fraction (1e-2 over 10^5 draws), the identity at inference, configs."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

import rnnkit  # noqa: E402
from rnnkit import layers  # noqa: E402
from reference.layer_checks import assert_layer_matches_keras, relative_error  # noqa: E402

pytestmark = pytest.mark.oracle


@pytest.mark.parametrize("scale, offset", [(1 / 255, 0.0), (0.5, -1), ([0.5, 2.0, -1.0], [1.0, 0.0, 0.25]),
                                           (np.array([[2.0], [0.5], [1.0], [3.0]], np.float32), 0.5)])
def test_rescaling_matches_keras(scale, offset):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((2, 4, 3)) * 40).astype(np.float32)
    assert_layer_matches_keras(keras.layers.Rescaling(scale, offset), layers.Rescaling(scale, offset), x, rng, torch,
                               gradient_tolerance=1e-5)


def test_rescaling_configs_and_files_both_ways(tmp_path):
    x = np.random.default_rng(1).integers(0, 255, (3, 5, 3)).astype(np.float32)
    theirs = keras.Sequential([keras.Input((5, 3)), keras.layers.Rescaling(np.array([1, 2, 3], np.float32) / 255, -1),
                               keras.layers.Dense(2)])
    theirs.save(tmp_path / "keras.keras")
    ours = rnnkit.saving.load_model(tmp_path / "keras.keras")
    expected = theirs.predict(x, verbose=0)
    assert relative_error(ours.predict(x, verbose=0), expected) < 1e-5
    assert ours.layers[0].get_config()["scale"] == theirs.layers[0].get_config()["scale"]
    ours.save(tmp_path / "rnnkit.keras")
    back = keras.models.load_model(tmp_path / "rnnkit.keras")
    assert relative_error(back.predict(x, verbose=0), expected) < 1e-5


def what_a_draw_does(y, x, d_x):
    """(a, b, dropped value, dropped fraction, input gradient of the kept) of one AlphaDropout training call."""
    y, x, d_x = (np.asarray(v, np.float64).ravel() for v in (y, x, d_x))
    values, counts = np.unique(y, return_counts=True)
    dropped = y == values[counts.argmax()]
    a, b = np.polyfit(x[~dropped], y[~dropped], 1)
    return np.array([a, b, values[counts.argmax()], dropped.mean(), d_x[~dropped].mean()]), d_x[dropped]


@pytest.mark.parametrize("rate", [0.1, 0.4])
def test_alpha_dropout_does_what_keras_does(rate):
    x = np.random.default_rng(2).standard_normal((100, 1000)).astype(np.float32)
    x_t = torch.tensor(x, requires_grad=True)
    y_t = keras.layers.AlphaDropout(rate, seed=1)(x_t, training=True)
    y_t.sum().backward()
    theirs, their_dropped_gradient = what_a_draw_does(y_t.detach().numpy(), x, x_t.grad.numpy())
    layer = layers.AlphaDropout(rate, seed=1)
    y, ctx = layer.forward(x, training=True)
    mine, my_dropped_gradient = what_a_draw_does(y, x, layer.backward(ctx, np.ones_like(y))[0])
    assert np.all(np.abs(mine[[0, 1, 2, 4]] - theirs[[0, 1, 2, 4]]) < 1e-5 * np.abs(theirs[[0, 1, 2, 4]]))
    assert abs(mine[3] - rate) < 1e-2 and abs(theirs[3] - rate) < 1e-2
    assert not their_dropped_gradient.any() and not my_dropped_gradient.any()
    np.testing.assert_array_equal(layer(x), keras.layers.AlphaDropout(rate)(x).numpy())


def test_alpha_dropout_config_matches_keras():
    theirs = keras.layers.AlphaDropout(0.3, noise_shape=(None, 1, 4), seed=5).get_config()
    mine = layers.AlphaDropout(0.3, noise_shape=(None, 1, 4), seed=5).get_config()
    assert {key: mine[key] for key in theirs if key not in ("dtype", "name")} == \
        {key: value for key, value in theirs.items() if key not in ("dtype", "name")}
