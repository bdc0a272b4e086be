"""ConvLSTM1D, ConvLSTM2D and ConvLSTM3D (Keras 3's): an LSTM whose products with the input and the state are
convolutions, over (batch, time, *spatial, channels). The time loop and its BPTT run in the core
(cpp/src/cells/conv_lstm.cpp); here are Keras' arguments, weights (held by a ConvLSTMCell, as Keras saves them),
initial and stateful states, and the channels-first layout."""
import numpy as np

from rnnkit import _core, activations, regularizers
from rnnkit.layers import _windows
from rnnkit.layers._gradients import for_trainable_weights
from rnnkit.layers._validation import expect_rank, first_input, float_input, positive_int, sequences_shape
from rnnkit.layers.core import dropout_keep_mask, random_stream
from rnnkit.layers.layer import Layer
from rnnkit.layers.rnn.cells import cell_arguments_config, set_cell_arguments
from rnnkit.variables import Variable


def _ints(layer, arg, value, rank):
    """Keras' standardize_tuple: an int for every axis, or a tuple of `rank` ints."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * rank
    if len(values) != rank:
        raise ValueError(f"{layer}: expected {arg} to be an int or a tuple of {rank} ints, received {value!r}")
    return tuple(positive_int(layer, arg, v) for v in values)


class ConvLSTMCell(Layer):
    """The weights of a ConvLSTM layer and their initialisation: kernel (*kernel_size, channels, 4 * filters),
    recurrent_kernel (*kernel_size, filters, 4 * filters) and bias (4 * filters), gates [i f c o]."""

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rank = rank
        self.filters = positive_int(self.name, "filters", filters)
        self.kernel_size = _ints(self.name, "kernel_size", kernel_size, rank)
        self.strides = _ints(self.name, "strides", strides, rank)
        self.dilation_rate = _ints(self.name, "dilation_rate", dilation_rate, rank)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{self.name}: strides > 1 is not supported with dilation_rate > 1 (as in Keras), "
                             f"received strides={self.strides}, dilation_rate={self.dilation_rate}")
        self.padding = _windows.padding_name(self.name, padding, ("valid", "same"))
        self.data_format = _windows.data_format_name(self.name, data_format)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.unit_forget_bias = bool(unit_forget_bias)
        # Keras 3 draws four input and four recurrent masks a call, one per gate; rnnkit draws one of each, shared by
        # the gates and the steps, as its LSTM does (equally distributed per gate, not independent across gates).
        set_cell_arguments(self, dropout, recurrent_dropout, seed, kernel_initializer=kernel_initializer,
                           recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                           kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                           bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                           recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint)

    def build(self, input_shape):
        """input_shape: one step's, (batch, *spatial, channels) in channels-last order."""
        channels = input_shape[-1]
        if channels is None or any(size is None for size in input_shape[1:-1]):
            raise ValueError(f"{self.name}: ConvLSTM layers need known spatial sizes and channels, received input "
                             f"shape {tuple(input_shape)}")
        self.kernel = self.add_weight(self.kernel_size + (channels, 4 * self.filters), self.kernel_initializer,
                                      name="kernel", regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(self.kernel_size + (self.filters, 4 * self.filters),
                                                self.recurrent_initializer, name="recurrent_kernel",
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        self.bias = None
        if self.use_bias:
            bias_initializer = self.bias_initializer
            if self.unit_forget_bias:
                def bias_initializer(shape, dtype=None):
                    f = self.filters
                    return np.concatenate([self.bias_initializer((f,)), np.ones(f, np.float32),
                                           self.bias_initializer((2 * f,))]).astype(np.float32)
            self.bias = self.add_weight((4 * self.filters,), bias_initializer, name="bias",
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    def output_sizes(self, sizes):
        """The output's spatial sizes for the input's."""
        window = "the kernel's span"
        return tuple(_windows.steps_out(self.name, size, k, s, d, self.padding, window)
                     for size, k, s, d in zip(sizes, self.kernel_size, self.strides, self.dilation_rate))

    def get_config(self):
        return {"filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                "activation": activations.serialize(self.activation),
                "recurrent_activation": activations.serialize(self.recurrent_activation), "use_bias": self.use_bias,
                "unit_forget_bias": self.unit_forget_bias, **cell_arguments_config(self)}


class ConvLSTM(Layer):
    """The loop of ConvLSTM1D/2D/3D: Keras 3's RNN call semantics (initial_state, return_sequences, return_state,
    go_backwards with outputs in processing order, stateful). A mask is refused: Keras' RNN loop would carry the
    states over masked steps, which the core does not do here."""

    rank = None

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.cell = ConvLSTMCell(
            self.rank, filters, kernel_size, strides, padding, data_format, dilation_rate, activation,
            recurrent_activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
            unit_forget_bias, kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
            recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed, name="conv_lstm_cell")
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)  # accepted as Keras' RNN does: the core loop is always used
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.skips_input_gradients = True  # see backward
        self.states = None

    def __getattr__(self, name):
        # Keras' ConvLSTM exposes its cell's arguments as properties (layer.filters, layer.kernel_size, ...).
        if name in _CELL_ARGUMENTS and "cell" in self.__dict__:
            return getattr(self.__dict__["cell"], name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __call__(self, inputs, initial_state=None, training=None, mask=None, **kwargs):
        if initial_state is None:
            return super().__call__(inputs, training=training, mask=mask, **kwargs)
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        return super().__call__([inputs, *states], training=training, mask=mask, **kwargs)

    def _sequence_shape(self, input_shape):
        shape = sequences_shape(input_shape)
        expect_rank(self.name, shape, self.rank + 3)
        if self.cell.data_format == "channels_first":
            shape = shape[:2] + shape[3:] + shape[2:3]
        return shape

    def build(self, input_shape):
        shape = self._sequence_shape(input_shape)
        if not self.cell.built:
            self.cell.build((shape[0],) + shape[2:])
        for variable in self.cell.weights:
            variable.path = f"{self.name}/{self.cell.name}/{variable.name}"
        if self.stateful:
            if shape[0] is None:
                raise ValueError(f"{self.name}: stateful=True needs a fixed batch size (pass batch_size= or "
                                 f"batch_shape= to the Input); received input shape {shape}")
            state_shape = (shape[0],) + self.cell.output_sizes(shape[2:-1]) + (self.cell.filters,)
            self.states = [Variable(np.zeros(state_shape, np.float32), "rnn_state", f"{self.name}/rnn_state",
                                    trainable=False) for _ in range(2)]  # channels last, as the core's
        self.built = True

    def reset_state(self):
        for state in self.states or []:
            state.value[...] = 0.0

    reset_states = reset_state

    def _state_shape(self, shape):
        """(batch, *output spatial sizes, filters) in the layer's data format."""
        sizes = self.cell.output_sizes(shape[2:-1])
        if self.cell.data_format == "channels_first":
            return (shape[0], self.cell.filters) + sizes
        return (shape[0],) + sizes + (self.cell.filters,)

    def compute_output_shape(self, input_shape):
        shape = self._sequence_shape(input_shape)
        state = self._state_shape(shape)
        output = state[:1] + (shape[1],) + state[1:] if self.return_sequences else state
        return [output, state, state] if self.return_state else output

    def compute_mask(self, inputs, mask=None):
        return [None, None, None] if self.return_state else None

    def _channels_last(self, x, states=False):
        """x (or a state, without the time axis) moved to channels last from the layer's data format."""
        if self.cell.data_format == "channels_last":
            return x
        first = 1 if states else 2
        return np.ascontiguousarray(np.moveaxis(x, first, -1))

    def _data_format(self, x, states=False):
        if self.cell.data_format == "channels_last" or x is None:
            return x
        return np.ascontiguousarray(np.moveaxis(x, -1, 1 if states else 2))

    def forward(self, inputs, *, training=False, mask=None):
        if first_input(mask) is not None:
            raise ValueError(f"{self.name}: ConvLSTM layers take no mask (received one, e.g. from Masking or an "
                             "Embedding with mask_zero)")
        x, given = (inputs[0], list(inputs[1:])) if isinstance(inputs, (list, tuple)) else (inputs, [])
        x = float_input(self.name, x)
        expect_rank(self.name, x.shape, self.rank + 3)
        x = self._channels_last(x)
        if x.shape[1] == 0:
            raise ValueError(f"{self.name}: expected at least one timestep, received input of shape {x.shape}")
        states = self._initial_states(given, x.shape)
        cell = self.cell
        keep = recurrent_keep = None
        if training and (cell.dropout or cell.recurrent_dropout):  # one mask a sample, for every step and gate
            rng = random_stream(cell.seeded_stream)
            if cell.dropout:
                keep = dropout_keep_mask(rng, (x.shape[0], 1) + x.shape[2:], cell.dropout)
                x = x * keep
            if cell.recurrent_dropout:
                state_shape = (x.shape[0],) + cell.output_sizes(x.shape[2:-1]) + (cell.filters,)
                recurrent_keep = dropout_keep_mask(rng, state_shape, cell.recurrent_dropout)
        outputs, h, c, cache = _core.conv_lstm_forward(
            x, cell.kernel.value, cell.recurrent_kernel.value, cell.bias.value if cell.use_bias else None,
            *(states or (None, None)), list(cell.strides), list(cell.dilation_rate), cell.padding, self.go_backwards,
            activations.serialize(cell.activation), activations.serialize(cell.recurrent_activation),
            bool(training), self.return_sequences, recurrent_keep)
        if self.stateful:
            self.states[0].assign(h)
            self.states[1].assign(c)
        h = self._data_format(h, True)
        output = self._data_format(outputs) if self.return_sequences else h
        result = [output, h, self._data_format(c, True)] if self.return_state else output
        return result, ((cache, len(given), keep) if training else None)

    def _initial_states(self, given, shape):
        """The initial (h, c), channels last, from the call's or the stateful layer's; None for zeros. `shape`:
        the input's, channels last."""
        expected = (shape[0],) + self.cell.output_sizes(shape[2:-1]) + (self.cell.filters,)
        if given:
            if len(given) != 2:
                raise ValueError(f"{self.name}: expected 2 initial states (h and c), received {len(given)}")
            states = [self._channels_last(float_input(self.name, s, "initial_state"), True) for s in given]
        elif self.stateful:
            states = [state.value for state in self.states]
        else:
            return None
        for state in states:
            if state.shape != expected:
                raise ValueError(f"{self.name}: expected initial states of shape {expected} (channels last), "
                                 f"received {state.shape}")
        return states

    def backward(self, ctx, d_outputs, input_gradients=True):
        """input_gradients=False (the model's own inputs, or Bidirectional's): the input's gradient is None and never
        computed."""
        cache, given, keep = ctx
        d_output, d_h, d_c = (list(d_outputs) + [None, None])[:3] if self.return_state else (d_outputs, None, None)
        convert = (lambda d, states=False: None if d is None
                   else self._channels_last(np.asarray(d, np.float32), states))
        d_sequence = convert(d_output) if self.return_sequences else None
        d_last = None if self.return_sequences else convert(d_output, True)
        d_h = convert(d_h, True)
        if d_last is not None:
            d_h = d_last if d_h is None else d_h + d_last
        gradients = _core.conv_lstm_backward(cache, d_sequence, d_h, convert(d_c, True), input_gradients)
        cell = self.cell
        pairs = [(cell.kernel, gradients["kernel"].reshape(cell.kernel.shape)),
                 (cell.recurrent_kernel, gradients["recurrent_kernel"].reshape(cell.recurrent_kernel.shape))]
        if cell.use_bias:
            pairs.append((cell.bias, gradients["bias"]))
        d_x = gradients["x"]
        d_x = self._data_format(d_x if keep is None or d_x is None else d_x * keep)
        if given:
            d_x = [d_x] + [self._data_format(d, True) for d in gradients["initial_state"]]
        return d_x, for_trainable_weights(self, pairs)

    def get_config(self):
        return {**super().get_config(), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards, "stateful": self.stateful,
                "unroll": self.unroll, "zero_output_for_mask": self.zero_output_for_mask, **self.cell.get_config(),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer)}


_CELL_ARGUMENTS = frozenset((
    "filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "activation",
    "recurrent_activation", "use_bias", "kernel_initializer", "recurrent_initializer", "bias_initializer",
    "unit_forget_bias", "kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "kernel_constraint",
    "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout", "seed"))


class ConvLSTM1D(ConvLSTM):
    """Keras 3's ConvLSTM1D: inputs (batch, time, rows, channels) or, channels first, (batch, time, channels,
    rows)."""

    rank = 1


class ConvLSTM2D(ConvLSTM):
    """Keras 3's ConvLSTM2D: inputs (batch, time, rows, cols, channels), or channels first."""

    rank = 2


class ConvLSTM3D(ConvLSTM):
    """Keras 3's ConvLSTM3D: inputs (batch, time, dim1, dim2, dim3, channels), or channels first."""

    rank = 3
