"""SimpleRNN, LSTM, GRU and PeepholeLSTM: an RNN over the matching cell, configured with Keras 3's arguments.

The cell arguments (units, activations, initializers, dropout, ...) go to the cell, named ``<layer>_cell`` as in
Keras 3 so weight paths read "lstm/lstm_cell/kernel"; the loop arguments stay on the layer.
"""
from rnnkit import regularizers
from rnnkit.layers._validation import fraction, keras_positional, positive_int
from rnnkit.layers.layer import to_snake_case
from rnnkit.layers.rnn.base import RNN
from rnnkit.layers.rnn.cells import (CONSTRAINT_ARGUMENTS, DROPOUT_ARGUMENTS, INITIALIZER_ARGUMENTS,
                                     REGULARIZER_ARGUMENTS, GRUCell, LSTMCell, PeepholeLSTMCell, SimpleRNNCell)

_POSITIONAL_LOOP_ARGS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll")  # Keras' order
_LOOP_ARGS = _POSITIONAL_LOOP_ARGS + ("zero_output_for_mask",)
_CELL_ARGS = ("units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
              "recurrent_initializer", "bias_initializer", "kernel_regularizer", "recurrent_regularizer",
              "bias_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
              "recurrent_dropout", "seed", "unit_forget_bias", "reset_after", "implementation")
_BASE_CONFIG_KEYS = ("name", "trainable", "dtype")


class _CellRNN(RNN):
    cell_class = None
    cell_name = None
    # Keras' LSTM and GRU take use_cudnn, a GPU choice, and keep it as an attribute outside their config; its
    # SimpleRNN refuses it. The core has one CPU path whatever it says.
    takes_use_cudnn = False
    keras_positional_arguments = ()  # after units, in Keras' order

    def __init__(self, units, *args, **kwargs):
        kwargs = keras_positional(type(self).__name__, self.keras_positional_arguments, args, kwargs)
        cell_kwargs = {k: kwargs.pop(k) for k in _CELL_ARGS if k in kwargs}
        loop_kwargs = {k: kwargs.pop(k) for k in _LOOP_ARGS if k in kwargs}
        # Checked here too so the error names the layer the user wrote, not its inner "lstm_cell".
        label = kwargs.get("name") or to_snake_case(type(self).__name__)
        if self.takes_use_cudnn:
            use_cudnn = kwargs.pop("use_cudnn", "auto")
            if use_cudnn not in ("auto", True, False):
                raise ValueError(f"{label}: use_cudnn must be 'auto', True or False, got {use_cudnn!r}")
        positive_int(label, "units", units)
        for rate in ("dropout", "recurrent_dropout"):
            fraction(label, rate, cell_kwargs.get(rate, 0.0))
        cell = self.cell_class(units, name=self.cell_name, trainable=kwargs.get("trainable", True), **cell_kwargs)
        super().__init__(cell, **loop_kwargs, **kwargs)
        if self.takes_use_cudnn:
            self.use_cudnn = use_cudnn

    def __getattr__(self, name):
        cell = self.__dict__.get("cell")
        if cell is not None and name in _CELL_ARGS:
            return getattr(cell, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_config(self):
        cell_config = {k: v for k, v in self.cell.get_config().items() if k not in _BASE_CONFIG_KEYS}
        base = {k: v for k, v in super().get_config().items() if k != "cell"}
        return {**base, **cell_config, "activity_regularizer": regularizers.serialize(self.activity_regularizer)}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class SimpleRNN(_CellRNN):
    """h_t = activation(x_t W + h_{t-1} U + b)."""

    cell_class, cell_name = SimpleRNNCell, "simple_rnn_cell"
    keras_positional_arguments = ("activation", "use_bias", *INITIALIZER_ARGUMENTS, *REGULARIZER_ARGUMENTS,
                                  "activity_regularizer", *CONSTRAINT_ARGUMENTS, *DROPOUT_ARGUMENTS,
                                  *_POSITIONAL_LOOP_ARGS, "seed")


class LSTM(_CellRNN):
    cell_class, cell_name = LSTMCell, "lstm_cell"
    takes_use_cudnn = True
    keras_positional_arguments = ("activation", "recurrent_activation", "use_bias", *INITIALIZER_ARGUMENTS,
                                  "unit_forget_bias", *REGULARIZER_ARGUMENTS, "activity_regularizer",
                                  *CONSTRAINT_ARGUMENTS, *DROPOUT_ARGUMENTS, "seed", *_POSITIONAL_LOOP_ARGS,
                                  "use_cudnn")


class GRU(_CellRNN):
    cell_class, cell_name = GRUCell, "gru_cell"
    takes_use_cudnn = True
    keras_positional_arguments = ("activation", "recurrent_activation", "use_bias", *INITIALIZER_ARGUMENTS,
                                  *REGULARIZER_ARGUMENTS, "activity_regularizer", *CONSTRAINT_ARGUMENTS,
                                  *DROPOUT_ARGUMENTS, "seed", *_POSITIONAL_LOOP_ARGS, "reset_after", "use_cudnn")


class PeepholeLSTM(_CellRNN):
    cell_class, cell_name = PeepholeLSTMCell, "peephole_lstm_cell"
    keras_positional_arguments = LSTM.keras_positional_arguments[:-1]  # not in Keras 3: LSTM's, without use_cudnn
