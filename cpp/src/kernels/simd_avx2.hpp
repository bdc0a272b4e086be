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
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static Vec set1(float x) { return _mm256_set1_ps(x); }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static Vec sub(Vec a, Vec b) { return _mm256_sub_ps(a, b); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  // 1/b from the 12-bit estimate and two Newton steps r + r(1 - br): a division costs about three times as
  // long, and sigmoid/tanh need one per vector. One step leaves ~2^-23 (1/1 came out 1 - 2^-24, so tanh(±inf)
  // and sigmoid(+inf) missed their limits by an ulp); the second, in this form, rounds 1/1 to 1.
  static Vec recip(Vec b) {
    const Vec one = _mm256_set1_ps(1.0f);
    Vec r = _mm256_rcp_ps(b);
    r = _mm256_fmadd_ps(r, _mm256_fnmadd_ps(b, r, one), r);
    return _mm256_fmadd_ps(r, _mm256_fnmadd_ps(b, r, one), r);
  }
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
