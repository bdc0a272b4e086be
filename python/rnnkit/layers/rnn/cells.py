"""Recurrent cells: each holds one cell's configuration and weights (Keras 3 shapes, gate orders and names).

The time loop and its backward run in the C++ core (``rnnkit.ops.rnn_forward``); a cell tells it which equations
to use (``kind``) and with which weights. The equations are in docs/layers.md.
"""
import numpy as np

from rnnkit import activations, constraints, initializers, regularizers
from rnnkit.layers._validation import fraction, keras_positional, positive_int
from rnnkit.layers.layer import Layer

# Keras' parameter groups, in the order its cells and recurrent layers list them (for positional arguments).
INITIALIZER_ARGUMENTS = ("kernel_initializer", "recurrent_initializer", "bias_initializer")
REGULARIZER_ARGUMENTS = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer")
CONSTRAINT_ARGUMENTS = ("kernel_constraint", "recurrent_constraint", "bias_constraint")
WEIGHT_ARGUMENTS = INITIALIZER_ARGUMENTS + REGULARIZER_ARGUMENTS + CONSTRAINT_ARGUMENTS
DROPOUT_ARGUMENTS = ("dropout", "recurrent_dropout")
_WEIGHT_ARGUMENT_MODULES = {"initializer": initializers, "regularizer": regularizers, "constraint": constraints}


def set_cell_arguments(layer, dropout, recurrent_dropout, seed, **weight_arguments):
    """A recurrent cell's (or ConvLSTMCell's) dropout rates, seed and stream, and layer.kernel_initializer, ...,
    layer.bias_constraint (WEIGHT_ARGUMENTS) from Keras' identifiers."""
    for name in WEIGHT_ARGUMENTS:
        setattr(layer, name, _WEIGHT_ARGUMENT_MODULES[name.rsplit("_", 1)[1]].get(weight_arguments[name]))
    layer.dropout = fraction(layer.name, "dropout", dropout)
    layer.recurrent_dropout = fraction(layer.name, "recurrent_dropout", recurrent_dropout)
    layer.seed = seed
    layer.seeded_stream = None if seed is None else np.random.default_rng(seed)


def cell_arguments_config(layer):
    """The config entries of set_cell_arguments' attributes."""
    return {**{name: _WEIGHT_ARGUMENT_MODULES[name.rsplit("_", 1)[1]].serialize(getattr(layer, name))
               for name in WEIGHT_ARGUMENTS},
            "dropout": layer.dropout, "recurrent_dropout": layer.recurrent_dropout, "seed": layer.seed}


def _cell_activation(layer_name, argument, identifier):
    function = activations.get(identifier)
    if activations.serialize(function) not in activations.CELL_NAMES:
        raise ValueError(f"{layer_name}: {argument} {activations.serialize(function)!r} is not supported inside a "
                         f"recurrent cell; cells take {list(activations.CELL_NAMES)}")
    return function


def _kept_activation(argument):
    """A cell's activation as a property that keeps the activation's name beside it (every core call passes the
    name) and checks a reassigned one as the constructor does."""
    def read(self):
        return getattr(self, f"_{argument}")

    def assign(self, identifier):
        function = _cell_activation(self.name, argument, identifier)
        setattr(self, f"_{argument}", function)
        setattr(self, f"_{argument}_name", activations.serialize(function))

    return property(read, assign)


