"""Oracle: rnnkit.ops.rnn_forward / rnn_backward against Keras 3 recurrent layers (torch backend), same weights.

Agreement: max |rnnkit - keras| / max |keras| per array, 1e-5 forward (float32 on both sides, so a little above
rounding) and 1e-4 for gradients (Keras' by torch autograd).
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 on the torch backend (pip install keras)")

from rnnkit import ops  # noqa: E402
from tests.reference.rnn_cells import relative_error  # noqa: E402

pytestmark = pytest.mark.oracle

B, T, I, H = 3, 5, 4, 6
MASK = np.array([[1, 1, 0, 1, 1], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], bool)  # gap, full row, fully masked row
KERAS_LAYERS = {"simple_rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}

CASES = [
    ("simple_rnn", {}),
    ("simple_rnn", {"activation": "relu", "use_bias": False}),
    ("lstm", {}),
    ("lstm", {"activation": "hard_sigmoid", "recurrent_activation": "tanh"}),
    ("gru", {"reset_after": True}),
    ("gru", {"reset_after": False}),
    ("gru", {"reset_after": False, "use_bias": False, "recurrent_activation": "hard_sigmoid"}),
    ("simple_rnn", {"activation": "softsign"}),
    ("lstm", {"activation": "elu", "recurrent_activation": "softplus"}),
    ("gru", {"reset_after": True, "activation": "selu", "recurrent_activation": "softsign"}),
]


@pytest.mark.parametrize("cell,options", CASES, ids=[f"{c}-{o}" for c, o in CASES])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_forward_and_gradients_match_keras(cell, options, go_backwards, masked):
    rng = np.random.default_rng(7)
    layer = getattr(keras.layers, KERAS_LAYERS[cell])(H, return_sequences=True, return_state=True,
                                                     go_backwards=go_backwards, **options)
    layer.build((B, T, I))
    layer.set_weights([(0.5 * rng.standard_normal(w.shape)).astype(np.float32) for w in layer.weights])
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    initial = [rng.standard_normal((B, H)).astype(np.float32) for _ in range(2 if cell == "lstm" else 1)]
    mask = MASK if masked else None

    x_t = torch.tensor(x, requires_grad=True)
    init_t = [torch.tensor(s, requires_grad=True) for s in initial]
    keras_out = layer(x_t, initial_state=init_t, mask=None if mask is None else torch.tensor(mask))
    d_outputs = rng.standard_normal((B, T, H)).astype(np.float32)
    d_states = [rng.standard_normal((B, H)).astype(np.float32) for _ in initial]
    loss = (keras_out[0] * torch.tensor(d_outputs)).sum() + sum(
        (s * torch.tensor(d)).sum() for s, d in zip(keras_out[1:], d_states))
    loss.backward()

    weights = dict(zip(["kernel", "recurrent_kernel", "bias"], layer.get_weights()))
    keyword = {k: v for k, v in options.items() if k in ("activation", "recurrent_activation", "reset_after")}
    result = ops.rnn_forward(cell, x, weights["kernel"], weights["recurrent_kernel"], weights.get("bias"),
                             initial_state=initial, mask=mask, go_backwards=go_backwards, training=True, **keyword)
    assert relative_error(result.outputs, keras_out[0].detach().numpy()) < 1e-5
    for ours, theirs in zip(result.states, keras_out[1:]):
        assert relative_error(ours, theirs.detach().numpy()) < 1e-5

    grads = ops.rnn_backward(result.cache, d_outputs=d_outputs, d_states=d_states)
    assert relative_error(grads["x"], x_t.grad.numpy()) < 1e-4
    for k, s in enumerate(init_t):
        assert relative_error(grads["initial_state"][k], s.grad.numpy()) < 1e-4
    for name, variable in zip(["kernel", "recurrent_kernel", "bias"], layer.trainable_weights):
        assert relative_error(grads[name], variable.value.grad.numpy()) < 1e-4, name
