"""Keras' Lambda layer: a function of the layer's input written with rnnkit.ops and tensor operators (x[:, -1],
x + y, x > 0, ops.mean(x, axis=1), ...), traced once on symbolic tensors into a graph of operations that then
computes its forward and backward.

Keras saves a Lambda's function as Python bytecode (a lambda) or by name, and runs it again when loading, which it
refuses by default (`safe_mode`). rnnkit writes Keras' form too, so that Keras can load the model, and beside it
the traced graph, from which rnnkit rebuilds the layer without running any code from the file; a Lambda Keras
saved (no graph) is refused.
"""
import base64
import inspect
import json
import marshal

from rnnkit.layers.layer import Layer


def _keras_function_config(function):
    """Keras 3's form of a Lambda's function: a lambda's marshalled code, defaults and closure; a named function by
    module and name."""
    if getattr(function, "__name__", None) == "<lambda>":
        closure = tuple(cell.cell_contents for cell in function.__closure__) if function.__closure__ else None
        return {"class_name": "__lambda__",
                "config": {"code": base64.encodebytes(marshal.dumps(function.__code__)).decode("ascii"),
                           "defaults": function.__defaults__, "closure": closure}}
    name = getattr(function, "__name__", type(function).__name__)
    return {"module": getattr(function, "__module__", None), "class_name": "function", "config": name,
            "registered_name": name}


class _TracedGraph:
    """The traced graph (a Functional model of operations), held outside the layer's attributes: it is not a
    sub-layer with weights of its own, in Keras' files or in `layer.weights`."""

    def __init__(self, graph):
        self.graph = graph


