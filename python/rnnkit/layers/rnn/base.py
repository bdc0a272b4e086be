"""RNN: runs a recurrent cell, or a stack of them, over (batch, time, features) in the C++ core, with Keras 3's call
semantics (a cell of one's own runs step by step in Python instead: python_cell.py).

Masks, ``go_backwards`` (outputs stay in processing order, as Keras returns them), ``initial_state``,
``return_sequences``/``return_state``, per-call dropout masks and ``stateful`` state variables are handled here;
the time loop and its backward are ``rnnkit.ops.rnn_forward``/``rnn_backward``, once per cell of a stack (cell k
reads cell k-1's outputs in the order cell 0 produced them: reversed in time with go_backwards).
"""
import numpy as np

from rnnkit import ops
from rnnkit.layers._gradients import for_trainable_weights
from rnnkit.layers._validation import expect_last_dim, expect_rank, first_input, float_input, sequences_shape
from rnnkit.layers.core import dropout_keep_mask, random_stream
from rnnkit.layers.input_layer import KerasTensor
from rnnkit.layers.layer import Layer
from rnnkit.layers.rnn.cells import _RecurrentCell
from rnnkit.layers.rnn.stacked_cells import StackedRNNCells
from rnnkit.layers.rnn import python_cell, token_table
from rnnkit.layers.rnn.token_table import TokenIds, TokenRowsGradient, TokenTable
from rnnkit.variables import Variable


