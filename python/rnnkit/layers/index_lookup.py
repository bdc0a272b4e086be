"""Keras 3's IndexLookup, the part StringLookup and IntegerLookup share: a map from tokens to vocabulary indices (or
back, invert=True), learnt by adapt() or given, with the "int", "one_hot", "multi_hot", "count" and "tf_idf"
outputs; numpy only, no TensorFlow.

Index layout (Keras'): in "int" mode the mask token (when set) at 0, then the num_oov_indices OOV indices, then the
tokens; in the other modes the OOV indices first and the mask token dropped. An OOV token takes the OOV index or,
with several, the bucket its subclass computes as Keras does (oov_buckets).

The vocabulary and tf_idf's idf_weights are state, not weights: `layer.weights` is empty as in Keras, and the
saving module stores them as Keras does (rnnkit.saving.layer_assets).
"""
import itertools
import os

import numpy as np

from rnnkit.layers import index_encoding
from rnnkit.layers.preprocessing_layer import PreprocessingLayer
from rnnkit.layers.token_counts import TokenCounts

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")
_OOV = -2  # a lookup miss, before OOV indices are assigned


def output_mode_of(layer, output_mode):
    """Keras' output_mode, its old spellings "binary" and "tf-idf" included."""
    output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
    if output_mode not in OUTPUT_MODES:
        raise ValueError(f"{layer}: unknown value for `output_mode`. Allowed values are: {OUTPUT_MODES}. "
                         f"Received: output_mode={output_mode!r}")
    return output_mode