class Lambda(Layer):
    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda '{self.name}': expected a callable function, received {function!r}")
        if mask is not None:
            raise NotImplementedError(f"Lambda '{self.name}': mask= is not supported by rnnkit (its output carries no "
                                      "mask, as with mask=None in Keras)")
        try:
            parameters = inspect.signature(function).parameters
        except (TypeError, ValueError):  # a builtin without a signature takes neither
            parameters = {}
        taken = sorted({"training", "mask"} & set(parameters))
        if taken:
            raise NotImplementedError(f"Lambda '{self.name}': a function taking {taken} is not supported by rnnkit "
                                      "(it is traced once, for every mode)")
        self.function = function
        self.arguments = dict(arguments or {})
        self._output_shape = tuple(output_shape) if isinstance(output_shape, (list, tuple)) else output_shape
        self._trace = None

    # -- tracing -------------------------------------------------------------------------------------------------
    def _traced(self, shapes, dtypes, listed):
        """The graph of the function on inputs of these (batch-inclusive) shapes, traced at the first call."""
        if self._trace is None:
            self._trace = _TracedGraph(self._trace_function(shapes, dtypes, listed))
        graph = self._trace.graph
        expected = [tuple(tensor.shape[1:]) for tensor in graph.inputs]
        if [tuple(shape[1:]) for shape in shapes] != expected:
            raise ValueError(f"Lambda '{self.name}' was traced for inputs of shapes {expected} (batch aside), "
                             f"received {[tuple(shape[1:]) for shape in shapes]}")
        return graph

    def _trace_function(self, shapes, dtypes, listed):
        from rnnkit.layers.tracing import trace

        if self.function is None:
            raise ValueError(f"Lambda '{self.name}' has no function to trace")
        try:
            graph = trace(self.function, shapes, dtypes, listed, f"Lambda '{self.name}'", **self.arguments)
        except (TypeError, ValueError, AttributeError, NotImplementedError) as error:
            raise TypeError(f"Lambda '{self.name}': its function must be written with rnnkit.ops and tensor operators "
                            "(x[:, -1], x + y, x > 0, ops.mean(x, axis=1), ...), which rnnkit traces into "
                            f"operations; calling it on a symbolic tensor failed: {type(error).__name__}: {error}"
                            ) from error
        self._check_weightless(graph)
        self._check_output_shape(graph, shapes)
        return graph

    def _check_weightless(self, graph):
        weighted = [layer.name for layer in graph.layers if layer.weights]
        if weighted:
            raise ValueError(f"Lambda '{self.name}': its function calls layers with weights ({weighted}); Keras would "
                             "make them anew at every call: put such layers in the model itself")

    def _check_output_shape(self, graph, shapes):
        if self._output_shape is None:
            return
        declared = self._output_shape(shapes if len(shapes) > 1 else shapes[0]) if callable(self._output_shape) \
            else (shapes[0][0],) + tuple(self._output_shape)
        traced = graph.outputs[0].shape
        if len(declared) != len(traced) or any(d is not None and t is not None and d != t
                                               for d, t in zip(declared, traced)):
            raise ValueError(f"Lambda '{self.name}': output_shape={self._output_shape!r} disagrees with the shape "
                             f"{traced} its function gives")

    # -- calls ---------------------------------------------------------------------------------------------------
    def compute_output_shape(self, input_shape):
        listed = isinstance(input_shape, list)
        shapes = input_shape if listed else [input_shape]
        from rnnkit.layers.tracing import output_spec

        graph = self._traced([tuple(shape) for shape in shapes], ["float32"] * len(shapes), listed)
        return output_spec(graph)[0]

    def _call_symbolic(self, inputs):
        listed = isinstance(inputs, (list, tuple))
        tensors = list(inputs) if listed else [inputs]
        graph = self._traced([tensor.shape for tensor in tensors], [tensor.dtype for tensor in tensors], listed)
        outputs = super()._call_symbolic(list(inputs) if listed else inputs)
        for output, traced in zip(outputs if isinstance(outputs, list) else [outputs], graph.outputs):
            output.dtype, output.has_mask = traced.dtype, False  # no mask out, as Keras' Lambda with mask=None
        return outputs

    def __call__(self, inputs, training=None, mask=None, **kwargs):
        from rnnkit.layers.layer import _is_symbolic

        if _is_symbolic(inputs) or self.function is None:
            return super().__call__(inputs, training=training, mask=mask, **kwargs)
        return self.function(inputs, **self.arguments)  # on arrays, as Keras' eager call: rnnkit.ops compute at once

    def build(self, input_shape):
        self.built = True

    def forward(self, inputs, *, training=False, mask=None):
        listed = isinstance(inputs, (list, tuple))
        arrays = list(inputs) if listed else [inputs]
        graph = self._traced([a.shape for a in arrays], [a.dtype.name for a in arrays], listed)
        return graph.forward(arrays if listed else arrays[0], training=training)

    def backward(self, ctx, d_outputs):
        d_inputs, _ = self._trace.graph.backward(ctx, d_outputs)
        return d_inputs, []

    # -- config --------------------------------------------------------------------------------------------------
    def get_config(self):
        config = {**super().get_config(), "function": _keras_function_config(self.function) if self.function
                  else self._saved_function, "arguments": self.arguments}
        if self._output_shape is not None and not callable(self._output_shape):
            config["output_shape"] = list(self._output_shape)
        if self._trace is not None:
            config["graph"] = self._trace.graph.get_config()
        try:
            json.dumps(config["function"])
        except (TypeError, ValueError) as error:
            raise ValueError(f"Lambda '{self.name}': its function cannot be saved in Keras' form (its defaults or "
                             f"closure hold {error})") from error
        return config

    @classmethod
    def from_config(cls, config):
        """A Lambda from the traced graph rnnkit saved; Keras' own (only code to run) is refused."""
        from rnnkit.models.functional import Functional

        config = dict(config)
        function, graph = config.pop("function", None), config.pop("graph", None)
        if graph is None:
            raise ValueError(f"Lambda '{config.get('name')}': the file holds its function only as Python code (a "
                             "lambda's bytecode or a function's name), which rnnkit does not run from a file (Keras "
                             "refuses it too unless safe_mode=False). Build the model in code and load its weights, "
                             "or save it from rnnkit, which also writes the traced operations")
        layer = cls(lambda x: x, **config)
        layer.function, layer._saved_function = None, function
        layer._trace = _TracedGraph(Functional.from_config(graph))
        layer._check_weightless(layer._trace.graph)
        return layer
