// Shared by the attention forward and backward: argument checks, per-tile masking and the dropout hash, so
// both passes hide exactly the same scores and drop exactly the same weights.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

#include "rnnkit/attention.hpp"
#include "rnnkit/runtime.hpp"

namespace rnnkit::attention_detail {

constexpr std::int64_t kQueryTile = 64;
constexpr std::int64_t kKeyTile = 64;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Throws std::invalid_argument naming `fn` for negative sizes, an infinite scale or a dropout outside [0, 1).
void check_attention_args(const char* fn, const AttentionDims& dims, const AttentionOptions& options);

inline float resolved_scale(const AttentionDims& dims, const AttentionOptions& options) {
  return !std::isnan(options.scale) ? options.scale : 1.0f / std::sqrt(static_cast<float>(dims.head_dim));
}

// The masks of one (batch, head) slice.
struct SliceMask {
  const std::uint8_t* keep;
  std::int64_t keep_q, keep_k;
  const float* bias;
  std::int64_t bias_q, bias_k;
  bool causal;
  std::int64_t offset;

  SliceMask(const AttentionMask& m, std::int64_t b, std::int64_t h)
      : keep(m.keep ? m.keep + b * m.keep_strides[0] + h * m.keep_strides[1] : nullptr),
        keep_q(m.keep_strides[2]), keep_k(m.keep_strides[3]),
        bias(m.bias ? m.bias + b * m.bias_strides[0] + h * m.bias_strides[1] : nullptr),
        bias_q(m.bias_strides[2]), bias_k(m.bias_strides[3]), causal(m.causal), offset(m.causal_offset) {}

  // One past the last key any of the queries [i0, i1) may see: causal tiles beyond it are never computed.
  std::int64_t key_end(std::int64_t i1, std::int64_t kv_len) const {
    if (!causal) return kv_len;
    const std::int64_t end = i1 + offset;
    return end < 0 ? 0 : (end > kv_len ? kv_len : end);
  }

  // First query that may see key j0 (for the backward's walk over query tiles of one key tile).
  std::int64_t query_begin(std::int64_t j0) const {
    if (!causal) return 0;
    const std::int64_t begin = j0 - offset;
    return begin < 0 ? 0 : begin;
  }

  // s[rows, cols] holds the scaled scores of queries i0.. and keys j0..: add the bias, set hidden ones to -inf.
  void apply(float* s, std::int64_t i0, std::int64_t rows, std::int64_t j0, std::int64_t cols) const {
    for (std::int64_t r = 0; r < rows; ++r) {
      float* row = s + r * cols;
      const std::int64_t i = i0 + r;
      if (bias != nullptr) {
        const float* b = bias + i * bias_q + j0 * bias_k;
        for (std::int64_t c = 0; c < cols; ++c) row[c] += b[c * bias_k];
      }
      if (keep != nullptr) {
        const std::uint8_t* k = keep + i * keep_q + j0 * keep_k;
        for (std::int64_t c = 0; c < cols; ++c)
          if (k[c * keep_k] == 0) row[c] = kNegInf;
      }
      if (causal) {
        // Keys j > i + offset are the future of query i.
        std::int64_t first_hidden = i + offset + 1 - j0;
        if (first_hidden < 0) first_hidden = 0;
        for (std::int64_t c = first_hidden; c < cols; ++c) row[c] = kNegInf;
      }
    }
  }
};

// splitmix64 of the element's global index: a counter-based stream, identical in forward and backward and
// independent of the thread layout.
inline std::uint64_t mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

struct Dropout {
  bool active;
  std::uint32_t threshold;  // drop when the hash's top 24 bits fall below it
  float keep_scale;
  std::uint64_t seed;

  explicit Dropout(const AttentionOptions& o)
      : active(o.dropout_p > 0.0f), threshold(static_cast<std::uint32_t>(o.dropout_p * 16777216.0f)),
        keep_scale(1.0f / (1.0f - o.dropout_p)), seed(mix64(o.seed)) {}

  // p[rows, cols] *= keep / (1 - p) for the elements whose row-major index over the whole weights tensor
  // starts at `first` for row 0 and advances by `row_step` per row.
  void apply(float* p, std::int64_t rows, std::int64_t cols, std::uint64_t first, std::uint64_t row_step) const {
    for (std::int64_t r = 0; r < rows; ++r) {
      float* row = p + r * cols;
      const std::uint64_t base = first + static_cast<std::uint64_t>(r) * row_step;
      for (std::int64_t c = 0; c < cols; ++c) {
        const bool keep = (mix64(seed ^ (base + static_cast<std::uint64_t>(c))) >> 40) >= threshold;
        row[c] = keep ? row[c] * keep_scale : 0.0f;
      }
    }
  }
};

// The per-ISA tile kernels (attention_tiles_<isa>.cpp; plain loops on generic), chosen once per call.
struct TileKernels {
  // C[M,N] = alpha * A B (+ C when accumulate), A[i,k] = A[i * a_rs + k * a_cs], B row-major with ldb.
  void (*product)(std::int64_t M, std::int64_t N, std::int64_t K, float alpha, const float* A, std::int64_t a_rs,
                  std::int64_t a_cs, const float* B, std::int64_t ldb, bool accumulate, float* C, std::int64_t ldc);
  // out[r] = max of row r of s[rows, cols].
  void (*row_max)(const float* s, std::int64_t rows, std::int64_t cols, float* out);
  // p = exp(s - shift[r]) per row, exactly 0 where s is -inf or the row sees no key (shift -inf); row_sum[r] +=
  // the row's sum unless row_sum is null.
  void (*exp_rows)(const float* s, const float* shift, std::int64_t rows, std::int64_t cols, float* p,
                   float* row_sum);
  // s[rows, cols] = scale * q k^T (q, k and s with leading dimensions ldq, ldk and lds) as dot products: for a query
  // or two (decoding), where turning the keys around would cost as much as the scores.
  void (*dot_scores)(std::int64_t rows, std::int64_t cols, std::int64_t dk, float scale, const float* q,
                     std::int64_t ldq, const float* k, std::int64_t ldk, float* s, std::int64_t lds);
  // dst[c, r] = src[r, c] for src[rows, cols] with leading dimensions lds and ldd: keys (or values) turned so the
  // score products read contiguous keys.
  void (*transpose)(const float* src, std::int64_t rows, std::int64_t cols, std::int64_t lds, float* dst,
                    std::int64_t ldd);
};
const TileKernels& tile_kernels(Isa isa);

// Query counts up to which the scores are dot products over the keys as they lie (TileKernels::dot_scores).
constexpr std::int64_t kDotRows = 2;

}  // namespace rnnkit::attention_detail

namespace rnnkit::avx2 {
const attention_detail::TileKernels& attention_tile_kernels();
}
namespace rnnkit::avx512 {
const attention_detail::TileKernels& attention_tile_kernels();
}
