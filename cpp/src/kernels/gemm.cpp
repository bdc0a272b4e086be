// Placeholder reference GEMM; replaced by the packed, per-ISA implementation.
#include "rnnkit/gemm.hpp"

#include <stdexcept>

namespace rnnkit {

void sgemm(Trans trans_a, Trans trans_b, std::int64_t M, std::int64_t N, std::int64_t K, float alpha,
           const float* A, std::int64_t lda, const float* B, std::int64_t ldb, float beta, float* C,
           std::int64_t ldc) {
  if (M < 0 || N < 0 || K < 0) throw std::invalid_argument("sgemm: negative size");
  for (std::int64_t i = 0; i < M; ++i)
    for (std::int64_t j = 0; j < N; ++j) {
      float acc = 0.f;
      for (std::int64_t k = 0; k < K; ++k) {
        const float a = trans_a == Trans::yes ? A[k * lda + i] : A[i * lda + k];
        const float b = trans_b == Trans::yes ? B[j * ldb + k] : B[k * ldb + j];
        acc += a * b;
      }
      C[i * ldc + j] = alpha * acc + (beta == 0.f ? 0.f : beta * C[i * ldc + j]);
    }
}

}  // namespace rnnkit
