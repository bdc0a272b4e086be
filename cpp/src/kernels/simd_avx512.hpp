// The AVX512 vector type and operations shared by this ISA's SIMD code (activations, cell gate kernels):
// Vec, Mask, width, load, store, set1, add, sub, mul, recip (1/b), fma(a,b,c)=a*b+c, floor,
// scale_pow2 (x * 2^n for integral n), max, min, lt (a < b), select (m ? a : b), abs. Include only from files compiled
// with AVX512 flags.
#pragma once
#include <immintrin.h>

namespace rnnkit::avx512 {
namespace {
struct Simd {
  using Vec = __m512;
  using Mask = __mmask16;
  static constexpr int width = 16;
  // Vectors of units a cell gate kernel interleaves (cells_isa_body.hpp): four (64 units, a whole block), not
  // pairs (as first measured on Zen 4). On an Intel Xeon with AVX-512, whole layers' forwards, alternating builds,
  // medians of 9: GRU (128,20,32,64) 1.06x, LSTM (128,20,32,64) 1.015x, GRU (32,100,128,256) 1.015x, LSTM
  // (16,200,64,64) training 1.007x, LSTM (64,50,256,512) 0.98x (within that point's noise).
  static constexpr int gate_chains = 4;
  static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static Vec set1(float x) { return _mm512_set1_ps(x); }
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  static Vec sub(Vec a, Vec b) { return _mm512_sub_ps(a, b); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  // 1/b from the 14-bit estimate and one Newton step (error ~2^-28 before rounding): a division costs about
  // three times as long, and sigmoid/tanh need one per vector.
  static Vec recip(Vec b) {
    const Vec r = _mm512_maskz_rcp14_ps(0xFFFF, b);  // maskz: see floor
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(b, r, _mm512_set1_ps(2.0f)));
  }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  // The all-ones maskz forms: GCC 12's plain forms start from an undefined register and warn.
  static Vec floor(Vec a) { return _mm512_maskz_roundscale_ps(0xFFFF, a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
  // One instruction where building 2^n in the exponent bits and multiplying takes four.
  static Vec scale_pow2(Vec x, Vec n) { return _mm512_maskz_scalef_ps(0xFFFF, x, n); }
  // The larger / smaller of a and b, and b when either is NaN (x86 maxps / minps): with the bound as a, a NaN x
  // stays NaN.
  static Vec max(Vec a, Vec b) { return _mm512_maskz_max_ps(0xFFFF, a, b); }
  static Vec min(Vec a, Vec b) { return _mm512_maskz_min_ps(0xFFFF, a, b); }
  static Mask lt(Vec a, Vec b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static Vec select(Mask m, Vec a, Vec b) { return _mm512_mask_blend_ps(m, b, a); }
  static Vec abs(Vec a) { return _mm512_abs_ps(a); }
};
}  // namespace
}  // namespace rnnkit::avx512
