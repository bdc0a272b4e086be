"""Bidirectional: a forward copy and a go_backwards copy of a recurrent layer, outputs merged as in Keras 3.

The backward copy's sequence output is flipped back to input time order before merging; with
``return_sequences`` both copies output zeros at masked steps (Keras forces ``zero_output_for_mask``).
Weights: the forward copy's, then the backward copy's. ``initial_state``: the first half goes forward.
"""
import difflib

import numpy as np

from rnnkit.layers._gradients import for_trainable_weights
from rnnkit.layers.layer import Layer
from rnnkit.layers._validation import first_input, sequences_shape
from rnnkit.layers.rnn.base import RNN
from rnnkit.layers.rnn.conv_lstm import ConvLSTM

RECURRENT_LAYERS = (RNN, ConvLSTM)

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _renamed_copy(layer, prefix, **overrides):
    from rnnkit.layers.serialization import deserialize, serialize

    config = serialize(layer)
    base_name = layer.name[len(prefix):] if layer.name.startswith(prefix) else layer.name
    config["config"].update(name=prefix + base_name, **overrides)
    return deserialize(config)


class Bidirectional(Layer):
    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, RECURRENT_LAYERS):
            raise ValueError(f"{self.name}: expected a recurrent layer (SimpleRNN, LSTM, GRU, PeepholeLSTM, RNN, "
                             f"ConvLSTM1D/2D/3D), received {layer!r}")
        if backward_layer is not None and not isinstance(backward_layer, RECURRENT_LAYERS):
            raise ValueError(f"{self.name}: expected backward_layer to be a recurrent layer, received "
                             f"{backward_layer!r}")
        if merge_mode not in MERGE_MODES:
            close = difflib.get_close_matches(str(merge_mode), [m for m in MERGE_MODES if m], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"{self.name}: expected merge_mode in {MERGE_MODES}, received {merge_mode!r}{hint}")
        self.merge_mode = merge_mode
        self.forward_layer = _renamed_copy(layer, "forward_")
        self.backward_layer = backward_layer or _renamed_copy(layer, "backward_", go_backwards=True)
        self._check_pair()
        for sublayer in (self.forward_layer, self.backward_layer):
            sublayer.zero_output_for_mask = sublayer.return_sequences
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.stateful = layer.stateful
        self.supports_masking = True
        self.accepts_token_ids = True  # both recurrent layers take an Embedding's ids
        self.skips_input_gradients = True
        self._initial_weights = weights

    def _check_pair(self):
        forward, backward = self.forward_layer, self.backward_layer
        if forward.go_backwards == backward.go_backwards:
            raise ValueError(f"{self.name}: the forward and backward layers need different go_backwards values; "
                             f"received {forward.go_backwards} for both")
        for attribute in ("stateful", "return_sequences", "return_state"):
            if getattr(forward, attribute) != getattr(backward, attribute):
                raise ValueError(f"{self.name}: the forward and backward layers need the same {attribute}; "
                                 f"received {getattr(forward, attribute)} and {getattr(backward, attribute)}")

    def __call__(self, inputs, initial_state=None, training=None, mask=None, **kwargs):
        if initial_state is not None:
            if mask is not None and not isinstance(mask, (list, tuple)):
                mask = [mask] + [None] * len(initial_state)
            inputs = [inputs, *initial_state]
        return super().__call__(inputs, training=training, mask=mask, **kwargs)

    def build(self, input_shape):
        for sublayer in (self.forward_layer, self.backward_layer):
            if not sublayer.built:
                sublayer.build(sequences_shape(input_shape))
            for variable in sublayer.weights:
                variable.path = f"{self.name}/{sublayer.name}/{variable.path.split('/', 1)[1]}"
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    @property
    def states(self):
        if self.forward_layer.states and self.backward_layer.states:
            return list(self.forward_layer.states) + list(self.backward_layer.states)
        return None

    def reset_state(self):
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    reset_states = reset_state

    def compute_output_shape(self, input_shape):
        shapes = self.forward_layer.compute_output_shape(input_shape)
        output, states = (shapes[0], shapes[1:]) if self.return_state else (shapes, [])
        if self.merge_mode == "concat":
            output = tuple(output[:-1]) + (None if output[-1] is None else 2 * output[-1],)
        merged = [output, output] if self.merge_mode is None else [output]
        if self.return_state:
            return merged + list(states) * 2
        return merged if self.merge_mode is None else output

    def compute_mask(self, inputs, mask=None):
        step_mask = first_input(mask) if self.return_sequences else None
        output_masks = [step_mask, step_mask] if self.merge_mode is None else [step_mask]
        if self.return_state:
            states = 2 if isinstance(self.forward_layer, ConvLSTM) else len(self.forward_layer.cell.state_size)
            return output_masks + [None] * (2 * states)
        return output_masks if self.merge_mode is None else step_mask

    def forward(self, inputs, *, training=False, mask=None):
        sequences = first_input(inputs)
        states = list(inputs[1:]) if isinstance(inputs, (list, tuple)) else []
        half = len(states) // 2
        step_mask = first_input(mask)
        y, forward_ctx = self.forward_layer.forward([sequences, *states[:half]] if states else sequences,
                                                    training=training, mask=step_mask)
        y_rev, backward_ctx = self.backward_layer.forward([sequences, *states[half:]] if states else sequences,
                                                          training=training, mask=step_mask)
        final_states = []
        if self.return_state:
            final_states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]
        merged = self._merge(y, y_rev)
        outputs = merged + final_states if self.merge_mode is None and self.return_state else (
            [merged] + final_states if self.return_state else merged)
        ctx = (forward_ctx, backward_ctx, y, y_rev, len(states)) if training else None
        return outputs, ctx

    def _merge(self, y, y_rev):
        if self.merge_mode == "concat":
            return np.concatenate([y, y_rev], axis=-1)
        if self.merge_mode == "sum":
            return y + y_rev
        if self.merge_mode == "ave":
            return (y + y_rev) / np.float32(2.0)
        if self.merge_mode == "mul":
            return y * y_rev
        return [y, np.ascontiguousarray(y_rev)]

    def _unmerge(self, d_outputs, y, y_rev):
        """Gradients of the two copies' outputs, and the remaining (state) gradients."""
        if not self.return_state:
            d_outputs = d_outputs if self.merge_mode is None else [d_outputs]
        if self.merge_mode is None:
            d_y, d_y_rev = d_outputs[0], d_outputs[1]
            return d_y, d_y_rev, list(d_outputs[2:])
        d_merged, rest = d_outputs[0], list(d_outputs[1:])
        if d_merged is None:
            return None, None, rest
        d_merged = np.asarray(d_merged, dtype=np.float32)
        if self.merge_mode == "concat":
            units = y.shape[-1]
            return d_merged[..., :units], d_merged[..., units:], rest
        if self.merge_mode == "sum":
            return d_merged, d_merged, rest
        if self.merge_mode == "ave":
            return d_merged / np.float32(2.0), d_merged / np.float32(2.0), rest
        return d_merged * y_rev, d_merged * y, rest

    def backward(self, ctx, d_outputs, input_gradients=True):
        forward_ctx, backward_ctx, y, y_rev, given_states = ctx
        d_y, d_y_rev, d_states = self._unmerge(d_outputs, y, y_rev)
        if d_y_rev is not None and self.return_sequences:
            d_y_rev = d_y_rev[:, ::-1]
        half = len(d_states) // 2
        d_forward = [d_y, *d_states[:half]] if self.return_state else d_y
        d_backward = [d_y_rev, *d_states[half:]] if self.return_state else d_y_rev
        d_in_forward, d_w_forward = self.forward_layer.backward(forward_ctx, d_forward, input_gradients)
        d_in_backward, d_w_backward = self.backward_layer.backward(backward_ctx, d_backward, input_gradients)
        d_x = first_input(d_in_forward)
        d_x = None if d_x is None else d_x + first_input(d_in_backward)
        d_inputs = d_x
        if given_states:
            d_inputs = [d_x, *d_in_forward[1:], *d_in_backward[1:]]
        gradients = list(zip(self.forward_layer.trainable_weights, d_w_forward)) + list(
            zip(self.backward_layer.trainable_weights, d_w_backward))
        return d_inputs, for_trainable_weights(self, gradients)

    def get_config(self):
        from rnnkit.layers.serialization import serialize

        return {**super().get_config(), "merge_mode": self.merge_mode, "layer": serialize(self.forward_layer),
                "backward_layer": serialize(self.backward_layer)}

    @classmethod
    def from_config(cls, config):
        from rnnkit.layers.serialization import deserialize

        config = dict(config)
        config["layer"] = deserialize(config["layer"])
        if config.get("backward_layer") is not None:
            config["backward_layer"] = deserialize(config["backward_layer"])
        return cls(**config)
