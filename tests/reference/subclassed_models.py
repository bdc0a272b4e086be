"""Subclassed models written once for Keras 3 and rnnkit alike (`lib` is either module), as a user writes them:
layers assigned in __init__ (directly and in a list), a weight of the model's own, and a call() that branches on
`training`."""


def sequence_classifier_class(lib):
    class SequenceClassifier(lib.Model):
        """Embedding -> LSTM -> a list of Dense blocks -> Dense head, times a learned scale. The attribute names
        are chosen so that Keras' weight files place the LSTM under `layers/` (`rnn` sorts after `layers`, the
        model's list of all its layers) and the blocks under `blocks/dense`, `blocks/dense_1`."""

        def __init__(self, vocabulary, dropout=0.0, **kwargs):
            super().__init__(**kwargs)
            self.embed = lib.layers.Embedding(vocabulary, 8)
            self.rnn = lib.layers.LSTM(6)
            self.blocks = [lib.layers.Dense(5, activation="tanh"), lib.layers.Dense(4, activation="tanh")]
            self.vocabulary = vocabulary
            self.dropout = lib.layers.Dropout(dropout)
            self.head = lib.layers.Dense(1)
            self.scale = self.add_weight(shape=(1,), initializer="ones", name="scale")

        def call(self, tokens, training=False):
            hidden = self.rnn(self.embed(tokens))
            for block in self.blocks:
                hidden = block(hidden)
            if training:
                hidden = self.dropout(hidden, training=training)
            return self.head(hidden) * self.scale

        def get_config(self):  # Keras 3 finds no automatic config for a model made with arguments
            return {**super().get_config(), "vocabulary": self.vocabulary, "dropout": self.dropout.rate}

    return SequenceClassifier
