// Scaled dot-product attention. Forward: a FlashAttention-style pass over key tiles with a running max and
// running sum per query (no q_len x kv_len buffer), or a materialising pass when the caller wants the weights.
// Backward: recomputes each tile's weights from the saved log-sum-exp.
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "attention_tiles.hpp"
#include "kernels/prefetch_row.hpp"
#include "kernels/spread_row_stride.hpp"
#include "rnnkit/attention.hpp"
#include "rnnkit/checked.hpp"
#include "rnnkit/runtime.hpp"

namespace rnnkit {

using namespace attention_detail;

AttentionLayout AttentionLayout::heads_major(const AttentionDims& d) {
  const AttentionRows q{d.heads * d.q_len * d.head_dim, d.q_len * d.head_dim, d.head_dim};
  const AttentionRows k{d.heads * d.kv_rows() * d.head_dim, d.kv_rows() * d.head_dim, d.head_dim};
  const AttentionRows v{d.heads * d.kv_rows() * d.value_dim, d.kv_rows() * d.value_dim, d.value_dim};
  const AttentionRows out{d.heads * d.q_len * d.value_dim, d.q_len * d.value_dim, d.value_dim};
  return {q, k, v, out};
}

AttentionLayout AttentionLayout::positions_major(const AttentionDims& d) {
  const AttentionRows q{d.q_len * d.heads * d.head_dim, d.head_dim, d.heads * d.head_dim};
  const AttentionRows k{d.kv_rows() * d.heads * d.head_dim, d.head_dim, d.heads * d.head_dim};
  const AttentionRows v{d.kv_rows() * d.heads * d.value_dim, d.value_dim, d.heads * d.value_dim};
  const AttentionRows out{d.q_len * d.heads * d.value_dim, d.value_dim, d.heads * d.value_dim};
  return {q, k, v, out};
}

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

// Element offset of slice bh's first row in an operand laid out as `rows`.
std::int64_t slice_offset(const AttentionRows& rows, const AttentionDims& d, std::int64_t bh) {
  return bh / d.heads * rows.batch + bh % d.heads * rows.head;
}

// Strided rows are each a few cache lines thousands of bytes apart, which the hardware prefetchers do not follow:
// copying them touched every line at full memory latency (memmove was 17% of a strided backward). Each row copy
// first asks for the row this far ahead (rows of the same block only: no pointer past the buffer is formed).
constexpr std::int64_t kPrefetchRows = 8;

// Rows [rows, cols] of a strided operand (a view into a fused projection's output) copied together into `copy`,
// or src itself when its rows are already dense: the tile products then read rows next to each other instead of
// 3 * heads * dim floats apart, which measured ~25% slower at (32, 8, 128, 32).
const float* dense_rows(const float* src, std::int64_t rows, std::int64_t cols, std::int64_t stride,
                        std::vector<float>& copy) {
  if (stride == cols || rows <= 1) return src;
  copy.resize(rows * cols);
  for (std::int64_t r = 0; r < rows; ++r) {
    if (r + kPrefetchRows < rows) prefetch_row(src + (r + kPrefetchRows) * stride, cols, false);
    std::copy(src + r * stride, src + r * stride + cols, copy.data() + r * cols);
  }
  return copy.data();
}

// One (batch, head) slice of the forward's operands: each points at the slice's first row, with its position
// stride; kt holds the keys turned to [head_dim, kv_len] (rows kt_step apart), or is nullptr (dot products over
// the keys as they lie).
struct ForwardSlice {
  const float *q, *k, *kt, *v;
  std::int64_t q_step, k_step, kt_step, v_step;
  float *out, *lse;
  std::int64_t out_step;
};

// One tile of queries [i0, i0 + rows) of slice bh, keys visited in tiles with an online softmax.
void forward_query_tile(const AttentionDims& d, const ForwardSlice& sl, const SliceMask& mask,
                        const Dropout& dropout, float scale, const TileKernels& kern, std::int64_t bh,
                        std::int64_t i0, std::int64_t rows, std::vector<float>& scratch) {
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
    if (sl.kt == nullptr)
      kern.dot_scores(rows, cols, dk, scale, sl.q + i0 * sl.q_step, sl.q_step, sl.k + j0 * sl.k_step, sl.k_step, s,
                      cols);
    else
      kern.product(rows, cols, dk, scale, sl.q + i0 * sl.q_step, sl.q_step, 1, sl.kt + j0, sl.kt_step, false, s,
                   cols);
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
    kern.product(rows, dv, cols, 1.0f, p, cols, 1, sl.v + j0 * sl.v_step, sl.v_step, true, acc, dv);
  }
  for (std::int64_t r = 0; r < rows; ++r) {
    if (sl.out_step != dv && r + kPrefetchRows < rows)
      prefetch_row(sl.out + (i0 + r + kPrefetchRows) * sl.out_step, dv, true);
    float* o = sl.out + (i0 + r) * sl.out_step;
    const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;  // a query that sees no key outputs 0
    for (std::int64_t c = 0; c < dv; ++c) o[c] = acc[r * dv + c] * inv;
    sl.lse[i0 + r] = l[r] > 0.0f ? m[r] + std::log(l[r]) : kNegInf;
  }
}

