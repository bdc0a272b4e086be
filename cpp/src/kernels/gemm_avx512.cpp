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
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static Vec broadcast(float x) { return _mm512_set1_ps(x); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
};
#include "kernels/gemm_simd_kernel.hpp"
}  // namespace

const gemm_detail::MicroKernel& gemm_microkernel() {
  static const auto kernel = make_gemm_microkernel<12, 2, 24>(std::make_index_sequence<12>{});
  return kernel;
}

}  // namespace rnnkit::avx512
