"""Text tokenization with the semantics of tf.keras 2's `keras.preprocessing.text` (removed in Keras 3)."""
import collections
import hashlib
import json

import numpy as np

DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
MATRIX_MODES = ("binary", "count", "tfidf", "freq")


def text_to_word_sequence(input_text, filters=DEFAULT_FILTERS, lower=True, split=" "):
    """Split a string into words: optional lowercasing, every filter character becomes a separator."""
    if not isinstance(input_text, str):
        raise TypeError("text_to_word_sequence: expected `input_text` to be a str, "
                        f"received {type(input_text).__name__}")
    if lower:
        input_text = input_text.lower()
    input_text = input_text.translate(str.maketrans({char: split for char in filters}))
    return [word for word in input_text.split(split) if word]


def _md5_hash(word):
    return int(hashlib.md5(word.encode("utf-8")).hexdigest(), 16)


def hashing_trick(text, n, hash_function=None, filters=DEFAULT_FILTERS, lower=True, split=" ", analyzer=None):
    """Map each word to an index in [1, n) by hashing; 0 stays free for padding.

    hash_function=None uses Python's `hash` exactly as tf.keras did, so results change between processes unless
    PYTHONHASHSEED is fixed; pass 'md5' for indices that are stable everywhere.
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 2:
        raise ValueError(f"hashing_trick: expected `n` to be an integer >= 2, received {n!r}")
    if hash_function is None:
        hash_function = hash
    elif hash_function == "md5":
        hash_function = _md5_hash
    elif not callable(hash_function):
        raise ValueError("hashing_trick: expected `hash_function` to be None, 'md5' or a callable, "
                         f"received {hash_function!r}")
    words = text_to_word_sequence(text, filters, lower, split) if analyzer is None else analyzer(text)
    return [hash_function(word) % (n - 1) + 1 for word in words]


def one_hot(input_text, n, filters=DEFAULT_FILTERS, lower=True, split=" ", analyzer=None):
    """tf.keras's `one_hot`: despite the name, a list of hashed word indices in [1, n) using Python's `hash`."""
    return hashing_trick(input_text, n, hash_function=hash, filters=filters, lower=lower, split=split,
                         analyzer=analyzer)


class Tokenizer:
    """Vocabulary built from texts; indices ordered by descending word frequency, 0 reserved for padding."""

    def __init__(self, num_words=None, filters=DEFAULT_FILTERS, lower=True, split=" ", char_level=False,
                 oov_token=None, analyzer=None, document_count=0, **kwargs):
        if "nb_words" in kwargs:  # tf.keras 1 name still accepted by tf.keras 2
            num_words = kwargs.pop("nb_words")
        if kwargs:
            raise TypeError(f"Tokenizer: unrecognized keyword arguments {sorted(kwargs)}")
        if num_words is not None and (not isinstance(num_words, (int, np.integer)) or num_words < 0):
            raise ValueError(f"Tokenizer: expected `num_words` to be None or an integer >= 0, received {num_words!r}")
        self.word_counts = collections.OrderedDict()
        self.word_docs = collections.defaultdict(int)
        self.filters = filters
        self.split = split
        self.lower = lower
        self.num_words = num_words
        self.document_count = document_count
        self.char_level = char_level
        self.oov_token = oov_token
        self.index_docs = collections.defaultdict(int)
        self.word_index = {}
        self.index_word = {}
        self.analyzer = analyzer

    def _tokens(self, text):
        # A list is taken as already tokenized, like tf.keras; char_level iterates the string itself.
        if self.char_level or isinstance(text, list):
            if self.lower:
                return [token.lower() for token in text] if isinstance(text, list) else text.lower()
            return text
        if self.analyzer is not None:
            return self.analyzer(text)
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    def fit_on_texts(self, texts):
        if isinstance(texts, str):
            raise TypeError("Tokenizer.fit_on_texts: expected a list of texts, received a single str "
                            "(wrap it in a list)")
        new_counts = collections.Counter()
        new_docs = collections.Counter()
        for text in texts:
            self.document_count += 1
            tokens = self._tokens(text)
            new_counts.update(tokens)
            new_docs.update(set(tokens))
        for word, count in new_counts.items():  # existing words keep their first-seen position
            self.word_counts[word] = self.word_counts.get(word, 0) + count
        for word, count in new_docs.items():
            self.word_docs[word] += count
        # sorted() is stable, so equally frequent words stay in first-seen order.
        by_frequency = sorted(self.word_counts.items(), key=lambda item: item[1], reverse=True)
        vocabulary = [] if self.oov_token is None else [self.oov_token]
        vocabulary.extend(word for word, _ in by_frequency)
        self.word_index = dict(zip(vocabulary, range(1, len(vocabulary) + 1)))
        self.index_word = {index: word for word, index in self.word_index.items()}
        for word, count in self.word_docs.items():
            self.index_docs[self.word_index[word]] = count

    def fit_on_sequences(self, sequences):
        """Update document counts from index sequences (needed by texts_to_matrix(mode='tfidf'))."""
        sequences = list(sequences)
        self.document_count += len(sequences)
        for sequence in sequences:
            for index in set(sequence):
                self.index_docs[index] += 1

    def texts_to_sequences(self, texts):
        return list(self.texts_to_sequences_generator(texts))

    def texts_to_sequences_generator(self, texts):
        if isinstance(texts, str):
            raise TypeError("Tokenizer.texts_to_sequences: expected a list of texts, received a single str "
                            "(wrap it in a list)")
        word_index = self.word_index
        num_words = self.num_words
        oov_index = word_index.get(self.oov_token) if self.oov_token is not None else None
        for text in texts:
            sequence = []
            for word in self._tokens(text):
                index = word_index.get(word)
                if index is None or (num_words and index >= num_words):
                    if oov_index is not None:
                        sequence.append(oov_index)
                else:
                    sequence.append(index)
            yield sequence

    def sequences_to_texts(self, sequences):
        return list(self.sequences_to_texts_generator(sequences))

    def sequences_to_texts_generator(self, sequences):
        num_words = self.num_words
        oov_index = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        oov_word = self.index_word.get(oov_index) if oov_index is not None else None
        for sequence in sequences:
            words = []
            for index in sequence:
                word = self.index_word.get(index)
                if word is None or (num_words and index >= num_words):
                    if oov_word is not None:
                        words.append(oov_word)
                else:
                    words.append(word)
            yield " ".join(words)

    def texts_to_matrix(self, texts, mode="binary"):
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def sequences_to_matrix(self, sequences, mode="binary"):
        """(len(sequences), num_words) float64 matrix; columns are word indices (column 0 stays zero)."""
        if mode not in MATRIX_MODES:
            raise ValueError(f"Tokenizer.sequences_to_matrix: expected `mode` in {MATRIX_MODES}, received {mode!r}")
        if self.num_words:
            width = self.num_words
        elif self.word_index:
            width = len(self.word_index) + 1
        else:
            raise ValueError("Tokenizer.sequences_to_matrix: specify a dimension (`num_words` argument), "
                             "or fit on some text data first")
        if mode == "tfidf" and not self.document_count:
            raise ValueError("Tokenizer.sequences_to_matrix: fit the Tokenizer on some data before using tfidf mode")
        matrix = np.zeros((len(sequences), width))
        for row, sequence in enumerate(sequences):
            if not len(sequence):
                continue
            counts = collections.Counter(index for index in sequence if index < width)
            for index, count in counts.items():
                if mode == "count":
                    matrix[row, index] = count
                elif mode == "freq":
                    matrix[row, index] = count / len(sequence)
                elif mode == "binary":
                    matrix[row, index] = 1
                else:
                    term_frequency = 1 + np.log(count)
                    inverse_doc_frequency = np.log(1 + self.document_count / (1 + self.index_docs.get(index, 0)))
                    matrix[row, index] = term_frequency * inverse_doc_frequency
        return matrix

    def get_config(self):
        """Settings plus the fitted state; the dictionaries are JSON strings, as in tf.keras."""
        return {
            "num_words": self.num_words,
            "filters": self.filters,
            "lower": self.lower,
            "split": self.split,
            "char_level": self.char_level,
            "oov_token": self.oov_token,
            "document_count": self.document_count,
            "word_counts": json.dumps(self.word_counts),
            "word_docs": json.dumps(self.word_docs),
            "index_docs": json.dumps(self.index_docs),
            "index_word": json.dumps(self.index_word),
            "word_index": json.dumps(self.word_index),
        }

    def to_json(self, **kwargs):
        """JSON string readable by `tokenizer_from_json` (and by tf.keras 2); kwargs go to json.dumps.

        The analyzer callable is not serialized.
        """
        return json.dumps({"class_name": type(self).__name__, "config": self.get_config()}, **kwargs)


def tokenizer_from_json(json_string):
    """Rebuild a Tokenizer (settings and fitted vocabulary) from `Tokenizer.to_json()` output."""
    if not isinstance(json_string, (str, bytes)):
        raise TypeError(f"tokenizer_from_json: expected a JSON str, received {type(json_string).__name__}")
    payload = json.loads(json_string)
    if not isinstance(payload, dict) or not isinstance(payload.get("config"), dict):
        raise ValueError("tokenizer_from_json: expected a JSON object with a 'config' object, "
                         f"received {str(json_string)[:80]!r}")
    config = dict(payload["config"])
    word_counts = json.loads(config.pop("word_counts"))
    word_docs = json.loads(config.pop("word_docs"))
    index_docs = json.loads(config.pop("index_docs"))
    index_word = json.loads(config.pop("index_word"))
    word_index = json.loads(config.pop("word_index"))
    tokenizer = Tokenizer(**config)
    tokenizer.word_counts = collections.OrderedDict(word_counts)
    tokenizer.word_docs = collections.defaultdict(int, word_docs)
    # JSON object keys are strings; index keys go back to int.
    tokenizer.index_docs = collections.defaultdict(int, {int(k): v for k, v in index_docs.items()})
    tokenizer.index_word = {int(k): v for k, v in index_word.items()}
    tokenizer.word_index = word_index
    return tokenizer
