// Single-precision GEMM over row-major buffers with leading dimensions, plus a pre-packed right-hand
// operand for products that reuse the same matrix many times (the recurrent kernel U of every timestep).
#pragma once
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "rnnkit/runtime.hpp"

namespace rnnkit {

enum class Trans : bool { no = false, yes = true };

// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C (+ column_bias[N] on every row), all row-major.
// op(A) = A (lda >= K) or A^T where A is stored [K,M] (lda >= M); likewise for B.
// beta == 0 ignores C's prior contents (NaN in C does not propagate). The bias is added as each tile of C is
// stored, not in a pass of its own (a Dense layer's bias). Uses num_threads() threads, or only the calling
// thread when called from inside an active OpenMP parallel region. Like the recurrent core, computes with
// denormal floats flushed to zero (inputs and results below 1.2e-38 read and written as 0; the calling thread's
// floating-point mode is restored on return).
void sgemm(Trans trans_a, Trans trans_b, std::int64_t M, std::int64_t N, std::int64_t K, float alpha,
           const float* A, std::int64_t lda, const float* B, std::int64_t ldb, float beta, float* C,
           std::int64_t ldc, const float* column_bias = nullptr);

// One left operand of sgemm_shared_right and its result: C[M,N] = op(A)[M,K] * B.
struct GemmLeft {
  const float* A;
  std::int64_t lda;
  std::int64_t M;
  float* C;
  std::int64_t ldc;
};

// Two products against the same row-major B[K,N] (ldb >= N), as two sgemm(trans_a, Trans::no, ..., alpha 1,
// beta 0) calls compute them but with each block of B packed once for both: BPTT's dW = x^T·dG and
// dU = h^T·dG, whose dG (one row per batch row and step) streams from memory for every packing.
void sgemm_shared_right(Trans trans_a, const GemmLeft& first, const GemmLeft& second, std::int64_t N,
                        std::int64_t K, const float* B, std::int64_t ldb);

// op(B)[K,N] copied once into the microkernel's panel layout, for the ISA active when it was packed.
// Owns its buffer; movable, not copyable. The source B may be freed or changed after packing.
class PackedMatrix {
 public:
  PackedMatrix() = default;
  std::int64_t rows() const { return rows_; }  // K
  std::int64_t cols() const { return cols_; }  // N
  Isa isa() const { return isa_; }
  bool empty() const { return rows_ == 0 || cols_ == 0; }

 private:
  struct FreeDeleter {
    void operator()(float* p) const { std::free(p); }
  };
  friend PackedMatrix pack_b(Trans, std::int64_t, std::int64_t, const float*, std::int64_t);
  friend PackedMatrix pack_b_column_blocks(std::int64_t, const float*, std::int64_t, std::int64_t, std::int64_t,
                                           const std::int64_t*, const std::int64_t*);
  friend void sgemm_packed(Trans, std::int64_t, float, const float*, std::int64_t, const PackedMatrix&, float,
                           float*, std::int64_t, std::int64_t, std::int64_t);
  friend void sgemm_packed_serial(Trans, std::int64_t, float, const float*, std::int64_t, const PackedMatrix&, float,
                                  float*, std::int64_t, std::int64_t, std::int64_t, float*);
  std::unique_ptr<float[], FreeDeleter> panels_;  // ceil(N/nr) panels of [K][nr], zero-padded columns
  std::int64_t rows_ = 0, cols_ = 0;
  Isa isa_ = Isa::generic;
};

// Packs op(B)[K,N]: B is [K,N] with ldb >= N (tb == no) or [N,K] with ldb >= K (tb == yes).
PackedMatrix pack_b(Trans tb, std::int64_t K, std::int64_t N, const float* B, std::int64_t ldb);

// Packs B [K, *] (row-major, ldb) with its columns regrouped: packed columns [i*block, i*block + count[i]) are
// B's columns [first[i], first[i] + count[i]) and the rest of each block is zero (0 <= count[i] <= block, block
// a multiple of packed_panel_width(active_isa())). One pass, for products whose column order is not B's, e.g.
// a recurrent layer's gates of each block of units side by side.
PackedMatrix pack_b_column_blocks(std::int64_t K, const float* B, std::int64_t ldb, std::int64_t block,
                                  std::int64_t blocks, const std::int64_t* first, const std::int64_t* count);

// C[:, n_begin:n_end] = alpha * op(A)[M,K] * B[:, n_begin:n_end] + beta * C[:, n_begin:n_end], where
// B = packed (K = B.rows()) and n_end == -1 means B.cols(). Columns outside the range are neither read
// nor written, so threads may each own a disjoint column range of the same C. Small M (batch 1..8) takes
// a streaming path over the packed panels. Runs on the ISA B was packed for; threads as sgemm.
void sgemm_packed(Trans ta, std::int64_t M, float alpha, const float* A, std::int64_t lda, const PackedMatrix& B,
                  float beta, float* C, std::int64_t ldc, std::int64_t n_begin = 0, std::int64_t n_end = -1);

// Columns per panel of the packed layout on `isa`. Column ranges that start on a multiple of it (and end on
// one, or at B.cols()) never share a panel, so no partial tiles are computed.
std::int64_t packed_panel_width(Isa isa);

// Floats of workspace sgemm_packed_serial needs for an M x K left operand against a matrix packed on `isa`.
std::int64_t packed_serial_workspace(Isa isa, std::int64_t M, std::int64_t K);

// sgemm_packed on the calling thread only: no OpenMP region and no allocation (op(A) is packed into the
// caller's `workspace` of packed_serial_workspace(B.isa(), M, B.rows()) floats). For callers that run their
// own thread team and give each thread a column range, e.g. the recurrent product h·U of every timestep,
// where a fork/join or an allocation per step would cost more than the product.
void sgemm_packed_serial(Trans ta, std::int64_t M, float alpha, const float* A, std::int64_t lda,
                         const PackedMatrix& B, float beta, float* C, std::int64_t ldc, std::int64_t n_begin,
                         std::int64_t n_end, float* workspace);

}  // namespace rnnkit
