"""Functional models: a graph from Input tensors to output tensors, run by rnnkit.engine.graph."""
from rnnkit.engine import graph
from rnnkit.layers.input_layer import InputLayer, KerasTensor
from rnnkit.models.model import Model


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


class Functional(Model):
    def __init__(self, inputs, outputs, name=None, trainable=True):
        super().__init__(name=name, trainable=trainable)
        self._init_graph(inputs, outputs)

    def _init_graph(self, inputs, outputs):
        for tensor in _as_list(inputs) + _as_list(outputs):
            if not isinstance(tensor, KerasTensor):
                raise TypeError(f"Model '{self.name}': inputs and outputs must be KerasTensors (from Input and layer "
                                f"calls), received {tensor!r}")
        for tensor in _as_list(inputs):
            if not isinstance(tensor.node.layer, InputLayer):
                raise ValueError(f"Model '{self.name}': every input must come from Input(), received {tensor!r}")
        self._nested_inputs, self._nested_outputs = inputs, outputs
        self.inputs, self.outputs = _as_list(inputs), _as_list(outputs)
        self._nodes = graph.ordered_nodes(self.outputs)
        reachable = {id(node) for node in self._nodes}
        for tensor in self.inputs:
            if id(tensor.node) not in reachable:
                self._nodes.insert(0, tensor.node)
        self._token_fed = graph.embeddings_feeding_one_rnn(self._nodes, self.outputs)  # per graph, not per batch
        self._graph_layers = []
        for node in self._nodes:
            if all(node.layer is not layer for layer in self._graph_layers):
                self._graph_layers.append(node.layer)
        self.built = True

    @property
    def layers(self):
        return list(self._graph_layers)

    @property
    def input_names(self):
        return [tensor.node.layer.name for tensor in self.inputs]

    @property
    def output_names(self):
        return [tensor.node.layer.name for tensor in self.outputs]

    def _sublayers(self):
        return list(self._graph_layers)

    def _ensure_built(self, x):
        for tensor, array in zip(self.inputs, x):
            expected = tensor.shape[1:]
            received = array.shape[1:]
            if len(expected) != len(received) or any(e is not None and e != r for e, r in zip(expected, received)):
                raise ValueError(f"Model '{self.name}': input '{tensor.node.layer.name}' expects shape "
                                 f"(None, {', '.join(map(str, expected))}) per batch, received an array of shape "
                                 f"{array.shape}")

    def _forward(self, x, training):
        outputs, masks, contexts = graph.run_forward(self._nodes, self.inputs, x, self.outputs, training=training,
                                                     token_fed=self._token_fed)
        return outputs, masks, contexts

    def _backward(self, contexts, d_outputs):
        weight_grads, _ = graph.run_backward(self._nodes, contexts, self.inputs, self.outputs, d_outputs,
                                             input_gradients=False)
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
        for layer in self.layers:
            inbound = []
            for node in node_index[id(layer)]:
                args = [self._tensor_ref(tensor) for tensor in node.input_tensors]
                if args:
                    inbound.append({"args": [args] if isinstance(node.inputs, list) else args,
                                    "kwargs": dict(node.call_kwargs)})
            layer_configs.append({**serialize(layer), "name": layer.name, "inbound_nodes": inbound})
        return {"name": self.name, "trainable": self.trainable, "layers": layer_configs,
                "input_layers": [self._tensor_ref(t)[1:] for t in self.inputs],
                "output_layers": [self._tensor_ref(t)[1:] for t in self.outputs]}

    def _tensor_ref(self, tensor):
        producer = tensor.node.layer
        node_position = [n for n in self._nodes if n.layer is producer].index(tensor.node)
        return ["__keras_tensor__", producer.name, node_position, tensor.index]

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from rnnkit.layers import deserialize

        layers, tensors = {}, {}
        for layer_config in config["layers"]:
            layer = deserialize(layer_config, custom_objects)
            layers[layer_config["name"]] = layer
            if isinstance(layer, InputLayer):
                tensors[(layer.name, 0, 0)] = layer.output
        for layer_config in config["layers"]:
            layer = layers[layer_config["name"]]
            for position, node in enumerate(layer_config.get("inbound_nodes", [])):
                argument = node["args"][0]
                several = argument[0] != "__keras_tensor__"
                refs = argument if several else [argument]
                args = [tensors[(ref[1], ref[2], ref[3])] for ref in refs]
                outputs = layer(args if several else args[0], **node.get("kwargs", {}))
                for index, tensor in enumerate(_as_list(outputs)):
                    tensors[(layer.name, position, index)] = tensor
        inputs = [tensors[tuple(ref)] for ref in config["input_layers"]]
        outputs = [tensors[tuple(ref)] for ref in config["output_layers"]]
        return cls(inputs if len(inputs) > 1 else inputs[0], outputs if len(outputs) > 1 else outputs[0],
                   name=config.get("name"))

