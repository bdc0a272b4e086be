// The training cache shared by rnn_forward and rnn_backward (sequence.cpp).
//
// Buffer layout, in one place. Every per-step buffer is time-major, indexed by row r = t*B + b (t = input
// time index, not processing step), so that one step's rows are contiguous for the time loop, and the cached
// operands line up with the gradient rows for the weight-gradient GEMMs over all rows. The arrays of the API
// (x, outputs, their gradients: (B, T, ·)) stay batch-major.
//   x_eff      (T*B, I)    x * input_dropout (the operand of W)
//   h_prev     (T*B, H)    state h entering the step
//   h_prev_eff (T*B, H)    h_prev * recurrent_dropout (the operand of U); empty without recurrent dropout,
//                          where the operand is h_prev itself
//   gates      (T*B, G*H)  post-activation gates: SimpleRNN [h], LSTM [i f c~ o], GRU [z r h~]
//   c_prev, c_new (T*B, H) LSTM cell state entering / leaving the step
//   aux        (T*B, H)    LSTM act(c_t); GRU reset_after: h_eff·U_h + b'_h; GRU !reset_after: r ⊙ h_eff
// Backward keeps, over all rows, dL/d(pre-activation) as seen by x·W and the input bias (d_gates_x) and as
// seen by h·U and the recurrent bias (d_gates_r, different only for GRU reset_after). Rows of masked steps
// hold zeros there; their forward rows are computed but never read back.
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/aligned_buffers.hpp"
#include "rnnkit/rnn.hpp"

namespace rnnkit {

// A float array that starts uninitialised. Every per-row buffer is written in full before it is read;
// zero-filling it first would be one more pass over memory as large as the step kernels' own. Its block is one
// the thread kept from an earlier call when one fits (KeptFloats), and starts on a cache line.
class Floats {
 public:
  Floats() = default;
  explicit Floats(std::int64_t n) : block_(n > 0 ? KeptFloats(n, "rnn buffers") : KeptFloats()), size_(n) {}
  Floats(std::int64_t n, float fill) : Floats(n) { std::fill(data(), data() + size_, fill); }
  float* data() { return block_.get(); }
  const float* data() const { return block_.get(); }
  std::int64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  float& operator[](std::int64_t i) { return block_.get()[i]; }
  const float& operator[](std::int64_t i) const { return block_.get()[i]; }

 private:
  KeptFloats block_;
  std::int64_t size_ = 0;
};

struct RnnCache {
  RnnConfig config;
  bool has_bias = false;
  std::vector<float> kernel, recurrent_kernel, peephole, input_dropout, recurrent_dropout;  // copies
  std::vector<std::uint8_t> mask;                                                            // (B,T) or empty
  std::vector<std::int64_t> ids;  // (B,T) input_table rows when the forward read token ids, else empty
  std::int64_t table_rows = 0;
  Floats x_eff, h_prev, h_prev_eff, gates, c_prev, c_new, aux;
  // Without a mask every row's state after one step is its state before the next, so the states are not copied
  // into the cache a second time: the forward writes h_t straight into h_prev's rows of the next step, and
  // c_prev holds only the initial cell state, c_{t-1} being the previous step's c_new rows.
  bool chained = false;
  // A training forward on a row-split team (forward_row_slices) keeps each thread's rows as a cache of their own:
  // slice i holds batch rows [slice_rows[i], slice_rows[i+1]), and the arrays above stay empty.
  std::vector<RnnCachePtr> slices;
  std::vector<std::int64_t> slice_rows;

  const float* recurrent_operand() const { return h_prev_eff.empty() ? h_prev.data() : h_prev_eff.data(); }
  // The (B, H) rows of the LSTM cell state before the step at time t.
  const float* c_before(std::int64_t t) const {
    const std::int64_t BH = config.batch * config.units;
    if (!chained) return &c_prev[t * BH];
    const bool first = config.go_backwards ? t == config.time - 1 : t == 0;
    return first ? c_prev.data() : &c_new[(config.go_backwards ? t + 1 : t - 1) * BH];
  }
};

}  // namespace rnnkit
