"""IntegerLookup: Keras 3's map from integers to vocabulary indices (or back, invert=True), the IndexLookup of int64
tokens (rnnkit.layers.index_lookup, which holds the index layout, adapt and the output modes).

OOV buckets as Keras computes them for integers: oov_method="floormod" (the default) sends token t to
t mod num_oov_indices (floor modulo: -7 mod 3 = 2); "farmhash" hashes the token's decimal string with FarmHash64, or
with SipHash-2-4 keyed by `salt` when given, as TensorFlow's to_hash_bucket_fast / _strong do.
"""
import numpy as np

from rnnkit.layers.index_lookup import IndexLookup
from rnnkit.layers.integer_arrays import as_integer_array
from rnnkit.layers.preprocessing_layer import STRING_DTYPES
from rnnkit.layers.string_fingerprint import fingerprint64
from rnnkit.layers.string_siphash import salt_key, siphash64
from rnnkit.layers.text_arrays import adapt_batches


def _integer_token(layer, argument, token):
    if isinstance(token, bool) or not isinstance(token, (int, np.integer)):
        raise TypeError(f"{layer}: `{argument}` must be an integer, received {token!r}")
    return int(token)


class IntegerLookup(IndexLookup):
    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1, vocabulary=None,
                 vocabulary_dtype="int64", idf_weights=None, invert=False, output_mode="int", sparse=False,
                 pad_to_max_tokens=False, oov_method="floormod", salt=None, name=None, vocabulary_size=None,
                 has_input_vocabulary=None, **kwargs):
        if vocabulary_dtype != "int64":
            raise ValueError("IntegerLookup: only `vocabulary_dtype='int64'` is supported at this time. Received: "
                             f"vocabulary_dtype={vocabulary_dtype}")
        if oov_token is None:
            # Keras takes None outside invert mode, and then writes a vocabulary.txt it cannot read back.
            raise ValueError("IntegerLookup: rnnkit needs an integer `oov_token` (it is the OOV entry of "
                             "get_vocabulary() and of saved vocabularies); received oov_token=None")
        mask_token = None if mask_token is None else _integer_token("IntegerLookup", "mask_token", mask_token)
        oov_token = _integer_token("IntegerLookup", "oov_token", oov_token)
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, idf_weights, invert,
                         output_mode, pad_to_max_tokens, sparse, salt, oov_method, vocabulary_size,
                         has_input_vocabulary, name, **kwargs)

    def checked_salt(self, salt):
        """Keras' rule: a salt only with oov_method="farmhash"."""
        if salt is not None and self.oov_method != "farmhash":
            raise ValueError(f"{self.name}: `salt` can only be used when `oov_method='farmhash'`. Received: "
                             f"oov_method={self.oov_method}")
        return salt_key(self.name, salt)

    def as_tokens(self, values):
        return as_integer_array(self.name, values)

    def vocabulary_tokens(self, vocabulary):
        tokens = as_integer_array(self.name, vocabulary)
        if tokens.ndim != 1:
            raise ValueError(f"{self.name}: cannot set a vocabulary that is not 1-D. Received: vocabulary of shape "
                             f"{tokens.shape}")
        return tokens.tolist()

    def oov_buckets(self, tokens):
        if self.oov_method == "floormod":
            return np.mod(np.asarray(tokens, dtype=np.int64), self.num_oov_indices)
        texts = [str(token).encode() for token in tokens]  # tf.strings.as_string's decimal form
        if self.salt is not None:
            return [siphash64(self.salt, text) % self.num_oov_indices for text in texts]
        return [fingerprint64(text) % self.num_oov_indices for text in texts]

    def inverted_table(self, entries):
        return np.array(entries, dtype=np.int64)

    def adapt_batches(self, data, steps):
        return adapt_batches(self.name, data, steps, to_array=as_integer_array)

    def output_dtype(self):
        return "int64" if self.invert else super().output_dtype()

    def check_symbolic_input(self, dtype):
        if dtype in STRING_DTYPES:
            raise TypeError(f"{self.name}: expects integer inputs, received a symbolic tensor of dtype {dtype}; "
                            "declare keras.Input(..., dtype='int64')")

    def get_config(self):
        return {**super().get_config(), "vocabulary_dtype": "int64"}