// The same rows with the whole weights rows written out (softmax before dropout).
void forward_query_tile_weights(const AttentionDims& d, const ForwardSlice& sl, const SliceMask& mask,
                                const Dropout& dropout, float scale, const TileKernels& kern, std::int64_t bh,
                                std::int64_t i0, std::int64_t rows, float* weights, std::vector<float>& scratch) {
  const std::int64_t dk = d.head_dim, dv = d.value_dim, n = d.kv_len, o_step = sl.out_step;
  float* w = weights + i0 * n;
  scratch.resize(rows * n + kQueryTile);
  float* s = scratch.data();
  float* row_max = s + rows * n;
  const std::int64_t key_end = mask.key_end(i0 + rows, n);
  std::fill(w, w + rows * n, 0.0f);
  if (key_end > 0) {
    // Scores in scratch with the key stride n; only the first key_end columns exist.
    if (sl.kt == nullptr)
      kern.dot_scores(rows, key_end, dk, scale, sl.q + i0 * sl.q_step, sl.q_step, sl.k, sl.k_step, s, n);
    else
      kern.product(rows, key_end, dk, scale, sl.q + i0 * sl.q_step, sl.q_step, 1, sl.kt, sl.kt_step, false, s, n);
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
    sl.lse[i0 + r] = sum > 0.0f ? row_max[r] + std::log(sum) : kNegInf;
  }
  float* o = sl.out + i0 * o_step;
  if (key_end == 0) {
    for (std::int64_t r = 0; r < rows; ++r) std::fill(o + r * o_step, o + r * o_step + dv, 0.0f);
    return;
  }
  const float* p = w;
  if (dropout.active) {
    std::copy(w, w + rows * n, s);
    dropout.apply(s, rows, n, weight_index(d, bh, i0), n);
    p = s;
  }
  kern.product(rows, dv, key_end, 1.0f, p, n, 1, sl.v, sl.v_step, false, o, o_step);
}

}  // namespace

void attention_forward(const AttentionDims& d, const float* q, const float* k, const float* v,
                       const AttentionOptions& options, float* out, float* lse, float* weights) {
  attention_forward(d, AttentionLayout::heads_major(d), q, k, v, options, out, lse, weights);
}

