"""TextVectorization: Keras 3's text to indices (or multi_hot / count / tf_idf vectors) layer, in numpy: standardize,
split, ngrams (rnnkit.layers.text_tokenizing), then the StringLookup it holds as `_lookup_layer`, as Keras does (mask
token "" at index 0 in "int" mode, then "[UNK]"), which owns the vocabulary.

Its outputs are numpy arrays; "int" rows are padded with 0 to the longest row of the call, or padded and truncated to
output_sequence_length. Unlike Keras off TensorFlow, it also runs inside rnnkit models, after
`keras.Input(shape=(1,), dtype="string")` (or first in a Sequential fed strings).
"""
import numpy as np

from rnnkit.layers.index_lookup import output_mode_of, refuse_vocabulary_path
from rnnkit.layers.preprocessing_layer import STRING_DTYPES, PreprocessingLayer
from rnnkit.layers.string_lookup import StringLookup
from rnnkit.layers.text_arrays import RaggedTokens, adapt_batches, as_text_array
from rnnkit.layers.text_tokenizing import (SPLIT_MODES, STANDARDIZE_MODES, ngram_count, ngram_widths, standardize,
                                           tokenize)
from rnnkit.saving.object_registry import get_registered_name, get_registered_object


def _checked_mode(layer, argument, value, modes):
    if value is None or callable(value) or value in modes:
        return value
    raise ValueError(f"{layer}: unknown value for `{argument}` argument of TextVectorization. Allowed values are: "
                     f"{modes}, None or a callable. Received: {argument}={value!r}")


def _function_config(layer, argument, value):
    """A callable standardize/split as Keras serializes a function: by its registered name (its own name when not
    registered), which loading looks up in the registry or a custom_object_scope."""
    if not callable(value):
        return value
    name = getattr(value, "__name__", None)
    if name is None or name == "<lambda>":
        raise ValueError(f"{layer}: its {argument} callable {value!r} cannot be saved; use a named function, "
                         "registered with keras.saving.register_keras_serializable()")
    registered = get_registered_name(value)
    return {"module": value.__module__, "class_name": "function", "config": registered, "registered_name": registered}


def _function_from_config(layer, argument, value):
    if not isinstance(value, dict):
        return value
    name = value.get("registered_name") or value.get("config")
    function = get_registered_object(name) if isinstance(name, str) else None
    if function is None:
        raise ValueError(f"{layer}: the config's {argument} function {name!r} is not registered; decorate it with "
                         "@keras.saving.register_keras_serializable() or load inside "
                         f"keras.saving.custom_object_scope({{{name!r}: function}}) (rnnkit runs no code from files)")
    return function


