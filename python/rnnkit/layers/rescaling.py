"""Rescaling (Keras 3's): inputs * scale + offset in float32, in training and inference alike. scale and offset are
numbers, lists or numpy arrays, broadcast against the input's trailing axes as numpy broadcasts (Keras' channels-first
reshape of a list scale never applies: rnnkit's image_data_format is channels_last). Keeps the mask."""
import numpy as np

from rnnkit.layers._validation import float_input
from rnnkit.layers.layer import Layer


def _factor(layer, arg, value):
    """The float32 array of a scale or offset (a Keras config's __numpy__ dict read back as its array)."""
    if isinstance(value, dict) and value.get("class_name") == "__numpy__":
        config = value.get("config") or {}
        value = np.asarray(config.get("value"), dtype=config.get("dtype"))
    try:
        array = np.asarray(value)
    except ValueError:
        array = np.asarray(0, dtype=object)  # ragged lists: refused below
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise TypeError(f"{layer}: expected {arg} to be a number, a list of numbers or a numeric array, received "
                        f"{value!r}")
    return value, array.astype(np.float32)


def _serialized(value):
    """Keras' config form: numbers and lists as they are, numpy arrays as __numpy__ dicts."""
    if isinstance(value, np.ndarray):
        return {"class_name": "__numpy__", "config": {"value": value.tolist(), "dtype": value.dtype.name}}
    if isinstance(value, np.generic):
        return value.item()
    return value


class Rescaling(Layer):
    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self._scale = _factor(self.name, "scale", scale)
        self.offset, self._offset = _factor(self.name, "offset", offset)
        self.supports_masking = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        try:
            y = x * self._scale + self._offset
        except ValueError:
            raise ValueError(f"{self.name}: scale of shape {self._scale.shape} and offset of shape "
                             f"{self._offset.shape} do not broadcast against the input of shape {x.shape}") from None
        return np.ascontiguousarray(y, dtype=np.float32), (x.shape if training else None)

    def backward(self, ctx, d_outputs):
        d_x = np.asarray(d_outputs, dtype=np.float32) * self._scale
        return _sum_to_shape(d_x, ctx), []

    def get_config(self):
        return {**super().get_config(), "scale": _serialized(self.scale), "offset": _serialized(self.offset)}


def _sum_to_shape(gradient, shape):
    """The gradient of a broadcast input: summed over the axes a larger scale or offset added."""
    extra = gradient.ndim - len(shape)
    gradient = gradient.sum(axis=tuple(range(extra))) if extra > 0 else gradient
    stretched = tuple(axis for axis, size in enumerate(shape) if size == 1 and gradient.shape[axis] != 1)
    if stretched:
        gradient = gradient.sum(axis=stretched, keepdims=True)
    return np.ascontiguousarray(gradient, dtype=np.float32)
