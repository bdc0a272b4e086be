"""Keras' custom recurrent cells: a Layer with ``state_size`` and ``call(inputs, states)`` written with rnnkit.ops
(Keras' MinimalRNNCell). The call is traced once into a graph (layers/tracing.py) that runs step by step here, and
backpropagation through time runs that graph's backward in reverse. This is the one recurrent loop outside the C++
core: a cell defined in Python runs Python at every step, as it does in Keras.

forward and backward mirror rnnkit.ops.rnn_forward / rnn_backward for RNN: outputs in processing order, the last
output, the final states, and a cache; the gradients of the input sequence, the initial states and the cell's
trainable weights.
"""
import types

import numpy as np

from rnnkit.engine import graph as engine
from rnnkit.layers.rnn.cells import _RecurrentCell
from rnnkit.layers.rnn.stacked_cells import StackedRNNCells
from rnnkit.layers.tracing import takes, trace


def is_python_cell(cell):
    return (not isinstance(cell, (_RecurrentCell, StackedRNNCells)) and hasattr(cell, "state_size")
            and callable(getattr(cell, "call", None)))


def state_sizes(cell):
    sizes = cell.state_size
    return [int(size) for size in sizes] if isinstance(sizes, (list, tuple)) else [int(sizes)]


def output_size(cell):
    size = getattr(cell, "output_size", None)
    return int(size) if size is not None else state_sizes(cell)[0]


def _step_graph(cell, input_size, training):
    """The graph of one step: inputs [x_t, *states], outputs [output, *new_states] (traced once per input size and
    mode, kept on the cell)."""
    graphs = cell.__dict__.get("_step_graphs")
    if graphs is None:
        cell._step_graphs = graphs = {}  # assigned, so the cell's Layer.__setattr__ sees a new container
    by_mode = takes(cell.call, "training")
    key = (input_size, bool(training) and by_mode)
    if key not in graphs:
        sizes = state_sizes(cell)

        def step(tensors, **kwargs):
            output, new_states = cell.call(tensors[0], list(tensors[1:]), **kwargs)
            new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
            if len(new_states) != len(sizes):
                raise ValueError(f"the cell's call returned {len(new_states)} state(s), its state_size names "
                                 f"{len(sizes)}")
            return [output, *new_states]

        shapes = [(None, input_size)] + [(None, size) for size in sizes]
        kwargs = {"training": bool(training)} if by_mode else {}
        graphs[key] = trace(step, shapes, ["float32"] * len(shapes), True, cell.name, **kwargs)
    return graphs[key]


def forward(cell, x, initial_state, mask, go_backwards, training, return_sequences):
    """mask (batch, steps) or None: at a masked step a row keeps its states and repeats its previous output (zeros
    before its first step), as Keras runs a masked step."""
    batch, steps, features = x.shape
    graph = _step_graph(cell, features, training)
    states = ([np.asarray(s, np.float32) for s in initial_state] if initial_state is not None
              else [np.zeros((batch, size), np.float32) for size in state_sizes(cell)])
    outputs, contexts, keeps = [], [], []
    output = np.zeros((batch, output_size(cell)), np.float32)
    for t in (range(steps - 1, -1, -1) if go_backwards else range(steps)):
        values, context = graph.forward([np.ascontiguousarray(x[:, t]), *states], training=training)
        new_output, new_states = np.asarray(values[0], np.float32), [np.asarray(v, np.float32) for v in values[1:]]
        keep = None if mask is None else mask[:, t, None]
        output = new_output if keep is None else np.where(keep, new_output, output)
        states = new_states if keep is None else [np.where(keep, new, old) for new, old in zip(new_states, states)]
        outputs.append(output)
        contexts.append(context)
        keeps.append(keep)
    cache = types.SimpleNamespace(graph=graph, contexts=contexts, keeps=keeps, steps=steps, go_backwards=go_backwards,
                                  weights=list(cell.trainable_weights)) if training else None
    sequence = np.stack(outputs, axis=1) if return_sequences else None
    return types.SimpleNamespace(outputs=sequence, last_output=outputs[-1], states=states, cache=cache)


def backward(cache, d_outputs=None, d_last_output=None, d_states=None, x_gradient=True):
    """Gradients {"x": (batch, steps, features) in the input's time order, "initial_state": [...], "weights": the
    cell's trainable weights' gradients in order}; d_outputs in processing order, as forward gives the outputs."""
    graph, contexts = cache.graph, cache.contexts
    carried = list(d_states) if d_states is not None else [None] * (len(graph.inputs) - 1)
    d_x, totals, d_repeated = [None] * cache.steps, {}, None
    for s in reversed(range(cache.steps)):
        d_output = _add(None if d_outputs is None else d_outputs[:, s], d_repeated)
        if s == cache.steps - 1:
            d_output = _add(d_output, d_last_output)
        keep = cache.keeps[s]
        if keep is not None:  # masked rows: their output is the previous one's, their states pass through
            d_repeated = None if d_output is None else d_output * ~keep
            passed = [None if d is None else d * ~keep for d in carried]
            d_output = None if d_output is None else d_output * keep
            carried = [None if d is None else d * keep for d in carried]
        grads, d_inputs = engine.run_backward(graph._nodes, contexts[s], graph.inputs, graph.outputs,
                                              [d_output, *carried])
        for key, value in grads.items():
            totals[key] = value if key not in totals else totals[key] + value
        t = cache.steps - 1 - s if cache.go_backwards else s
        d_x[t], carried = d_inputs[0], list(d_inputs[1:])
        if keep is not None:
            carried = [_add(d, p) for d, p in zip(carried, passed)]
    batch = next(d for d in d_x + carried if d is not None).shape[0]
    d_x = [np.zeros((batch, graph.inputs[0].shape[1]), np.float32) if d is None else d for d in d_x]
    states = [np.zeros((batch, tensor.shape[1]), np.float32) if d is None else d
              for d, tensor in zip(carried, graph.inputs[1:])]
    weights = [totals.get(id(variable)) for variable in cache.weights]
    return {"x": np.stack(d_x, axis=1) if x_gradient else None, "initial_state": states, "weights": weights}


def _add(a, b):
    return b if a is None else a if b is None else a + b
