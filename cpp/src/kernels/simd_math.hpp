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

// Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2, then a degree-6 minimax polynomial (Cephes expf) for
// e^r - 1 = r + r^2 p(r); x must lie in [kMinArg, kMaxArg].
inline float expm1_reduced(float x, float& n) {
  n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return p * r * r + r;
}

inline float pow2_f(float n) { return bits_to_float((static_cast<std::int32_t>(n) + 127) << 23); }

inline float exp_f(float x) {
  using rnnkit::exp_range::kMaxArg;
  using rnnkit::exp_range::kMinArg;
  x = x < kMinArg ? kMinArg : (x > kMaxArg ? kMaxArg : x);
  float n;
  const float q = expm1_reduced(x, n);
  return (q + 1.0f) * pow2_f(n);
}

// tanh|x| = -m / (2 + m) with m = e^{-2|x|} - 1 = 2^n (q + 1) - 1 in (-1, 0]: near 0, m is q itself (n = 0) and
// the quotient has no cancellation, so one reduction and one division serve every x (the split form evaluated
// a polynomial and e^{2|x|} and chose between them). NaN stays NaN.
inline float tanh_f(float x) {
  const float ax = x < 0.0f ? -x : x;
  float y = -2.0f * ax;
  if (y < rnnkit::exp_range::kMinArg) y = rnnkit::exp_range::kMinArg;
  float n;
  const float q = expm1_reduced(y, n);
  const float scale = pow2_f(n);
  const float m = q * scale + (scale - 1.0f);
  return __builtin_copysignf(__builtin_fabsf(m) / (2.0f + m), x);
}

inline float sigmoid_f(float x) { return 1.0f / (1.0f + exp_f(-x)); }

inline float hard_sigmoid_f(float x) {
  const float y = (x + 3.0f) * (1.0f / 6.0f);
  return y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y);
}

inline float relu_f(float x) { return x < 0.0f ? 0.0f : x; }  // NaN stays NaN, as in Keras

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
      default: portable_activation_forward(a, x, y, n); break;                                         \
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
      default: portable_activation_backward(a, y, dy, dx, n); break;                                   \
    }                                                                                                     \
  }
