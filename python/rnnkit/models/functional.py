"""Functional models: a graph from Input tensors to output tensors, run by rnnkit.engine.graph."""
import collections
import functools

from rnnkit.engine import graph
from rnnkit.layers import operations
from rnnkit.layers.input_layer import InputLayer, KerasTensor
from rnnkit.layers.rnn import RNN
from rnnkit.layers.string_lookup import STRING_DTYPES
from rnnkit.models.keras_mask_nodes import (check_implied_mask, endpoint_refs, mask_node_names, mask_sources,
                                            tensor_key)
from rnnkit.models.model import Model


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


class Functional(Model):
    def __init__(self, inputs, outputs, name=None, trainable=True):
        super().__init__(name=name, trainable=trainable)
        self._init_graph(inputs, outputs)

    @property
    def input(self):
        """The model's inputs as given to Model(...): with model.get_layer(...).output, a sub-model's inputs."""
        return self._nested_inputs

    @property
    def output(self):
        return self._nested_outputs

    def _init_graph(self, inputs, outputs):
        # Dicts of tensors are flattened in the order of their keys, as Keras 3 flattens them; data, losses and
        # predictions are then keyed by those keys.
        self._input_keys = sorted(inputs) if isinstance(inputs, dict) else None
        self._output_keys = sorted(outputs) if isinstance(outputs, dict) else None
        flat_inputs = [inputs[key] for key in self._input_keys] if self._input_keys else _as_list(inputs)
        flat_outputs = [outputs[key] for key in self._output_keys] if self._output_keys else _as_list(outputs)
        for tensor in flat_inputs + flat_outputs:
            if not isinstance(tensor, KerasTensor):
                raise TypeError(f"Model '{self.name}': inputs and outputs must be KerasTensors (from Input and layer "
                                f"calls), received {tensor!r}")
        for tensor in flat_inputs:
            if not isinstance(tensor.node.layer, InputLayer):
                raise ValueError(f"Model '{self.name}': every input must come from Input(), received {tensor!r}")
        self._nested_inputs, self._nested_outputs = inputs, outputs
        self.inputs, self.outputs = flat_inputs, flat_outputs
        self._string_inputs = any(tensor.dtype in STRING_DTYPES for tensor in flat_inputs)  # see _string_ranks
        self._nodes = graph.ordered_nodes(self.outputs)
        given = {id(tensor.node) for tensor in self.inputs}
        for node in self._nodes:
            if not node.input_tensors and id(node) not in given:
                raise ValueError(f"Model '{self.name}': the outputs depend on the Input '{node.layer.name}', which is "
                                 f"not among the model's inputs (Keras: an output not connected to `inputs`)")
        reachable = {id(node) for node in self._nodes}
        for tensor in self.inputs:
            if id(tensor.node) not in reachable:
                self._nodes.insert(0, tensor.node)
        self._token_fed = graph.embeddings_feeding_one_rnn(self._nodes, self.outputs)  # per graph, not per batch
        self._graph_layers = graph.keras_layer_order(self.inputs, self.outputs)
        self.built = True

    @property
    def layers(self):
        """The graph's layers in Keras' order; operation nodes (x[:, -1], x + y) are not layers, as in Keras."""
        return [layer for layer in self._graph_layers if not isinstance(layer, operations.Operation)]

    @property
    def input_names(self):
        """The keys of a dict of inputs, else the Input layers' names: what keys input data given as a dict."""
        return list(self._input_keys) if self._input_keys else [tensor.node.layer.name for tensor in self.inputs]

    @property
    def output_names(self):
        return list(self._output_keys) if self._output_keys else [tensor.node.layer.name for tensor in self.outputs]

    def _structured_outputs(self, outputs):
        """Per-output values as the model's outputs were given: a dict by their keys, one value, or a list."""
        if self._output_keys:
            return dict(zip(self._output_keys, outputs))
        return outputs[0] if len(outputs) == 1 else list(outputs)

    def _sublayers(self):
        return self.layers

    def _ensure_built(self, x):
        for tensor, array in zip(self.inputs, _string_ranks(self.inputs, x) if self._string_inputs else x):
            expected = tensor.shape[1:]
            received = array.shape[1:]
            if expected == received:
                continue
            if len(expected) != len(received) or any(e is not None and e != r for e, r in zip(expected, received)):
                raise ValueError(f"Model '{self.name}': input '{tensor.node.layer.name}' expects shape "
                                 f"(None, {', '.join(map(str, expected))}) per batch, received an array of shape "
                                 f"{array.shape}")

    def _forward(self, x, training, activity=None):
        x = _string_ranks(self.inputs, x) if self._string_inputs else x
        outputs, masks, contexts = graph.run_forward(self._nodes, self.inputs, x, self.outputs, training=training,
                                                     token_fed=self._token_fed, activity=activity)
        return outputs, masks, contexts

    def _backward(self, contexts, d_outputs, activity=None):
        weight_grads, _ = graph.run_backward(self._nodes, contexts, self.inputs, self.outputs, d_outputs,
                                             input_gradients=False, activity=activity)
        return weight_grads

    def compute_output_shape(self, input_shape):
        shapes = [tensor.shape for tensor in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def forward(self, inputs, *, training=False, mask=None):
        outputs, _, contexts = self._forward(_as_list(inputs), training)
        return (outputs[0] if len(outputs) == 1 else outputs), (contexts if training else None)

    def backward(self, ctx, d_outputs):
        grads, d_inputs = graph.run_backward(self._nodes, ctx, self.inputs, self.outputs, _as_list(d_outputs))
        d_weights = [grads.get(id(variable)) for variable in self.trainable_weights]
        return (d_inputs[0] if len(d_inputs) == 1 else d_inputs), d_weights

    def get_config(self):
        layer_configs = []
        from rnnkit.layers import serialize

        node_index = {}
        for node in self._nodes:
            node_index.setdefault(id(node.layer), []).append(node)
        for layer in self._graph_layers:
            inbound = []
            for node in node_index[id(layer)]:
                args = [self._tensor_ref(tensor) for tensor in node.input_tensors]
                if isinstance(layer, operations.Operation):
                    inbound.append({"args": layer.node_arguments(args), "kwargs": {}})
                elif isinstance(layer, RNN) and len(args) > 1:  # Keras' form: the states as initial_state=
                    inbound.append({"args": args[:1], "kwargs": {**node.call_kwargs, "initial_state": args[1:]}})
                elif args:
                    listed = isinstance(node.inputs, list) and not layer.positional_inputs
                    inbound.append({"args": [args] if listed else args,
                                    "kwargs": dict(node.call_kwargs)})
            entry = operations.serialize(layer) if isinstance(layer, operations.Operation) else serialize(layer)
            layer_configs.append({**entry, "name": layer.name, "inbound_nodes": inbound})
        return {"name": self.name, "trainable": self.trainable, "layers": layer_configs,
                "input_layers": self._endpoint_config(self._nested_inputs),
                "output_layers": self._endpoint_config(self._nested_outputs)}

    def _endpoint_config(self, nested):
        """The references of the model's inputs or outputs in the structure they were given in, as Keras writes
        them: one [layer, node, index], a list or a dict of them."""
        if isinstance(nested, dict):
            return {key: self._tensor_ref(nested[key])[1:] for key in sorted(nested)}
        if isinstance(nested, (list, tuple)):
            return [self._tensor_ref(tensor)[1:] for tensor in nested]
        return self._tensor_ref(nested)[1:]

    def _tensor_ref(self, tensor):
        producer = tensor.node.layer
        node_position = [n for n in self._nodes if n.layer is producer].index(tensor.node)
        return ["__keras_tensor__", producer.name, node_position, tensor.index]

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """From rnnkit's config or Keras 3's (a `.keras` archive's): tensors referred to as
        ["__keras_tensor__", layer, node, index] or {"class_name": "__keras_tensor__", "config": {"keras_history":
        [layer, node, index]}}, and the mask nodes Keras records (keras_mask_nodes), which stand for the masks
        rnnkit's Embedding and Masking layers hand on themselves."""
        return cls._replay(config, custom_objects)

    @classmethod
    def _replay(cls, config, custom_objects=None, make_layer=None, inputs=None, call_function=None):
        """The model of `config`, its layers made by make_layer(name) where given (clone_model's clone_function;
        input layers always from the config), its input layers' tensors replaced by `inputs` (by input layer name)
        where given, and each layer called through call_function(layer, *args, **kwargs) where given."""
        from rnnkit.layers import deserialize

        layers, tensors = {}, {}
        masks = mask_sources(config)
        mask_nodes = mask_node_names(masks, config)
        for layer_config in config["layers"]:
            if layer_config["name"] in mask_nodes:
                continue
            if make_layer is not None and layer_config.get("class_name") != "InputLayer":
                layer = make_layer(layer_config["name"])
            elif operations.is_operation_entry(layer_config):
                layer = operations.deserialize(layer_config)
            else:
                layer = deserialize(layer_config, custom_objects)
            layers[layer_config["name"]] = layer
            if isinstance(layer, InputLayer):
                tensors[(layer_config["name"], 0, 0)] = (inputs or {}).get(layer_config["name"], layer.output)
        pending = []
        for layer_config in config["layers"]:
            if layer_config["name"] in mask_nodes:
                continue
            layer = layers[layer_config["name"]]
            for position, node in enumerate(layer_config.get("inbound_nodes", [])):
                keys, form = ((_operation_keys(node["args"]), "operation") if isinstance(layer, operations.Operation)
                              else _call_inputs(node["args"]))
                keys = keys + _state_keys(node)
                pending.append(_Call(layer_config["name"], layer, position, node, keys, form))
        # Layers are listed producers first, but a shared layer's later calls may read tensors of layers listed
        # after it (as in Keras' own configs): each call is made once its inputs exist.
        while pending:
            ready = [call for call in pending if all(key in tensors for key in call.keys)]
            if not ready:
                missing = sorted({key for call in pending for key in call.keys if key not in tensors}, key=str)
                raise ValueError(f"the calls of {sorted({call.layer.name for call in pending})} read tensors no "
                                 f"layer of the config makes: {missing}")
            for call in ready:
                args = [tensors[key] for key in call.keys]
                kwargs = dict(call.node.get("kwargs", {}))
                states = _state_keys(call.node)
                if states:  # a recurrent layer's initial_state tensors (the last keys)
                    args, kwargs["initial_state"] = args[:-len(states)], args[-len(states):]
                explicit_mask = kwargs.get("mask") is not None
                if explicit_mask:
                    check_implied_mask(call.layer.name, args[0], kwargs["mask"], masks, tensors)
                kwargs.pop("mask", None)
                invoke = call.layer if call_function is None else functools.partial(call_function, call.layer)
                if call.form == "operation":
                    outputs = invoke(*_operation_arguments(call.node["args"], args),
                                     *_keyword_operands(call.layer, kwargs))
                elif call.form == "positional":
                    outputs = invoke(*args, **kwargs)
                else:
                    outputs = invoke(args if call.form == "list" else args[0], **kwargs)
                if states and explicit_mask:  # the mask Keras passed reaches the computation (Node.mask_reaches_call)
                    _as_list(outputs)[0].node.mask_reaches_call = True
                for index, tensor in enumerate(_as_list(outputs)):
                    tensors[(call.name, call.position, index)] = tensor
            pending = [call for call in pending if all(call is not done for done in ready)]
        def endpoints(refs):  # a dict of references (Keras' config of dict inputs or outputs), or a list
            if isinstance(refs, dict):
                return {key: tensors[tuple(ref)] for key, ref in refs.items()}
            found = [tensors[tuple(ref)] for ref in endpoint_refs(refs)]
            return found if len(found) > 1 else found[0]

        return cls(endpoints(config["input_layers"]), endpoints(config["output_layers"]), name=config.get("name"))


def _string_ranks(inputs, arrays):
    """Keras' rank adjustment, for string inputs: texts of shape (batch,) feed Input(shape=(1,), dtype="string")
    (Keras' text classification examples) and texts of shape (batch, 1) feed Input(shape=(), dtype="string")."""
    adjusted = []
    for tensor, array in zip(inputs, arrays):
        if tensor.dtype in STRING_DTYPES and array.ndim == len(tensor.shape) - 1 and tensor.shape[-1] == 1:
            array = array[..., None]
        elif tensor.dtype in STRING_DTYPES and array.ndim == len(tensor.shape) + 1 and array.shape[-1] == 1:
            array = array[..., 0]
        adjusted.append(array)
    return adjusted


# One call of a layer in a config: the layer's name there (a clone's own name may differ), the layer, its inbound
# node, the keys of the tensors it reads and how it passes them ("one" tensor, a "list" as the merges take, or
# "positional" arguments as attention's query and value).
_Call = collections.namedtuple("_Call", "name layer position node keys form")


def _call_inputs(args):
    """(tensor keys, form) of an inbound node's args."""
    if len(args) > 1:
        return [tensor_key(ref) for ref in args], "positional"
    if tensor_key(args[0]) is None:
        return [tensor_key(ref) for ref in args[0]], "list"
    return [tensor_key(args[0])], "one"


def _state_keys(node):
    """The keys of the tensors an inbound node passes as initial_state= (Keras' form for recurrent layers)."""
    states = (node.get("kwargs") or {}).get("initial_state")
    if states is None:
        return []
    keys = [tensor_key(ref) for ref in (states if isinstance(states, list) else [states])]
    if None in keys:
        raise ValueError(f"initial_state must be tensors of the model, received {states!r}")
    return keys


def _operation_keys(args):
    """The keys of the tensors among an operation node's arguments (concatenate's in a list)."""
    keys = []
    for arg in args:
        items = arg if isinstance(arg, list) and arg and tensor_key(arg) is None and all(
            tensor_key(item) is not None for item in arg) else [arg]
        keys += [key for key in map(tensor_key, items) if key is not None]
    return keys


def _keyword_operands(operation, kwargs):
    """The constants Keras writes as an operation node's call keywords (pad's constant_values), as the positional
    operands rnnkit's operation takes after its tensors; any other keyword is refused, never dropped."""
    kwargs = {key: value for key, value in kwargs.items() if key != "training" and value is not None}  # defaults
    names = getattr(operation, "keyword_operands", ())
    unknown = sorted(set(kwargs) - set(names))
    if unknown:
        raise ValueError(f"operation {operation.name!r} ({type(operation).__name__}): call argument(s) {unknown} "
                         "are not supported by rnnkit")
    return [operations.deserialize_constant(kwargs[name]) for name in names if name in kwargs]


def _operation_arguments(args, tensors):
    """An operation node's arguments with its tensors (in order) in their places and its constants decoded."""
    tensors = iter(tensors)

    def decode(arg):
        if tensor_key(arg) is not None:
            return next(tensors)
        if isinstance(arg, list) and arg and all(tensor_key(item) is not None for item in arg):
            return [next(tensors) for _ in arg]
        return operations.deserialize_constant(arg)

    return [decode(arg) for arg in args]
