// AVX2 microkernel: 6 x 16 tile = 12 ymm accumulators, 2 B vectors and a broadcast A element (15 of 16).
#include <immintrin.h>

#include <cstdint>
#include <utility>

#include "kernels/gemm_microkernel.hpp"

namespace rnnkit::avx2 {
namespace {
struct Simd {
  using Vec = __m256;
  static constexpr int width = 8;
  static constexpr int registers = 16;
  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static Vec broadcast(float x) { return _mm256_set1_ps(x); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static void prefetch(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
  static __m256i first(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static Vec load_first(const float* p, int n) { return _mm256_maskload_ps(p, first(n)); }
  static void store_first(float* p, Vec v, int n) { _mm256_maskstore_ps(p, first(n), v); }
  // Interleave pairs, then pairs of pairs within 128-bit lanes, then swap 128-bit halves across registers.
  static void transpose(Vec (&r)[8]) {
    Vec t[8];
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int b = 0; b < 8; b += 4) {
      r[b] = _mm256_shuffle_ps(t[b], t[b + 2], 0x44);
      r[b + 1] = _mm256_shuffle_ps(t[b], t[b + 2], 0xEE);
      r[b + 2] = _mm256_shuffle_ps(t[b + 1], t[b + 3], 0x44);
      r[b + 3] = _mm256_shuffle_ps(t[b + 1], t[b + 3], 0xEE);
    }
    for (int i = 0; i < 4; ++i) {
      t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
      t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
    }
    for (int i = 0; i < 8; ++i) r[i] = t[i];
  }
};
#include "kernels/gemm_simd_kernel.hpp"
}  // namespace

const gemm_detail::MicroKernel& gemm_microkernel() {
  // No strip prefetch: not measured on an AVX2 machine (the AVX-512 one emulating it gave mixed results). A row
  // vector takes four packed panels a pass: Zen 3, batch-1 GRU / LSTM forward (1,100,64,128) 1.09-1.17x / 1.10-1.17x
  // against one panel a pass (alternating builds, medians of 9); six were level with four.
  static const auto kernel = make_gemm_microkernel<6, 2, 12, 0, 4>(std::make_index_sequence<6>{});
  return kernel;
}

}  // namespace rnnkit::avx2
