"""Checks shared by the layer tests: a layer's forward and backward give the same arrays on 1 and 2 threads, and a
layer computes what Keras 3's (torch backend) computes for the same weights, gradients by torch's autograd."""
import numpy as np

import rnnkit


def assert_same_on_threads(layer, x, thread_counts=(1, 2)):
    """Forward, input gradient and weight gradients (d_y = y / 2 + 1) bit for bit equal on each thread count."""
    before, runs = rnnkit.get_num_threads(), []
    try:
        for threads in thread_counts:
            rnnkit.set_num_threads(threads)
            y, ctx = layer.forward(x, training=True)
            d_x, d_weights = layer.backward(ctx, y * np.float32(0.5) + np.float32(1))
            runs.append([y, d_x, *d_weights])
    finally:
        rnnkit.set_num_threads(before)
    for run in runs[1:]:
        for one, other in zip(runs[0], run):
            np.testing.assert_array_equal(one, other)


def relative_error(actual, expected):
    return np.abs(np.asarray(actual, np.float64) - expected).max() / max(np.abs(expected).max(), 1e-30)


def assert_layer_matches_keras(theirs, ours, x, rng, torch, forward_tolerance=1e-5, gradient_tolerance=1e-4):
    """Same random weights in both; outputs, the input's and every trainable weight's gradient (of sum(y * d_y) for a
    random d_y), and the config's Keras keys, as relative errors against the largest entry."""
    theirs.build(x.shape)
    ours.build(x.shape)
    weights = [(0.5 * rng.standard_normal(tuple(w.shape))).astype(np.float32) for w in theirs.weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    x_t = torch.tensor(x, requires_grad=True)
    y_t = theirs(x_t)
    d_y = rng.standard_normal(tuple(y_t.shape)).astype(np.float32)
    (y_t * torch.tensor(d_y)).sum().backward()
    y, ctx = ours.forward(x, training=True)
    assert relative_error(y, y_t.detach().numpy()) < forward_tolerance
    d_x, d_weights = ours.backward(ctx, d_y)
    assert relative_error(d_x, x_t.grad.numpy()) < gradient_tolerance
    for got, variable in zip(d_weights, theirs.trainable_weights):
        assert relative_error(got, variable.value.grad.numpy()) < gradient_tolerance, variable.name
    mine, keras_config = ours.get_config(), theirs.get_config()
    for key in keras_config:
        if key not in ("dtype", "name"):
            assert mine[key] == keras_config[key], key
