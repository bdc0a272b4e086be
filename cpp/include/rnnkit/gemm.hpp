// Single-precision GEMM over row-major buffers with leading dimensions.
#pragma once
#include <cstdint>

namespace rnnkit {

enum class Trans : bool { no = false, yes = true };

// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, all row-major.
// op(A) = A (lda >= K) or A^T where A is stored [K,M] (lda >= M); likewise for B.
// beta == 0 ignores C's prior contents (NaN in C does not propagate). Uses num_threads() threads.
void sgemm(Trans trans_a, Trans trans_b, std::int64_t M, std::int64_t N, std::int64_t K, float alpha,
           const float* A, std::int64_t lda, const float* B, std::int64_t ldb, float beta, float* C,
           std::int64_t ldc);

}  // namespace rnnkit
