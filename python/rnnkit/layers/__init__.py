"""Keras 3 layers (``rnnkit.layers`` is what ``keras.layers`` becomes under ``import rnnkit as keras``)."""
from rnnkit.layers.activation_layers import ELU, LeakyReLU, PReLU, ReLU, Softmax
from rnnkit.layers.activity_regularization import ActivityRegularization
from rnnkit.layers.adaptive_pooling import AdaptiveAveragePooling1D, AdaptiveMaxPooling1D
from rnnkit.layers.additive_attention import AdditiveAttention
from rnnkit.layers.alpha_dropout import AlphaDropout
from rnnkit.layers.batch_normalization import BatchNormalization
from rnnkit.layers.attention import Attention
from rnnkit.layers.attention_blocks import TransformerDecoder, TransformerEncoder
from rnnkit.layers.bidirectional import Bidirectional
from rnnkit.layers.category_encoding import CategoryEncoding
from rnnkit.layers.convolutional import Conv1D, Conv1DTranspose, DepthwiseConv1D, SeparableConv1D
from rnnkit.layers.core import Activation, Dropout, GaussianDropout, GaussianNoise, Masking, SpatialDropout1D
from rnnkit.layers.dense import Dense
from rnnkit.layers.discretization import Discretization
from rnnkit.layers.einsum_dense import EinsumDense
from rnnkit.layers.embedding import Embedding
from rnnkit.layers.feature_normalization import Normalization
from rnnkit.layers.group_normalization import GroupNormalization
from rnnkit.layers.grouped_query_attention import GroupedQueryAttention, GroupQueryAttention
from rnnkit.layers.hashing import Hashing
from rnnkit.layers.input_layer import Input, InputLayer
from rnnkit.layers.input_spec import InputSpec
from rnnkit.layers.integer_lookup import IntegerLookup
from rnnkit.layers.lambda_layer import Lambda
from rnnkit.layers.layer import Layer
from rnnkit.layers.layer_normalization import LayerNormalization
from rnnkit.layers.merging import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average,
                                   concatenate, dot, maximum, minimum, multiply, subtract)
from rnnkit.layers.multi_head_attention import MultiHeadAttention
from rnnkit.layers.pooling import AveragePooling1D, GlobalAveragePooling1D, GlobalMaxPooling1D, MaxPooling1D
from rnnkit.layers.positional_encoding import PositionEmbedding, SinePositionEncoding
from rnnkit.layers.reshaping import Flatten, Permute, RepeatVector, Reshape
from rnnkit.layers.rescaling import Rescaling
from rnnkit.layers.reversible_embedding import ReversibleEmbedding
from rnnkit.layers.scale_normalization import RMSNormalization, UnitNormalization
from rnnkit.layers.rnn import (GRU, LSTM, RNN, ConvLSTM1D, ConvLSTM2D, ConvLSTM3D, GRUCell, LSTMCell, PeepholeLSTM,
                               PeepholeLSTMCell, SimpleRNN, SimpleRNNCell, StackedRNNCells)
from rnnkit.layers.serialization import deserialize, get, serialize
from rnnkit.layers.string_lookup import StringLookup
from rnnkit.layers.steps_resizing import Cropping1D, Identity, UpSampling1D, ZeroPadding1D
from rnnkit.layers.text_vectorization import TextVectorization
from rnnkit.layers.time_distributed import TimeDistributed
from rnnkit.layers.wrapper import Wrapper

# Keras 3's other names for the same classes.
AvgPool1D, MaxPool1D, Convolution1D = AveragePooling1D, MaxPooling1D, Conv1D
SeparableConvolution1D = SeparableConv1D
Convolution1DTranspose = Conv1DTranspose
GlobalAvgPool1D, GlobalMaxPool1D = GlobalAveragePooling1D, GlobalMaxPooling1D

__all__ = ["Layer", "Input", "InputLayer", "Dense", "Activation", "Dropout", "Flatten", "RepeatVector", "Masking",
           "Embedding", "RNN", "SimpleRNN", "LSTM", "GRU", "PeepholeLSTM", "SimpleRNNCell", "LSTMCell", "GRUCell",
           "PeepholeLSTMCell", "StackedRNNCells", "Bidirectional", "TimeDistributed", "Concatenate", "Add", "Subtract", "Average",
           "Multiply", "Maximum", "Minimum", "Dot",
           "GlobalAveragePooling1D", "GlobalMaxPooling1D", "Conv1D", "MaxPooling1D", "AveragePooling1D", "Reshape",
           "Permute", "SpatialDropout1D", "GaussianNoise", "GaussianDropout", "BatchNormalization", "ReLU",
           "LeakyReLU", "ELU", "PReLU", "Softmax", "EinsumDense",
           "serialize", "deserialize", "get",
           "Attention", "AdditiveAttention", "MultiHeadAttention", "GroupQueryAttention", "GroupedQueryAttention",
           "LayerNormalization", "SinePositionEncoding",
           "PositionEmbedding", "TransformerEncoder", "TransformerDecoder", "Lambda", "ZeroPadding1D", "Cropping1D",
           "UpSampling1D", "Identity", "Normalization", "ActivityRegularization", "StringLookup", "TextVectorization",
           "IntegerLookup", "Hashing", "CategoryEncoding", "Discretization", "AvgPool1D", "MaxPool1D", "Convolution1D",
           "GlobalAvgPool1D", "GlobalMaxPool1D", "InputSpec", "UnitNormalization", "RMSNormalization",
           "Wrapper", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "DepthwiseConv1D", "SeparableConv1D", "GroupNormalization",
           "SeparableConvolution1D", "add", "subtract", "average", "multiply", "maximum",
           "minimum", "concatenate", "dot", "AdaptiveAveragePooling1D", "AdaptiveMaxPooling1D", "AlphaDropout",
           "Rescaling", "ReversibleEmbedding", "Conv1DTranspose", "Convolution1DTranspose"]
