// The AVX2 vector type and operations shared by this ISA's SIMD code (activations, cell gate kernels):
// Vec, Mask, width, load, store, set1, add, sub, mul, recip (1/b), fma(a,b,c)=a*b+c, floor,
// scale_pow2 (x * 2^n for integral n), max, min, lt (a < b), select (m ? a : b), abs. Include only from files compiled
// with AVX2 flags.
#pragma once
#include <immintrin.h>

namespace rnnkit::avx2 {
namespace {
struct Simd {
  using Vec = __m256;
  using Mask = __m256;
  static constexpr int width = 8;
  // Vectors of units a cell gate kernel interleaves (cells_isa_body.hpp). Four, not two: over a 64-unit block
  // in L1 on Zen 3 the LSTM / GRU / SimpleRNN forward gate kernels take 12-19% / 24-38% / 11-17% less time
  // (two code copies alternating call by call); whole layers' forwards 1-5% (training ~0-1%). Eight spill.
  static constexpr int gate_chains = 4;
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static Vec set1(float x) { return _mm256_set1_ps(x); }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static Vec sub(Vec a, Vec b) { return _mm256_sub_ps(a, b); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  // 1/b as a division: one micro-op of ~11 cycles' latency where the 12-bit estimate and the two Newton steps it
  // needs are five of ~21, on the one chain of every sigmoid and tanh. On Zen 3 (this ISA's machine since the
  // AVX-512 one left) sigmoid / tanh over an L1 array take 17 / 22 cycles a vector instead of 21 / 26.5, and the
  // LSTM gate kernel, three sigmoids and two tanh a vector, ~10% less. Correctly rounded, so 1/1 is exactly 1.
  static Vec recip(Vec b) { return _mm256_div_ps(_mm256_set1_ps(1.0f), b); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static Vec floor(Vec a) { return _mm256_floor_ps(a); }
  static Vec scale_pow2(Vec x, Vec n) {
    const __m256i e = _mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_mul_ps(x, _mm256_castsi256_ps(_mm256_slli_epi32(e, 23)));
  }
  // The larger / smaller of a and b, and b when either is NaN (x86 maxps / minps): with the bound as a, a NaN x
  // stays NaN.
  static Vec max(Vec a, Vec b) { return _mm256_max_ps(a, b); }
  static Vec min(Vec a, Vec b) { return _mm256_min_ps(a, b); }
  static Mask lt(Vec a, Vec b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static Vec select(Mask m, Vec a, Vec b) { return _mm256_blendv_ps(b, a, m); }
  static Vec abs(Vec a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
};
}  // namespace
}  // namespace rnnkit::avx2
