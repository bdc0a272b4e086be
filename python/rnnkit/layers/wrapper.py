"""Keras 3's Wrapper: the base of a layer that wraps another (TimeDistributed, a user's own). It holds `layer`,
builds it with the wrapper's input shape unless a subclass builds it otherwise, and writes it into its config."""
from rnnkit.layers.layer import Layer


class Wrapper(Layer):
    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise ValueError(f"{self.name}: expected a Layer instance, received {layer!r}")
        self.layer = layer

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
            self.layer.built = True
        self.built = True

    def get_config(self):
        from rnnkit.layers.serialization import serialize

        return {**super().get_config(), "layer": serialize(self.layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from rnnkit.layers.serialization import deserialize

        config = dict(config)
        return cls(deserialize(config.pop("layer"), custom_objects), **config)
