// Scaled dot-product attention. Forward: a FlashAttention-style pass over key tiles with a running max and
// running sum per query (no q_len x kv_len buffer), or a materialising pass when the caller wants the weights.
// Backward: recomputes each tile's weights from the saved log-sum-exp.
#include <algorithm>
#include <cmath>
#include <vector>

#include "attention_tiles.hpp"
#include "rnnkit/attention.hpp"
#include "rnnkit/checked.hpp"
#include "rnnkit/runtime.hpp"

namespace rnnkit {

using namespace attention_detail;

namespace {

// Waking a thread team costs more than a small attention (a Transformer over short sequences) computes.
bool worth_threads(const AttentionDims& d) {
  return static_cast<double>(d.batch * d.heads) * d.q_len * d.kv_len * (d.head_dim + d.value_dim) > 1 << 20;
}

// Global row-major index of weight (b*heads + h, i, 0): the dropout stream's counter.
std::uint64_t weight_index(const AttentionDims& d, std::int64_t bh, std::int64_t i) {
  return (static_cast<std::uint64_t>(bh) * d.q_len + i) * static_cast<std::uint64_t>(d.kv_len);
}

// One tile of queries [i0, i0 + rows) of slice bh, keys visited in tiles with an online softmax.
void forward_query_tile(const AttentionDims& d, const SliceMask& mask, const Dropout& dropout, float scale,
                        const TileKernels& kern, std::int64_t bh, std::int64_t i0, std::int64_t rows,
                        const float* q, const float* k, const float* kt, const float* v, float* out, float* lse,
                        std::vector<float>& scratch) {
  const std::int64_t dk = d.head_dim, dv = d.value_dim;
  scratch.resize(2 * kQueryTile * kKeyTile + kQueryTile * dv + 4 * kQueryTile);
  float* s = scratch.data();
  float* p = s + kQueryTile * kKeyTile;
  float* acc = p + kQueryTile * kKeyTile;
  float* m = acc + kQueryTile * dv;  // running max of the visible scores
  float* l = m + kQueryTile;         // running sum of exp(score - m), before dropout
  float* m_new = l + kQueryTile;
  float* tile_max = m_new + kQueryTile;
  std::fill(acc, acc + rows * dv, 0.0f);
  std::fill(m, m + rows, kNegInf);
  std::fill(l, l + rows, 0.0f);

  const std::int64_t key_end = mask.key_end(i0 + rows, d.kv_len);
  for (std::int64_t j0 = 0; j0 < key_end; j0 += kKeyTile) {
    const std::int64_t cols = std::min(kKeyTile, key_end - j0);
    if (kt == nullptr)
      dot_scores(rows, cols, dk, scale, q + i0 * dk, k + j0 * dk, s, cols);
    else
      kern.product(rows, cols, dk, scale, q + i0 * dk, dk, 1, kt + j0, d.kv_len, false, s, cols);
    mask.apply(s, i0, rows, j0, cols);
    kern.row_max(s, rows, cols, tile_max);
    bool any_visible = false;
    for (std::int64_t r = 0; r < rows; ++r) {
      m_new[r] = std::max(m[r], tile_max[r]);
      any_visible |= tile_max[r] != kNegInf;
    }
    if (!any_visible) continue;  // a tile the masks empty entirely costs only its scores
    for (std::int64_t r = 0; r < rows; ++r) {
      if (m_new[r] == m[r]) continue;
      const float alpha = m[r] == kNegInf ? 0.0f : std::exp(m[r] - m_new[r]);
      l[r] *= alpha;
      float* a = acc + r * dv;
      for (std::int64_t c = 0; c < dv; ++c) a[c] *= alpha;
      m[r] = m_new[r];
    }
    kern.exp_rows(s, m, rows, cols, p, l);
    if (dropout.active) dropout.apply(p, rows, cols, weight_index(d, bh, i0) + j0, d.kv_len);
    kern.product(rows, dv, cols, 1.0f, p, cols, 1, v + j0 * dv, dv, true, acc, dv);
  }
  for (std::int64_t r = 0; r < rows; ++r) {
    float* o = out + (i0 + r) * dv;
    const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;  // a query that sees no key outputs 0
    for (std::int64_t c = 0; c < dv; ++c) o[c] = acc[r * dv + c] * inv;
    lse[i0 + r] = l[r] > 0.0f ? m[r] + std::log(l[r]) : kNegInf;
  }
}

// The same rows with the whole weights rows written out (softmax before dropout).
void forward_query_tile_weights(const AttentionDims& d, const SliceMask& mask, const Dropout& dropout, float scale,
                                const TileKernels& kern, std::int64_t bh, std::int64_t i0, std::int64_t rows,
                                const float* q, const float* k, const float* kt, const float* v, float* out,
                                float* lse, float* weights, std::vector<float>& scratch) {
  const std::int64_t dk = d.head_dim, dv = d.value_dim, n = d.kv_len;
  float* w = weights + i0 * n;
  scratch.resize(rows * n + kQueryTile);
  float* s = scratch.data();
  float* row_max = s + rows * n;
  const std::int64_t key_end = mask.key_end(i0 + rows, n);
  std::fill(w, w + rows * n, 0.0f);
  if (key_end > 0) {
    // Scores in scratch with the key stride n; only the first key_end columns exist.
    if (kt == nullptr)
      dot_scores(rows, key_end, dk, scale, q + i0 * dk, k, s, n);
    else
      kern.product(rows, key_end, dk, scale, q + i0 * dk, dk, 1, kt, n, false, s, n);
    for (std::int64_t r = 0; r < rows; ++r) {
      mask.apply(s + r * n, i0 + r, 1, 0, key_end);
      kern.row_max(s + r * n, 1, key_end, row_max + r);
    }
  }
  for (std::int64_t r = 0; r < rows; ++r) {
    float* row = w + r * n;
    float sum = 0.0f;
    if (key_end > 0) kern.exp_rows(s + r * n, row_max + r, 1, key_end, row, &sum);
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    for (std::int64_t c = 0; c < key_end; ++c) row[c] *= inv;
    lse[i0 + r] = sum > 0.0f ? row_max[r] + std::log(sum) : kNegInf;
  }
  float* o = out + i0 * dv;
  if (key_end == 0) {
    std::fill(o, o + rows * dv, 0.0f);
    return;
  }
  const float* p = w;
  if (dropout.active) {
    std::copy(w, w + rows * n, s);
    dropout.apply(s, rows, n, weight_index(d, bh, i0), n);
    p = s;
  }
  kern.product(rows, dv, key_end, 1.0f, p, n, 1, v, dv, false, o, dv);
}

}  // namespace

void attention_forward(const AttentionDims& d, const float* q, const float* k, const float* v,
                       const AttentionOptions& options, float* out, float* lse, float* weights) {
  check_attention_args("attention_forward", d, options);
  const std::int64_t slices = d.batch * d.heads;
  const std::int64_t q_tiles = (d.q_len + kQueryTile - 1) / kQueryTile;
  if (slices == 0 || d.q_len == 0) return;
  const float scale = resolved_scale(d, options);
  const Dropout dropout(options);
  const TileKernels& kern = tile_kernels(active_isa());
  const std::int64_t work = slices * q_tiles;
  // Every slice's keys turned to [head_dim, kv_len] once, so the score products of all its query tiles read
  // contiguous keys. Not for a query or two (decoding), where dot products over the cached keys cost less.
  std::vector<float> keys_turned;
  if (d.q_len > kDotRows) keys_turned.resize(checked_mul(slices, d.kv_len, d.head_dim, "attention_forward"));
#pragma omp parallel num_threads(num_threads()) if (work > 1 && worth_threads(d))
  {
    std::vector<float> scratch;
    if (!keys_turned.empty()) {
#pragma omp for
      for (std::int64_t bh = 0; bh < slices; ++bh)
        transpose(k + bh * d.kv_len * d.head_dim, d.kv_len, d.head_dim, d.head_dim,
                  keys_turned.data() + bh * d.kv_len * d.head_dim);
    }
#pragma omp for schedule(dynamic)
    for (std::int64_t item = 0; item < work; ++item) {
      // Causal tiles near the end of the sequence cost more, hence dynamic scheduling.
      const std::int64_t bh = item / q_tiles, i0 = (item % q_tiles) * kQueryTile;
      const std::int64_t rows = std::min(kQueryTile, d.q_len - i0);
      const SliceMask mask(options.mask, bh / d.heads, bh % d.heads);
      const float* qs = q + bh * d.q_len * d.head_dim;
      const float* ks = k + bh * d.kv_len * d.head_dim;
      const float* kts = keys_turned.empty() ? nullptr : keys_turned.data() + bh * d.kv_len * d.head_dim;
      const float* vs = v + bh * d.kv_len * d.value_dim;
      float* os = out + bh * d.q_len * d.value_dim;
      float* ls = lse + bh * d.q_len;
      if (weights == nullptr)
        forward_query_tile(d, mask, dropout, scale, kern, bh, i0, rows, qs, ks, kts, vs, os, ls,
                           scratch);
      else
        forward_query_tile_weights(d, mask, dropout, scale, kern, bh, i0, rows, qs, ks, kts, vs, os, ls,
                                   weights + bh * d.q_len * d.kv_len, scratch);
    }
  }
}

namespace {

// d_q, d_k, d_v of one (batch, head) slice; key tiles outer so each d_k/d_v tile is finished in one sweep.
void backward_slice(const AttentionDims& d, const SliceMask& mask, const Dropout& dropout, float scale,
                    const TileKernels& kern, std::int64_t bh, const float* q, const float* k, const float* v, const float* out,
                    const float* lse, const float* d_out, float* d_q, float* d_k, float* d_v,
                    std::vector<float>& scratch) {
  const std::int64_t dk = d.head_dim, dv = d.value_dim;
  scratch.resize(3 * kQueryTile * kKeyTile + kKeyTile * (dk + dv) + d.q_len);
  float* s = scratch.data();
  float* p = s + kQueryTile * kKeyTile;
  float* dp = p + kQueryTile * kKeyTile;
  float* kt = dp + kQueryTile * kKeyTile;  // the key and value tiles turned to [dk, cols] and [dv, cols]
  float* vt = kt + kKeyTile * dk;
  float* delta = vt + kKeyTile * dv;  // delta_i = d_out_i . out_i = sum_j P_ij dP_ij
  for (std::int64_t i = 0; i < d.q_len; ++i) {
    float sum = 0.0f;
    for (std::int64_t c = 0; c < dv; ++c) sum += d_out[i * dv + c] * out[i * dv + c];
    delta[i] = sum;
  }
  std::fill(d_q, d_q + d.q_len * dk, 0.0f);
  std::fill(d_k, d_k + d.kv_len * dk, 0.0f);
  std::fill(d_v, d_v + d.kv_len * dv, 0.0f);
  for (std::int64_t j0 = 0; j0 < d.kv_len; j0 += kKeyTile) {
    const std::int64_t cols = std::min(kKeyTile, d.kv_len - j0);
    const std::int64_t first_query = mask.query_begin(j0) / kQueryTile * kQueryTile;
    transpose(k + j0 * dk, cols, dk, dk, kt);
    transpose(v + j0 * dv, cols, dv, dv, vt);
    for (std::int64_t i0 = first_query; i0 < d.q_len; i0 += kQueryTile) {
      const std::int64_t rows = std::min(kQueryTile, d.q_len - i0);
      kern.product(rows, cols, dk, scale, q + i0 * dk, dk, 1, kt, cols, false, s, cols);
      mask.apply(s, i0, rows, j0, cols);
      kern.exp_rows(s, lse + i0, rows, cols, p, nullptr);
      bool any = false;
      for (std::int64_t e = 0; e < rows * cols && !any; ++e) any = p[e] != 0.0f;
      if (!any) continue;
      // d_v += dropped(P)^T d_out; s is free again and holds the dropped weights.
      const float* p_used = p;
      if (dropout.active) {
        std::copy(p, p + rows * cols, s);
        dropout.apply(s, rows, cols, weight_index(d, bh, i0) + j0, d.kv_len);
        p_used = s;
      }
      kern.product(cols, dv, rows, 1.0f, p_used, 1, cols, d_out + i0 * dv, dv, true, d_v + j0 * dv, dv);
      kern.product(rows, cols, dv, 1.0f, d_out + i0 * dv, dv, 1, vt, cols, false, dp, cols);
      if (dropout.active) dropout.apply(dp, rows, cols, weight_index(d, bh, i0) + j0, d.kv_len);
      // dS = P o (dP - delta); reuses dp.
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c)
          dp[r * cols + c] = p[r * cols + c] * (dp[r * cols + c] - delta[i0 + r]);
      kern.product(rows, dk, cols, scale, dp, cols, 1, k + j0 * dk, dk, true, d_q + i0 * dk, dk);
      kern.product(cols, dk, rows, scale, dp, 1, cols, q + i0 * dk, dk, true, d_k + j0 * dk, dk);
    }
  }
}

}  // namespace

