// Whole-sequence recurrent layers (Keras 3 semantics): forward with an optional training cache, and BPTT.
//
// Shapes (B batch, T time, I input features, H units, G gates: SimpleRNN 1, GRU 3, LSTM 4):
//   x (B,T,I) batch-major; kernel (I,G*H); recurrent_kernel (H,G*H); outputs (B,T,H) in processing order.
//   Gate column order: LSTM [i f c o], GRU [z r h]. bias: (G*H), except GRU reset_after (2,3H) = input, recurrent.
//   peephole (LSTM only): (3,H) rows i, f, o; i and f see c_{t-1}, o sees c_t.
//   mask (B,T) bytes (non-zero = keep); masked steps carry the state and repeat the previous output (zeros first).
//   input_dropout (B,I) and recurrent_dropout (B,H): pre-scaled keep masks, the same at every step.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "rnnkit/activations.hpp"

namespace rnnkit {

enum class CellKind { simple_rnn, lstm, gru };

struct RnnConfig {
  CellKind cell = CellKind::lstm;
  std::int64_t batch = 0, time = 0, input = 0, units = 0;
  Activation activation = Activation::tanh;
  Activation recurrent_activation = Activation::sigmoid;
  bool reset_after = true;  // GRU only
  bool go_backwards = false;
};

int gate_count(CellKind cell);

// Borrowed pointers; null means absent (bias, peephole, initial states, mask, dropout masks).
struct RnnInputs {
  const float* x = nullptr;
  const float* kernel = nullptr;
  const float* recurrent_kernel = nullptr;
  const float* bias = nullptr;
  const float* peephole = nullptr;
  const float* h0 = nullptr;
  const float* c0 = nullptr;
  const std::uint8_t* mask = nullptr;
  const float* input_dropout = nullptr;
  const float* recurrent_dropout = nullptr;
  // Token ids (an Embedding feeding this layer): step (b, t) takes its input projection from row ids[b*T + t]
  // of input_table (table_rows, G*H) = embeddings · kernel, instead of multiplying each embedded step by the
  // kernel; x and kernel are then not read. At inference the caller computes the table once for many batches;
  // in training, for the batch's distinct ids, and BPTT gives the table's gradient (RnnGradients). No input
  // dropout with ids.
  const std::int64_t* ids = nullptr;
  const float* input_table = nullptr;
  std::int64_t table_rows = 0;
};

// Caller-owned results: outputs (B,T,H; null when only the last output is wanted), last_output (B,H), h_T (B,H),
// c_T (B,H, LSTM only).
struct RnnOutputs {
  float* outputs = nullptr;
  float* last_output = nullptr;
  float* h_last = nullptr;
  float* c_last = nullptr;
};

// What BPTT needs; filled by rnn_forward when training. Layout documented in cells/sequence.hpp.
struct RnnCache;
struct RnnCacheDeleter { void operator()(RnnCache* c) const; };
using RnnCachePtr = std::unique_ptr<RnnCache, RnnCacheDeleter>;

// Validates sizes (std::invalid_argument naming rnn_forward), runs the sequence; returns the cache when training.
// rnn_forward and rnn_backward compute with denormal floats flushed to zero (see sgemm in gemm.hpp).
RnnCachePtr rnn_forward(const RnnConfig& config, const RnnInputs& in, const RnnOutputs& out, bool training);

const RnnConfig& cache_config(const RnnCache& cache);
bool cache_has_bias(const RnnCache& cache);
bool cache_has_peephole(const RnnCache& cache);
// The rows of the input_table the forward read its inputs from, or 0 when it read x.
std::int64_t cache_table_rows(const RnnCache& cache);

// Incoming gradients, null when absent: d_outputs (B,T,H), d_last_output (B,H), d_h_last / d_c_last (B,H).
struct RnnGradInputs {
  const float* d_outputs = nullptr;
  const float* d_last_output = nullptr;
  const float* d_h_last = nullptr;
  const float* d_c_last = nullptr;
};

// Caller-owned gradient buffers (overwritten); null skips: d_x (B,T,I), d_kernel, d_recurrent_kernel, d_bias,
// d_peephole, d_h0, d_c0 (B,H), state_gradients (B,T,H) = dL/dh at each processing step, in output order.
// After a forward on token ids there is no x or kernel to differentiate: d_x and d_kernel must be null, and
// d_input_table (table_rows, G*H) receives dL/d(input_table), whence the caller's chain rule gives
// dL/dembeddings = d_input_table · kernel^T and dL/dkernel = embeddings^T · d_input_table.
struct RnnGradients {
  float* d_x = nullptr;
  float* d_kernel = nullptr;
  float* d_input_table = nullptr;
  float* d_recurrent_kernel = nullptr;
  float* d_bias = nullptr;
  float* d_peephole = nullptr;
  float* d_h0 = nullptr;
  float* d_c0 = nullptr;
  float* state_gradients = nullptr;
};

void rnn_backward(const RnnCache& cache, const RnnGradInputs& in, const RnnGradients& out);

}  // namespace rnnkit
