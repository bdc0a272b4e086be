"""Recurrent layers: the RNN driver, its cells (alone or stacked), the SimpleRNN/LSTM/GRU/PeepholeLSTM layers and
the convolutional LSTMs."""
from rnnkit.layers.rnn.base import RNN
from rnnkit.layers.rnn.cells import GRUCell, LSTMCell, PeepholeLSTMCell, SimpleRNNCell
from rnnkit.layers.rnn.conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from rnnkit.layers.rnn.layers import GRU, LSTM, PeepholeLSTM, SimpleRNN
from rnnkit.layers.rnn.stacked_cells import StackedRNNCells

__all__ = ["RNN", "SimpleRNN", "LSTM", "GRU", "PeepholeLSTM", "SimpleRNNCell", "LSTMCell", "GRUCell",
           "PeepholeLSTMCell", "StackedRNNCells", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"]
