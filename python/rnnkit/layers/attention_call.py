"""Calling layers whose forward takes per-call options (use_causal_mask, return_attention_scores, start_index).

Eager calls pass the options straight to ``forward``; symbolic calls record them in the graph Node's
``call_kwargs`` so the engine replays them, and report one output shape per returned tensor.
"""
import numpy as np

from rnnkit.layers.layer import _is_symbolic, _shape_of


def call_with_options(layer, inputs, *, training, mask, options, output_shapes):
    """``output_shapes(input_shape)`` gives one shape, or a list of shapes for several outputs."""
    if _is_symbolic(inputs):
        return _call_symbolic(layer, inputs, options, output_shapes)
    if isinstance(inputs, (list, tuple)):
        inputs = [np.asarray(item) for item in inputs]
    else:
        inputs = np.asarray(inputs)
    if not layer.built:
        layer.build(_shape_of(inputs))
        layer.built = True
    outputs, _ = layer.forward(inputs, training=bool(training), mask=mask, **options)
    return outputs


def _call_symbolic(layer, inputs, options, output_shapes):
    from rnnkit.layers.input_layer import KerasTensor, Node

    input_shape = _shape_of(inputs)
    if not layer.built:
        layer.build(input_shape)
        layer.built = True
    shape = output_shapes(input_shape)
    several = isinstance(shape, list)
    items = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    has_mask = any(tensor.has_mask for tensor in items)
    outputs = [KerasTensor(s, name=layer.name, index=i, has_mask=has_mask)
               for i, s in enumerate(shape if several else [shape])]
    node = Node(layer, list(inputs) if isinstance(inputs, (list, tuple)) else inputs,
                outputs if several else outputs[0], call_kwargs=options)
    for tensor in outputs:
        tensor.node = node
    return outputs if several else outputs[0]


def non_default(options, defaults):
    """The options that differ from their defaults: what a graph node has to remember."""
    return {key: value for key, value in options.items() if value is not defaults[key] and
            (isinstance(value, np.ndarray) or value != defaults[key])}