void attention_backward(const AttentionDims& d, const float* q, const float* k, const float* v, const float* out,
                        const float* lse, const float* d_out, const AttentionOptions& options, float* d_q,
                        float* d_k, float* d_v) {
  check_attention_args("attention_backward", d, options);
  const std::int64_t slices = d.batch * d.heads;
  const float scale = resolved_scale(d, options);
  const Dropout dropout(options);
  const TileKernels& kern = tile_kernels(active_isa());
#pragma omp parallel num_threads(num_threads()) if (slices > 1 && worth_threads(d))
  {
    std::vector<float> scratch;
#pragma omp for schedule(dynamic)
    for (std::int64_t bh = 0; bh < slices; ++bh) {
      const SliceMask mask(options.mask, bh / d.heads, bh % d.heads);
      const std::int64_t qo = bh * d.q_len, ko = bh * d.kv_len;
      backward_slice(d, mask, dropout, scale, kern, bh, q + qo * d.head_dim, k + ko * d.head_dim, v + ko * d.value_dim,
                     out + qo * d.value_dim, lse + qo, d_out + qo * d.value_dim, d_q + qo * d.head_dim,
                     d_k + ko * d.head_dim, d_v + ko * d.value_dim, scratch);
    }
  }
}

}  // namespace rnnkit
