"""Low-level ops on the C++ core: whole-sequence recurrent layers (forward + BPTT) and element-wise activations.

Shapes (B batch, T time, I input features, H units):
  x (B, T, I); kernel (I, G*H); recurrent_kernel (H, G*H) with G = 1 (simple_rnn), 3 (gru), 4 (lstm).
  Gate column order: lstm [i, f, c~, o]; gru [z, r, h~]. bias (G*H,), except gru with reset_after=True:
  (2, 3H) = input bias, recurrent bias. peephole (lstm only): (3, H), rows i, f, o (i, f see c_{t-1}; o sees c_t).
  mask (B, T) bool: a masked step carries the state and repeats the previous output (zeros before the first kept
  step). go_backwards processes the reversed sequence and returns outputs in processing order (Keras 3).
  input_dropout_mask (B, I) / recurrent_dropout_mask (B, H): already-scaled keep masks applied to x_t / h_{t-1}
  for every gate at every step.
Any float dtype/layout is accepted (converted once to float32 C-contiguous).
"""
from typing import NamedTuple

import numpy as np

from rnnkit import _core

CELLS = ("simple_rnn", "lstm", "gru")


class RnnResult(NamedTuple):
    outputs: object  # (B, T, H) float32, processing order; None with return_sequences=False
    last_output: object  # (B, H)
    states: list  # [h_T] or [h_T, c_T] (lstm)
    cache: object  # opaque training cache for rnn_backward, None when training=False


def rnn_forward(cell, x, kernel, recurrent_kernel, bias=None, *, peephole=None, initial_state=None, mask=None,
                go_backwards=False, activation="tanh", recurrent_activation="sigmoid", reset_after=True,
                input_dropout_mask=None, recurrent_dropout_mask=None, training=False, ids=None, input_table=None,
                return_sequences=True):
    """Runs `cell` over the whole sequence x (B, T, I). Returns RnnResult(outputs, last_output, states, cache).

    initial_state: None, [h0] or [h0, c0] (lstm), each (B, H). With training=True the result carries the cache
    rnn_backward consumes; at inference nothing is cached.
    x may instead be given as token ids (B, T) with input_table = embeddings @ kernel (rows, gates * H): step
    (b, t)'s input projection is then input_table[ids[b, t]] (x is None; no input dropout). Trained so, the
    backward gives the table's gradient instead of x's and the kernel's.
    return_sequences=False leaves outputs None (only last_output and the states are made).
    """
    states = list(initial_state) if initial_state is not None else []
    if len(states) > (2 if cell == "lstm" else 1):
        raise ValueError(f"rnn_forward: expected at most {2 if cell == 'lstm' else 1} initial states for cell "
                         f"'{cell}', received {len(states)}")
    h0 = states[0] if len(states) > 0 else None
    c0 = states[1] if len(states) > 1 else None
    outputs, last_output, final_states, cache = _core.rnn_forward(
        cell, x, kernel, recurrent_kernel, bias, peephole, h0, c0, mask, bool(go_backwards), activation,
        recurrent_activation, bool(reset_after), input_dropout_mask, recurrent_dropout_mask, bool(training), ids,
        input_table, bool(return_sequences))
    return RnnResult(outputs, last_output, list(final_states), cache)


def rnn_backward(cache, d_outputs=None, d_last_output=None, d_states=None, return_state_gradients=False,
                 x_gradient=True):
    """Backpropagation through time from a training cache.

    d_outputs (B, T, H) in processing order, d_last_output (B, H), d_states [dh_T] or [dh_T, dc_T] (entries may be
    None). Returns a dict: "x" (B, T, I), "kernel", "recurrent_kernel", "bias" (None without bias), "peephole"
    (lstm; None without peepholes), "initial_state" ([dh0] or [dh0, dc0]) and, when asked, "state_gradients"
    (B, T, H): dL/dh at each processing step, in output order. After a forward on ids, "x" and "kernel" are None
    and "input_table" (rows, gates * H) is dL/d(input_table): dL/dembeddings = that @ kernel.T, dL/dkernel =
    embeddings.T @ that. x_gradient=False leaves "x" None and skips its product (dG·W^T), for inputs nothing
    upstream trains.
    """
    if cache is None:
        raise ValueError("rnn_backward: expected the cache of rnn_forward(..., training=True), received None")
    d_states = list(d_states) if d_states is not None else []
    d_h = d_states[0] if len(d_states) > 0 else None
    d_c = d_states[1] if len(d_states) > 1 else None
    return _core.rnn_backward(cache, d_outputs, d_last_output, d_h, d_c, bool(return_state_gradients),
                              bool(x_gradient))


def activation(name, x):
    """Keras 3 activation by name (rnnkit.activations.NAMES) as float32; softmax normalises the last axis."""
    return _core.activation(name, x)


def activation_grad(name, y, dy, x=None):
    """dL/dx of activation `name` from its output y and dL/dy (float32), and its input x for the activations whose
    derivative is not a function of the output (``activation_needs_input``: gelu, silu, mish, ...)."""
    return _core.activation_grad(name, y, dy, x)


def activation_needs_input(name):
    """True when ``activation_grad`` needs the activation's input x."""
    return _core.activation_needs_input(name)

def convert_to_numpy(x):
    """Keras' convert_to_numpy: a numpy array of the value (a Variable's a copy of its current value)."""
    from rnnkit.layers.input_layer import KerasTensor
    from rnnkit.variables import Variable

    if isinstance(x, KerasTensor):
        raise TypeError(f"convert_to_numpy: a symbolic tensor has no value yet, received {x!r}")
    return x.numpy() if isinstance(x, Variable) else np.asarray(x)


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """Keras' convert_to_tensor: rnnkit's tensors are numpy arrays, here a copy as a Constant, which operations on
    symbolic tensors take as a constant operand (Python floats become float32, as in Keras). A symbolic tensor is
    returned as it is, and so is a Variable read inside a traced call() (a tensor of the trace, not its value)."""
    from rnnkit.layers.input_layer import KerasTensor
    from rnnkit.layers.operations_constants import constant
    from rnnkit.layers.tracing import operand

    if sparse or ragged:
        raise ValueError("convert_to_tensor: rnnkit has no sparse or ragged tensors")
    value = operand(x)
    if isinstance(value, KerasTensor):
        return value
    value = np.asarray(value)
    if dtype is None and value.dtype == np.float64 and not isinstance(x, np.ndarray):
        dtype = np.float32  # Python numbers and lists of them
    return constant(value, dtype)


# Attention lives beside its layers (rnnkit/layers/attention_ops.py); exported here under PyTorch's name.
from rnnkit.layers.attention_ops import (scaled_dot_product_attention,  # noqa: E402,F401
                                         scaled_dot_product_attention_backward)


# Keras 3's ops on tensors, for functional models (keras.ops.mean(x, axis=1) and the like).
from rnnkit.layers.operation_functions import *  # noqa: E402,F401,F403