class TextVectorization(PreprocessingLayer):
    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation", split="whitespace", ngrams=None,
                 output_mode="int", output_sequence_length=None, pad_to_max_tokens=False, vocabulary=None,
                 idf_weights=None, sparse=False, ragged=False, encoding="utf-8", name=None, vocabulary_size=None,
                 has_input_vocabulary=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self._standardize = _checked_mode(self.name, "standardize", standardize, STANDARDIZE_MODES)
        self._split = _checked_mode(self.name, "split", split, SPLIT_MODES)
        self._output_mode = output_mode_of(self.name, output_mode)
        self._ngrams_arg, self._ngrams = ngrams, ngram_widths(self.name, ngrams)
        self._output_sequence_length = self._checked_length(output_sequence_length)
        if ragged:
            raise ValueError(f"{self.name}: ragged=True is not supported by rnnkit (no ragged tensors; Keras allows it "
                             "on the TensorFlow backend only); rows are padded with 0 instead")
        if self._output_mode == "one_hot" and self._split is not None:
            raise ValueError(f"{self.name}: output_mode='one_hot' of split text is a ragged tensor in Keras, which "
                             "rnnkit does not have; use split=None (one category string per entry) or multi_hot")
        self._encoding = encoding
        self._lookup_layer = StringLookup(
            max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights, pad_to_max_tokens=pad_to_max_tokens,
            mask_token="", output_mode=self._output_mode, sparse=sparse, encoding=encoding,
            has_input_vocabulary=vocabulary is not None if has_input_vocabulary is None else has_input_vocabulary,
            vocabulary_size=vocabulary_size)
        self.built = True

    def _checked_length(self, length):
        if length is None:
            return None
        if self._output_mode != "int":
            raise ValueError(f"{self.name}: `output_sequence_length` must not be set if `output_mode` is not 'int'. "
                             f"Received output_sequence_length={length}.")
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
            raise ValueError(f"{self.name}: `output_sequence_length` must be either None or an integer >= 0 when "
                             f"`output_mode` is 'int'. Received: output_sequence_length={length!r}")
        return int(length)

    # -- vocabulary ----------------------------------------------------------------------------------------------
    def adapt(self, data, batch_size=None, steps=None):
        """Learns the vocabulary from texts: an array or list of strings (a batch_size at a time when given, which
        only bounds memory) or an iterable of batches of them (the first `steps` when given). Tokens rank by
        frequency, ties by descending code point order, as in Keras; tf_idf counts each text as a document."""
        batches = adapt_batches(self.name, data, steps, batch_size)
        self.reset_state()
        for batch in batches:
            self.update_state(batch)
        self.finalize_state()

    def update_state(self, data):
        self._lookup_layer.update_state(self._preprocess(data))

    def finalize_state(self):
        self._lookup_layer.finalize_state()

    def reset_state(self):
        self._lookup_layer.reset_state()

    def get_vocabulary(self, include_special_tokens=True):
        """The vocabulary in index order; with include_special_tokens the padding "" and "[UNK]" ("int" mode) or
        "[UNK]" (other modes) first."""
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self):
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None):
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)

    def export_state(self):
        return self._lookup_layer.export_state()

    def import_state(self, vocabulary=None, idf_weights=None):
        self._lookup_layer.import_state(vocabulary, idf_weights)

    # -- calls ---------------------------------------------------------------------------------------------------
    def _preprocess(self, inputs):
        texts = standardize(self.name, as_text_array(self.name, inputs), self._standardize)
        return tokenize(self.name, texts, self._split, self._ngrams)

    def check_symbolic_input(self, dtype):
        if dtype not in STRING_DTYPES:
            raise TypeError(f"{self.name}: expects string inputs, received a symbolic tensor of dtype {dtype}; "
                            "declare keras.Input(shape=(1,), dtype='string')")

    def output_dtype(self):
        return self._lookup_layer.output_dtype()

    def compute_output_shape(self, input_shape):
        shape, length = tuple(input_shape), self._output_sequence_length
        if self._split is None:
            if self._ngrams is not None:
                shape = shape[:-1] + (ngram_count(shape[-1], self._ngrams),)
            if self._output_mode != "int":
                return self._lookup_layer.compute_output_shape(shape)
            return shape if length is None else shape[:-1] + (length,)
        if len(shape) > 1:
            if shape[-1] not in (1, None):
                raise ValueError(f"{self.name}: when using TextVectorization to tokenize strings, the input rank must "
                                 f"be 1 or the last shape dimension must be 1. Received: inputs.shape={shape}")
            shape = shape[:-1]
        if self._output_mode == "int":
            return shape + (length,)
        return self._lookup_layer.compute_output_shape(shape + (None,))  # each text's tokens encoded as one sample

    def forward(self, inputs, *, training=False, mask=None):
        tokens, length = self._preprocess(inputs), self._output_sequence_length
        if length is not None and isinstance(tokens, RaggedTokens):
            tokens = tokens.truncated(length)  # what the lookup would index only to be cut off
        outputs, _ = self._lookup_layer.forward(tokens)
        if length is not None:
            outputs = self._fitted(outputs, length)
        return outputs, None

    def _fitted(self, outputs, length):
        """The last axis truncated or padded with 0 to `length`."""
        if outputs.ndim == 0:
            raise ValueError(f"{self.name}: output_sequence_length needs inputs of rank >= 1 when split=None, "
                             "received a single string")
        outputs = outputs[..., :length]
        return np.pad(outputs, [(0, 0)] * (outputs.ndim - 1) + [(0, length - outputs.shape[-1])])

    # -- config --------------------------------------------------------------------------------------------------
    def get_config(self):
        lookup = self._lookup_layer
        listed = lambda array: None if array is None else array.tolist()  # noqa: E731
        return {**super().get_config(), "max_tokens": lookup.max_tokens,
                "standardize": _function_config(self.name, "standardize", self._standardize),
                "split": _function_config(self.name, "split", self._split), "ngrams": self._ngrams_arg,
                "output_mode": self._output_mode, "output_sequence_length": self._output_sequence_length,
                "pad_to_max_tokens": lookup.pad_to_max_tokens, "sparse": False, "ragged": False,
                "vocabulary": listed(lookup.input_vocabulary), "idf_weights": listed(lookup.input_idf_weights),
                "encoding": self._encoding, "vocabulary_size": self.vocabulary_size()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        refuse_vocabulary_path(config)
        for argument in ("standardize", "split"):
            if argument in config:
                config[argument] = _function_from_config(config.get("name"), argument, config[argument])
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        return cls(**config)
