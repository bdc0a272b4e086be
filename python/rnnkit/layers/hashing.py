"""Hashing: Keras 3's layer that hashes strings or numbers into `num_bins` bins, in numpy, bit for bit as Keras does
through TensorFlow: each value's string form (integers in decimal, floats truncated to integers first, booleans
"true"/"false", strings as UTF-8, bytes as they are) hashed with FarmHash64 (to_hash_bucket_fast) or, given a
`salt`, with SipHash-2-4 keyed by it (to_hash_bucket_strong), modulo the bins. With a mask_value (and more than one
bin), the mask takes bin 0 and the other values the remaining num_bins - 1 bins, shifted by one.
"""
import numpy as np

from rnnkit.layers import index_encoding
from rnnkit.layers.preprocessing_layer import PreprocessingLayer, dtype_name
from rnnkit.layers.string_fingerprint import fingerprint64
from rnnkit.layers.string_siphash import salt_key, siphash64

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count")


def _text_bytes(layer, value):
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    raise TypeError(f"{layer}: expected strings or numbers, received {type(value).__name__} {value!r}")


def hashed_forms(layer, values):
    """The bytes TensorFlow hashes for each entry of `values` (a numpy array), in C order."""
    kind = values.dtype.kind
    if kind == "b":
        return [b"true" if value else b"false" for value in values.ravel().tolist()]
    if kind in "iu":
        return [str(value).encode() for value in values.ravel().tolist()]
    if kind == "f":
        if not np.isfinite(values).all():
            raise ValueError(f"{layer}: cannot hash non-finite floats (Keras casts floats to int64 first)")
        return [str(int(value)).encode() for value in values.ravel().tolist()]
    if kind in "USO":
        return [_text_bytes(layer, value) for value in values.ravel().tolist()]
    raise TypeError(f"{layer}: expected strings or numbers, received an array of dtype {values.dtype}")


class Hashing(PreprocessingLayer):
    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False, **kwargs):
        # Keras' default dtype: int64 indices, float32 encodings.
        kwargs["dtype"] = dtype_name("Hashing", kwargs.get("dtype"), "int64" if output_mode == "int" else "float32")
        super().__init__(**kwargs)
        if num_bins is None or isinstance(num_bins, bool) or not isinstance(num_bins, (int, np.integer)) or \
                num_bins <= 0:
            raise ValueError(f"{self.name}: the `num_bins` for `Hashing` cannot be `None` or non-positive values. "
                             f"Received: num_bins={num_bins}.")
        if output_mode == "int" and self.dtype not in ("int32", "int64"):
            raise ValueError(f"{self.name}: when `output_mode=\"int\"`, `dtype` should be an integer type, 'int32' "
                             f"or 'int64'. Received: dtype={self.dtype}")
        if output_mode not in OUTPUT_MODES:
            raise ValueError(f"{self.name}: invalid value for argument `output_mode`. Expected one of "
                             f"{OUTPUT_MODES}. Received: output_mode={output_mode}")
        if sparse:
            raise ValueError(f"{self.name}: sparse=True is not supported by rnnkit (no sparse tensors; Keras allows it "
                             "on the TensorFlow backend only); use the dense output")
        self.num_bins, self.mask_value, self.output_mode = int(num_bins), mask_value, output_mode
        self.salt = salt_key(self.name, salt)
        self.built = True

    def bins(self, values):
        """The bin of each entry of `values` (a numpy array), an int64 array of its shape."""
        forms = hashed_forms(self.name, values)
        masked = self.mask_value is not None and self.num_bins > 1  # Keras ignores the mask with a single bin
        bins = self.num_bins - 1 if masked else self.num_bins
        hashed = np.array([siphash64(self.salt, form) % bins for form in forms] if self.salt is not None else
                          [fingerprint64(form) % bins for form in forms], dtype=np.int64).reshape(values.shape)
        if not masked:
            return hashed
        return np.where(self._mask_of(values, forms), 0, hashed + 1)

    def _mask_of(self, values, forms):
        """Where `values` equal mask_value, compared as TensorFlow does: strings with strings, numbers with
        numbers (before floats are truncated)."""
        text_mask = isinstance(self.mask_value, (str, bytes))
        if text_mask != (values.dtype.kind in "USO"):
            raise TypeError(f"{self.name}: mask_value {self.mask_value!r} cannot be compared with inputs of dtype "
                            f"{values.dtype}")
        if text_mask:
            mask = _text_bytes(self.name, self.mask_value)
            return np.array([form == mask for form in forms], dtype=bool).reshape(values.shape)
        return values == self.mask_value

    def forward(self, inputs, *, training=False, mask=None):
        try:
            values = np.asarray(inputs)
        except ValueError:
            raise ValueError(f"{self.name}: expected a rectangular array, received nested sequences of different "
                             "lengths") from None
        return index_encoding.encode(self.bins(values), self.output_mode, self.num_bins, self.dtype), None

    def output_dtype(self):
        return self.dtype

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        return index_encoding.encoded_shape(input_shape, self.output_mode, self.num_bins)

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "salt": self.salt, "mask_value": self.mask_value,
                "output_mode": self.output_mode, "sparse": False}
