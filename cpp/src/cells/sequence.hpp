// Internals shared by the sequence driver (sequence.cpp) and the cells (simple_rnn/lstm/gru.cpp).
//
// Buffer layout, in one place. Every per-step buffer is indexed by row r = b*T + t (t = input time index,
// not processing step), so x, the input projections and every gradient array line up with x (B,T,I):
//   x_eff      (B*T, I)    x * input_dropout (the operand of W)
//   h_prev     (B*T, H)    state h entering the step
//   h_prev_eff (B*T, H)    h_prev * recurrent_dropout (the operand of U)
//   gates      (B*T, G*H)  post-activation gates: SimpleRNN [h], LSTM [i f c~ o], GRU [z r h~]
//   c_prev, c_new (B*T, H) LSTM cell state entering / leaving the step
//   aux        (B*T, H)    LSTM act(c_t); GRU reset_after: h_eff·U_h + b'_h; GRU !reset_after: r ⊙ h_eff
//   d_gates_x  (B*T, G*H)  dL/d(pre-activation) as seen by x·W and the input bias
//   d_gates_r  (B*T, G*H)  same as seen by h·U and the recurrent bias (differs only for GRU reset_after)
// Rows of masked steps hold zeros in d_gates_*; their forward rows are computed but never read back.
#pragma once
#include <cstdint>
#include <vector>

#include "rnnkit/rnn.hpp"

namespace rnnkit {

struct RnnCache {
  RnnConfig config;
  bool has_bias = false;
  std::vector<float> kernel, recurrent_kernel, peephole, input_dropout, recurrent_dropout;  // copies
  std::vector<std::uint8_t> mask;                                                            // (B,T) or empty
  std::vector<float> x_eff, h_prev, h_prev_eff, gates, c_prev, c_new, aux;
};

namespace cells {

// A strided view of the rows of one step: row b at data + b*ld.
struct Rows {
  float* data = nullptr;
  std::int64_t ld = 0;
  float* operator[](std::int64_t b) const { return data + b * ld; }
};
struct ConstRows {
  const float* data = nullptr;
  std::int64_t ld = 0;
  const float* operator[](std::int64_t b) const { return data + b * ld; }
};

// One forward step over all batch rows; cells compute masked rows too (the driver discards them).
struct StepForward {
  const RnnConfig* config;
  ConstRows x_proj;                   // x·W + input bias, (B, G*H)
  const float* h;                     // (B,H) raw state
  const float* h_eff;                 // (B,H) state times recurrent dropout
  const float* c;                     // (B,H) LSTM cell state
  const float* recurrent_kernel;      // (H, G*H)
  const float* recurrent_bias;        // GRU reset_after only, (3H) or null
  const float* peephole;              // LSTM (3,H) or null
  float* scratch;                     // (B, G*H)
  Rows gates, aux, c_prev, c_new_rows;  // cache rows (or scratch rows at inference)
  float* h_new;                       // (B,H)
  float* c_new;                       // (B,H) LSTM
};

// One backward step. keep(b) false rows must be left untouched in d_gates (they stay zero).
struct StepBackward {
  const RnnCache* cache;
  std::int64_t t;
  const std::uint8_t* mask;  // (B,T) or null
  const float* dh;           // (B,H) dL/dh_t
  const float* dc;           // (B,H) dL/dc_t (LSTM)
  float* d_gates_x;          // (B*T, G*H) base
  float* d_gates_r;          // (B*T, G*H) base (== d_gates_x unless GRU reset_after)
  float* dh_prev_direct;     // (B,H) out: part of dL/dh_{t-1} not through U
  float* dh_eff;             // (B,H) out: dL/d(h_eff) through U
  float* dc_prev;            // (B,H) out: LSTM dL/dc_{t-1}
  float* scratch;            // (B, G*H)
  bool keep(std::int64_t b) const { return !mask || mask[b * cache->config.time + t]; }
  std::int64_t row(std::int64_t b) const { return b * cache->config.time + t; }
};

void simple_rnn_step_forward(const StepForward& s);
void simple_rnn_step_backward(const StepBackward& s);
void lstm_step_forward(const StepForward& s);
void lstm_step_backward(const StepBackward& s);
void lstm_peephole_gradient(const RnnCache& cache, const float* d_gates, float* d_peephole);
void gru_step_forward(const StepForward& s);
void gru_step_backward(const StepBackward& s);
void gru_recurrent_kernel_gradient(const RnnCache& cache, const float* d_gates_r, float* d_recurrent_kernel);

// Runs `body(b)` for every batch row, over num_threads() threads when the step is big enough to pay for it.
template <typename Body>
void for_each_row(std::int64_t batch, std::int64_t work_per_row, Body&& body);

}  // namespace cells
}  // namespace rnnkit

#include "rnnkit/runtime.hpp"

template <typename Body>
void rnnkit::cells::for_each_row(std::int64_t batch, std::int64_t work_per_row, Body&& body) {
  const bool parallel = batch > 1 && batch * work_per_row >= 16384;
#pragma omp parallel for num_threads(rnnkit::num_threads()) if (parallel) schedule(static)
  for (std::int64_t b = 0; b < batch; ++b) body(b);
}
