"""StringLookup: Keras 3's map from strings to vocabulary indices (or back, invert=True), the IndexLookup of string
tokens (rnnkit.layers.index_lookup, which holds the index layout, adapt and the output modes).

An OOV string takes the OOV index or, with several, FarmHash64(its UTF-8) % num_oov_indices (SipHash-2-4 keyed by
`salt` when given), TensorFlow's hashes, so that the buckets are Keras'. It also indexes the RaggedTokens of TextVectorization's split step.
"""
import numpy as np

from rnnkit.layers import index_encoding
from rnnkit.layers.index_lookup import IndexLookup
from rnnkit.layers.preprocessing_layer import STRING_DTYPES
from rnnkit.layers.string_fingerprint import fingerprint64
from rnnkit.layers.string_siphash import salt_key, siphash64
from rnnkit.layers.text_arrays import RaggedTokens, adapt_batches, as_text_array, check_encoding


class StringLookup(IndexLookup):
    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]", vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", pad_to_max_tokens=False, sparse=False,
                 encoding="utf-8", name=None, salt=None, oov_method="floormod", vocabulary_size=None,
                 has_input_vocabulary=None, **kwargs):
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, idf_weights, invert,
                         output_mode, pad_to_max_tokens, sparse, salt, oov_method, vocabulary_size,
                         has_input_vocabulary, name, **kwargs)
        self.encoding = check_encoding(self.name, encoding)

    # -- string tokens -------------------------------------------------------------------------------------------
    def checked_salt(self, salt):
        return salt_key(self.name, salt)

    def as_tokens(self, values):
        return as_text_array(self.name, values)

    def vocabulary_tokens(self, vocabulary):
        vocabulary = as_text_array(self.name, vocabulary)
        if vocabulary.ndim != 1:
            raise ValueError(f"{self.name}: cannot set a vocabulary that is not 1-D. Received: vocabulary of shape "
                             f"{vocabulary.shape}")
        return vocabulary.tolist()

    def oov_buckets(self, tokens):
        texts = [token.encode("utf-8") for token in tokens]
        if self.salt is not None:
            return [siphash64(self.salt, text) % self.num_oov_indices for text in texts]
        return [fingerprint64(text) % self.num_oov_indices for text in texts]

    def inverted_table(self, entries):
        return np.array(entries, dtype=object).astype(str)

    def adapt_batches(self, data, steps):
        return adapt_batches(self.name, data, steps)

    def output_dtype(self):
        return "string" if self.invert else super().output_dtype()

    def check_symbolic_input(self, dtype):
        if (dtype in STRING_DTYPES) == self.invert:
            expected = "integer" if self.invert else "string"
            raise TypeError(f"{self.name}: expects {expected} inputs, received a symbolic tensor of dtype {dtype}"
                            + ("" if self.invert else "; declare keras.Input(shape=(1,), dtype='string')"))

    # -- TextVectorization's split tokens ------------------------------------------------------------------------
    def update_state(self, data):
        if isinstance(data, RaggedTokens) and not self._has_input_vocabulary:
            self._counts.add_documents(data.documents())
        else:
            super().update_state(data)

    def forward(self, inputs, *, training=False, mask=None):
        """Indices, encodings or (invert) strings as numpy arrays; `inputs` may be the RaggedTokens of
        TextVectorization's split step (int mode: rows padded with 0 to the longest)."""
        if not isinstance(inputs, RaggedTokens):
            return super().forward(inputs)
        self._check_callable()
        lengths = np.array([len(row) for row in inputs.rows], dtype=np.int64)
        indices = self._indices([token for row in inputs.rows for token in row])
        if self.output_mode == "int":
            padded = np.zeros((len(lengths), int(lengths.max(initial=0))), dtype=np.int64)
            padded[np.arange(padded.shape[1]) < lengths[:, None]] = indices
            return padded.reshape(inputs.shape + padded.shape[1:]), None
        rows = np.split(indices, np.cumsum(lengths)[:-1]) if len(lengths) else []
        encoded = index_encoding.encode_rows(rows, self.output_mode, self._depth(), self.idf_weights)
        return encoded.reshape(inputs.shape + (self._depth(),)), None

    def get_config(self):
        return {**super().get_config(), "encoding": self.encoding}
