"""StackedRNNCells: several recurrent cells that an RNN runs as one, each cell's output the next one's input.

Stacking cells inside one step computes what stacking whole layers computes (cell k at step t only reads cell k-1
at step t), so rnnkit.layers.RNN runs the stack as one core sequence loop per cell; this class holds the cells,
their configuration and Keras 3's structure of their states.
"""
from rnnkit.layers.layer import Layer
from rnnkit.layers.rnn.cells import _RecurrentCell


class StackedRNNCells(Layer):
    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        cells = list(cells) if isinstance(cells, (list, tuple)) else None
        if not cells or not all(isinstance(cell, _RecurrentCell) for cell in cells):
            raise TypeError(f"{self.name}: expected a non-empty list of SimpleRNNCell, LSTMCell, GRUCell or "
                            f"PeepholeLSTMCell, received {cells!r}")
        self.cells = cells

    @property
    def state_size(self):
        """Keras' nested form: one entry per cell, a list where the cell has several states."""
        return [cell.state_size if len(cell.state_size) > 1 else cell.state_size[0] for cell in self.cells]

    @property
    def output_size(self):
        return self.cells[-1].output_size

    def build(self, input_shape):
        batch, features = input_shape[0], input_shape[-1]
        for cell in self.cells:
            if not cell.built:
                cell.build((batch, features))
            features = cell.output_size
        self.built = True

    def forward(self, inputs, *, training=False, mask=None):
        raise NotImplementedError(f"{self.name}: stacked cells run inside rnnkit.layers.RNN, which drives the whole "
                                  "sequence in the core")

    def get_config(self):
        from rnnkit.layers.serialization import serialize

        return {**super().get_config(), "cells": [serialize(cell) for cell in self.cells]}

    @classmethod
    def from_config(cls, config):
        from rnnkit.layers.serialization import deserialize

        config = dict(config)
        return cls([deserialize(cell) for cell in config.pop("cells")], **config)
