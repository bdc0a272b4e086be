// Scaled dot-product attention. Forward: a FlashAttention-style pass over key tiles with a running max and
// running sum per query (no q_len x kv_len buffer), or a materialising pass when the caller wants the weights.
// Backward: recomputes each tile's weights from the saved log-sum-exp.
#include <algorithm>
#include <cmath>
#include <memory>
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

// Keys per tile of the forward's online softmax, larger than the backward's (which keeps three tiles of scores and
// the turned key and value tiles): sequences up to 256 take one tile, longer ones a quarter of the rescaling and of
// the per-tile row reductions. Measured faster than 64 and 128 at T = 128 and 512.
constexpr std::int64_t kForwardKeyTile = 256;

// One tile of queries [i0, i0 + rows) of slice bh, keys visited in tiles with an online softmax.
void forward_query_tile(const AttentionDims& d, const SliceMask& mask, const Dropout& dropout, float scale,
                        const TileKernels& kern, std::int64_t bh, std::int64_t i0, std::int64_t rows,
                        const float* q, const float* k, const float* kt, const float* v, float* out, float* lse,
                        std::vector<float>& scratch) {
  const std::int64_t dk = d.head_dim, dv = d.value_dim;
  scratch.resize(kQueryTile * kForwardKeyTile + kQueryTile * dv + 4 * kQueryTile);
  float* s = scratch.data();
  float* p = s;  // the weights overwrite their scores: one tile of scratch stays in L1/L2
  float* acc = s + kQueryTile * kForwardKeyTile;
  float* m = acc + kQueryTile * dv;  // running max of the visible scores
  float* l = m + kQueryTile;         // running sum of exp(score - m), before dropout
  float* m_new = l + kQueryTile;
  float* tile_max = m_new + kQueryTile;
  std::fill(acc, acc + rows * dv, 0.0f);
  std::fill(m, m + rows, kNegInf);
  std::fill(l, l + rows, 0.0f);

  const std::int64_t key_end = mask.key_end(i0 + rows, d.kv_len);
  for (std::int64_t j0 = 0; j0 < key_end; j0 += kForwardKeyTile) {
    const std::int64_t cols = std::min(kForwardKeyTile, key_end - j0);
    if (kt == nullptr)
      kern.dot_scores(rows, cols, dk, scale, q + i0 * dk, k + j0 * dk, s, cols);
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
      kern.dot_scores(rows, key_end, dk, scale, q + i0 * dk, k, s, n);
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
  // With slices enough to share among the threads, an item is a whole slice whose keys are turned to
  // [head_dim, kv_len] in the thread's own buffer, still in cache for all its query tiles. With few slices (a long
  // sequence, batch 1) an item is one query tile, and every slice's keys are turned once up front. Not for a query
  // or two (decoding), where dot products over the keys as they lie cost less. Each query row is computed the same
  // way in either layout, so the results do not depend on it.
  const bool per_slice = slices >= 4 * num_threads();
  const bool turn = d.q_len > kDotRows;
  const std::int64_t items_per_slice = per_slice ? 1 : q_tiles, work = slices * items_per_slice;
  const std::int64_t slice_keys = checked_mul(d.kv_len, d.head_dim, "attention_forward");
  std::unique_ptr<float[]> keys_turned;
  if (turn && !per_slice) keys_turned.reset(new float[checked_mul(slices, slice_keys, "attention_forward")]);
#pragma omp parallel num_threads(num_threads()) if (work > 1 && worth_threads(d))
  {
    std::vector<float> scratch, own_turned(turn && per_slice ? slice_keys : 0);
    if (keys_turned) {
#pragma omp for
      for (std::int64_t bh = 0; bh < slices; ++bh)
        kern.transpose(k + bh * d.kv_rows() * d.head_dim, d.kv_len, d.head_dim, d.head_dim,
                       keys_turned.get() + bh * slice_keys);
    }
#pragma omp for schedule(dynamic)
    for (std::int64_t item = 0; item < work; ++item) {
      // Causal tiles near the end of the sequence cost more, hence dynamic scheduling.
      const std::int64_t bh = item / items_per_slice, first_tile = per_slice ? 0 : item % q_tiles;
      const SliceMask mask(options.mask, bh / d.heads, bh % d.heads);
      const float* qs = q + bh * d.q_len * d.head_dim;
      const float* ks = k + bh * d.kv_rows() * d.head_dim;
      const float* kts = nullptr;
      if (keys_turned) {
        kts = keys_turned.get() + bh * slice_keys;
      } else if (turn) {
        kern.transpose(ks, d.kv_len, d.head_dim, d.head_dim, own_turned.data());
        kts = own_turned.data();
      }
      const float* vs = v + bh * d.kv_rows() * d.value_dim;
      float* os = out + bh * d.q_len * d.value_dim;
      float* ls = lse + bh * d.q_len;
      for (std::int64_t tile = first_tile; tile < (per_slice ? q_tiles : first_tile + 1); ++tile) {
        const std::int64_t i0 = tile * kQueryTile, rows = std::min(kQueryTile, d.q_len - i0);
        if (weights == nullptr)
          forward_query_tile(d, mask, dropout, scale, kern, bh, i0, rows, qs, ks, kts, vs, os, ls, scratch);
        else
          forward_query_tile_weights(d, mask, dropout, scale, kern, bh, i0, rows, qs, ks, kts, vs, os, ls,
                                     weights + bh * d.q_len * d.kv_len, scratch);
      }
    }
  }
}

namespace {

// Groups of key tiles per slice in the backward. When batch x heads alone cannot keep the threads busy (batch 1
// over a long sequence), each slice's key tiles are dealt round-robin to groups that run in parallel: a group owns
// the d_k/d_v rows of its tiles outright and adds into its own partial d_q, summed in group order at the end.
// Round-robin keeps causal groups equally loaded (early keys are seen by more queries). The count depends on the
// sizes only, never on the thread count, so every thread count gives the same bits.
std::int64_t key_groups(const AttentionDims& d) {
  constexpr std::int64_t kMinItems = 8;
  const std::int64_t slices = d.batch * d.heads, key_tiles = (d.kv_len + kKeyTile - 1) / kKeyTile;
  if (slices >= kMinItems || !worth_threads(d)) return 1;
  return std::max<std::int64_t>(1, std::min(key_tiles, (kMinItems + slices - 1) / slices));
}

// d_k and d_v of key tiles first, first + step, ... of one (batch, head) slice, and their part of d_q (added to
// d_q, which the caller zeroes); key tiles outer so each d_k/d_v tile is finished in one sweep.
void backward_key_tiles(const AttentionDims& d, const SliceMask& mask, const Dropout& dropout, float scale,
                        const TileKernels& kern, std::int64_t bh, std::int64_t first, std::int64_t step,
                        const float* q, const float* k, const float* v, const float* lse, const float* delta,
                        const float* d_out, float* d_q, float* d_k, float* d_v, std::vector<float>& scratch) {
  const std::int64_t dk = d.head_dim, dv = d.value_dim;
  scratch.resize(3 * kQueryTile * kKeyTile + kKeyTile * (dk + dv));
  float* s = scratch.data();
  float* p = s + kQueryTile * kKeyTile;
  float* dp = p + kQueryTile * kKeyTile;
  float* kt = dp + kQueryTile * kKeyTile;  // the key and value tiles turned to [dk, cols] and [dv, cols]
  float* vt = kt + kKeyTile * dk;
  for (std::int64_t j0 = first * kKeyTile; j0 < d.kv_len; j0 += step * kKeyTile) {
    const std::int64_t cols = std::min(kKeyTile, d.kv_len - j0);
    const std::int64_t first_query = mask.query_begin(j0) / kQueryTile * kQueryTile;
    std::fill(d_k + j0 * dk, d_k + (j0 + cols) * dk, 0.0f);
    std::fill(d_v + j0 * dv, d_v + (j0 + cols) * dv, 0.0f);
    kern.transpose(k + j0 * dk, cols, dk, dk, kt);
    kern.transpose(v + j0 * dv, cols, dv, dv, vt);
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
  const std::int64_t slices = d.batch * d.heads, groups = key_groups(d);
  const std::int64_t dk = d.head_dim, dv = d.value_dim, slice_q = d.q_len * dk;
  if (slices == 0) return;
  const float scale = resolved_scale(d, options);
  const Dropout dropout(options);
  const TileKernels& kern = tile_kernels(active_isa());
  std::vector<float> delta(checked_mul(slices, d.q_len, "attention_backward"));  // delta_i = d_out_i . out_i
  std::vector<float> partial_d_q(checked_mul(slices * (groups - 1), slice_q, "attention_backward"));
  const std::int64_t work = slices * groups;
#pragma omp parallel num_threads(num_threads()) if (work > 1 && worth_threads(d))
  {
    std::vector<float> scratch;
#pragma omp for
    for (std::int64_t row = 0; row < slices * d.q_len; ++row) {
      float sum = 0.0f;
      for (std::int64_t c = 0; c < dv; ++c) sum += d_out[row * dv + c] * out[row * dv + c];
      delta[row] = sum;
    }
#pragma omp for schedule(dynamic)
    for (std::int64_t item = 0; item < work; ++item) {
      const std::int64_t bh = item / groups, group = item % groups;
      const SliceMask mask(options.mask, bh / d.heads, bh % d.heads);
      const std::int64_t qo = bh * d.q_len, ko = bh * d.kv_rows(), go = bh * d.kv_len;
      float* dq = group == 0 ? d_q + qo * dk : partial_d_q.data() + (bh * (groups - 1) + group - 1) * slice_q;
      std::fill(dq, dq + slice_q, 0.0f);
      backward_key_tiles(d, mask, dropout, scale, kern, bh, group, groups, q + qo * dk, k + ko * dk, v + ko * dv,
                         lse + qo, delta.data() + qo, d_out + qo * dv, dq, d_k + go * dk, d_v + go * dv, scratch);
    }
    if (groups > 1) {
#pragma omp for
      for (std::int64_t row = 0; row < slices * d.q_len; ++row) {
        const std::int64_t bh = row / d.q_len, i = row % d.q_len;
        float* dq = d_q + row * dk;
        for (std::int64_t g = 1; g < groups; ++g) {
          const float* part = partial_d_q.data() + (bh * (groups - 1) + g - 1) * slice_q + i * dk;
          for (std::int64_t c = 0; c < dk; ++c) dq[c] += part[c];
        }
      }
    }
  }
}

}  // namespace rnnkit
