"""Python functions of symbolic tensors traced into graphs of operations: Lambda layers, and custom layers that
define Keras' call() instead of rnnkit's forward/backward.

The function runs once on placeholder inputs; every rnnkit.ops function and tensor operator it applies adds an
operation node, and the resulting Functional graph then computes forward and backward passes. Weights the function
reads (a custom layer's Variables) enter the graph through a WeightRead node each, whose backward hands the
Variable its gradient.
"""
import inspect
import threading

from rnnkit.layers.layer import Layer
from rnnkit.variables import Variable

_recording = threading.local()  # per thread (two threads may trace at once): .traces, innermost last


def _traces():
    if not hasattr(_recording, "traces"):
        _recording.traces = []
    return _recording.traces


class WeightRead(Layer):
    """A Variable's value as a tensor of the traced graph (its shape, no batch axis). Called on the trace's first
    input only to hang in the graph, whose nodes all descend from its inputs."""

    def __init__(self, variable):
        super().__init__(name=f"read_{variable.name.replace('/', '_')}")
        self._weights = [variable]
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(self._weights[0].shape)

    def forward(self, inputs, *, training=False, mask=None):
        return self._weights[0].value, None

    def backward(self, ctx, d_outputs):
        return None, [d_outputs]


class _Trace:
    def __init__(self, anchor):
        self.anchor = anchor
        self.reads = {}

    def tensor_of(self, variable):
        if id(variable) not in self.reads:
            self.reads[id(variable)] = WeightRead(variable)(self.anchor)
        return self.reads[id(variable)]


def operand(value):
    """An operation's argument as the graph sees it: a Variable read inside a trace is a tensor of that trace, outside
    one its current value; anything else as it is."""
    if isinstance(value, Variable):
        traces = _traces()
        return traces[-1].tensor_of(value) if traces else value.value
    if isinstance(value, (list, tuple)) and any(isinstance(item, Variable) for item in value):
        return type(value)(operand(item) for item in value)
    return value


def trace(function, shapes, dtypes, listed, name, **kwargs):
    """The Functional graph of function(inputs, **kwargs) on placeholders of these batch-inclusive shapes and
    dtypes (a list of them when `listed`). Exceptions of the function propagate; a result other than symbolic
    tensors is a TypeError."""
    from rnnkit.layers.input_layer import Input, KerasTensor
    from rnnkit.models.functional import Functional

    placeholders = [Input(batch_shape=shape, dtype=dtype) for shape, dtype in zip(shapes, dtypes)]
    _traces().append(_Trace(placeholders[0]))
    try:
        outputs = function(placeholders if listed else placeholders[0], **kwargs)
    finally:
        _traces().pop()
    results = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    if not results or not all(isinstance(result, KerasTensor) for result in results):
        raise TypeError(f"'{name}': expected symbolic tensors computed from the input, received {outputs!r}")
    return Functional(placeholders if listed else placeholders[0],
                      results if isinstance(outputs, (list, tuple)) else results[0], name=f"{name}_graph")


def output_spec(graph):
    """A traced graph's output shape (a list of them when it gives several) and its outputs' dtypes."""
    shapes = [tensor.shape for tensor in graph.outputs]
    return (shapes if isinstance(graph._nested_outputs, list) else shapes[0]), [t.dtype for t in graph.outputs]


def takes(function, parameter):
    try:
        return parameter in inspect.signature(function).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return False


class TracedCall:
    """forward, backward and shapes of a layer whose subclass defines call(inputs[, training][, mask]) with
    rnnkit.ops: call is traced for each input shape, mode and presence of a mask it meets (once: it must be a
    function of its inputs, mask and the layer's weights), and the graph does the rest. A mask reaches call only
    for a single input (a bool (batch, steps) tensor, else None); the output's mask is compute_mask's."""

    def __init__(self, layer):
        self.layer = layer
        self.graphs = {}

    def graph(self, shapes, dtypes, listed, training, masked=False):
        layer = self.layer
        by_mode, takes_mask = takes(layer.call, "training"), takes(layer.call, "mask")
        masked = masked and takes_mask and not listed
        key = (tuple(tuple(shape[1:]) for shape in shapes), tuple(dtypes), listed, bool(training) and by_mode, masked)
        if key not in self.graphs:
            kwargs = {"training": bool(training)} if by_mode else {}
            batch = [(None,) + tuple(shape[1:]) for shape in shapes]
            if masked:  # the mask as the graph's second input
                function, batch, dtypes = (lambda pair, **kw: layer.call(pair[0], mask=pair[1], **kw),
                                           batch + [(None, shapes[0][1])], list(dtypes) + ["bool"])
            else:
                function = layer.call
                if takes_mask:
                    kwargs["mask"] = None
            try:
                self.graphs[key] = trace(function, batch, dtypes, listed or masked, layer.name, **kwargs)
            except (TypeError, ValueError, AttributeError, NotImplementedError) as error:
                raise TypeError(f"Layer '{layer.name}' ({type(layer).__name__}): its call() must be written with "
                                "rnnkit.ops and tensor operators, which rnnkit traces into operations (it defines no "
                                f"forward/backward); tracing it failed: {type(error).__name__}: {error}") from error
        return self.graphs[key], masked

    def graph_for(self, inputs, training, masked=False):
        """The graph for symbolic tensors or arrays `inputs` (one, or a list), and whether it reads a mask."""
        listed = isinstance(inputs, (list, tuple))
        items = list(inputs) if listed else [inputs]
        dtypes = [str(getattr(item, "dtype", "float32")) for item in items]
        return self.graph([tuple(item.shape) for item in items], dtypes, listed, training, masked)

    def forward(self, inputs, training, mask=None):
        graph, masked = self.graph_for(inputs, training, masked=mask is not None)
        outputs, ctx = graph.forward([inputs, mask] if masked else inputs, training=training)
        return outputs, ((graph, masked, ctx) if training else None)

    def backward(self, ctx, d_outputs):
        from rnnkit.engine import graph as engine

        graph, masked, contexts = ctx
        grads, d_inputs = engine.run_backward(graph._nodes, contexts, graph.inputs, graph.outputs,
                                              d_outputs if isinstance(d_outputs, list) else [d_outputs])
        d_weights = [grads.get(id(variable)) for variable in self.layer.trainable_weights]
        if masked:
            return d_inputs[0], d_weights
        return (d_inputs if isinstance(graph._nested_inputs, list) else d_inputs[0]), d_weights
