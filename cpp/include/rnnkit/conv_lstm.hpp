// ConvLSTM over 1 to 3 spatial axes (Keras 3's ConvLSTM1D/2D/3D): an LSTM whose input and recurrent products are
// convolutions, forward with an optional training cache, and BPTT.
//
// Shapes (B batch, T time, S = spatial sizes, channels last; C input channels, F filters, K kernel taps):
//   x (B, T, *S_in, C); kernel (*kernel, C, 4F) and recurrent_kernel (*kernel, F, 4F), Keras' layouts; bias (4F).
//   Gates [i f c o]: i = σ(x∗W_i + h∗U_i + b_i), f likewise, c_t = f⊙c_{t-1} + i⊙act(x∗W_c + h∗U_c + b_c),
//   o = σ(...), h_t = o⊙act(c_t). x∗W uses the input windows (strides, dilation, padding); h∗U is "same"-padded
//   with stride 1 over the output's sizes S_out, as Keras' recurrent_conv.
//   outputs (B, T, *S_out, F) in processing order (reversed with go_backwards); states (B, *S_out, F).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "rnnkit/activations.hpp"
#include "rnnkit/layer_ops.hpp"

namespace rnnkit {

struct ConvLstmConfig {
  std::int64_t batch = 0, time = 0, channels = 0, filters = 0;
  std::vector<std::int64_t> input_sizes;  // S_in, one per spatial axis
  std::vector<Window1d> windows;          // x's window along each axis (window_1d); its size is the kernel's
  Activation activation = Activation::tanh;
  Activation recurrent_activation = Activation::sigmoid;
  bool go_backwards = false;
};

struct ConvLstmInputs {
  const float* x = nullptr;
  const float* kernel = nullptr;
  const float* recurrent_kernel = nullptr;
  const float* bias = nullptr;  // or null
  const float* h0 = nullptr;    // or null: zeros
  const float* c0 = nullptr;    // or null: zeros
  // (B, *S_out, F) keep mask, pre-scaled, the same at every step: h∗U reads h ⊙ mask. Or null.
  const float* recurrent_dropout = nullptr;
};

struct ConvLstmOutputs {
  float* outputs = nullptr;  // or null
  float* h = nullptr;        // the last state (the last output), or null
  float* c = nullptr;        // or null
};

struct ConvLstmCache;
struct ConvLstmCacheDeleter {
  void operator()(ConvLstmCache* cache) const;
};
using ConvLstmCachePtr = std::unique_ptr<ConvLstmCache, ConvLstmCacheDeleter>;

// The output's spatial sizes S_out.
std::vector<std::int64_t> conv_lstm_output_sizes(const ConvLstmConfig& cfg);

// Runs the sequence; with training, returns the cache conv_lstm_backward needs (it copies the inputs it reads),
// else null. std::invalid_argument for inconsistent sizes or missing buffers.
ConvLstmCachePtr conv_lstm_forward(const ConvLstmConfig& cfg, const ConvLstmInputs& in, const ConvLstmOutputs& out,
                                   bool training);

struct ConvLstmGradInputs {
  const float* d_outputs = nullptr;  // (B, T, *S_out, F) or null
  const float* d_h = nullptr;        // dL/d(last h), or null
  const float* d_c = nullptr;        // dL/d(last c), or null
};

// Every pointer may be null (that gradient is skipped); the others are overwritten.
struct ConvLstmGradients {
  float* d_x = nullptr;
  float* d_kernel = nullptr;
  float* d_recurrent_kernel = nullptr;
  float* d_bias = nullptr;
  float* d_h0 = nullptr;
  float* d_c0 = nullptr;
};

void conv_lstm_backward(const ConvLstmCache& cache, const ConvLstmGradInputs& in, const ConvLstmGradients& out);

}  // namespace rnnkit
