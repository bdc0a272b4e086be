"""Arguments shared by the sliding-window layers (Conv1D, MaxPooling1D, AveragePooling1D): Keras accepts an int or
a one-element tuple for each size, and a data_format that puts the channels last or first."""
import numpy as np

from rnnkit import _core
from rnnkit.layers._validation import positive_int


def one_int(layer, arg, value):
    """An int, or the single int of a one-element tuple or list (Keras' config writes (3,))."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"{layer}: expected {arg} to be an int or a tuple of one int, received {value!r}")
        value = value[0]
    return positive_int(layer, arg, value)


def padding_name(layer, padding, allowed):
    name = padding.lower() if isinstance(padding, str) else padding
    if name not in allowed:
        raise ValueError(f"{layer}: expected padding in {list(allowed)}, received {padding!r}")
    return name


def data_format_name(layer, data_format):
    if data_format not in (None, "channels_last", "channels_first"):
        raise ValueError(f"{layer}: expected data_format 'channels_last' or 'channels_first', received "
                         f"{data_format!r}")
    return data_format or "channels_last"


def steps_middle(x, data_format):
    """(batch, steps, channels) from an input in the layer's data format, and back (the same transpose)."""
    return np.ascontiguousarray(x.transpose(0, 2, 1)) if data_format == "channels_first" else x


def steps_and_channels(shape, data_format):
    return (shape[1], shape[2]) if data_format == "channels_last" else (shape[2], shape[1])


def output_shape(shape, steps_out, channels_out, data_format):
    batch = shape[0]
    return (batch, steps_out, channels_out) if data_format == "channels_last" else (batch, channels_out, steps_out)


def steps_out(layer, steps, size, stride, dilation, padding, window):
    """Output steps of the window over `steps` (None when unknown); a "valid" window longer than a non-empty input is
    a ValueError (`window` names it in the message)."""
    if steps is None:
        return None
    count = _core.window_steps_out(steps, size, stride, dilation, padding)
    if count == 0 and steps > 0:
        raise ValueError(f"{layer}: an input of {steps} steps is shorter than {window} with padding='valid'")
    return count
