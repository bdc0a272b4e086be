"""Oracle: DepthwiseConv1D and SeparableConv1D against Keras 3's (torch backend), same weights: outputs (1e-5 of the
largest), torch-autograd gradients of the input and every weight (1e-4), weight names and shapes, configs."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

from rnnkit import layers  # noqa: E402

pytestmark = pytest.mark.oracle

CASES = [("DepthwiseConv1D", (3,), {"depth_multiplier": 2}),
         ("DepthwiseConv1D", (2,), {"strides": 2, "padding": "same", "activation": "relu"}),
         ("DepthwiseConv1D", (3,), {"dilation_rate": 2, "padding": "same", "use_bias": False}),
         ("SeparableConv1D", (4, 3), {"depth_multiplier": 3, "activation": "tanh"}),
         ("SeparableConv1D", (2, 2), {"strides": 2, "padding": "same"}),
         ("SeparableConv1D", (3, 3), {"data_format": "channels_first", "use_bias": False})]


def relative_error(actual, expected):
    return np.abs(np.asarray(actual, np.float64) - expected).max() / max(np.abs(expected).max(), 1e-30)


@pytest.mark.parametrize("name, args, options", CASES, ids=[f"{n}-{o}" for n, _, o in CASES])
def test_matches_keras(name, args, options):
    rng = np.random.default_rng(5)
    shape = (3, 4, 9) if options.get("data_format") == "channels_first" else (3, 9, 4)
    x = rng.standard_normal(shape).astype(np.float32)
    theirs, ours = getattr(keras.layers, name)(*args, **options), getattr(layers, name)(*args, **options)
    theirs.build(x.shape)
    ours.build(x.shape)
    assert [(v.name, tuple(v.shape)) for v in ours.weights] == [(v.name, tuple(v.shape)) for v in theirs.weights]
    weights = [(0.5 * rng.standard_normal(tuple(w.shape))).astype(np.float32) for w in theirs.weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    x_t = torch.tensor(x, requires_grad=True)
    y_t = theirs(x_t)
    d_y = rng.standard_normal(tuple(y_t.shape)).astype(np.float32)
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
