// AVX-512 microkernel: 12 x 32 tile = 24 zmm accumulators, 2 B vectors and a broadcast A element.
#include <immintrin.h>

#include <cstdint>
#include <utility>

#include "kernels/gemm_microkernel.hpp"

namespace rnnkit::avx512 {
namespace {
struct Simd {
  using Vec = __m512;
  static constexpr int width = 16;
  static constexpr int registers = 32;
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static Vec broadcast(float x) { return _mm512_set1_ps(x); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static void prefetch(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
  static __mmask16 first(int n) { return static_cast<__mmask16>((1u << n) - 1); }
  static Vec load_first(const float* p, int n) { return _mm512_maskz_loadu_ps(first(n), p); }
  static void store_first(float* p, Vec v, int n) { _mm512_mask_storeu_ps(p, first(n), v); }
  // Interleave pairs, then pairs of pairs within 128-bit lanes, then 128-bit lanes across registers twice.
  // The all-ones maskz forms: GCC 12's plain forms start from an undefined register and warn.
  static void transpose(Vec (&r)[16]) {
    Vec t[16];
    for (int i = 0; i < 16; i += 2) {
      t[i] = _mm512_maskz_unpacklo_ps(0xFFFF, r[i], r[i + 1]);
      t[i + 1] = _mm512_maskz_unpackhi_ps(0xFFFF, r[i], r[i + 1]);
    }
    for (int b = 0; b < 16; b += 4) {
      r[b] = _mm512_shuffle_ps(t[b], t[b + 2], 0x44);
      r[b + 1] = _mm512_shuffle_ps(t[b], t[b + 2], 0xEE);
      r[b + 2] = _mm512_shuffle_ps(t[b + 1], t[b + 3], 0x44);
      r[b + 3] = _mm512_shuffle_ps(t[b + 1], t[b + 3], 0xEE);
    }
    for (int b = 0; b < 16; b += 8)
      for (int i = 0; i < 4; ++i) {
        t[b + i] = _mm512_maskz_shuffle_f32x4(0xFFFF, r[b + i], r[b + 4 + i], 0x88);
        t[b + 4 + i] = _mm512_maskz_shuffle_f32x4(0xFFFF, r[b + i], r[b + 4 + i], 0xDD);
      }
    for (int i = 0; i < 8; ++i) {
      r[i] = _mm512_maskz_shuffle_f32x4(0xFFFF, t[i], t[8 + i], 0x88);
      r[8 + i] = _mm512_maskz_shuffle_f32x4(0xFFFF, t[i], t[8 + i], 0xDD);
    }
  }
};
#include "kernels/gemm_simd_kernel.hpp"
}  // namespace

const gemm_detail::MicroKernel& gemm_microkernel() {
  // Strips prefetch 2 rows of B ahead: 1.0-1.2x packed-B speed for one row instead of 0.5-0.8x (C++ A/B,
  // 4-8 rows gain 10-25%); 8 or 16 rows ahead evict the rows still to be read (see gemm_simd_kernel.hpp).
  // A row vector takes four packed panels a pass (one was measured first, on Zen 4): Intel Xeon, batch-1
  // (1,100,64,128) forward SimpleRNN / GRU / LSTM 1.06x / 1.05x / 1.04x, LSTM training 1.03x (alternating builds,
  // medians of 9); eight a pass leave a SimpleRNN's four panels to the one-panel loop (0.92x there).
  static const auto kernel = make_gemm_microkernel<12, 2, 24, 2, 4>(std::make_index_sequence<12>{});
  return kernel;
}

}  // namespace rnnkit::avx512
