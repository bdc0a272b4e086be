// The body shared by cells_generic/avx2/avx512.cpp: each includes its simd_<isa>.hpp, opens its ISA namespace,
// defines `namespace isa = rnnkit::<isa>;` and includes this file there, so every loop below compiles with that
// source's flags (cpp/CMakeLists.txt picks them by file name). Not a standalone header.
namespace {
#include "kernels/simd_math_vec.hpp"
#include "kernels/simd_paired.hpp"
using cells::BackwardBlock;
using cells::ForwardBlock;
using cells::kMaxBlock;
// Qualified, so argument-dependent lookup cannot also find the dispatching rnnkit::activation_forward.
void activate(Activation a, const float* x, float* y, std::int64_t n) { isa::activation_forward(a, x, y, n); }
void activate_grad(Activation a, const float* y, const float* dy, float* dx, std::int64_t n) {
  isa::activation_backward(a, y, dy, dx, n);
}
// The Keras defaults (tanh, recurrent sigmoid) get kernels with every gate of a unit in registers and no
// calls; other activations take the general path through activate / activate_grad.
bool default_activations(Activation act, Activation ract) {
  return act == Activation::tanh && ract == Activation::sigmoid;
}
bool vector_forward(const ForwardBlock& f) {
  return default_activations(f.act, f.ract) && f.n % Simd::width == 0;
}
// x·W plus the input bias for gate g at unit j: a vector of units, and one unit.
template <class S = Simd>
typename S::Vec input_pre(const ForwardBlock& f, int g, std::int64_t j) {
  const typename S::Vec x = S::load(f.xp + g * f.H + j);
  return f.input_bias ? S::add(x, S::load(f.input_bias + g * f.H + j)) : x;
}
float input_pre_at(const ForwardBlock& f, int g, std::int64_t j) {
  return f.input_bias ? f.xp[g * f.H + j] + f.input_bias[g * f.H + j] : f.xp[g * f.H + j];
}
// The next step's x·W for gates 0..gates-1: the cache lines that begin among the units [j, j + S::width), and at
// j == 0 the line holding the block's first unit (it begins before that unit when the row is not line-aligned,
// as in a table a caller allocated). Asked for by each vector loop, spread over the block's math, the requests
// never fill the line fill buffers (asked for a row at a time before its block, they stalled the core: 7% of an
// Embedding -> LSTM predict). Forced inline: GCC finds a function of nothing but prefetches pure, and then
// deletes the calls to it as having no effect.
constexpr std::uintptr_t kLineBytes = 64;
template <class S = Simd>
[[gnu::always_inline]] inline void prefetch_next_inputs(const ForwardBlock& f, int gates, std::int64_t j) {
  if (!f.xp_next) return;
  for (int g = 0; g < gates; ++g) {
    const float* units = f.xp_next + g * f.H + j;
    const auto begin = reinterpret_cast<std::uintptr_t>(units);
    const auto end = reinterpret_cast<std::uintptr_t>(units + S::width);
    if (j == 0 && begin % kLineBytes) __builtin_prefetch(units);
    for (std::uintptr_t line = (begin + kLineBytes - 1) / kLineBytes * kLineBytes; line < end; line += kLineBytes)
      __builtin_prefetch(reinterpret_cast<const void*>(line));
  }
}
// The same for the paths without a vector loop: the block's lines at once.
[[gnu::always_inline]] inline void prefetch_next_inputs_all(const ForwardBlock& f, int gates) {
  for (std::int64_t j = 0; j < f.n; j += Simd::width) prefetch_next_inputs(f, gates, j);
}
using simd_math_vec_detail::sigmoid_v;
using simd_math_vec_detail::tanh_v;
// Runs kernel(S{}) with S as many interleaved vectors (simd_paired.hpp) as this ISA's Simd::gate_chains asks
// for and the block's units allow, else fewer.
template <class Kernel>
void vector_kernel(const ForwardBlock& f, Kernel kernel) {
  using Quad = Paired<Paired<Simd>>;
  if constexpr (Simd::gate_chains >= 4)
    if (f.n % Quad::width == 0) return kernel(Quad{});
  if (f.n % Paired<Simd>::width == 0) return kernel(Paired<Simd>{});
  kernel(Simd{});
}
// A forward kernel's rows, for range-for.
struct RowSpan {
  const ForwardBlock* rows;
  std::int64_t count;
  const ForwardBlock* begin() const { return rows; }
  const ForwardBlock* end() const { return rows + count; }
};
#include "simple_rnn.hpp"
#include "lstm.hpp"
#include "gru.hpp"
}  // namespace

const cells::BlockKernels& cell_block_kernels() {
  static const cells::BlockKernels kernels{simple_rnn_forward, lstm_forward,        gru_forward,
                                           gru_forward_zr,     gru_forward_h,       simple_rnn_backward,
                                           lstm_backward,      gru_backward,        gru_backward_zh,
                                           gru_backward_r};
  return kernels;
}
