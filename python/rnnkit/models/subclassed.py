"""What a Model subclass with call() (a subclassed model) runs on: call() traced into a functional graph per input
signature and mode (layers/tracing.py) the first time it meets them, and the build, config, layers and input/output
names derived from those traces. Functional and Sequential override all of it."""


class SubclassedGraph:
    """Mixed into Model ahead of Layer."""

    def _traced_graph(self, shapes, dtypes, training):
        if not hasattr(self, "call"):
            raise NotImplementedError(f"Model '{self.name}' ({type(self).__name__}): a subclass of Model needs a "
                                      "call() method, or build a functional model with Model(inputs, outputs)")
        graph, _ = self._traced_call().graph(shapes, dtypes, len(shapes) > 1, training)
        if not self.built:
            self.built = True
            if self.compiled:  # compile knew no outputs yet
                self._resolve_per_output_losses()
        return graph

    def _first_trace(self):
        """call()'s first traced graph (what summary and the outputs' count describe), or None before it."""
        traced = getattr(self, "_traced", None)
        return next(iter(traced.graphs.values()), None) if traced is not None else None

    def _graph_for(self, x, training):
        # Texts trace once as "string" inputs, as in Keras (numpy's dtype differs with the longest text).
        dtypes = ["string" if a.dtype.kind in "US" else str(a.dtype) for a in x]
        return self._traced_graph([a.shape for a in x], dtypes, training)

    def _ensure_built(self, x):
        self._graph_for(x, training=False)

    def _forward(self, x, training, activity=None):
        graph = self._graph_for(x, training)
        outputs, masks, contexts = graph._forward(x, training, activity)
        return outputs, masks, (graph, contexts)

    def _backward(self, state, d_outputs, activity=None):
        graph, contexts = state
        return graph._backward(contexts, d_outputs, activity)

    def build(self, input_shape=None):
        """Keras' build of a subclassed model: call() traced on inputs of this shape (a list of shapes for
        several inputs), which builds every layer it calls."""
        self._build_traced(input_shape, None)

    def build_from_config(self, config):
        """Keras' build_from_config, build(config["input_shape"]); the "input_dtype" rnnkit also writes for string
        inputs (which Keras ignores) traces call() on strings, as a TextVectorization in it needs."""
        dtypes = config.get("input_dtype")
        if dtypes is None:
            return self.build(config["input_shape"])
        return self._build_traced(config["input_shape"], dtypes if isinstance(dtypes, list) else [dtypes])

    def _build_traced(self, input_shape, dtypes):
        if not hasattr(self, "call"):
            return super().build(input_shape)
        if input_shape is None:
            raise ValueError(f"Model '{self.name}'.build needs the input shape, e.g. (None, steps, features)")
        several = isinstance(input_shape, (list, tuple)) and all(isinstance(s, (list, tuple)) for s in input_shape)
        shapes = [tuple(shape) for shape in (input_shape if several else [input_shape])]
        self._traced_graph(shapes, dtypes or ["float32"] * len(shapes), training=False)

    def get_config(self):
        """A subclassed model's: the layer's config and the arguments __init__ took, as Keras 3 writes it when the
        class defines no get_config of its own."""
        config = super().get_config()
        if type(self).get_config is not SubclassedGraph.get_config:  # the subclass writes its own config on top of this
            return config
        arguments = getattr(self, "_init_arguments", None)
        if arguments is None:
            raise NotImplementedError(
                f"Model '{self.name}' ({type(self).__name__}) was made with arguments that are not plain values (or "
                "positional-only ones), so it has no automatic config: define get_config() returning what "
                "__init__ takes, as in Keras")
        return {**config, **arguments}

    @property
    def build_config(self):
        """The input shape(s) of call()'s first trace, with which a loader builds the model before its weights."""
        graph = self._first_trace()
        if graph is None:
            return None
        shapes = [list(tensor.shape) for tensor in graph.inputs]
        config = {"input_shape": shapes if len(shapes) > 1 else shapes[0]}
        dtypes = [tensor.dtype for tensor in graph.inputs]
        if "string" in dtypes:
            config["input_dtype"] = dtypes if len(dtypes) > 1 else dtypes[0]
        return config

    @property
    def layers(self):
        """The layers the model holds as attributes (directly or in lists and dicts), in the order assigned."""
        return self._sublayers()

    @property
    def input_names(self):
        return None  # call() takes an array or a list of them, as many as given

    @property
    def output_names(self):
        graph = self._first_trace()
        return [f"output_{index}" for index in range(len(graph.outputs) if graph is not None else 1)]
