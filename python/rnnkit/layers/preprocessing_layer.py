"""What the preprocessing layers (the lookups, Hashing, CategoryEncoding, Discretization) share: they take numpy
arrays of any dtype (strings, integers, floats) eagerly, have no weights, pass no gradient back, and give their
symbolic outputs the dtype of their eager ones, as Keras' eager outputs have it."""
import numpy as np

from rnnkit.layers.layer import Layer, _is_symbolic

STRING_DTYPES = ("string", "str")  # the spellings of a symbolic string input's dtype


def dtype_name(layer, dtype, default):
    """A `dtype` argument as a numpy dtype name: None gives `default`; Keras' configs hold a DTypePolicy dict."""
    if dtype is None:
        return default
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name", default)
    try:
        return np.dtype(dtype).name
    except TypeError:
        raise ValueError(f"{layer}: unsupported dtype {dtype!r} (rnnkit takes numpy dtype names such as 'float32' "
                         "or 'int64')") from None


class PreprocessingLayer(Layer):
    def __call__(self, inputs, training=None, mask=None, **kwargs):
        if _is_symbolic(inputs):
            return super().__call__(inputs, training=training, mask=mask, **kwargs)
        if kwargs:
            raise TypeError(f"Layer '{self.name}': unexpected call argument(s) {sorted(kwargs)}")
        return self.forward(inputs)[0]  # Layer.__call__ would take a list of values for several inputs

    def _call_symbolic(self, inputs):
        self.check_symbolic_input(str(getattr(inputs, "dtype", "")))
        outputs = super()._call_symbolic(inputs)
        outputs.dtype = self.output_dtype()
        return outputs

    def check_symbolic_input(self, dtype):
        """Raises a TypeError naming the layer when a symbolic input of `dtype` cannot feed it."""

    def output_dtype(self):
        raise NotImplementedError

    def backward(self, ctx, d_outputs):
        return None, []  # indices, counts and strings have no gradient
