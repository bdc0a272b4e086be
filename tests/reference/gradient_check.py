"""Finite-difference checks of a layer's backward against its own forward.

The scalar checked is sum(output * projection) over every output, with fixed random float64 projections, so
every output element contributes. Central differences on float32 parameters, evaluated in float64.
"""
import numpy as np


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def projected_loss(outputs, projections):
    return sum(float((np.asarray(o, np.float64) * p).sum()) for o, p in zip(_as_list(outputs), projections))


def numeric_gradient(loss, array, eps, where=None):
    """d loss / d array by central differences at the entries ``where`` selects (default all; others NaN).

    ``array`` is perturbed in place and restored.
    """
    gradient = np.full(array.shape, np.nan)
    flat, flat_gradient = array.reshape(-1), gradient.reshape(-1)
    selected = np.ones(flat.size, bool) if where is None else np.broadcast_to(where, array.shape).reshape(-1)
    for i in np.flatnonzero(selected):
        original = flat[i]
        flat[i] = original + eps
        plus = loss()
        flat[i] = original - eps
        minus = loss()
        flat[i] = original
        flat_gradient[i] = (plus - minus) / (2 * eps)
    return gradient


def reference_gradients(reference, arrays, projection, eps=1e-6):
    """d sum(projection * reference(*arrays)) / d each array, by central differences of a float64 reference
    function (the arrays are copied to float64 first)."""
    arrays = [np.array(a, np.float64) for a in arrays]

    def loss():
        return float(np.sum(projection * reference(*arrays)))

    return [numeric_gradient(loss, array, eps) for array in arrays]


def check_layer_gradients(layer, inputs, mask=None, eps=1e-2, rtol=2e-2, atol=2e-3, seed=0, input_where=None):
    """Compare ``layer.backward`` with finite differences for every float input and every trainable weight.

    ``input_where`` (one boolean array per input, or None) limits the input check to entries where the layer is
    differentiable, e.g. the kept steps after Masking, whose masked steps jump when a feature moves.
    """
    rng = np.random.default_rng(seed)
    outputs, ctx = layer.forward(inputs, training=True, mask=mask)
    projections = [rng.standard_normal(np.shape(o)) for o in _as_list(outputs)]
    d_outputs = [p.astype(np.float32) for p in projections]
    d_inputs, d_weights = layer.backward(ctx, d_outputs if isinstance(outputs, (list, tuple)) else d_outputs[0])

    def loss():
        return projected_loss(layer.forward(inputs, training=True, mask=mask)[0], projections)

    wheres = _as_list(input_where) if input_where is not None else [None] * len(_as_list(inputs))
    for given, analytic, where in zip(_as_list(inputs), _as_list(d_inputs), wheres):
        if analytic is None:
            continue
        expected = numeric_gradient(loss, given, eps, where)
        selected = ~np.isnan(expected)
        np.testing.assert_allclose(np.asarray(analytic)[selected], expected[selected], rtol=rtol, atol=atol,
                                   err_msg="input gradient")
    assert len(d_weights) == len(layer.trainable_weights)
    for variable, analytic in zip(layer.trainable_weights, d_weights):
        expected = numeric_gradient(loss, variable.value, eps)
        np.testing.assert_allclose(analytic, expected, rtol=rtol, atol=atol, err_msg=f"gradient of {variable.path}")
