"""Float64 numpy references of Keras 3's recurrent layers, written from the cell equations in docs/layers.md.

One step at a time in plain numpy: slow and obviously correct. Masked steps carry the state and the previous
output (zeros before the first kept step), as Keras 3's backend loop does; outputs stay in processing order.
"""
import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def simple_rnn_step(x_t, states, kernel, recurrent_kernel, bias, **_):
    (h,) = states
    h = np.tanh(x_t @ kernel + h @ recurrent_kernel + (0.0 if bias is None else bias))
    return h, [h]


def lstm_step(x_t, states, kernel, recurrent_kernel, bias, peephole=None, **_):
    h, c = states
    z = x_t @ kernel + h @ recurrent_kernel + (0.0 if bias is None else bias)
    z_i, z_f, z_c, z_o = np.split(z, 4, axis=-1)
    if peephole is not None:
        z_i = z_i + peephole[0] * c
        z_f = z_f + peephole[1] * c
    i, f = sigmoid(z_i), sigmoid(z_f)
    c = f * c + i * np.tanh(z_c)
    if peephole is not None:
        z_o = z_o + peephole[2] * c
    h = sigmoid(z_o) * np.tanh(c)
    return h, [h, c]


def gru_step(x_t, states, kernel, recurrent_kernel, bias, reset_after=True, **_):
    (h,) = states
    units = h.shape[-1]
    if reset_after:
        input_bias, recurrent_bias = (0.0, 0.0) if bias is None else (bias[0], bias[1])
        x_z, x_r, x_h = np.split(x_t @ kernel + input_bias, 3, axis=-1)
        r_z, r_r, r_h = np.split(h @ recurrent_kernel + recurrent_bias, 3, axis=-1)
        z, r = sigmoid(x_z + r_z), sigmoid(x_r + r_r)
        candidate = np.tanh(x_h + r * r_h)
    else:
        x_z, x_r, x_h = np.split(x_t @ kernel + (0.0 if bias is None else bias), 3, axis=-1)
        z = sigmoid(x_z + h @ recurrent_kernel[:, :units])
        r = sigmoid(x_r + h @ recurrent_kernel[:, units:2 * units])
        candidate = np.tanh(x_h + (r * h) @ recurrent_kernel[:, 2 * units:])
    h = z * h + (1.0 - z) * candidate
    return h, [h]


STEPS = {"simple_rnn": simple_rnn_step, "lstm": lstm_step, "gru": gru_step}


def run_rnn(cell, x, weights, initial_state=None, mask=None, go_backwards=False, **options):
    """(outputs (B, T, H) in processing order, last_output, final states) in float64."""
    x = np.asarray(x, np.float64)
    batch, steps, _ = x.shape
    units = weights["recurrent_kernel"].shape[0]
    weights = {k: None if v is None else np.asarray(v, np.float64) for k, v in weights.items()}
    state_count = 2 if cell == "lstm" else 1
    states = ([np.asarray(s, np.float64) for s in initial_state] if initial_state is not None
              else [np.zeros((batch, units)) for _ in range(state_count)])
    output = np.zeros((batch, units))
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    outputs = []
    for t in order:
        new_output, new_states = STEPS[cell](x[:, t], states, **weights, **options)
        keep = np.ones((batch, 1), bool) if mask is None else np.asarray(mask, bool)[:, t:t + 1]
        output = np.where(keep, new_output, output)
        states = [np.where(keep, new, old) for new, old in zip(new_states, states)]
        outputs.append(output)
    return np.stack(outputs, axis=1), output, states