def checked_count(layer, argument, value, minimum):
    """`value` as an int, or Keras' errors for a count that is not an integer or is below `minimum`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{layer}: expected `{argument}` to be an integer, received {value!r}")
    if value < minimum:
        raise ValueError(f"{layer}: `{argument}` must be greater than or equal to {minimum}. Received: "
                         f"{argument}={value}")
    return int(value)


def read_vocabulary_file(layer, path):
    """The lines of a vocabulary file, one token each, as TensorFlow reads them (a trailing \\r dropped, empty lines
    refused)."""
    if not os.path.isfile(path):
        raise ValueError(f"{layer}: vocabulary file {os.fspath(path)} does not exist.")
    with open(path, "rb") as file:
        lines = file.read().decode("utf-8").split("\n")
    if lines[-1] == "":
        lines.pop()
    tokens = [line[:-1] if line.endswith("\r") else line for line in lines]
    if "" in tokens:
        raise ValueError(f"{layer}: invalid content in {os.fspath(path)}: empty line {tokens.index('') + 1}")
    return tokens


def refuse_vocabulary_path(config):
    """A config naming a vocabulary file is not followed: loading a model reads nothing outside its file (Keras
    refuses it too, in safe mode)."""
    if isinstance(config.get("vocabulary"), str):
        raise ValueError(f"{config.get('name')}: the config names a vocabulary file ({config['vocabulary']!r}), which "
                         "rnnkit does not read when loading; set the vocabulary with set_vocabulary() instead")


class _Vocabulary:
    """The tokens and the index of each (the mask token's too), held in an object so that the walks over a layer's
    attributes (its sub-layers, Keras' file layout) skip their entries."""

    def __init__(self, tokens, start, mask_token, mask_index):
        self.tokens = list(tokens)
        self.index = {token: start + position for position, token in enumerate(self.tokens)}
        if mask_token is not None:
            self.index[mask_token] = mask_index


class IndexLookup(PreprocessingLayer):
    """The shared lookup. A subclass says what its tokens are: as_tokens (inputs to an array of tokens),
    vocabulary_tokens (a given vocabulary to a list of tokens), oov_buckets, inverted_table, adapt_batches, its
    salt rule, and its symbolic input and invert dtypes."""

    def __init__(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, idf_weights, invert,
                 output_mode, pad_to_max_tokens, sparse, salt, oov_method, vocabulary_size, has_input_vocabulary,
                 name, **kwargs):
        super().__init__(name=name, **kwargs)
        self.output_mode = output_mode_of(self.name, output_mode)
        self.max_tokens = None if max_tokens is None else checked_count(self.name, "max_tokens", max_tokens, 2)
        self.num_oov_indices = checked_count(self.name, "num_oov_indices", num_oov_indices, 0)
        self.mask_token, self.oov_token = mask_token, oov_token
        self.invert, self.pad_to_max_tokens = bool(invert), bool(pad_to_max_tokens)
        self.oov_method = oov_method
        self._check_options(sparse, idf_weights)
        self.sparse, self.salt = False, self.checked_salt(salt)
        # Kept for get_config as Keras does: a vocabulary given as a file path travels as state instead.
        self.input_vocabulary = None if vocabulary is None or isinstance(vocabulary, (str, os.PathLike)) else \
            np.array(self.vocabulary_tokens(vocabulary), dtype=object)
        self.input_idf_weights = None if idf_weights is None else np.asarray(idf_weights, dtype=np.float64)
        self._has_input_vocabulary = vocabulary is not None if has_input_vocabulary is None else \
            bool(has_input_vocabulary)
        self._frozen_vocab_size = vocabulary_size  # the output depth once known (from a config before any vocab)
        self._vocabulary = None  # no vocabulary yet: calls are refused, as Keras' uninitialized table does
        self.idf_weights = None
        self._counts = TokenCounts(per_document=self.output_mode == "tf_idf")
        if self.output_mode == "tf_idf" and self._has_input_vocabulary and idf_weights is None:
            raise ValueError(f"{self.name}: when specifying the `vocabulary` argument, in TF-IDF output mode, the "
                             "`idf_weights` argument must also be provided.")
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
        self.built = True

    def _check_options(self, sparse, idf_weights):
        if self.pad_to_max_tokens and self.max_tokens is None:
            raise ValueError(f"{self.name}: if pad_to_max_tokens is True, must set `max_tokens`. Received: "
                             "max_tokens=None")
        if self.oov_method not in ("floormod", "farmhash"):
            raise ValueError(f"{self.name}: unknown value for `oov_method`. Allowed values are: ('floormod', "
                             f"'farmhash'). Received: oov_method={self.oov_method!r}")
        if self.invert and self.output_mode != "int":
            raise ValueError(f"{self.name}: `output_mode` must be `'int'` when `invert` is true. Received: "
                             f"output_mode={self.output_mode}")
        if idf_weights is not None and self.output_mode != "tf_idf":
            raise ValueError(f"{self.name}: `idf_weights` should only be set if `output_mode` is `'tf_idf'`. "
                             f"Received: output_mode={self.output_mode}")
        if sparse:
            raise ValueError(f"{self.name}: sparse=True is not supported by rnnkit (no sparse tensors; Keras allows it "
                             "on the TensorFlow backend only); use the dense output")

    # -- what a subclass defines -----------------------------------------------------------------------------------
    def checked_salt(self, salt):
        """The salt kept (Keras' [key0, key1]) or an error."""
        raise NotImplementedError

    def as_tokens(self, values):
        """`values` (a scalar, nested lists or an array) as an array of tokens of the same shape."""
        raise NotImplementedError

    def vocabulary_tokens(self, vocabulary):
        """A given vocabulary (a sequence, or a file's lines) as a list of tokens, or an error."""
        raise NotImplementedError

    def oov_buckets(self, tokens):
        """The OOV bucket, in [0, num_oov_indices), of each of a list of out-of-vocabulary tokens."""
        raise NotImplementedError

    def inverted_table(self, entries):
        """invert=True's output for each index, from the vocabulary and then the OOV token."""
        raise NotImplementedError

    def adapt_batches(self, data, steps):
        """The batches adapt() counts: an array or list as rows of one token each, or the first `steps` batches of
        an iterable of them."""
        raise NotImplementedError

    # -- indices -------------------------------------------------------------------------------------------------
    def _oov_start_index(self):
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self):
        return self._oov_start_index() + self.num_oov_indices

    def _special_tokens(self):
        return [self.mask_token] * self._oov_start_index() + [self.oov_token] * self.num_oov_indices

    def get_vocabulary(self, include_special_tokens=True):
        """The vocabulary in index order: the mask and OOV tokens first when include_special_tokens."""
        tokens = self._vocabulary.tokens if self._vocabulary is not None else []
        return (self._special_tokens() if include_special_tokens else []) + list(tokens)

    def vocabulary_size(self):
        """The number of indices, the special ones included."""
        return self._token_start_index() + (len(self._vocabulary.tokens) if self._vocabulary is not None else 0)

    def _depth(self):
        return self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size

    def _record_vocabulary_size(self, size):
        """Outside "int" mode (unpadded) the vocabulary size is the output's: it cannot change once set, as in
        Keras."""
        if (self.output_mode != "int" and not self.pad_to_max_tokens and self._frozen_vocab_size is not None
                and size != self._frozen_vocab_size):
            raise RuntimeError(f"{self.name}: when using `output_mode={self.output_mode}` and "
                               "`pad_to_max_tokens=False`, the vocabulary size cannot be changed after the layer is "
                               f"called. Old vocab size is {self._frozen_vocab_size}, new vocab size is {size}")
        self._frozen_vocab_size = size

    def _use_vocabulary(self, tokens, idf_weights=None):
        self._record_vocabulary_size(self._token_start_index() + len(tokens))
        mask_index = 0 if self.output_mode == "int" else index_encoding.DROPPED
        self._vocabulary = _Vocabulary(tokens, self._token_start_index(), self.mask_token, mask_index)
        if idf_weights is not None:
            self.idf_weights = idf_weights

    # -- vocabulary ----------------------------------------------------------------------------------------------
    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Sets the vocabulary (a sequence of tokens, with or without the special tokens leading it in index
        order, or the path of a file of one token per line) and, in tf_idf mode, its idf_weights."""
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ValueError(f"{self.name}: `idf_weights` must be set if output_mode is 'tf_idf'.")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise ValueError(f"{self.name}: `idf_weights` should only be set if output_mode is `'tf_idf'`. "
                             f"Received: output_mode={self.output_mode} and idf_weights={idf_weights}")
        if isinstance(vocabulary, (str, os.PathLike)):
            if self.output_mode == "tf_idf":
                raise ValueError(f"{self.name}: output_mode `'tf_idf'` does not support loading a vocabulary from "
                                 "file.")
            tokens, found_special_tokens = self.vocabulary_tokens(read_vocabulary_file(self.name, vocabulary)), False
        else:
            vocabulary = self.vocabulary_tokens(vocabulary)
            if not vocabulary:
                raise ValueError(f"{self.name}: cannot set an empty vocabulary. Received: vocabulary={vocabulary}")
            start = self._token_start_index()
            found_special_tokens = vocabulary[:start] == self._special_tokens()
            tokens = vocabulary[start:] if found_special_tokens else vocabulary
        self._check_tokens(tokens)
        weights = None if idf_weights is None else self._given_idf_weights(idf_weights, len(tokens),
                                                                           found_special_tokens)
        self._use_vocabulary(tokens, weights)

    def _check_tokens(self, tokens):
        if len(set(tokens)) != len(tokens):
            seen, repeated = set(), []
            for token in tokens:
                if token in seen and token not in repeated:
                    repeated.append(token)
                seen.add(token)
            raise ValueError(f"{self.name}: the passed vocabulary has at least one repeated term. Please uniquify "
                             f"your dataset. The repeated terms are: {repeated}")
        reserved = [("mask", self.mask_token)] + ([("OOV", self.oov_token)] if self.invert else [])
        for what, token in reserved:
            if token is not None and token in tokens:
                raise ValueError(f"{self.name}: found reserved {what} token {token!r} at unexpected location in "
                                 "`vocabulary`. Note that passed `vocabulary` does not need to include the OOV and "
                                 "mask tokens. Either remove all mask and OOV tokens, or include them only at the "
                                 f"start of the vocabulary in precisely this order: {self._special_tokens()}.")
        size = self._token_start_index() + len(tokens)
        if self.max_tokens is not None and size > self.max_tokens:
            raise ValueError(f"{self.name}: attempted to set a vocabulary larger than the maximum vocab size. "
                             f"Received vocabulary size is {size}; `max_tokens` is {self.max_tokens}.")

    def _given_idf_weights(self, idf_weights, token_count, found_special_tokens):
        """The idf weight of each index: the special tokens' given or the mean of the given ones (Keras' default
        for OOV), then zeros up to max_tokens when padding."""
        weights = np.asarray(idf_weights, dtype=np.float64)
        given = token_count + (self._token_start_index() if found_special_tokens else 0)
        if weights.ndim != 1 or len(weights) != given:
            raise ValueError(f"{self.name}: `idf_weights` must be a 1-D sequence as long as the vocabulary. "
                             f"Received idf_weights of shape {weights.shape} for a vocabulary of {given}")
        front = 0 if found_special_tokens else self._token_start_index()
        back = self.max_tokens - front - len(weights) if self.pad_to_max_tokens else 0
        front_value = np.average(weights) if front else 0.0
        return np.pad(weights, (front, back), constant_values=(front_value, 0.0)).astype(np.float32)

    # -- adapt ---------------------------------------------------------------------------------------------------
    def adapt(self, data, steps=None):
        """Learns the vocabulary from `data`: an array or list of tokens (each entry a document for tf_idf, each
        row when 2-D) or an iterable of such batches (each batch's rows documents, a 1-D batch one document), the
        first `steps` of them when given."""
        batches = self.adapt_batches(data, steps)
        self.reset_state()
        for batch in batches:
            self.update_state(batch)
        self.finalize_state()

    def update_state(self, data):
        """Counts the tokens of one batch (see adapt)."""
        if self._has_input_vocabulary:
            raise ValueError(f"Cannot adapt layer '{self.name}' after setting a static vocabulary via `vocabulary` "
                             "argument or `set_vocabulary()` method.")
        tokens = self.as_tokens(data)
        tokens = tokens.reshape(1, -1) if tokens.ndim <= 1 else tokens
        self._counts.add_documents(tokens.reshape(tokens.shape[0], int(np.prod(tokens.shape[1:]))).tolist())

    def finalize_state(self):
        """The vocabulary from the counted tokens: most frequent first, ties by descending token order, the mask
        and OOV tokens left out, at most max_tokens indices; in tf_idf mode their idf weights (the special
        indices get their mean). Counting nothing keeps the vocabulary there was."""
        counts = self._counts
        if self._has_input_vocabulary or not counts.frequencies:
            self._record_vocabulary_size(self.vocabulary_size())
            return
        start = self._token_start_index()
        limit = max(0, self.max_tokens - start) if self.max_tokens else None
        tokens = counts.ranked({token for token in (self.mask_token, self.oov_token) if token is not None}, limit)
        weights = None
        if self.output_mode == "tf_idf":
            idf = counts.idf_weights(tokens)
            special = np.float32(idf.astype(np.float64).mean()) if len(idf) else np.float32(np.nan)
            weights = np.concatenate([np.full(start, special, dtype=np.float32), idf])
            if self.pad_to_max_tokens:
                weights = np.pad(weights, (0, self.max_tokens - len(weights)))
        self._use_vocabulary(tokens, weights)
        self.reset_state()

    def reset_state(self):
        """Forgets the counts of an adapt() in progress."""
        if not self._has_input_vocabulary:
            self._counts = TokenCounts(per_document=self.output_mode == "tf_idf")

    # -- calls ---------------------------------------------------------------------------------------------------
    def output_dtype(self):
        """Keras' eager output dtypes: indices and counts int64, tf_idf float32 (invert: the subclass's)."""
        return "float32" if self.output_mode == "tf_idf" else "int64"

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        return index_encoding.encoded_shape(input_shape, self.output_mode, self._depth())

    def _check_callable(self):
        if self._vocabulary is None:
            raise RuntimeError(f"{self.name}: the layer has no vocabulary: call adapt() or set_vocabulary() first, "
                               "or pass vocabulary=")
        if not self.invert and self.output_mode != "int" and self._depth() is None:
            raise RuntimeError(f"{self.name}: when using `output_mode={self.output_mode}` and "
                               "`pad_to_max_tokens=False`, you must set the layer's vocabulary before calling it.")

    def forward(self, inputs, *, training=False, mask=None):
        """Indices, encodings or (invert) tokens as numpy arrays."""
        self._check_callable()
        if self.invert:
            return self._inverted(inputs), None
        tokens = self.as_tokens(inputs)
        return self.encoded(self._indices(tokens.ravel().tolist()).reshape(tokens.shape)), None

    def encoded(self, indices):
        """The output of an array of vocabulary indices in this output mode."""
        if self.output_mode == "int":
            return indices
        if self.output_mode == "one_hot":
            return index_encoding.one_hot(indices, self._depth())
        return index_encoding.encode_samples(indices, self.output_mode, self._depth(), self.idf_weights)

    def _indices(self, tokens):
        """The index of each of a list of tokens: OOV ones to the OOV index or their bucket."""
        index = self._vocabulary.index
        indices = np.fromiter(map(index.get, tokens, itertools.repeat(_OOV)), dtype=np.int64, count=len(tokens))
        missing = np.flatnonzero(indices == _OOV)
        if not missing.size:
            return indices
        if self.num_oov_indices == 0:
            found = sorted({tokens[position] for position in missing[:100]})
            raise ValueError(f"{self.name}: when `num_oov_indices=0` all inputs should be in vocabulary, found OOV "
                             f"values {found}, consider setting `num_oov_indices=1`.")
        start = self._oov_start_index()
        if self.num_oov_indices == 1:
            indices[missing] = start
        else:
            indices[missing] = start + np.asarray(self.oov_buckets([tokens[position] for position in missing]),
                                                  dtype=np.int64)
        return indices

    def _inverted(self, inputs):
        """invert=True: the vocabulary entry of each index, the OOV token for any index outside it."""
        indices = np.asarray(inputs)
        if not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(f"{self.name}: invert=True maps integer indices to tokens, received dtype "
                            f"{indices.dtype}")
        table = self.inverted_table(self.get_vocabulary() + [self.oov_token])
        inside = (indices >= 0) & (indices < len(table) - 1)
        return table[np.where(inside, indices, len(table) - 1)]

    # -- state and config ----------------------------------------------------------------------------------------
    def export_state(self):
        """{"vocabulary": the full vocabulary or None when unset, "idf_weights": float32 array or None}: what a
        saved model keeps besides the config (Keras: vocabulary.txt among the assets, idf_weights with the
        weights)."""
        vocabulary = None if self._vocabulary is None else self.get_vocabulary()
        return {"vocabulary": vocabulary, "idf_weights": self.idf_weights if self.output_mode == "tf_idf" else None}

    def import_state(self, vocabulary=None, idf_weights=None):
        """Restores export_state()'s state; a vocabulary's special tokens are recognised as set_vocabulary does.
        Idf weights are taken with or without pad_to_max_tokens' zeros (Keras' files hold them, rnnkit's .keras
        ones not)."""
        if self.output_mode != "tf_idf":
            idf_weights = None
        elif idf_weights is not None:
            weights = np.asarray(idf_weights, dtype=np.float32)
            if self.pad_to_max_tokens:
                weights = np.pad(weights[:self.max_tokens], (0, max(0, self.max_tokens - len(weights))))
            self.idf_weights = weights
        if vocabulary is None:
            return
        if self.output_mode == "tf_idf":
            if self.idf_weights is None:
                raise ValueError(f"{self.name}: a tf_idf vocabulary needs its idf_weights, which the file lacks")
            idf_weights = self.idf_weights[:len(vocabulary)] if self.pad_to_max_tokens else self.idf_weights
        self.set_vocabulary(vocabulary, idf_weights)

    def get_config(self):
        listed = lambda array: None if array is None else array.tolist()  # noqa: E731
        return {**super().get_config(), "invert": self.invert, "max_tokens": self.max_tokens,
                "num_oov_indices": self.num_oov_indices, "oov_token": self.oov_token, "mask_token": self.mask_token,
                "output_mode": self.output_mode, "sparse": False, "pad_to_max_tokens": self.pad_to_max_tokens,
                "idf_weights": listed(self.input_idf_weights), "vocabulary": listed(self.input_vocabulary),
                "vocabulary_size": self._frozen_vocab_size, "oov_method": self.oov_method, "salt": self.salt}

    @classmethod
    def from_config(cls, config):
        refuse_vocabulary_path(config)
        return cls(**config)
