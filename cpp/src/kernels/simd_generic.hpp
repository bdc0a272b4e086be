// A one-lane "vector" with the interface of simd_avx2.hpp / simd_avx512.hpp, so the portable build compiles the
// same vector code (the cell gate kernels) as scalar code.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace rnnkit::generic {
namespace {
struct Simd {
  using Vec = float;
  using Mask = bool;
  static constexpr int width = 1;
  static constexpr int gate_chains = 2;  // see simd_avx2.hpp
  static Vec load(const float* p) { return *p; }
  static void store(float* p, Vec v) { *p = v; }
  static Vec set1(float x) { return x; }
  static Vec add(Vec a, Vec b) { return a + b; }
  static Vec sub(Vec a, Vec b) { return a - b; }
  static Vec mul(Vec a, Vec b) { return a * b; }
  static Vec recip(Vec b) { return 1.0f / b; }
  static Vec fma(Vec a, Vec b, Vec c) { return a * b + c; }
  static Vec floor(Vec a) { return std::floor(a); }
  static Vec scale_pow2(Vec x, Vec n) {
    const std::int32_t bits = (static_cast<std::int32_t>(n) + 127) << 23;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return x * f;
  }
  // The larger / smaller of a and b, and b when either is NaN (x86 maxps / minps): with the bound as a, a NaN x
  // stays NaN.
  static Vec max(Vec a, Vec b) { return b < a ? a : b; }
  static Vec min(Vec a, Vec b) { return a < b ? a : b; }
  static Mask lt(Vec a, Vec b) { return a < b; }
  static Vec select(Mask m, Vec a, Vec b) { return m ? a : b; }
  static Vec abs(Vec a) { return std::fabs(a); }
};
}  // namespace
}  // namespace rnnkit::generic
