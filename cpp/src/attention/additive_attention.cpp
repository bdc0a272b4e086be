// Additive (tanh-scored) attention. Each query row works on the keys it may see only (padding and the future
// cost nothing): t[c, :] = tanh(inner * (q_i + k_c)) in the core's vectorised tanh, scores s_c = w_eff . t[c, :]
// with w_eff = outer * weight, then the softmax and the weighted sum of values. The backward recomputes t per
// row instead of keeping a (batch, q_len, kv_len, dim) tensor.
#include "rnnkit/additive_attention.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "attention_tiles.hpp"  // the dropout hash of the dot-product attention: one seed, one mask
#include "rnnkit/activations.hpp"
#include "rnnkit/checked.hpp"
#include "rnnkit/runtime.hpp"

namespace rnnkit {

namespace {

using attention_detail::Dropout;

[[noreturn]] void fail(const char* fn, const std::string& what) {
  throw std::invalid_argument(std::string(fn) + ": " + what);
}

void require(const char* fn, const char* what, const void* data, std::int64_t count) {
  if (count > 0 && data == nullptr) fail(fn, std::string(what) + " is null");
}

void check_args(const char* fn, const AdditiveAttentionDims& d, const AdditiveScore& score,
                const AdditiveAttentionOptions& options, const float* q, const float* k, const float* v) {
  if (d.batch < 0 || d.q_len < 0 || d.kv_len < 0 || d.dim < 0 || d.value_dim < 0)
    fail(fn, "sizes must be >= 0, received batch " + std::to_string(d.batch) + ", q_len " +
                 std::to_string(d.q_len) + ", kv_len " + std::to_string(d.kv_len) + ", dim " +
                 std::to_string(d.dim) + ", value_dim " + std::to_string(d.value_dim));
  if (!std::isfinite(score.outer) || !std::isfinite(score.inner))
    fail(fn, "the score's outer and inner scales must be finite, received " + std::to_string(score.outer) +
                 " and " + std::to_string(score.inner));
  if (!(options.dropout_p >= 0.0f && options.dropout_p < 1.0f))
    fail(fn, "dropout_p must be in [0, 1), received " + std::to_string(options.dropout_p));
  checked_mul(d.batch, d.q_len, d.kv_len, fn);
  const std::int64_t keys = checked_mul(d.batch, d.kv_len, fn);
  require(fn, "q", q, checked_mul(d.batch, d.q_len, d.dim, fn));
  require(fn, "k", k, checked_mul(keys, d.dim, fn));
  require(fn, "v", v, checked_mul(keys, d.value_dim, fn));
}

// A team of threads pays off once the rows hold enough tanh and multiply-adds.
bool worth_threads(const AdditiveAttentionDims& d) {
  return static_cast<double>(d.batch) * d.q_len * d.kv_len * (d.dim + d.value_dim) > 1 << 15;
}

Dropout weights_dropout(const AdditiveAttentionOptions& options) {
  AttentionOptions dot;
  dot.dropout_p = options.dropout_p;
  dot.seed = options.seed;
  return Dropout(dot);
}

// outer * weight, or outer for every feature when there is no weight.
std::vector<float> effective_weight(const AdditiveAttentionDims& d, const AdditiveScore& score) {
  std::vector<float> w(d.dim, score.outer);
  if (score.weight != nullptr)
    for (std::int64_t e = 0; e < d.dim; ++e) w[e] *= score.weight[e];
  return w;
}

struct Scratch {
  std::vector<std::int64_t> keys;  // the visible keys of the row, ascending
  std::vector<float> t;            // [visible, dim] tanh terms
  std::vector<float> row;          // [kv_len] dP, or the dropped weights in the forward
  std::vector<float> dropped;      // [kv_len] the weights after dropout
  std::vector<float> s;            // [visible] scores, dS
  std::vector<float> acc;          // [3, dim] per-row gradient sums

