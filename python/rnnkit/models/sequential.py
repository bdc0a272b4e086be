"""Sequential: a linear stack of layers, built as a functional graph once its input shape is known."""
from rnnkit.layers.input_layer import Input, InputLayer, KerasTensor
from rnnkit.layers.layer import Layer
from rnnkit.models.functional import Functional


class Sequential(Functional):
    """Input shape from ``Input(...)`` added first, the first layer's ``input_shape``/``batch_input_shape``, or
    the first batch of data (deferred build)."""

    def __init__(self, layers=None, trainable=True, name=None):
        super(Functional, self).__init__(name=name, trainable=trainable)
        self._layers = []
        self._input = None
        self._graph_layers = []
        self.built = False
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        if isinstance(layer, KerasTensor) and isinstance(layer.node.layer, InputLayer):
            if self._input is not None or self._layers:
                raise ValueError(f"Sequential '{self.name}': an Input can only be the first element")
            self._input = layer
            return
        if isinstance(layer, InputLayer):
            self.add(layer.output)
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential '{self.name}'.add expects a Layer, received {layer!r}")
        if not self._layers and self._input is None and layer.batch_input_shape is not None:
            self._input = Input(batch_shape=layer.batch_input_shape)
        self._layers.append(layer)
        self._build_graph()

    def pop(self):
        if not self._layers:
            raise TypeError(f"Sequential '{self.name}' has no layers to pop")
        layer = self._layers.pop()
        self._build_graph()
        return layer

    def _build_graph(self):
        if self._input is None or not self._layers:
            self.built = False
            return
        tensor = self._input
        for layer in self._layers:
            tensor = layer(tensor)
        self._init_graph(self._input, tensor)

    def _ensure_built(self, x):
        if not self.built:
            if not self._layers:
                raise ValueError(f"Sequential '{self.name}' has no layers")
            self._input = Input(shape=x[0].shape[1:], dtype="string" if _holds_text(x[0]) else None)
            self._build_graph()
        super()._ensure_built(x)

    def build(self, input_shape=None):
        if input_shape is not None and self._input is None:
            self._input = Input(batch_shape=input_shape)
        self._build_graph()

    @property
    def layers(self):
        return list(self._layers)

    @property
    def input_names(self):
        return super().input_names if self.built else ["input_layer"]

    @property
    def output_names(self):
        return super().output_names if self.built else [self._layers[-1].name if self._layers else "output"]

    def get_config(self):
        from rnnkit.layers import serialize

        layers = ([serialize(self._input.node.layer)] if self._input is not None else []) + \
            [serialize(layer) for layer in self._layers]
        return {"name": self.name, "trainable": self.trainable, "layers": layers}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from rnnkit.layers import deserialize

        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for layer_config in config["layers"]:
            model.add(deserialize(layer_config, custom_objects))
        return model


def _holds_text(array):
    """Whether the first batch is strings (then the input is declared dtype="string", for TextVectorization)."""
    return array.dtype.kind in "US" or (array.dtype.kind == "O" and array.size > 0
                                        and isinstance(array.flat[0], (str, bytes)))