void attention_forward(const AttentionDims& d, const AttentionLayout& layout, const float* q, const float* k,
                       const float* v, const AttentionOptions& options, float* out, float* lse, float* weights) {
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
  // way in either layout, so the results do not depend on it. A whole slice's strided queries, keys and values are
  // gathered into dense rows first (dense_rows); query tiles read them in place.
  const bool per_slice = slices >= 4 * num_threads();
  const bool turn = d.q_len > kDotRows;
  const std::int64_t items_per_slice = per_slice ? 1 : q_tiles, work = slices * items_per_slice;
  // The turned keys' rows lie spread_row_stride apart: kv_len floats apart, the 64 key rows of a score tile missed
  // L1 on every load at T = 512 and 1024.
  const std::int64_t kt_step = spread_row_stride(d.kv_len);
  const std::int64_t slice_keys = checked_mul(kt_step, d.head_dim, "attention_forward");
  std::unique_ptr<float[]> keys_turned;
  if (turn && !per_slice) keys_turned.reset(new float[checked_mul(slices, slice_keys, "attention_forward")]);
#pragma omp parallel num_threads(num_threads()) if (work > 1 && worth_threads(d))
  {
    std::vector<float> scratch, own_turned(turn && per_slice ? slice_keys : 0), own_q, own_k, own_v;
    if (keys_turned) {
#pragma omp for
      for (std::int64_t bh = 0; bh < slices; ++bh)
        kern.transpose(k + slice_offset(layout.k, d, bh), d.kv_len, d.head_dim, layout.k.position,
                       keys_turned.get() + bh * slice_keys, kt_step);
    }
#pragma omp for schedule(dynamic)
    for (std::int64_t item = 0; item < work; ++item) {
      // Causal tiles near the end of the sequence cost more, hence dynamic scheduling.
      const std::int64_t bh = item / items_per_slice, first_tile = per_slice ? 0 : item % q_tiles;
      const SliceMask mask(options.mask, bh / d.heads, bh % d.heads);
      ForwardSlice sl{q + slice_offset(layout.q, d, bh), k + slice_offset(layout.k, d, bh), nullptr,
                      v + slice_offset(layout.v, d, bh), layout.q.position, layout.k.position, kt_step,
                      layout.v.position,
                      out + slice_offset(layout.out, d, bh), lse + bh * d.q_len, layout.out.position};
      if (per_slice) {
        sl.q = dense_rows(sl.q, d.q_len, d.head_dim, sl.q_step, own_q), sl.q_step = d.head_dim;
        sl.k = dense_rows(sl.k, d.kv_len, d.head_dim, sl.k_step, own_k), sl.k_step = d.head_dim;
        sl.v = dense_rows(sl.v, d.kv_len, d.value_dim, sl.v_step, own_v), sl.v_step = d.value_dim;
      }
      if (keys_turned) {
        sl.kt = keys_turned.get() + bh * slice_keys;
      } else if (turn) {
        kern.transpose(sl.k, d.kv_len, d.head_dim, sl.k_step, own_turned.data(), kt_step);
        sl.kt = own_turned.data();
      }
      for (std::int64_t tile = first_tile; tile < (per_slice ? q_tiles : first_tile + 1); ++tile) {
        const std::int64_t i0 = tile * kQueryTile, rows = std::min(kQueryTile, d.q_len - i0);
        if (weights == nullptr)
          forward_query_tile(d, sl, mask, dropout, scale, kern, bh, i0, rows, scratch);
        else
          forward_query_tile_weights(d, sl, mask, dropout, scale, kern, bh, i0, rows,
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

// One (batch, head) slice of the backward's operands: each points at the slice's first row, with its position
// stride. lse and delta are [q_len]; d_q is dense [q_len, head_dim] (the key group's own, summed by the caller).
struct BackwardSlice {
  const float *q, *k, *v, *d_out, *lse, *delta;
  std::int64_t q_step, k_step, v_step, d_out_step;
  float *d_q, *d_k, *d_v;
  std::int64_t d_k_step, d_v_step;
};

// Rows [rows, cols] of dense src written to dst's rows `stride` apart.
void scatter_rows(const float* src, std::int64_t rows, std::int64_t cols, float* dst, std::int64_t stride) {
  for (std::int64_t r = 0; r < rows; ++r) {
    if (stride != cols && r + kPrefetchRows < rows) prefetch_row(dst + (r + kPrefetchRows) * stride, cols, true);
    std::copy(src + r * cols, src + (r + 1) * cols, dst + r * stride);
  }
}

// d_k and d_v of key tiles first, first + step, ... of one (batch, head) slice, and their part of d_q (added to
// d_q, which the caller zeroes); key tiles outer so each d_k/d_v tile is finished in one sweep. A tile's d_k and
// d_v add up in dense scratch and are written to their (maybe strided) rows once.
void backward_key_tiles(const AttentionDims& d, const SliceMask& mask, const Dropout& dropout, float scale,
                        const TileKernels& kern, std::int64_t bh, std::int64_t first, std::int64_t step,
                        const BackwardSlice& sl, std::vector<float>& scratch) {
  const std::int64_t dk = d.head_dim, dv = d.value_dim;
  scratch.resize(3 * kQueryTile * kKeyTile + 2 * kKeyTile * (dk + dv));
  float* s = scratch.data();
  float* p = s + kQueryTile * kKeyTile;
  float* dp = p + kQueryTile * kKeyTile;
  float* kt = dp + kQueryTile * kKeyTile;  // the key and value tiles turned to [dk, cols] and [dv, cols]
  float* vt = kt + kKeyTile * dk;
  float* d_k = vt + kKeyTile * dv;  // the tile's d_k [cols, dk] and d_v [cols, dv]
  float* d_v = d_k + kKeyTile * dk;
  for (std::int64_t j0 = first * kKeyTile; j0 < d.kv_len; j0 += step * kKeyTile) {
    const std::int64_t cols = std::min(kKeyTile, d.kv_len - j0);
    const std::int64_t first_query = mask.query_begin(j0) / kQueryTile * kQueryTile;
    std::fill(d_k, d_k + cols * dk, 0.0f);
    std::fill(d_v, d_v + cols * dv, 0.0f);
    const float* k = sl.k + j0 * sl.k_step;
    kern.transpose(k, cols, dk, sl.k_step, kt, cols);
    kern.transpose(sl.v + j0 * sl.v_step, cols, dv, sl.v_step, vt, cols);
    for (std::int64_t i0 = first_query; i0 < d.q_len; i0 += kQueryTile) {
      const std::int64_t rows = std::min(kQueryTile, d.q_len - i0);
      const float* q = sl.q + i0 * sl.q_step;
      const float* d_out = sl.d_out + i0 * sl.d_out_step;
      kern.product(rows, cols, dk, scale, q, sl.q_step, 1, kt, cols, false, s, cols);
      mask.apply(s, i0, rows, j0, cols);
      kern.exp_rows(s, sl.lse + i0, rows, cols, p, nullptr);
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
      kern.product(cols, dv, rows, 1.0f, p_used, 1, cols, d_out, sl.d_out_step, true, d_v, dv);
      kern.product(rows, cols, dv, 1.0f, d_out, sl.d_out_step, 1, vt, cols, false, dp, cols);
      if (dropout.active) dropout.apply(dp, rows, cols, weight_index(d, bh, i0) + j0, d.kv_len);
      // dS = P o (dP - delta); reuses dp.
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c)
          dp[r * cols + c] = p[r * cols + c] * (dp[r * cols + c] - sl.delta[i0 + r]);
      kern.product(rows, dk, cols, scale, dp, cols, 1, k, sl.k_step, true, sl.d_q + i0 * dk, dk);
      kern.product(cols, dk, rows, scale, dp, 1, cols, q, sl.q_step, true, d_k, dk);
    }
    scatter_rows(d_k, cols, dk, sl.d_k + j0 * sl.d_k_step, sl.d_k_step);
    scatter_rows(d_v, cols, dv, sl.d_v + j0 * sl.d_v_step, sl.d_v_step);
  }
}

}  // namespace

void attention_backward(const AttentionDims& d, const float* q, const float* k, const float* v, const float* out,
                        const float* lse, const float* d_out, const AttentionOptions& options, float* d_q,
                        float* d_k, float* d_v) {
  AttentionDims grads = d;  // d_k and d_v hold kv_len rows per slice whatever the keys' capacity
  grads.kv_capacity = 0;
  attention_backward(d, AttentionLayout::heads_major(d), q, k, v, out, lse, d_out, options,
                     AttentionLayout::heads_major(grads), d_q, d_k, d_v);
}

void attention_backward(const AttentionDims& d, const AttentionLayout& layout, const float* q, const float* k,
                        const float* v, const float* out, const float* lse, const float* d_out,
                        const AttentionOptions& options, const AttentionLayout& grad_layout, float* d_q, float* d_k,
                        float* d_v) {
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
  // Row i of slice bh of an operand laid out as `rows`.
  const auto row_of = [&d](const AttentionRows& rows, std::int64_t bh, std::int64_t i) {
    return slice_offset(rows, d, bh) + i * rows.position;
  };
#pragma omp parallel num_threads(num_threads()) if (work > 1 && worth_threads(d))
  {
    std::vector<float> scratch, own_q, own_k, own_d_out, own_d_q;
#pragma omp for
    for (std::int64_t row = 0; row < slices * d.q_len; ++row) {
      const std::int64_t bh = row / d.q_len, i = row % d.q_len;
      const float* o = out + row_of(layout.out, bh, i);
      const float* g = d_out + row_of(grad_layout.out, bh, i);
      float sum = 0.0f;
      for (std::int64_t c = 0; c < dv; ++c) sum += g[c] * o[c];
      delta[row] = sum;
    }
#pragma omp for schedule(dynamic)
    for (std::int64_t item = 0; item < work; ++item) {
      const std::int64_t bh = item / groups, group = item % groups;
      const SliceMask mask(options.mask, bh / d.heads, bh % d.heads);
      BackwardSlice sl{q + slice_offset(layout.q, d, bh), k + slice_offset(layout.k, d, bh),
                       v + slice_offset(layout.v, d, bh), d_out + slice_offset(grad_layout.out, d, bh),
                       lse + bh * d.q_len, delta.data() + bh * d.q_len,
                       layout.q.position, layout.k.position, layout.v.position, grad_layout.out.position,
                       nullptr, d_k + slice_offset(grad_layout.k, d, bh), d_v + slice_offset(grad_layout.v, d, bh),
                       grad_layout.k.position, grad_layout.v.position};
      // The operands read by every query tile are gathered into dense rows (the values only feed the tiles'
      // transposes). Group 0's d_q adds up in the thread's own rows and is written to the caller's rows at the end.
      sl.q = dense_rows(sl.q, d.q_len, dk, sl.q_step, own_q), sl.q_step = dk;
      sl.k = dense_rows(sl.k, d.kv_len, dk, sl.k_step, own_k), sl.k_step = dk;
      sl.d_out = dense_rows(sl.d_out, d.q_len, dv, sl.d_out_step, own_d_out), sl.d_out_step = dv;
      if (group > 0) {
        sl.d_q = partial_d_q.data() + (bh * (groups - 1) + group - 1) * slice_q;
      } else {
        own_d_q.resize(slice_q);
        sl.d_q = own_d_q.data();
      }
      std::fill(sl.d_q, sl.d_q + slice_q, 0.0f);
      backward_key_tiles(d, mask, dropout, scale, kern, bh, group, groups, sl, scratch);
      if (group == 0)
        scatter_rows(sl.d_q, d.q_len, dk, d_q + slice_offset(grad_layout.q, d, bh), grad_layout.q.position);
    }
    if (groups > 1) {
#pragma omp for
      for (std::int64_t row = 0; row < slices * d.q_len; ++row) {
        const std::int64_t bh = row / d.q_len, i = row % d.q_len;
        float* dq = d_q + row_of(grad_layout.q, bh, i);
        for (std::int64_t g = 1; g < groups; ++g) {
          const float* part = partial_d_q.data() + (bh * (groups - 1) + g - 1) * slice_q + i * dk;
          for (std::int64_t c = 0; c < dk; ++c) dq[c] += part[c];
        }
      }
    }
  }
}

}  // namespace rnnkit
