"""The Layer base class of the engine contract (docs/design.md, "Python engine contract")."""
import re

import numpy as np

from rnnkit import initializers, regularizers
from rnnkit.layers._validation import weight_size
from rnnkit.variables import Variable

_name_counts = {}


def to_snake_case(class_name):
    """Keras' naming rule: SimpleRNN -> simple_rnn, GlobalAveragePooling1D -> global_average_pooling1d."""
    words = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", words).lower()


def unique_name(base):
    """``base`` the first time in this process (or since reset_names), then ``base_1``, ``base_2``..."""
    count = _name_counts.get(base, 0)
    _name_counts[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def reset_names():
    _name_counts.clear()


def _is_symbolic(inputs):
    from rnnkit.layers.input_layer import KerasTensor

    items = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    return any(isinstance(item, KerasTensor) for item in items)


def _shape_of(inputs):
    if isinstance(inputs, (list, tuple)):
        return [tuple(item.shape) for item in inputs]
    return tuple(inputs.shape)


def _unique(variables):
    """Each Variable once (a layer shared inside a model holds the same Variables), first occurrence order."""
    if len(set(map(id, variables))) == len(variables):  # the usual case, without a Python loop
        return variables
    seen, unique = set(), []
    for variable in variables:
        if id(variable) not in seen:
            seen.add(id(variable))
            unique.append(variable)
    return unique


class Layer:
    """Base of every layer: a config in ``__init__``, weights in ``build``, math in ``forward``/``backward``."""

    # Whether a call takes several inputs as positional arguments (Keras' MultiHeadAttention(query, value)) rather
    # than one list (the merges): functional configs record the call that way.
    positional_inputs = False
    # What the layer accepts (an InputSpec, or a list of them, one per input), checked on every call; a custom
    # layer sets it, as in Keras.
    input_spec = None

    def __init__(self, *, name=None, trainable=True, dtype=None, input_shape=None, batch_input_shape=None,
                 batch_size=None, input_dim=None, activity_regularizer=None, quantization_config=None, autocast=True,
                 **kwargs):
        del autocast  # Keras' cast of inputs to a mixed-precision compute dtype: rnnkit computes in float32
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) {sorted(kwargs)}")
        if quantization_config is not None:  # Keras 3.10+ writes the key (None) into Dense/Embedding configs
            raise ValueError(f"{type(self).__name__}: quantization is not supported by rnnkit, received "
                             f"quantization_config={quantization_config!r}")
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self.trainable = bool(trainable)
        self.dtype = "float32" if dtype is None or isinstance(dtype, dict) else str(dtype)
        if input_shape is None and input_dim is not None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            self.batch_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            self.batch_input_shape = (batch_size,) + tuple(input_shape)
        else:
            self.batch_input_shape = None
        self.built = False
        self.supports_masking = False
        self._weights = []
        self._inbound_nodes = []  # its symbolic calls (Node), for layer.input / layer.output
        # Keras 3: a penalty on the layer's outputs over their batch size, added to the training loss
        # (rnnkit.engine.graph.ActivityLosses).
        self.activity_regularizer = regularizers.get(activity_regularizer)

    def build(self, input_shape):
        self.built = True

    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, autocast=True, regularizer=None,
                   constraint=None, aggregation="none", overwrite_with_gradient=False, name=None):
        """Keras 3's add_weight: a float32 Variable of `shape` (() when None) drawn by `initializer`
        (glorot_uniform when None), kept as this layer's weight."""
        unsupported = {"overwrite_with_gradient": overwrite_with_gradient}
        for argument, value in unsupported.items():
            if value:
                raise NotImplementedError(f"{self.name}: add_weight's {argument} is not supported by rnnkit, "
                                          f"received {value!r}")
        if dtype is not None and str(dtype) != "float32":
            raise ValueError(f"{self.name}: rnnkit's weights are float32, received dtype={dtype!r}")
        name = name or f"variable_{len(self._weights)}"
        shape = tuple(int(d) for d in (shape or ()))
        initializer = "glorot_uniform" if initializer is None else initializer
        weight_size(self.name, name, shape)
        try:
            value = initializers.get(initializer)(shape)
        except MemoryError as error:
            raise MemoryError(f"{self.name}: cannot allocate weight '{name}' of shape {shape}") from error
        from rnnkit import constraints, regularizers

        variable = Variable(value, name, f"{self.name}/{name}", trainable=trainable,
                            regularizer=regularizers.get(regularizer), constraint=constraints.get(constraint))
        self._weights.append(variable)
        return variable

    @property
    def weights(self):
        """Keras 3's order (that of saved files): this layer's trainable then non-trainable weights, then each
        sublayer's weights in turn."""
        own = [variable for variable in self._weights if variable.trainable]
        own += [variable for variable in self._weights if not variable.trainable]
        return _unique(own + [v for layer in self._sublayers() for v in layer.weights])

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        own = [variable for variable in self._weights if variable.trainable]
        return _unique(own + [v for layer in self._sublayers() for v in layer.trainable_weights])

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        own = [variable for variable in self._weights if not variable.trainable]
        return _unique(own + [v for layer in self._sublayers() for v in layer.non_trainable_weights])

    def __setattr__(self, name, value):
        # Which attributes may hold layers changes only here (see _sublayers; a deleted one reads as None there).
        holders = self.__dict__.get("_layer_holder_names")
        if holders is not None and (name in holders or isinstance(value, _LAYER_HOLDER_TYPES)):
            del self.__dict__["_layer_holder_names"]
        object.__setattr__(self, name, value)

    def _sublayers(self):
        """Layers held as attributes (RNN cells, wrapped layers), directly or in a list, tuple or dict as Keras
        tracks them, in the order they were assigned; their weights count as this layer's. The names of the
        attributes that hold a layer or a container are kept between calls (trainable_weights asks for the
        sublayers several times a training step, and a layer has dozens of plain attributes); the containers'
        items are read anew each time, so a layer appended to a held list counts at once."""
        attributes = self.__dict__
        names = attributes.get("_layer_holder_names")
        if names is None:
            names = tuple(name for name, value in attributes.items()
                          if isinstance(value, _LAYER_HOLDER_TYPES) and name not in _BOOKKEEPING_ATTRIBUTES)
            attributes["_layer_holder_names"] = names
        if not names:
            return []
        layers, held = [], set()
        for name in names:
            value = attributes.get(name)
            if isinstance(value, Layer):
                items = (value,)
            elif isinstance(value, (list, tuple)):
                items = value
            elif isinstance(value, dict):
                items = value.values()
            else:
                continue
            for item in items:
                if isinstance(item, Layer) and id(item) not in held:
                    held.add(id(item))
                    layers.append(item)
        return layers

    @property
    def losses(self):
        """Keras' layer.losses: the penalties of this layer's regularized weights (its sublayers' included)."""
        return [variable.regularizer(variable.value) for variable in self.trainable_weights if variable.regularizer]

    def get_weights(self):
        return [variable.numpy() for variable in self.weights]

    def set_weights(self, weights):
        variables = self.weights
        weights = list(weights)
        if len(weights) != len(variables):
            raise ValueError(f"Layer '{self.name}' expects {len(variables)} weight arrays, received {len(weights)}")
        for variable, value in zip(variables, weights):
            value = np.asarray(value, dtype=np.float32)
            if value.shape != variable.shape:
                raise ValueError(f"Layer '{self.name}': weight '{variable.name}' has shape {variable.shape}, "
                                 f"received an array of shape {value.shape}")
        for variable, value in zip(variables, weights):
            variable.assign(value)

    def count_params(self):
        return int(sum(int(np.prod(variable.shape)) for variable in self.weights))

    # A subclass defines forward and backward (rnnkit's contract) or, as in Keras, call() written with rnnkit.ops,
    # which is then traced into operations that do both (layers/tracing.py).
    def _traced_call(self):
        if not hasattr(self, "call"):
            return None
        if getattr(self, "_traced", None) is None:
            from rnnkit.layers.tracing import TracedCall

            self._traced = TracedCall(self)
        return self._traced

    def compute_output_shape(self, input_shape):
        traced = self._traced_call()
        if traced is None:
            raise NotImplementedError(f"Layer '{self.name}' ({type(self).__name__}) defines neither "
                                      "compute_output_shape nor call")
        listed = isinstance(input_shape, list)
        shapes = input_shape if listed else [input_shape]
        graph, _ = traced.graph([tuple(s) for s in shapes], ["float32"] * len(shapes), listed, training=False)
        from rnnkit.layers.tracing import output_spec

        return output_spec(graph)[0]

    def compute_mask(self, inputs, mask):
        return mask if self.supports_masking else None

    def forward(self, inputs, *, training, mask):
        traced = self._traced_call()
        if traced is None:
            raise NotImplementedError(f"Layer '{self.name}' ({type(self).__name__}) defines neither forward nor call")
        return traced.forward(inputs, training, mask)

    def backward(self, ctx, d_outputs):
        traced = self._traced_call()
        if traced is None:
            raise NotImplementedError(f"Layer '{self.name}' ({type(self).__name__}) does not define backward")
        return traced.backward(ctx, d_outputs)

    def __call__(self, inputs, training=None, mask=None, **kwargs):
        if kwargs:
            raise TypeError(f"Layer '{self.name}': unexpected call argument(s) {sorted(kwargs)}")
        if _is_symbolic(inputs):
            self._check_input_spec(inputs)
            return self._call_symbolic(inputs)
        if isinstance(inputs, (list, tuple)):
            inputs = [np.asarray(item) for item in inputs]
        else:
            inputs = np.asarray(inputs)
        self._check_input_spec(inputs)
        if not self.built:
            self.build(_shape_of(inputs))
            self.built = True
        outputs, _ = self.forward(inputs, training=bool(training), mask=mask)
        return outputs

    def _check_input_spec(self, inputs):
        if self.input_spec is not None:
            from rnnkit.layers.input_spec import check_inputs

            check_inputs(self, inputs)

    def _call_symbolic(self, inputs):
        from rnnkit.layers.input_layer import KerasTensor, Node

        input_shape = _shape_of(inputs)
        if not self.built:
            self.build(input_shape)
            self.built = True
        traced = self._traced_call()
        has_mask = any(tensor.has_mask for tensor in (inputs if isinstance(inputs, (list, tuple)) else [inputs]))
        if traced is not None and type(self).compute_output_shape is Layer.compute_output_shape:
            from rnnkit.layers.tracing import output_spec

            output_shape, dtypes = output_spec(traced.graph_for(inputs, training=False, masked=has_mask)[0])
        else:
            output_shape = self.compute_output_shape(input_shape)
            dtypes = None
        several = isinstance(output_shape, list)
        shapes = output_shape if several else [output_shape]
        outputs = [KerasTensor(shape, dtype=dtypes[index] if dtypes else "float32", name=self.name, index=index,
                               has_mask=has_mask) for index, shape in enumerate(shapes)]
        node = Node(self, list(inputs) if isinstance(inputs, (list, tuple)) else inputs,
                    outputs if several else outputs[0])
        for tensor in outputs:
            tensor.node = node
        return outputs if several else outputs[0]

    @property
    def input(self):
        """The input of the layer's first symbolic call (Keras' layer.input)."""
        return self._first_node("input").inputs

    @property
    def output(self):
        """The output of the layer's first symbolic call (Keras' layer.output): model.get_layer(...).output makes
        feature-extraction models."""
        return self._first_node("output").outputs

    def _first_node(self, what):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer '{self.name}' has never been called and thus has no defined {what}.")
        return self._inbound_nodes[0]

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self.batch_input_shape is not None:
            config["batch_input_shape"] = list(self.batch_input_shape)
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


# What _sublayers looks into for layers.
_LAYER_HOLDER_TYPES = (Layer, list, tuple, dict)
# Layer's own lists (its weights, its symbolic calls), which never hold layers: not walked for sublayers.
_BOOKKEEPING_ATTRIBUTES = frozenset({"_weights", "_inbound_nodes"})
