// Argument checks, the generic tile kernels and the per-ISA dispatch shared by the attention passes.
#include "attention_tiles.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

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
  if (d.kv_capacity != 0 && d.kv_capacity < d.kv_len)
    throw std::invalid_argument(std::string(fn) + ": kv_capacity " + std::to_string(d.kv_capacity) +
                                " is smaller than kv_len " + std::to_string(d.kv_len));
  if (!(o.dropout_p >= 0.0f && o.dropout_p < 1.0f))
    throw std::invalid_argument(std::string(fn) + ": expected dropout_p in [0, 1), received " +
                                std::to_string(o.dropout_p));
}

namespace {

void generic_product(std::int64_t M, std::int64_t N, std::int64_t K, float alpha, const float* A, std::int64_t a_rs,
                     std::int64_t a_cs, const float* B, std::int64_t ldb, bool accumulate, float* C,
                     std::int64_t ldc) {
  for (std::int64_t i = 0; i < M; ++i) {
    float* c = C + i * ldc;
    if (!accumulate) std::fill(c, c + N, 0.0f);
    for (std::int64_t k = 0; k < K; ++k) {
      const float w = alpha * A[i * a_rs + k * a_cs];
      const float* b = B + k * ldb;
      for (std::int64_t j = 0; j < N; ++j) c[j] += w * b[j];
    }
  }
}

void generic_row_max(const float* s, std::int64_t rows, std::int64_t cols, float* out) {
  for (std::int64_t r = 0; r < rows; ++r) {
    float mx = kNegInf;
    for (std::int64_t c = 0; c < cols; ++c) mx = std::max(mx, s[r * cols + c]);
    out[r] = mx;
  }
}

void generic_exp_rows(const float* s, const float* shift, std::int64_t rows, std::int64_t cols, float* p,
                      float* row_sum) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* in = s + r * cols;
    float* out = p + r * cols;
    float sum = 0.0f;
    for (std::int64_t c = 0; c < cols; ++c) {
      // exp(-inf - m) is exactly 0, so hidden keys cannot leak into outputs; so is every key of a row with m = -inf.
      out[c] = shift[r] == kNegInf ? 0.0f : std::exp(in[c] - shift[r]);
      sum += out[c];
    }
    if (row_sum != nullptr) row_sum[r] += sum;
  }
}

void generic_dot_scores(std::int64_t rows, std::int64_t cols, std::int64_t dk, float scale, const float* q,
                        std::int64_t ldq, const float* k, std::int64_t ldk, float* s, std::int64_t lds) {
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) {
      float dot = 0.0f;
      for (std::int64_t e = 0; e < dk; ++e) dot += q[i * ldq + e] * k[j * ldk + e];
      s[i * lds + j] = scale * dot;
    }
}

void generic_transpose(const float* src, std::int64_t rows, std::int64_t cols, std::int64_t lds, float* dst,
                       std::int64_t ldd) {
  for (std::int64_t c = 0; c < cols; ++c)
    for (std::int64_t r = 0; r < rows; ++r) dst[c * ldd + r] = src[r * lds + c];
}

}  // namespace

const TileKernels& tile_kernels(Isa isa) {
  static const TileKernels generic{generic_product, generic_row_max, generic_exp_rows, generic_dot_scores,
                                   generic_transpose};
  switch (isa) {
    case Isa::avx512: return avx512::attention_tile_kernels();
    case Isa::avx2: return avx2::attention_tile_kernels();
    default: return generic;
  }
}

}  // namespace rnnkit::attention_detail
