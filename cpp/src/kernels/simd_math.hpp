// Branchless float math written so that GCC vectorises the loops with whatever ISA flags the including
// translation unit has (activations_generic/avx2/avx512.cpp include this inside their ISA namespace).
// Accuracy: exp and tanh stay within 1e-6 relative error of float64 over [-20, 20] (tests/test_activations.py).
#pragma once
#include <cstdint>
#include <cstring>

#include "kernels/exp_range.hpp"
#include "rnnkit/activations.hpp"

namespace simd_math_detail {

inline float bits_to_float(std::int32_t i) { float f; std::memcpy(&f, &i, sizeof f); return f; }

// Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2, then a degree-6 minimax polynomial (Cephes expf).
inline float exp_f(float x) {
  using rnnkit::exp_range::kMaxArg;
  using rnnkit::exp_range::kMinArg;
  x = x < kMinArg ? kMinArg : (x > kMaxArg ? kMaxArg : x);
  const float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * bits_to_float((static_cast<std::int32_t>(n) + 127) << 23);
}

// Odd polynomial near zero (no cancellation), 1 - 2/(e^{2|x|}+1) elsewhere (Cephes tanhf split at 0.625).
inline float tanh_f(float x) {
  const float ax = x < 0.0f ? -x : x;
  const float x2 = x * x;
  float p = -5.70498872745e-3f;
  p = p * x2 + 2.06390887954e-2f;
  p = p * x2 - 5.37397155531e-2f;
  p = p * x2 + 1.33314422036e-1f;
  p = p * x2 - 3.33332819422e-1f;
  const float small = x + x * x2 * p;
  const float large_abs = 1.0f - 2.0f / (exp_f(2.0f * ax) + 1.0f);
  const float large = x < 0.0f ? -large_abs : large_abs;
  return ax < 0.625f ? small : large;
}

inline float sigmoid_f(float x) { return 1.0f / (1.0f + exp_f(-x)); }

inline float hard_sigmoid_f(float x) {
  const float y = (x + 3.0f) * (1.0f / 6.0f);
  return y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y);
}

inline float relu_f(float x) { return x > 0.0f ? x : 0.0f; }

}  // namespace simd_math_detail

// The per-ISA entry points. The portable build uses the scalar forms below; the AVX2 / AVX-512 builds
// define activation_forward and exp_array with explicit vectors (simd_math_vec.hpp) and share the backward,
// whose branch-free loops GCC vectorises as they are.
#define RNNKIT_DEFINE_SCALAR_ACTIVATION_FORWARD                                                           \
  void activation_forward(Activation a, const float* x, float* y, std::int64_t n) {                      \
    using namespace simd_math_detail;                                                                     \
    switch (a) {                                                                                          \
      case Activation::tanh: for (std::int64_t i = 0; i < n; ++i) y[i] = tanh_f(x[i]); break;            \
      case Activation::sigmoid: for (std::int64_t i = 0; i < n; ++i) y[i] = sigmoid_f(x[i]); break;      \
      case Activation::hard_sigmoid: for (std::int64_t i = 0; i < n; ++i) y[i] = hard_sigmoid_f(x[i]); break; \
      case Activation::relu: for (std::int64_t i = 0; i < n; ++i) y[i] = relu_f(x[i]); break;            \
      case Activation::linear: if (x != y) std::memmove(y, x, sizeof(float) * n); break;                 \
    }                                                                                                     \
  }                                                                                                       \
  void exp_array(const float* x, float* y, std::int64_t n) {                                             \
    for (std::int64_t i = 0; i < n; ++i) y[i] = simd_math_detail::exp_f(x[i]);                            \
  }

#define RNNKIT_DEFINE_ACTIVATION_BACKWARD                                                                 \
  void activation_backward(Activation a, const float* y, const float* dy, float* dx, std::int64_t n) {   \
    switch (a) {                                                                                          \
      case Activation::tanh: for (std::int64_t i = 0; i < n; ++i) dx[i] = dy[i] * (1.0f - y[i] * y[i]); break; \
      case Activation::sigmoid: for (std::int64_t i = 0; i < n; ++i) dx[i] = dy[i] * y[i] * (1.0f - y[i]); break; \
      case Activation::hard_sigmoid:                                                                      \
        for (std::int64_t i = 0; i < n; ++i) dx[i] = (y[i] > 0.0f && y[i] < 1.0f) ? dy[i] * (1.0f / 6.0f) : 0.0f; \
        break;                                                                                            \
      case Activation::relu: for (std::int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f; break; \
      case Activation::linear: if (dy != dx) std::memmove(dx, dy, sizeof(float) * n); break;             \
    }                                                                                                     \
  }