  explicit Scratch(const AdditiveAttentionDims& d)
      : keys(d.kv_len), t(d.kv_len * d.dim), row(d.kv_len), dropped(d.kv_len), s(d.kv_len), acc(3 * d.dim) {}
};

// Keys query i of batch b may see: kept by the value mask and, when causal, j <= i.
std::int64_t visible_keys(const AdditiveAttentionDims& d, const AdditiveAttentionOptions& o, std::int64_t b,
                          std::int64_t i, std::int64_t* keys) {
  const std::int64_t end = o.causal ? std::min(i + 1, d.kv_len) : d.kv_len;
  const std::uint8_t* mask = o.value_mask != nullptr ? o.value_mask + b * d.kv_len : nullptr;
  std::int64_t n = 0;
  for (std::int64_t j = 0; j < end; ++j)
    if (mask == nullptr || mask[j] != 0) keys[n++] = j;
  return n;
}

// t[c, :] = tanh(inner * (q_i + k[keys[c]])).
void tanh_terms(std::int64_t dim, float inner, const float* qi, const float* k, const std::int64_t* keys,
                std::int64_t n, float* t) {
  for (std::int64_t c = 0; c < n; ++c) {
    const float* kj = k + keys[c] * dim;
    float* tc = t + c * dim;
    for (std::int64_t e = 0; e < dim; ++e) tc[e] = inner * (qi[e] + kj[e]);
  }
  activation_forward(Activation::tanh, t, t, n * dim);
}

bool query_kept(const AdditiveAttentionDims& d, const AdditiveAttentionOptions& o, std::int64_t b,
                std::int64_t i) {
  return o.query_mask == nullptr || o.query_mask[b * d.q_len + i] != 0;
}

// Row-major index of weight (b, i, 0): where the dropout hash's counter starts for the row.
std::uint64_t row_index(const AdditiveAttentionDims& d, std::int64_t b, std::int64_t i) {
  return (static_cast<std::uint64_t>(b) * d.q_len + i) * static_cast<std::uint64_t>(d.kv_len);
}

void forward_row(const AdditiveAttentionDims& d, const AdditiveAttentionOptions& o, const Dropout& dropout,
                 const float* w_eff, float inner, std::int64_t b, std::int64_t i, const float* q, const float* k,
                 const float* v, float* out, float* weights, Scratch& sc) {
  const std::int64_t dim = d.dim, dv = d.value_dim, n = visible_keys(d, o, b, i, sc.keys.data());
  const std::int64_t* keys = sc.keys.data();
  float* w = weights + (b * d.q_len + i) * d.kv_len;
  float* y = out + (b * d.q_len + i) * dv;
  std::fill(w, w + d.kv_len, 0.0f);
  std::fill(y, y + dv, 0.0f);
  if (n == 0) return;  // a query that sees no key attends to nothing
  float* t = sc.t.data();
  float* s = sc.s.data();
  tanh_terms(dim, inner, q + (b * d.q_len + i) * dim, k + b * d.kv_len * dim, keys, n, t);
  for (std::int64_t c = 0; c < n; ++c) {
    float dot = 0.0f;
    for (std::int64_t e = 0; e < dim; ++e) dot += w_eff[e] * t[c * dim + e];
    s[c] = dot;
  }
  const float top = *std::max_element(s, s + n);
  for (std::int64_t c = 0; c < n; ++c) s[c] -= top;
  exp_array(s, s, n);
  float sum = 0.0f;
  for (std::int64_t c = 0; c < n; ++c) sum += s[c];
  for (std::int64_t c = 0; c < n; ++c) w[keys[c]] = s[c] / sum;
  if (!query_kept(d, o, b, i)) return;
  const float* p = w;
  if (dropout.active) {
    std::copy(w, w + d.kv_len, sc.row.data());
    dropout.apply(sc.row.data(), 1, d.kv_len, row_index(d, b, i), d.kv_len);
    p = sc.row.data();
  }
  const float* vb = v + b * d.kv_len * dv;
  for (std::int64_t c = 0; c < n; ++c) {
    const float pc = p[keys[c]];
    const float* vj = vb + keys[c] * dv;
    for (std::int64_t e = 0; e < dv; ++e) y[e] += pc * vj[e];
  }
}

}  // namespace

void additive_attention_forward(const AdditiveAttentionDims& d, const float* q, const float* k, const float* v,
                                const AdditiveScore& score, const AdditiveAttentionOptions& options, float* out,
                                float* weights) {
  const char* fn = "additive_attention_forward";
  check_args(fn, d, score, options, q, k, v);
  require(fn, "out", out, checked_mul(d.batch, d.q_len, d.value_dim, fn));
  require(fn, "weights", weights, d.batch * d.q_len * d.kv_len);
  const std::vector<float> w_eff = effective_weight(d, score);
  const Dropout dropout = weights_dropout(options);
  const std::int64_t rows = d.batch * d.q_len;
#pragma omp parallel num_threads(num_threads()) if (rows > 1 && worth_threads(d))
  {
    Scratch scratch(d);
    // Causal rows see more keys the later they come, hence dynamic scheduling.
#pragma omp for schedule(dynamic, 8)
    for (std::int64_t r = 0; r < rows; ++r)
      forward_row(d, options, dropout, w_eff.data(), score.inner, r / d.q_len, r % d.q_len, q, k, v, out, weights,
                  scratch);
  }
}

namespace {

// Sums over one batch's rows that the whole batch shares: the score parameters' gradients.
struct ParameterSums {
  std::vector<double> d_w_eff;  // d loss / d w_eff[e] = sum dS_c t[c, e]
  double d_inner = 0.0;
};

// One query row's part of d_q (written), d_k and d_v (accumulated) and the parameter sums.
void backward_row(const AdditiveAttentionDims& d, const AdditiveAttentionOptions& o, const Dropout& dropout,
                  const float* w_eff, float inner, std::int64_t b, std::int64_t i, const float* q, const float* k,
                  const float* v, const float* weights, const float* d_out, float* d_q, float* d_k, float* d_v,
                  ParameterSums& sums, Scratch& sc) {
  const std::int64_t dim = d.dim, dv = d.value_dim;
  float* dqi = d_q + (b * d.q_len + i) * dim;
  std::fill(dqi, dqi + dim, 0.0f);
  if (!query_kept(d, o, b, i)) return;  // its output is a constant 0
  const std::int64_t n = visible_keys(d, o, b, i, sc.keys.data());
  if (n == 0) return;
  const std::int64_t* keys = sc.keys.data();
  const float* w = weights + (b * d.q_len + i) * d.kv_len;
  const float* dy = d_out + (b * d.q_len + i) * dv;
  const float* vb = v + b * d.kv_len * dv;
  // With D_j the dropout factor (1 without dropout): d_v_j += D_j P_j dy, dP_j = D_j (dy . v_j),
  // dS_j = P_j (dP_j - sum_j' P_j' dP_j').
  float* dropped = sc.dropped.data();
  float* dp = sc.row.data();
  std::copy(w, w + d.kv_len, dropped);
  std::fill(dp, dp + d.kv_len, 0.0f);
  for (std::int64_t c = 0; c < n; ++c) {
    const float* vj = vb + keys[c] * dv;
    float dot = 0.0f;
    for (std::int64_t e = 0; e < dv; ++e) dot += dy[e] * vj[e];
    dp[keys[c]] = dot;
  }
  if (dropout.active) {
    dropout.apply(dropped, 1, d.kv_len, row_index(d, b, i), d.kv_len);
    dropout.apply(dp, 1, d.kv_len, row_index(d, b, i), d.kv_len);
  }
  float* dvb = d_v + b * d.kv_len * dv;
  float delta = 0.0f;
  for (std::int64_t c = 0; c < n; ++c) {
    const std::int64_t j = keys[c];
    float* dvj = dvb + j * dv;
    for (std::int64_t e = 0; e < dv; ++e) dvj[e] += dropped[j] * dy[e];
    delta += w[j] * dp[j];
  }
  float* ds = sc.s.data();
  for (std::int64_t c = 0; c < n; ++c) ds[c] = w[keys[c]] * (dp[keys[c]] - delta);
  float* t = sc.t.data();
  tanh_terms(dim, inner, q + (b * d.q_len + i) * dim, k + b * d.kv_len * dim, keys, n, t);
  // u[c, :] = dS_c w_eff (1 - t[c, :]^2) is d loss / d (inner (q_i + k_c)); sums per feature keep the loops
  // vectorisable.
  float* g = sc.acc.data();        // sum_c dS_c t[c, :]
  float* uq = g + dim;             // sum_c u[c, :]
  float* ku = uq + dim;            // sum_c k_c u[c, :]
  std::fill(g, g + 3 * dim, 0.0f);
  const float* kb = k + b * d.kv_len * dim;
  float* dkb = d_k + b * d.kv_len * dim;
  for (std::int64_t c = 0; c < n; ++c) {
    const float dsc = ds[c];
    if (dsc == 0.0f) continue;
    const float* tc = t + c * dim;
    const float* kj = kb + keys[c] * dim;
    float* dkj = dkb + keys[c] * dim;
    for (std::int64_t e = 0; e < dim; ++e) {
      g[e] += dsc * tc[e];
      const float u = dsc * w_eff[e] * (1.0f - tc[e] * tc[e]);
      uq[e] += u;
      dkj[e] += inner * u;
      ku[e] += kj[e] * u;
    }
  }
  const float* qi = q + (b * d.q_len + i) * dim;
  for (std::int64_t e = 0; e < dim; ++e) {
    dqi[e] = inner * uq[e];
    sums.d_w_eff[e] += g[e];
    sums.d_inner += static_cast<double>(qi[e] * uq[e]) + ku[e];
  }
}

}  // namespace

void additive_attention_backward(const AdditiveAttentionDims& d, const float* q, const float* k, const float* v,
                                 const AdditiveScore& score, const AdditiveAttentionOptions& options,
                                 const float* weights, const float* d_out, float* d_q, float* d_k, float* d_v,
                                 AdditiveScoreGrads& grads) {
  const char* fn = "additive_attention_backward";
  check_args(fn, d, score, options, q, k, v);
  const std::int64_t rows = d.batch * d.q_len;
  require(fn, "weights", weights, rows * d.kv_len);
  require(fn, "d_out", d_out, rows * d.value_dim);
  require(fn, "d_q", d_q, rows * d.dim);
  require(fn, "d_k", d_k, d.batch * d.kv_len * d.dim);
  require(fn, "d_v", d_v, d.batch * d.kv_len * d.value_dim);
  std::fill(d_k, d_k + d.batch * d.kv_len * d.dim, 0.0f);
  std::fill(d_v, d_v + d.batch * d.kv_len * d.value_dim, 0.0f);
  const std::vector<float> w_eff = effective_weight(d, score);
  const Dropout dropout = weights_dropout(options);
  // Each batch's d_k and d_v sum over its query rows, so a thread owns whole batches; the parameter sums are
  // kept per batch and added in batch order, which makes them independent of the thread count.
  std::vector<ParameterSums> per_batch(d.batch, ParameterSums{std::vector<double>(d.dim, 0.0), 0.0});
#pragma omp parallel num_threads(num_threads()) if (d.batch > 1 && worth_threads(d))
  {
    Scratch scratch(d);
#pragma omp for schedule(dynamic)
    for (std::int64_t b = 0; b < d.batch; ++b)
      for (std::int64_t i = 0; i < d.q_len; ++i)
        backward_row(d, options, dropout, w_eff.data(), score.inner, b, i, q, k, v, weights, d_out, d_q, d_k, d_v,
                     per_batch[b], scratch);
  }
  std::vector<double> d_w_eff(d.dim, 0.0);
  double d_inner = 0.0;
  for (const ParameterSums& sums : per_batch) {
    for (std::int64_t e = 0; e < d.dim; ++e) d_w_eff[e] += sums.d_w_eff[e];
    d_inner += sums.d_inner;
  }
  // w_eff = outer * weight: d weight = outer * d w_eff, d outer = weight . d w_eff.
  double d_outer = 0.0;
  for (std::int64_t e = 0; e < d.dim; ++e) {
    const double weight = score.weight != nullptr ? score.weight[e] : 1.0;
    d_outer += weight * d_w_eff[e];
    if (grads.d_weight != nullptr) grads.d_weight[e] = static_cast<float>(score.outer * d_w_eff[e]);
  }
  grads.d_outer = static_cast<float>(d_outer);
  grads.d_inner = static_cast<float>(d_inner);
}

}  // namespace rnnkit
