"""Float64 numpy reference of rnnkit.ops.rnn_forward, written from the cell equations (Keras 3 semantics).

One step at a time, obviously correct and slow. Gradients come from float64 central differences of this forward
(`numeric_gradients`), so the reference backward shares no code or algebra with the C++ BPTT.
"""
import numpy as np

from .gradient_check import numeric_gradient

SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946  # Klambauer et al.
ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": lambda x: 0.5 * (1.0 + np.tanh(0.5 * x)),  # overflow-free form of 1/(1+e^-x)
    "hard_sigmoid": lambda x: np.clip((x + 3.0) / 6.0, 0.0, 1.0),
    "relu": lambda x: np.maximum(x, 0.0),
    "linear": lambda x: x,
    "elu": lambda x: np.where(x > 0.0, x, np.expm1(np.minimum(x, 0.0))),
    "selu": lambda x: SELU_SCALE * np.where(x > 0.0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0.0))),
    "softplus": lambda x: np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0.0),  # log(1 + e^x) without overflow
    "softsign": lambda x: x / (1.0 + np.abs(x)),
    "exponential": np.exp,
}
GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}


def _step(cell, x_t, h, h_eff, c, w, act, rec_act, reset_after):
    """One step: h_eff (h times the recurrent dropout mask) enters every product with the recurrent kernel; the raw
    h enters only GRU's interpolation z*h + (1-z)*h~."""
    kernel, recurrent, bias, peephole = w["kernel"], w["recurrent_kernel"], w.get("bias"), w.get("peephole")
    units = h.shape[-1]
    if cell == "simple_rnn":
        return act(x_t @ kernel + h_eff @ recurrent + (0.0 if bias is None else bias)), c
    if cell == "lstm":
        pre = x_t @ kernel + h_eff @ recurrent + (0.0 if bias is None else bias)
        p_i, p_f, p_o = (0.0, 0.0, 0.0) if peephole is None else peephole
        i = rec_act(pre[:, :units] + p_i * c)
        f = rec_act(pre[:, units:2 * units] + p_f * c)
        c_new = f * c + i * act(pre[:, 2 * units:3 * units])
        o = rec_act(pre[:, 3 * units:] + p_o * c_new)
        return o * act(c_new), c_new
    if reset_after:
        b_in, b_rec = (0.0, 0.0) if bias is None else (bias[0], bias[1])
        xp = x_t @ kernel + b_in
        hp = h_eff @ recurrent + b_rec
        z = rec_act(xp[:, :units] + hp[:, :units])
        r = rec_act(xp[:, units:2 * units] + hp[:, units:2 * units])
        candidate = act(xp[:, 2 * units:] + r * hp[:, 2 * units:])
    else:
        xp = x_t @ kernel + (0.0 if bias is None else bias)
        z = rec_act(xp[:, :units] + h_eff @ recurrent[:, :units])
        r = rec_act(xp[:, units:2 * units] + h_eff @ recurrent[:, units:2 * units])
        candidate = act(xp[:, 2 * units:] + (r * h_eff) @ recurrent[:, 2 * units:])
    return z * h + (1.0 - z) * candidate, c


def forward(cell, x, weights, initial_state=None, mask=None, go_backwards=False, activation="tanh",
            recurrent_activation="sigmoid", reset_after=True, input_dropout_mask=None, recurrent_dropout_mask=None,
            state_offset=None):
    """Returns (outputs (B,T,H) in processing order, last_output (B,H), [h_T] or [h_T, c_T]) in float64.

    weights: dict kernel, recurrent_kernel, bias (or None), peephole (lstm, or None).
    state_offset (B,T,H), in processing order, is added to each step's new h: differentiating with respect to it
    gives dL/dh_t at the kept steps (the state gradients rnn_backward returns).
    """
    w = {k: None if v is None else np.asarray(v, np.float64) for k, v in weights.items()}
    x = np.asarray(x, np.float64)
    batch, steps, _ = x.shape
    units = w["recurrent_kernel"].shape[0]
    act, rec_act = ACTIVATIONS[activation], ACTIVATIONS[recurrent_activation]
    states = [np.zeros((batch, units)), np.zeros((batch, units))]
    for k, s in enumerate(initial_state or []):
        states[k] = np.asarray(s, np.float64)
    h, c = states
    in_drop = 1.0 if input_dropout_mask is None else np.asarray(input_dropout_mask, np.float64)
    rec_drop = 1.0 if recurrent_dropout_mask is None else np.asarray(recurrent_dropout_mask, np.float64)
    output = np.zeros((batch, units))
    outputs = []
    for s, t in enumerate(range(steps - 1, -1, -1) if go_backwards else range(steps)):
        h_new, c_new = _step(cell, x[:, t] * in_drop, h, h * rec_drop, c, w, act, rec_act, reset_after)
        if state_offset is not None:
            h_new = h_new + state_offset[:, s]
        keep = np.ones((batch, 1), bool) if mask is None else np.asarray(mask, bool)[:, t:t + 1]
        h, c = np.where(keep, h_new, h), np.where(keep, c_new, c)
        output = np.where(keep, h_new, output)
        outputs.append(output)
    final = [h, c] if cell == "lstm" else [h]
    return np.stack(outputs, axis=1), output, final


def numeric_gradients(loss, arrays, eps=1e-6):
    """Central differences of the float64 scalar loss() w.r.t. every entry of each float64 array (in place)."""
    return [numeric_gradient(loss, array, eps) for array in arrays]


def relative_error(actual, expected):
    """max |actual - expected| / max(max |expected|, 1e-3): relative to the array's scale, robust near zeros."""
    expected = np.asarray(expected, np.float64)
    return float(np.max(np.abs(np.asarray(actual, np.float64) - expected)) / max(np.max(np.abs(expected)), 1e-3))
