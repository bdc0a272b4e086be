// Layers for building models in C++ (Keras 3 names, arguments and defaults). Each returns a new, unbuilt layer;
// rnnkit::Model builds it for its input shape and draws its weights. An empty name picks the Keras-style default.
// Invalid arguments throw std::invalid_argument naming the layer.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rnnkit/model.hpp"

namespace rnnkit::layers {

// Activations: every Keras 3 name rnnkit::is_layer_activation accepts (rnnkit/layer_activations.hpp); softmax,
// log_softmax and sparsemax act over the last axis.
std::unique_ptr<Layer> Dense(std::int64_t units, const std::string& activation = "linear", bool use_bias = true,
                             const std::string& name = "");
std::unique_ptr<Layer> Activation(const std::string& activation, const std::string& name = "");
// Keras 3's activation layers with arguments; each keeps its input's mask. ReLU: x above threshold (clipped to
// max_value when there is one), else 0, minus negative_slope * (threshold - x) below threshold; its three arguments
// must be >= 0, as LeakyReLU's negative_slope.
std::unique_ptr<Layer> ReLU(std::optional<float> max_value = std::nullopt, float negative_slope = 0.0f,
                            float threshold = 0.0f, const std::string& name = "");
std::unique_ptr<Layer> LeakyReLU(float negative_slope = 0.3f, const std::string& name = "");  // x or negative_slope * x
std::unique_ptr<Layer> ELU(float alpha = 1.0f, const std::string& name = "");  // x above 0, alpha * (e^x - 1) below
std::unique_ptr<Layer> Softmax(const std::string& name = "");                  // over the last axis
// Inverted dropout while training. Keras' noise_shape (batch axis first, -1 for None; empty: the input's shape):
// one keep factor per entry of that shape, shared along the axes where it is 1 (e.g. {-1, 1, -1}: the same
// features dropped at every step).
std::unique_ptr<Layer> Dropout(float rate, const std::string& name = "", Shape noise_shape = {});
// Dropout of whole channels of a (steps, channels) input: one keep factor per sample and channel for every step.
std::unique_ptr<Layer> SpatialDropout1D(float rate, const std::string& name = "");
// While training: adds N(0, stddev), stddev in [0, 1] (GaussianNoise), or multiplies by N(1, sqrt(rate / (1 - rate)))
// (GaussianDropout). The identity at inference.
std::unique_ptr<Layer> GaussianNoise(float stddev, const std::string& name = "");
std::unique_ptr<Layer> GaussianDropout(float rate, const std::string& name = "");
// Keras 3's AlphaDropout, for SELU networks: while training, inputs dropped with probability rate become SELU's
// negative saturation -alpha * scale, then a * x + b (a, b from rate) keeps zero mean and unit variance. Draws its
// keep factors as Dropout does (noise_shape alike); the identity at inference.
std::unique_ptr<Layer> AlphaDropout(float rate, const std::string& name = "", Shape noise_shape = {});
// Keras 3's Rescaling: x * scale + offset, in training and inference alike. scale and offset broadcast against the
// input's trailing axes as numpy broadcasts (shape {} is a number); never along the batch axis. Keeps the mask.
std::unique_ptr<Layer> Rescaling(Tensor scale, Tensor offset = Tensor(Shape{}), const std::string& name = "");
std::unique_ptr<Layer> Rescaling(float scale, float offset = 0.0f, const std::string& name = "");
std::unique_ptr<Layer> Masking(float mask_value = 0.0f, const std::string& name = "");
// Resizing the steps of a (steps, features) input: zeros before and after, steps cropped from the start and the
// end, each step repeated `size` times. Identity passes its input and mask on.
std::unique_ptr<Layer> ZeroPadding1D(std::int64_t before = 1, std::int64_t after = 1, const std::string& name = "");
std::unique_ptr<Layer> Cropping1D(std::int64_t start = 1, std::int64_t end = 1, const std::string& name = "");
std::unique_ptr<Layer> UpSampling1D(std::int64_t size = 2, const std::string& name = "");
std::unique_ptr<Layer> Identity(const std::string& name = "");
std::unique_ptr<Layer> Flatten(const std::string& name = "");
std::unique_ptr<Layer> RepeatVector(std::int64_t n, const std::string& name = "");
// (batch, ...) to (batch, *target_shape); one entry may be -1, inferred from the size of an example.
std::unique_ptr<Layer> Reshape(std::vector<std::int64_t> target_shape, const std::string& name = "");
// Reorders the axes after the batch: dims is a permutation of 1..rank (Keras' 1-indexed form), e.g. {2, 1}.
std::unique_ptr<Layer> Permute(std::vector<std::int64_t> dims, const std::string& name = "");
// Token ids arrive as floats (whole numbers in [0, input_dim)); mask_zero masks the steps whose id is 0.
std::unique_ptr<Layer> Embedding(std::int64_t input_dim, std::int64_t output_dim, bool mask_zero = false,
                                 const std::string& name = "");
// Keras 3's ReversibleEmbedding in its forward role, an Embedding lookup. Untied (tie_weights false), it also owns the
// (output_dim, input_dim) reverse_embeddings of Python's reverse=True call (which the C++ model API does not run;
// load_model refuses a model that makes it); logit_soft_cap only acts there and is kept for save_model.
std::unique_ptr<Layer> ReversibleEmbedding(std::int64_t input_dim, std::int64_t output_dim, bool tie_weights = true,
                                           bool mask_zero = false, std::optional<float> logit_soft_cap = std::nullopt,
                                           const std::string& name = "");
// Over the last axis. In training, each channel is normalised with the batch's mean and biased variance (over
// the steps a mask keeps) and the non-trainable moving_mean and moving_variance move toward them:
// m = momentum * m + (1 - momentum) * batch. At inference, and in training once frozen (set_trainable(false)),
// the moving statistics. Weights gamma (when scale), beta (when center), moving_mean, moving_variance, in Keras'
// order. Keeps the mask.
std::unique_ptr<Layer> BatchNormalization(float momentum = 0.99f, float epsilon = 1e-3f, bool center = true,
                                          bool scale = true, const std::string& name = "");
// Keras 3's GroupNormalization over the last axis: each example's channels split into `groups` groups of equal size
// (-1: one group a channel), each normalised over its values at every position (mean, biased variance), then
// gamma (when scale) and beta (when center) per channel, in that order. Keeps the mask, which the statistics ignore,
// as in Keras.
std::unique_ptr<Layer> GroupNormalization(std::int64_t groups = 32, float epsilon = 1e-3f, bool center = true,
                                          bool scale = true, const std::string& name = "");
// Keras 3's LayerNormalization over the last axis: each position's features normalised (mean, biased variance), then
// gamma (when scale) and beta (when center), in that order. Keeps the mask.
std::unique_ptr<Layer> LayerNormalization(float epsilon = 1e-3f, bool center = true, bool scale = true,
                                          const std::string& name = "");
// Options of MultiHeadAttention and GroupedQueryAttention (Keras 3's arguments; the attention over the steps axis).
struct MultiHeadAttentionOptions {
  std::int64_t value_dim = 0;  // 0: key_dim (MultiHeadAttention only)
  std::int64_t output_dim = -1;  // Keras' output_shape of one axis (MultiHeadAttention only); -1: the query's features
  float dropout = 0.0f;  // on the attention weights, in training
  bool use_bias = true;
  bool use_gate = false;  // the attention output times sigmoid(query · gate kernel + bias)
  std::int64_t sliding_window = -1;  // query i sees key j when |i - j| < sliding_window; -1: every key
  bool use_causal_mask = false;  // Keras' call argument: query i sees keys j <= i
  std::string name;
};
// Keras 3's MultiHeadAttention over [query, value] or [query, value, key] of (batch, steps, features): a merge layer
// of functional graphs (load_model builds them from files). Weights query, key, gate (use_gate), value and
// attention_output, each kernel then bias, in Keras' order and shapes; a merge layer is built without drawing
// them, so they come from a file or the caller. The query's, value's and key's masks hide keys as Keras merges
// them; a query that sees no key gets zero weights (Python's rnnkit, not Keras' uniform ones). Keeps the query's mask.
std::unique_ptr<Layer> MultiHeadAttention(std::int64_t num_heads, std::int64_t key_dim,
                                          const MultiHeadAttentionOptions& options = {});
// Keras 3's GroupedQueryAttention: MultiHeadAttention with num_key_value_heads key/value heads, each serving
// num_query_heads / num_key_value_heads query heads, key_dim = value_dim = head_dim.
std::unique_ptr<Layer> GroupedQueryAttention(std::int64_t head_dim, std::int64_t num_query_heads,
                                             std::int64_t num_key_value_heads,
                                             const MultiHeadAttentionOptions& options = {});
// keras_hub's SinePositionEncoding and PositionEmbedding: the encoding to add to the input (its shape), for positions
// 0.. of its second-to-last axis: sin on even and cos on odd features of position * max_wavelength^(-2 * (i / 2) /
// features); or rows 0.. of a learned (sequence_length, features) table, weight "embeddings". Keep the mask.
std::unique_ptr<Layer> SinePositionEncoding(double max_wavelength = 10000.0, const std::string& name = "");
std::unique_ptr<Layer> PositionEmbedding(std::int64_t sequence_length, const std::string& name = "");
std::unique_ptr<Layer> GlobalAveragePooling1D(const std::string& name = "");
std::unique_ptr<Layer> GlobalMaxPooling1D(const std::string& name = "");

// Options of Conv1D, which maps (steps, channels) to (steps_out, filters) with a kernel [kernel_size, channels,
// filters]. Keras' layouts other than channels_last and its groups other than 1 are not available.
struct Conv1DOptions {
  std::int64_t strides = 1;
  std::string padding = "valid";   // valid, same (ceil(steps / strides) steps) or causal (all padding on the left)
  std::int64_t dilation_rate = 1;  // above 1 only with strides 1, as in Keras
  std::string activation = "linear";  // as Dense's
  bool use_bias = true;
  std::string name;
};
std::unique_ptr<Layer> Conv1D(std::int64_t filters, std::int64_t kernel_size, const Conv1DOptions& options = {});
// Options of DepthwiseConv1D and SeparableConv1D: each channel convolved with its own depth_multiplier filters over
// the steps, output channel c * depth_multiplier + j (DepthwiseConv1D's kernel [kernel_size, channels,
// depth_multiplier]); SeparableConv1D then mixes those channels into `filters` with a pointwise kernel [1, channels *
// depth_multiplier, filters]. Channels last only; Keras has no causal padding for these layers.
struct DepthwiseConv1DOptions {
  std::int64_t strides = 1;
  std::string padding = "valid";  // valid or same
  std::int64_t depth_multiplier = 1;
  std::int64_t dilation_rate = 1;  // above 1 only with strides 1, as in Keras
  std::string activation = "linear";  // as Dense's
  bool use_bias = true;
  std::string name;
};
std::unique_ptr<Layer> DepthwiseConv1D(std::int64_t kernel_size, const DepthwiseConv1DOptions& options = {});
std::unique_ptr<Layer> SeparableConv1D(std::int64_t filters, std::int64_t kernel_size,
                                       const DepthwiseConv1DOptions& options = {});
// Options of Conv1DTranspose, the adjoint of Conv1D's window: (steps, channels) to (steps_out, filters) with a kernel
// [kernel_size, filters, channels]; steps_out as Keras': valid (steps - 1) * strides + span + output_padding (unset:
// max(span, strides) - span), same steps * strides (unset) or (steps - 1) * strides + span % 2 + output_padding.
// Channels last only.
struct Conv1DTransposeOptions {
  std::int64_t strides = 1;
  std::string padding = "valid";  // valid or same
  std::optional<std::int64_t> output_padding;  // below strides; unset is Keras' None
  std::int64_t dilation_rate = 1;  // above 1 only with strides 1, as in Keras
  std::string activation = "linear";  // as Dense's
  bool use_bias = true;
  std::string name;
};
std::unique_ptr<Layer> Conv1DTranspose(std::int64_t filters, std::int64_t kernel_size,
                                       const Conv1DTransposeOptions& options = {});
// Pooling windows over the steps of (steps, channels); strides default to pool_size (Keras' None); padding valid or
// same, whose windows leave the padding out (a max never comes from it, an average divides by the steps covered).
std::unique_ptr<Layer> MaxPooling1D(std::int64_t pool_size = 2, std::optional<std::int64_t> strides = std::nullopt,
                                    const std::string& padding = "valid", const std::string& name = "");
std::unique_ptr<Layer> AveragePooling1D(std::int64_t pool_size = 2, std::optional<std::int64_t> strides = std::nullopt,
                                        const std::string& padding = "valid", const std::string& name = "");
// Keras 3's adaptive poolings of (steps, channels) to (output_size, channels): output step t pools the input steps
// [floor(t * steps / output_size), ceil((t + 1) * steps / output_size)) (PyTorch's bins); the max keeps the first
// maximum, and its gradient goes to that step. Channels last only; they drop the mask.
std::unique_ptr<Layer> AdaptiveAveragePooling1D(std::int64_t output_size, const std::string& name = "");
std::unique_ptr<Layer> AdaptiveMaxPooling1D(std::int64_t output_size, const std::string& name = "");

// Options of SimpleRNN, LSTM, PeepholeLSTM and GRU (recurrent_activation is unused by SimpleRNN).
struct RecurrentOptions {
  std::string activation = "tanh";  // any element-wise name of activations.hpp
  std::string recurrent_activation = "sigmoid";
  bool use_bias = true;
  bool return_sequences = false;
  bool go_backwards = false;
  bool zero_output_for_mask = false;
  float dropout = 0.0f;             // on the inputs, one mask per sequence while training
  float recurrent_dropout = 0.0f;   // on the state fed to the recurrent kernel
  bool unit_forget_bias = true;     // LSTM: forget-gate bias starts at 1
  bool reset_after = true;          // GRU
  std::string name;
};
std::unique_ptr<Layer> SimpleRNN(std::int64_t units, const RecurrentOptions& options = {});
std::unique_ptr<Layer> LSTM(std::int64_t units, const RecurrentOptions& options = {});
std::unique_ptr<Layer> PeepholeLSTM(std::int64_t units, const RecurrentOptions& options = {});
std::unique_ptr<Layer> GRU(std::int64_t units, const RecurrentOptions& options = {});

// ConvLSTM1D/2D/3D (Keras 3's, channels last): an LSTM whose products are convolutions over the kernel_size's 1-3
// spatial axes of (time, *spatial, channels); strides and dilation_rate one per axis (empty: all 1).
struct ConvLstmOptions {
  std::vector<std::int64_t> strides, dilation_rate;
  std::string padding = "valid";  // or same
  std::string activation = "tanh";
  std::string recurrent_activation = "sigmoid";
  bool use_bias = true;
  bool unit_forget_bias = true;
  bool return_sequences = false;
  bool go_backwards = false;
  // In training, one keep mask a sample for the input and one for the state h∗U reads, the same at every step.
  float dropout = 0.0f, recurrent_dropout = 0.0f;
  std::string name;
};
std::unique_ptr<Layer> ConvLSTM(std::int64_t filters, const std::vector<std::int64_t>& kernel_size,
                                const ConvLstmOptions& options = {});

// One cell of RNN: its type and size, and the cell's options of RecurrentOptions (activation, recurrent_activation,
// use_bias, dropout, recurrent_dropout, unit_forget_bias, reset_after; name names the cell).
enum class CellType { simple_rnn, lstm, peephole_lstm, gru };
struct RecurrentCell {
  CellType type = CellType::lstm;
  std::int64_t units = 0;
  RecurrentOptions options = {};
};
// Keras' RNN([cells]) (StackedRNNCells): at each step every cell reads the output of the one before it. `options`
// gives the loop's return_sequences, go_backwards, zero_output_for_mask and name.
std::unique_ptr<Layer> RNN(const std::vector<RecurrentCell>& cells, const RecurrentOptions& options = {});

// A recurrent layer run forwards and a go_backwards copy of it; merge_mode concat, sum, mul or ave.
std::unique_ptr<Layer> Bidirectional(std::unique_ptr<Layer> layer, const std::string& merge_mode = "concat",
                                     const std::string& name = "");
// Applies `layer` to every time step of a (time, ...) input.
std::unique_ptr<Layer> TimeDistributed(std::unique_ptr<Layer> layer, const std::string& name = "");

}  // namespace rnnkit::layers