class _RecurrentCell(Layer):
    kind = None  # the cell name rnnkit.ops.rnn_forward takes
    gates = 1  # kernel columns per unit

    def __init__(self, units, *, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        kwargs.pop("implementation", None)  # Keras' choice of step implementation: one core path here
        super().__init__(**kwargs)
        self.units = positive_int(self.name, "units", units)
        self.activation = activation
        self.recurrent_activation = recurrent_activation
        self.use_bias = bool(use_bias)
        set_cell_arguments(self, dropout, recurrent_dropout, seed, kernel_initializer=kernel_initializer,
                           recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                           kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                           bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                           recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint)

    activation = _kept_activation("activation")
    recurrent_activation = _kept_activation("recurrent_activation")

    @property
    def state_size(self):
        return [self.units]

    @property
    def output_size(self):
        return self.units

    def _bias_initial_value(self, shape):
        return self.bias_initializer(shape)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"{self.name}: the feature size of the input must be known, received {input_shape}")
        width = self.units * self.gates
        self.kernel = self.add_weight((input_dim, width), self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight((self.units, width), self.recurrent_initializer,
                                                name="recurrent_kernel", regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        self.bias = (self.add_weight(self._bias_shape(), self._bias_initial_value, name="bias",
                                     regularizer=self.bias_regularizer, constraint=self.bias_constraint)
                     if self.use_bias else None)
        self.built = True

    def _bias_shape(self):
        return (self.units * self.gates,)

    def core_weights(self):
        """Keyword arguments of rnnkit.ops.rnn_forward carrying this cell's weights and equations."""
        return {"kernel": self.kernel.value, "recurrent_kernel": self.recurrent_kernel.value,
                "bias": self.bias.value if self.use_bias else None,
                "activation": self._activation_name, "recurrent_activation": self._recurrent_activation_name}

    def weight_gradients(self, gradients):
        """(Variable, gradient) pairs from rnnkit.ops.rnn_backward's result."""
        pairs = [(self.kernel, gradients["kernel"]), (self.recurrent_kernel, gradients["recurrent_kernel"])]
        return pairs + ([(self.bias, gradients["bias"])] if self.use_bias else [])

    def forward(self, inputs, *, training=False, mask=None):
        raise NotImplementedError(f"{self.name}: a cell runs inside rnnkit.layers.RNN (or SimpleRNN/LSTM/GRU), "
                                  "which drives the whole sequence in the core")

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": activations.serialize(self.activation),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "use_bias": self.use_bias, **cell_arguments_config(self)}


class SimpleRNNCell(_RecurrentCell):
    kind = "simple_rnn"

    keras_positional_arguments = ("activation", "use_bias", *WEIGHT_ARGUMENTS, *DROPOUT_ARGUMENTS, "seed")

    def __init__(self, units, *args, **kwargs):
        kwargs = keras_positional(type(self).__name__, self.keras_positional_arguments, args, kwargs)
        if "recurrent_activation" in kwargs:  # no gate to activate; Keras refuses it too
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) ['recurrent_activation']")
        super().__init__(units, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["recurrent_activation"]
        return config


class LSTMCell(_RecurrentCell):
    """Gates in Keras order i, f, c, o along the kernel columns; states [h, c]."""

    kind = "lstm"
    gates = 4

    keras_positional_arguments = ("activation", "recurrent_activation", "use_bias", *INITIALIZER_ARGUMENTS,
                                  "unit_forget_bias", *REGULARIZER_ARGUMENTS, *CONSTRAINT_ARGUMENTS,
                                  *DROPOUT_ARGUMENTS, "seed")

    def __init__(self, units, *args, **kwargs):
        kwargs = keras_positional(type(self).__name__, self.keras_positional_arguments, args, kwargs)
        unit_forget_bias = kwargs.pop("unit_forget_bias", True)
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self):
        return [self.units, self.units]

    def _bias_initial_value(self, shape):
        if not self.unit_forget_bias:
            return self.bias_initializer(shape)
        units = self.units
        return np.concatenate([self.bias_initializer((units,)), np.ones(units, np.float32),
                               self.bias_initializer((2 * units,))])

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class PeepholeLSTMCell(LSTMCell):
    """LSTM whose i, f gates also see c_{t-1} and whose o gate sees c_t through diagonal peephole weights.

    Not in Keras 3; follows tf.keras' PeepholeLSTMCell. The three peephole vectors are stacked as a (3, units)
    weight ``peephole_weights`` in the order i, f, o, each row drawn by ``kernel_initializer`` as tf.keras does.
    """

    def build(self, input_shape):
        super().build(input_shape)
        rows = lambda shape, dtype=None: np.stack([self.kernel_initializer((self.units,)) for _ in range(3)])  # noqa: E731
        self.peephole_weights = self.add_weight((3, self.units), rows, name="peephole_weights")

    def core_weights(self):
        return {**super().core_weights(), "peephole": self.peephole_weights.value}

    def weight_gradients(self, gradients):
        return super().weight_gradients(gradients) + [(self.peephole_weights, gradients["peephole"])]


class GRUCell(_RecurrentCell):
    """Gates in Keras order z, r, h; h_t = z * h_{t-1} + (1 - z) * h~_t. ``reset_after`` splits the bias in two."""

    kind = "gru"
    gates = 3

    keras_positional_arguments = ("activation", "recurrent_activation", "use_bias", *WEIGHT_ARGUMENTS,
                                  *DROPOUT_ARGUMENTS, "reset_after", "seed")

    def __init__(self, units, *args, **kwargs):
        kwargs = keras_positional(type(self).__name__, self.keras_positional_arguments, args, kwargs)
        reset_after = kwargs.pop("reset_after", True)
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def core_weights(self):
        return {**super().core_weights(), "reset_after": self.reset_after}

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}
