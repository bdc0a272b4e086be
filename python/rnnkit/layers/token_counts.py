"""What adapt() learns from text, batch after batch: how often each token occurs and, for tf_idf, in how many
documents, and the vocabulary Keras makes of it."""
import collections

import numpy as np


class TokenCounts:
    def __init__(self, per_document):
        self.per_document = per_document  # whether to count documents too (tf_idf only needs them)
        self.frequencies = collections.Counter()
        self.document_frequencies = collections.Counter()
        self.document_count = 0

    def add_documents(self, documents):
        """Counts the tokens of `documents`, each a sequence of str."""
        for tokens in documents:
            self.frequencies.update(tokens)
            if self.per_document:
                self.document_frequencies.update(set(tokens))
            self.document_count += 1

    def ranked(self, excluded, limit):
        """The tokens by descending frequency, ties by descending code point order (Keras sorts the UTF-8 bytes,
        the same order), without `excluded`, the first `limit` of them when `limit` is not None."""
        ranked = sorted(((count, token) for token, count in self.frequencies.items() if token not in excluded),
                        reverse=True)
        return [token for _, token in ranked[:limit]]

    def idf_weights(self, tokens):
        """log(1 + documents / (1 + documents holding the token)) per token, in float64 then float32, as
        TensorFlow computes it for Keras."""
        held = np.array([self.document_frequencies[token] for token in tokens], dtype=np.float64)
        return np.log(1.0 + self.document_count / (1.0 + held)).astype(np.float32)
