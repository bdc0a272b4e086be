// The cells' block kernels compiled with this ISA's flags (see cpp/CMakeLists.txt); bodies in the cell headers.
#include "blocks.hpp"
#include "kernels/simd_isa_kernels.hpp"

namespace rnnkit::avx512 {
namespace {
using cells::BackwardBlock;
using cells::ForwardBlock;
using cells::kMaxBlock;
// Qualified, so argument-dependent lookup cannot also find the dispatching rnnkit::activation_forward.
void activate(Activation a, const float* x, float* y, std::int64_t n) { avx512::activation_forward(a, x, y, n); }
void activate_grad(Activation a, const float* y, const float* dy, float* dx, std::int64_t n) {
  avx512::activation_backward(a, y, dy, dx, n);
}
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

}  // namespace rnnkit::avx512
