// The element-wise math of one step for a block of consecutive units of one batch row (forward: of a few rows),
// compiled once per ISA (cells_generic/avx2/avx512.cpp) and dispatched once per call. The sequence driver gives
// each thread a range of unit blocks, so a block's gates stay in L1 from the product h·U to the new state.
#pragma once
#include <cstdint>

#include "rnnkit/activations.hpp"
#include "rnnkit/runtime.hpp"

namespace rnnkit::cells {

// Units per block: whole packed panels (32 columns on AVX-512), so that a block's slice of the interleaved h·U
// product is whole panels, and as many as fit in this many units: a row's block is a backward kernel call, and
// at small H its fixed cost is a good part of the step's element-wise work.
constexpr std::int64_t kMaxBlock = 64;
// Units (rows x block units) per forward kernel call: a call of several rows pays where a row is a vector or two
// (H = 8: forward 1.07-1.23x), but 4 rows of 64 units a call ran the LSTM (64,50,256,512) forward 5-7% slower
// (its x·W rows, streamed from memory, then read a block of 4 rows at a time rather than front to back).
constexpr std::int64_t kMaxUnitsPerCall = 64;

// Unit j of the block, gate g: h·U pre-activation rec[g*rec_stride + j]; input projection x·W xp[g*H + j] and
// its bias input_bias[g*H + j] (added here rather than copied into every row of the projection first); post-
// activation gate gates[g*H + j]. Every other pointer is offset to the block's first unit.
struct ForwardBlock {
  std::int64_t n, H;
  Activation act, ract;
  const float* rec;
  std::int64_t rec_stride;
  const float* xp;
  // The next step's xp, or null: its rows come from a table of token ids (random rows of a table often far
  // larger than the caches) or from the projection (rows T apart), so the kernel asks for them while it computes
  // this step, one line at a time.
  const float* xp_next;
  const float* input_bias;      // or null
  const float* recurrent_bias;  // GRU reset_after: b' (3 gates, stride H) or null
  const float* peephole;        // LSTM: i, f, o rows (stride H) or null
  const float* h;               // h_{t-1}
  const float* h_eff;           // h_{t-1} times recurrent dropout
  const float* c;               // LSTM c_{t-1}
  float* gates;
  float* aux;                   // LSTM act(c_t); GRU reset_after h·U_h + b'_h; GRU !reset_after r ⊙ h_eff
  float* c_new;
  float* h_new;
  // Whether gates and aux are read after the kernel (by BPTT, or by GRU reset_after=False's second half).
  // Inference needs neither: the LSTM and GRU vector kernels then skip those stores (four or five a vector of
  // units), which would fill L1 with dead lines while the step waits on its x·W rows.
  bool keep_gates;
};

// Gradients w.r.t. pre-activations go to dgx (seen by x·W) and dgr (seen by h·U; GRU reset_after only),
// both laid out like gates.
struct BackwardBlock {
  std::int64_t n, H;
  Activation act, ract;
  const float* gates;
  const float* aux;
  const float* c_prev;
  const float* h_prev;
  const float* h_eff;
  const float* peephole;
  const float* dh;    // dL/dh_t
  float* dc;          // LSTM: dL/dc_t from step t+1 in, dL/dc_{t-1} out (each element read before it is written)
  const float* d_rh;  // GRU !reset_after: dL/d(r ⊙ h_eff)
  float* dgx;
  float* dgr;
  float* direct;      // GRU: part of dL/dh_{t-1} not through U
};

// A forward kernel takes `count` batch rows of one unit block (rows[r]: row r's pointers; n, H, the activations
// and keep_gates the same in all). One row of a small block is a few vectors of units whose gate math is one long
// dependency chain: alone in a call, the core waits it out; rows side by side in one loop give it independent
// chains to overlap.
using ForwardFn = void (*)(const ForwardBlock* rows, std::int64_t count);
using BackwardFn = void (*)(const BackwardBlock&);

// GRU reset_after=False needs r before its second product: *_zr / *_zh run before it, *_h / *_r after.
struct BlockKernels {
  ForwardFn simple_rnn_forward, lstm_forward, gru_forward, gru_forward_zr, gru_forward_h;
  BackwardFn simple_rnn_backward, lstm_backward, gru_backward, gru_backward_zh, gru_backward_r;
};

const BlockKernels& block_kernels(Isa isa);

}  // namespace rnnkit::cells

namespace rnnkit::generic { const cells::BlockKernels& cell_block_kernels(); }
namespace rnnkit::avx2 { const cells::BlockKernels& cell_block_kernels(); }
namespace rnnkit::avx512 { const cells::BlockKernels& cell_block_kernels(); }
