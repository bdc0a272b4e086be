"""Recurrent layers: the RNN driver, its cells, and the SimpleRNN/LSTM/GRU/PeepholeLSTM layers."""
from rnnkit.layers.rnn.base import RNN
from rnnkit.layers.rnn.cells import GRUCell, LSTMCell, PeepholeLSTMCell, SimpleRNNCell
from rnnkit.layers.rnn.layers import GRU, LSTM, PeepholeLSTM, SimpleRNN

__all__ = ["RNN", "SimpleRNN", "LSTM", "GRU", "PeepholeLSTM", "SimpleRNNCell", "LSTMCell", "GRUCell",
           "PeepholeLSTMCell"]
