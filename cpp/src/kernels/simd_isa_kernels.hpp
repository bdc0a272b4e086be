// Declarations of the per-ISA activation kernels (one definition per activations_<isa>.cpp).
#pragma once
#include <cstdint>

#include "rnnkit/activations.hpp"

#define RNNKIT_DECLARE_ACTIVATION_KERNELS                                                           \
  void activation_forward(Activation a, const float* x, float* y, std::int64_t n);                 \
  void activation_backward(Activation a, const float* y, const float* dy, float* dx, std::int64_t n); \
  void exp_array(const float* x, float* y, std::int64_t n);

namespace rnnkit {
// The activations without SIMD kernels (elu, selu, softplus, softsign, exponential): <cmath> loops in
// activations.cpp, which every ISA's kernels hand them to.
void portable_activation_forward(Activation a, const float* x, float* y, std::int64_t n);
void portable_activation_backward(Activation a, const float* y, const float* dy, float* dx, std::int64_t n);
}  // namespace rnnkit

namespace rnnkit::generic { RNNKIT_DECLARE_ACTIVATION_KERNELS }
namespace rnnkit::avx2 { RNNKIT_DECLARE_ACTIVATION_KERNELS }
namespace rnnkit::avx512 { RNNKIT_DECLARE_ACTIVATION_KERNELS }
