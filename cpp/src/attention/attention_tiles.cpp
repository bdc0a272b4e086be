// Argument checks and the masked row-wise exp shared by the attention passes.
#include "attention_tiles.hpp"

#include <stdexcept>
#include <string>

#include "rnnkit/activations.hpp"
#include "rnnkit/checked.hpp"

namespace rnnkit::attention_detail {

void check_attention_args(const char* fn, const AttentionDims& d, const AttentionOptions& o) {
  if (d.batch < 0 || d.heads < 0 || d.q_len < 0 || d.kv_len < 0 || d.head_dim < 0 || d.value_dim < 0)
    throw std::invalid_argument(std::string(fn) + ": sizes must be >= 0, received batch=" + std::to_string(d.batch) +
                                " heads=" + std::to_string(d.heads) + " q_len=" + std::to_string(d.q_len) +
                                " kv_len=" + std::to_string(d.kv_len) + " head_dim=" + std::to_string(d.head_dim) +
                                " value_dim=" + std::to_string(d.value_dim));
  checked_mul(d.batch, d.heads, d.q_len, d.kv_len, fn);
  checked_mul(d.batch, d.heads, d.q_len, d.head_dim + d.value_dim, fn);
  checked_mul(d.batch, d.heads, d.kv_len, d.head_dim + d.value_dim, fn);
  if (std::isinf(o.scale))
    throw std::invalid_argument(std::string(fn) + ": expected a finite scale (NaN for 1/sqrt(head_dim)), received " +
                                std::to_string(o.scale));
  if (!(o.dropout_p >= 0.0f && o.dropout_p < 1.0f))
    throw std::invalid_argument(std::string(fn) + ": expected dropout_p in [0, 1), received " +
                                std::to_string(o.dropout_p));
}

void tile_gemm(Trans ta, Trans tb, std::int64_t M, std::int64_t N, std::int64_t K, float alpha, const float* A,
               std::int64_t lda, const float* B, std::int64_t ldb, float beta, float* C, std::int64_t ldc) {
  constexpr std::int64_t kSmallRows = 4;
  if (M > kSmallRows || ta == Trans::yes) {
    sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  for (std::int64_t i = 0; i < M; ++i) {
    const float* a = A + i * lda;
    float* c = C + i * ldc;
    if (tb == Trans::yes) {  // rows of A against rows of B: contiguous dot products
      for (std::int64_t j = 0; j < N; ++j) {
        const float* b = B + j * ldb;
        float dot = 0.0f;
        for (std::int64_t k = 0; k < K; ++k) dot += a[k] * b[k];
        c[j] = alpha * dot + (beta == 0.0f ? 0.0f : beta * c[j]);
      }
    } else {  // a row of A mixes rows of B: contiguous axpys
      for (std::int64_t j = 0; j < N; ++j) c[j] = beta == 0.0f ? 0.0f : beta * c[j];
      for (std::int64_t k = 0; k < K; ++k) {
        const float w = alpha * a[k];
        const float* b = B + k * ldb;
        for (std::int64_t j = 0; j < N; ++j) c[j] += w * b[j];
      }
    }
  }
}

void exp_rows(const float* s, const float* shift, std::int64_t rows, std::int64_t cols, float* p) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* in = s + r * cols;
    float* out = p + r * cols;
    const float m = shift[r];
    if (m == kNegInf) {
      for (std::int64_t c = 0; c < cols; ++c) out[c] = 0.0f;
      continue;
    }
    for (std::int64_t c = 0; c < cols; ++c) out[c] = in[c] - m;
  }
  exp_array(p, p, rows * cols);
  // exp_array clamps at -88 (about 6e-39): hidden keys must weigh exactly 0 so they cannot leak into outputs.
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* in = s + r * cols;
    float* out = p + r * cols;
    if (shift[r] == kNegInf) {
      for (std::int64_t c = 0; c < cols; ++c) out[c] = 0.0f;
      continue;
    }
    for (std::int64_t c = 0; c < cols; ++c)
      if (in[c] == kNegInf) out[c] = 0.0f;
  }
}

}  // namespace rnnkit::attention_detail