class RNN(Layer):
    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        if not isinstance(cell, (_RecurrentCell, StackedRNNCells)) and not python_cell.is_python_cell(cell):
            raise TypeError(f"{self.name}: expected a SimpleRNNCell, LSTMCell, GRUCell or PeepholeLSTMCell, a list "
                            "of them, StackedRNNCells or a cell of your own (a layer with state_size and "
                            f"call(inputs, states)), received {cell!r}")
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)  # accepted for Keras compatibility: the core loop is always used
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        self._python_cell = python_cell.is_python_cell(cell)
        self.accepts_token_ids = not self._python_cell
        self.skips_input_gradients = True  # see backward
        self.states = None
        self._token_table = None

    def __call__(self, inputs, initial_state=None, training=None, mask=None, **kwargs):
        if initial_state is None:
            return self._nested_states(super().__call__(inputs, training=training, mask=mask, **kwargs))
        initial_state = _flattened(initial_state)
        explicit_mask = mask is not None
        if explicit_mask and not isinstance(mask, (list, tuple)):
            mask = [mask] + [None] * len(initial_state)
        outputs = super().__call__([inputs, *initial_state], training=training, mask=mask, **kwargs)
        if isinstance(first_input(outputs), KerasTensor):  # see Node.mask_reaches_call
            first_input(outputs).node.mask_reaches_call = explicit_mask
        return self._nested_states(outputs)

    def _cells(self):
        """The cells the loop runs, in order: the stack's, or the one cell."""
        return self.cell.cells if isinstance(self.cell, StackedRNNCells) else [self.cell]

    @property
    def _state_sizes(self):
        """Every cell's state sizes, in order (the flat list forward and backward pass states in)."""
        return [size for cell in self._cells() for size in python_cell.state_sizes(cell)]

    @property
    def _output_size(self):
        cell = self._cells()[-1]
        return python_cell.output_size(cell) if python_cell.is_python_cell(cell) else cell.output_size

    def _nested_states(self, outputs):
        """A stack's states as Keras 3 returns them: one entry per cell, a list where the cell has several."""
        if not (self.return_state and isinstance(self.cell, StackedRNNCells)):
            return outputs
        nested, states = [outputs[0]], list(outputs[1:])
        for cell in self._cells():
            count = len(python_cell.state_sizes(cell))
            nested.append(states[:count] if count > 1 else states[0])
            states = states[count:]
        return nested

    def build(self, input_shape):
        shape = sequences_shape(input_shape)
        expect_rank(self.name, shape, 3)
        if not self.cell.built:
            try:
                self.cell.build((shape[0], shape[-1]))
            except (ValueError, MemoryError) as error:  # weights too large: name this layer, not its cell
                raise type(error)(f"{self.name}: {error}") from error
            self.cell.built = True  # a cell of one's own may not say so itself
        self._input_size = shape[-1]
        for cell in self._cells():
            prefix = "/".join([self.name] + ([self.cell.name] if cell is not self.cell else []) + [cell.name])
            for variable in cell.weights:
                variable.path = f"{prefix}/{variable.name}"
        if self.stateful:
            if shape[0] is None:
                raise ValueError(f"{self.name}: stateful=True needs a fixed batch size (pass batch_size= or "
                                 f"batch_shape= to the Input); received input shape {shape}")
            self.states = [Variable(np.zeros((shape[0], size), np.float32), "rnn_state",
                                    f"{self.name}/rnn_state", trainable=False) for size in self._state_sizes]
        self.built = True

    def reset_state(self):
        for state in self.states or []:
            state.value[...] = 0.0

    reset_states = reset_state

    def compute_output_shape(self, input_shape):
        batch, steps = sequences_shape(input_shape)[:2]
        units = self._output_size
        output = (batch, steps, units) if self.return_sequences else (batch, units)
        if self.return_state:
            return [output] + [(batch, size) for size in self._state_sizes]
        return output

    def compute_mask(self, inputs, mask=None):
        output_mask = first_input(mask) if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self._state_sizes)
        return output_mask

    def _initial_state(self, given, batch):
        if given:
            if len(given) != len(self._state_sizes):
                raise ValueError(f"{self.name}: expected {len(self._state_sizes)} initial state(s), received "
                                 f"{len(given)}")
            states = [float_input(self.name, s, "initial_state") for s in given]
            for state, size in zip(states, self._state_sizes):
                if state.shape != (batch, size):
                    raise ValueError(f"{self.name}: expected an initial state of shape {(batch, size)}, received "
                                     f"{state.shape}")
            return states
        if self.stateful:
            if self.states[0].shape[0] != batch:
                raise ValueError(f"{self.name}: this stateful layer was built for batch size "
                                 f"{self.states[0].shape[0]}, received a batch of {batch}")
            return [state.value.copy() for state in self.states]
        return None

    @staticmethod
    def _dropout_masks(cell, batch, input_dim, training):
        if not training:
            return None, None
        rng = random_stream(cell.seeded_stream) if (cell.dropout or cell.recurrent_dropout) else None
        input_mask = dropout_keep_mask(rng, (batch, input_dim), cell.dropout) if cell.dropout else None
        recurrent_mask = (dropout_keep_mask(rng, (batch, cell.units), cell.recurrent_dropout)
                          if cell.recurrent_dropout else None)
        return input_mask, recurrent_mask

    def _token_lookup(self, tokens, training):
        """An Embedding's ids (rnnkit.layers.rnn.token_table): the embedded inputs, or the ids and the
        embeddings·kernel table (at inference once that table pays for itself; in training over the batch's
        distinct ids when they repeat enough and there is no input dropout), and the BatchTokens of training."""
        ids, first = tokens.ids, self._cells()[0]
        if training:
            batch = None if first.dropout else token_table.batch_tokens(tokens, first.kernel.value)
            if batch is None:
                return tokens.embedded(), {}, None
            return None, {"ids": batch.ids, "input_table": batch.table}, batch
        if self._token_table is None:
            self._token_table = TokenTable()
        table = self._token_table.lookup(tokens.embedding.embeddings.value, first.kernel.value, ids.size)
        # Out-of-range ids take the plain path, so the Embedding reports them as it always does.
        if table is None or ids.size == 0 or ids.min() < 0 or ids.max() >= table.shape[0]:
            return tokens.embedded(), {}, None
        return None, {"ids": ids, "input_table": table}, None

    def forward(self, inputs, *, training=False, mask=None):
        # Written for few calls and attribute reads: a batch-1 predict_on_batch spent a quarter of its time in
        # the Python around the core (the interpreter's caches are cold after the core's sweep over the weights).
        x, given_states = (inputs[0], list(inputs[1:])) if isinstance(inputs, (list, tuple)) else (inputs, [])
        lookup, batch_tokens, token_ids = {}, None, None
        if isinstance(x, TokenIds):
            token_ids = x.ids
            x, lookup, batch_tokens = self._token_lookup(x, training)
        cells = self._cells()
        if lookup:
            shape = lookup["ids"].shape + cells[0].kernel.shape[:1]
        else:
            x = float_input(self.name, x)
            shape = x.shape
            if len(shape) != 3 or shape[2] != self._input_size:
                expect_rank(self.name, shape, 3)
                expect_last_dim(self.name, shape, self._input_size)
        if shape[1] == 0:
            raise ValueError(f"{self.name}: expected at least one timestep, received input of shape {shape}")
        if shape[0] == 0:
            return self._empty_batch_outputs(shape[1]), None
        step_mask = None if mask is None else first_input(mask)
        if step_mask is not None:
            step_mask = np.asarray(step_mask, dtype=bool)
            if step_mask.shape != shape[:2]:
                raise ValueError(f"{self.name}: expected a mask of shape {shape[:2]}, received {step_mask.shape}")
        initial_states = self._initial_state(given_states, shape[0]) if given_states or self.stateful else None
        results, features = [], shape[2]
        if self._python_cell:
            cells = []
            results.append(python_cell.forward(self.cell, x, initial_states, step_mask, self.go_backwards,
                                               bool(training), self.return_sequences))
        for index, cell in enumerate(cells):
            later = index > 0  # reads the previous cell's outputs, in processing order
            input_dropout, recurrent_dropout = self._dropout_masks(cell, shape[0], features, training)
            count = len(cell.state_size)
            result = ops.rnn_forward(
                cell.kind, x, **cell.core_weights(),
                initial_state=None if initial_states is None else initial_states[:count],
                mask=step_mask[:, ::-1] if later and self.go_backwards and step_mask is not None else step_mask,
                go_backwards=self.go_backwards and not later, input_dropout_mask=input_dropout,
                recurrent_dropout_mask=recurrent_dropout, training=bool(training),
                return_sequences=self.return_sequences or cell is not cells[-1], **({} if later else lookup))
            results.append(result)
            x, features = result.outputs, cell.output_size
            initial_states = None if initial_states is None else initial_states[count:]
        states = [state for result in results for state in result.states]
        if self.stateful:
            for variable, state in zip(self.states, states):
                variable.assign(state)
        output, output_mask = results[-1].outputs if self.return_sequences else results[-1].last_output, None
        if self.zero_output_for_mask and step_mask is not None:  # outputs in processing order; the last one too
            output_mask = (step_mask[:, ::-1] if self.go_backwards else step_mask)[..., None]
            output_mask = output_mask if self.return_sequences else output_mask[:, -1]
            output = output * output_mask
        outputs = [output, *states] if self.return_state else output
        if not training:
            return outputs, None
        return outputs, ([result.cache for result in results], output_mask, len(given_states), token_ids,
                         batch_tokens)

    def _empty_batch_outputs(self, steps):
        """Keras answers a batch of 0 samples with outputs of 0 samples; the core needs at least one."""
        units = self._output_size
        output = np.zeros((0, steps, units) if self.return_sequences else (0, units), np.float32)
        states = [np.zeros((0, size), np.float32) for size in self._state_sizes]
        return [output, *states] if self.return_state else output

    def backward(self, ctx, d_outputs, input_gradients=True):
        """input_gradients=False (graph.run_backward, when the inputs are the model's own): the input sequence's
        gradient is None and never computed."""
        caches, output_mask, given_states, token_ids, batch_tokens = ctx
        d_output, d_states = (d_outputs[0], list(d_outputs[1:])) if self.return_state else (d_outputs, None)
        if d_output is not None and output_mask is not None:
            d_output = d_output * output_mask
        cells = self._cells()
        d_states = d_states or [None] * len(self._state_sizes)
        d_sequence, d_last = (d_output, None) if self.return_sequences else (None, d_output)
        if self._python_cell:
            gradients = python_cell.backward(caches[0], d_outputs=d_sequence, d_last_output=d_last,
                                             d_states=None if all(d is None for d in d_states) else d_states,
                                             x_gradient=input_gradients)
            pairs = list(zip(self.cell.trainable_weights, gradients["weights"]))
            d_inputs = [gradients["x"], *gradients["initial_state"]] if given_states else gradients["x"]
            return d_inputs, for_trainable_weights(self, pairs)
        pairs, d_initial_states = [], []
        for index in reversed(range(len(cells))):
            cell, count = cells[index], len(cells[index].state_size)
            cell_d_states, d_states = d_states[len(d_states) - count:], d_states[:len(d_states) - count]
            gradients = ops.rnn_backward(
                caches[index], d_outputs=d_sequence, d_last_output=d_last,
                d_states=None if all(d is None for d in cell_d_states) else cell_d_states,
                x_gradient=index > 0 or input_gradients or token_ids is not None)
            d_sequence, d_last = gradients["x"], None
            if index == 0 and batch_tokens is not None:  # the Embedding's gradient as rows, from the batch table's
                gradients["kernel"], d_sequence = batch_tokens.gradients(gradients["input_table"])
            elif index == 0 and token_ids is not None:  # the plain path on an Embedding's ids: its output's rows
                d_sequence = TokenRowsGradient(token_ids.reshape(-1), d_sequence.reshape(-1, d_sequence.shape[-1]))
            pairs = cell.weight_gradients(gradients) + pairs
            d_initial_states = list(gradients["initial_state"]) + d_initial_states
        d_inputs = [d_sequence, *d_initial_states] if given_states else d_sequence
        return d_inputs, for_trainable_weights(self, pairs)

    def get_config(self):
        from rnnkit.layers.serialization import serialize

        return {**super().get_config(), "cell": serialize(self.cell), **self._loop_config()}

    def _loop_config(self):
        return {"return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask}

    @classmethod
    def from_config(cls, config):
        from rnnkit.layers.serialization import deserialize

        config = dict(config)
        return cls(deserialize(config.pop("cell")), **config)


def _flattened(states):
    """initial_state as one flat list (a stack's may be nested per cell, as Keras 3 returns its states)."""
    if not isinstance(states, (list, tuple)):
        return [states]
    return [leaf for state in states for leaf in _flattened(state)]
