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
  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static Vec broadcast(float x) { return _mm256_set1_ps(x); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
};
#include "kernels/gemm_simd_kernel.hpp"
}  // namespace

const gemm_detail::MicroKernel& gemm_microkernel() {
  static const auto kernel = make_gemm_microkernel<6, 2, 12>(std::make_index_sequence<6>{});
  return kernel;
}

}  // namespace rnnkit::avx2
