// The C++ API of attention: tiled and materialising forwards against a double-precision reference (lengths that
// are not multiples of the tile, causal, boolean and additive masks, fully masked rows), the backward against
// central differences of that reference, the heap the tiled path allocates at T = 8192, and LayerNorm.
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"
#include "rnnkit/attention.hpp"

// Every operator new of this program (the core is linked statically) counts towards the live and peak bytes.
static std::atomic<long long> g_live{0}, g_peak{0};
// noinline: GCC's -Warray-bounds misreads the size header once new and delete are inlined into a caller.
__attribute__((noinline)) void* operator new(std::size_t n) {
  void* p = std::malloc(n + 16);
  if (!p) throw std::bad_alloc();
  *static_cast<std::size_t*>(p) = n;
  const long long live = g_live += static_cast<long long>(n);
  long long peak = g_peak.load();
  while (live > peak && !g_peak.compare_exchange_weak(peak, live)) {
  }
  return static_cast<char*>(p) + 16;
}
__attribute__((noinline)) void operator delete(void* p) noexcept {
  if (!p) return;
  char* base = static_cast<char*>(p) - 16;
  g_live -= static_cast<long long>(*reinterpret_cast<std::size_t*>(base));
  std::free(base);
}
void operator delete(void* p, std::size_t) noexcept { operator delete(p); }

using namespace rnnkit;

namespace {

struct Problem {
  AttentionDims d;
  std::vector<float> q, k, v;
  std::vector<std::uint8_t> keep;  // (batch, 1, q_len, kv_len), broadcast over heads
  std::vector<float> bias;         // (1, 1, q_len, kv_len)
  AttentionOptions o;
};

Problem make_problem(std::int64_t B, std::int64_t H, std::int64_t Tq, std::int64_t Tk, std::int64_t dk,
                     std::int64_t dv, bool causal, bool masks) {
  Problem p;
  p.d = {B, H, Tq, Tk, dk, dv};
  p.q.resize(B * H * Tq * dk), p.k.resize(B * H * Tk * dk), p.v.resize(B * H * Tk * dv);
  for (std::size_t i = 0; i < p.q.size(); ++i) p.q[i] = std::sin(0.37f * i + 0.1f);
  for (std::size_t i = 0; i < p.k.size(); ++i) p.k[i] = std::cos(0.23f * i);
  for (std::size_t i = 0; i < p.v.size(); ++i) p.v[i] = std::sin(0.11f * i + 1.0f);
  p.o.mask.causal = causal;
  if (masks) {
    p.keep.assign(B * Tq * Tk, 1);
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t i = 0; i < Tq; ++i)
        for (std::int64_t j = 0; j < Tk; ++j) {
          // Batch 0: keys 64..127 hidden from everyone (a whole empty tile); query 5 sees nothing.
          bool hide = (b == 0 && j >= 64 && j < 128) || i == 5 || ((i * 7 + j * 3 + b) % 11 == 0);
          p.keep[(b * Tq + i) * Tk + j] = hide ? 0 : 1;
        }
    p.o.mask.keep = p.keep.data();
    p.o.mask.keep_strides[0] = Tq * Tk, p.o.mask.keep_strides[1] = 0;
    p.o.mask.keep_strides[2] = Tk, p.o.mask.keep_strides[3] = 1;
    p.bias.resize(Tq * Tk);
    for (std::int64_t e = 0; e < Tq * Tk; ++e) p.bias[e] = 0.3f * std::sin(0.7f * e);
    p.o.mask.bias = p.bias.data();
    p.o.mask.bias_strides[2] = Tk, p.o.mask.bias_strides[3] = 1;
  }
  return p;
}

// Double-precision softmax attention of the same problem; weights of a query that sees nothing are 0.
std::vector<double> reference(const Problem& p, const std::vector<double>& q, const std::vector<double>& k,
                              const std::vector<double>& v, std::vector<double>* weights = nullptr) {
  const auto& d = p.d;
  const double scale = 1.0 / std::sqrt(static_cast<double>(d.head_dim));
  std::vector<double> out(d.batch * d.heads * d.q_len * d.value_dim, 0.0), s(d.kv_len);
  if (weights) weights->assign(d.batch * d.heads * d.q_len * d.kv_len, 0.0);
  for (std::int64_t b = 0; b < d.batch; ++b)
    for (std::int64_t h = 0; h < d.heads; ++h) {
      const std::int64_t bh = b * d.heads + h;
      for (std::int64_t i = 0; i < d.q_len; ++i) {
        double mx = -std::numeric_limits<double>::infinity();
        for (std::int64_t j = 0; j < d.kv_len; ++j) {
          double dot = 0.0;
          for (std::int64_t c = 0; c < d.head_dim; ++c)
            dot += q[(bh * d.q_len + i) * d.head_dim + c] * k[(bh * d.kv_len + j) * d.head_dim + c];
          s[j] = dot * scale;
          if (!p.bias.empty()) s[j] += p.bias[i * d.kv_len + j];
          if (!p.keep.empty() && !p.keep[(b * d.q_len + i) * d.kv_len + j]) s[j] = -INFINITY;
          if (p.o.mask.causal && j > i + p.o.mask.causal_offset) s[j] = -INFINITY;
          mx = std::fmax(mx, s[j]);
        }
        if (std::isinf(mx)) continue;
        double sum = 0.0;
        for (std::int64_t j = 0; j < d.kv_len; ++j) sum += (s[j] = std::isinf(s[j]) ? 0.0 : std::exp(s[j] - mx));
        for (std::int64_t j = 0; j < d.kv_len; ++j) {
          const double w = s[j] / sum;
          if (weights) (*weights)[(bh * d.q_len + i) * d.kv_len + j] = w;
          for (std::int64_t c = 0; c < d.value_dim; ++c)
            out[(bh * d.q_len + i) * d.value_dim + c] += w * v[(bh * d.kv_len + j) * d.value_dim + c];
        }
      }
    }
  return out;
}

std::vector<double> to_double(const std::vector<float>& x) { return std::vector<double>(x.begin(), x.end()); }

double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b) {
  double m = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::fmax(m, std::fabs(a[i] - b[i]));
  return m;
}

void forwards_match_reference(bool causal, bool masks) {
  Problem p = make_problem(2, 3, 70, 131, 16, 12, causal, masks);
  const auto& d = p.d;
  std::vector<double> ref_w;
  const auto ref = reference(p, to_double(p.q), to_double(p.k), to_double(p.v), &ref_w);
  std::vector<float> out(ref.size()), lse(d.batch * d.heads * d.q_len), out_w(ref.size()), lse_w(lse.size()),
      w(ref_w.size());
  attention_forward(d, p.q.data(), p.k.data(), p.v.data(), p.o, out.data(), lse.data());
  attention_forward(d, p.q.data(), p.k.data(), p.v.data(), p.o, out_w.data(), lse_w.data(), w.data());
  CHECK(max_abs_diff(out, ref) < 2e-5);
  CHECK(max_abs_diff(out_w, ref) < 2e-5);
  CHECK(max_abs_diff(w, ref_w) < 2e-6);
  if (masks) {  // query 5 sees no key: output exactly 0, lse -inf, no NaN anywhere
    for (std::int64_t c = 0; c < d.value_dim; ++c) CHECK(out[5 * d.value_dim + c] == 0.0f);
    CHECK(std::isinf(lse[5]) && lse[5] < 0);
  }
  for (float x : out) CHECK(!std::isnan(x));
}

// dL/dq,k,v with L = sum(out * r) against central differences of the double reference.
void backward_matches_finite_differences(bool causal, bool masks) {
  Problem p = make_problem(1, 2, 67, 70, 5, 4, causal, masks);
  const auto& d = p.d;
  std::vector<float> out(d.batch * d.heads * d.q_len * d.value_dim), lse(d.batch * d.heads * d.q_len), r(out.size());
  for (std::size_t i = 0; i < r.size(); ++i) r[i] = std::cos(0.9f * i);
  attention_forward(d, p.q.data(), p.k.data(), p.v.data(), p.o, out.data(), lse.data());
  std::vector<float> dq(p.q.size()), dk(p.k.size()), dv(p.v.size());
  attention_backward(d, p.q.data(), p.k.data(), p.v.data(), out.data(), lse.data(), r.data(), p.o, dq.data(),
                     dk.data(), dv.data());
  std::vector<double> qd = to_double(p.q), kd = to_double(p.k), vd = to_double(p.v);
  auto loss = [&]() {
    const auto o = reference(p, qd, kd, vd);
    double l = 0.0;
    for (std::size_t i = 0; i < o.size(); ++i) l += o[i] * r[i];
    return l;
  };
  const double eps = 1e-6;
  auto check_grad = [&](std::vector<double>& x, const std::vector<float>& g) {
    double worst = 0.0;
    for (std::size_t i = 0; i < x.size(); i += 7) {  // every 7th element keeps the test fast
      const double x0 = x[i];
      x[i] = x0 + eps;
      const double up = loss();
      x[i] = x0 - eps;
      const double down = loss();
      x[i] = x0;
      worst = std::fmax(worst, std::fabs((up - down) / (2 * eps) - g[i]));
    }
    return worst;
  };
  CHECK(check_grad(qd, dq) < 1e-4);
  CHECK(check_grad(kd, dk) < 1e-4);
  CHECK(check_grad(vd, dv) < 1e-4);
  if (masks)  // the query that sees nothing gets no gradient
    for (std::int64_t c = 0; c < d.head_dim; ++c) CHECK(dq[5 * d.head_dim + c] == 0.0f);
}

// q, k and v read from one positions-major [batch, len, 3, heads, dim] buffer (a fused self-attention
// projection) and out, d_q, d_k, d_v and d_out in [batch, len, heads, dim] give exactly the numbers of the
// heads-major call; also with the materialised weights. Only self-attention shapes (q_len == kv_len, dk == dv).
void layouts_give_the_heads_major_results(bool causal, bool masks) {
  Problem p = make_problem(2, 3, 131, 131, 16, 16, causal, masks);
  const auto& d = p.d;
  const std::int64_t B = d.batch, H = d.heads, T = d.q_len, E = d.head_dim, n = B * H * T * E;
  // heads-major index of (b, h, t, e) and its place in the fused and in a positions-major buffer
  const auto heads_major = [&](std::int64_t b, std::int64_t h, std::int64_t t) { return ((b * H + h) * T + t) * E; };
  const auto fused = [&](std::int64_t b, std::int64_t t, std::int64_t which, std::int64_t h) {
    return (((b * T + t) * 3 + which) * H + h) * E;
  };
  const auto positions_major = [&](std::int64_t b, std::int64_t t, std::int64_t h) {
    return ((b * T + t) * H + h) * E;
  };
  std::vector<float> qkv(3 * n), r(n), r_pm(n);
  for (std::size_t i = 0; i < r.size(); ++i) r[i] = std::cos(0.9f * i);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t t = 0; t < T; ++t)
        for (std::int64_t e = 0; e < E; ++e) {
          const std::int64_t at = heads_major(b, h, t) + e;
          qkv[fused(b, t, 0, h) + e] = p.q[at], qkv[fused(b, t, 1, h) + e] = p.k[at];
          qkv[fused(b, t, 2, h) + e] = p.v[at], r_pm[positions_major(b, t, h) + e] = r[at];
        }
  AttentionLayout layout = AttentionLayout::positions_major(d);
  layout.q.batch = layout.k.batch = layout.v.batch = 3 * T * H * E;
  layout.q.position = layout.k.position = layout.v.position = 3 * H * E;
  const float *q = qkv.data(), *k = q + H * E, *v = k + H * E;
  const AttentionLayout grads = AttentionLayout::positions_major(d);
  for (bool with_weights : {false, true}) {
    std::vector<float> out(n), lse(B * H * T), w(with_weights ? B * H * T * T : 0), out_pm(n), lse_pm(lse.size()),
        w_pm(w.size());
    attention_forward(d, p.q.data(), p.k.data(), p.v.data(), p.o, out.data(), lse.data(),
                      with_weights ? w.data() : nullptr);
    attention_forward(d, layout, q, k, v, p.o, out_pm.data(), lse_pm.data(), with_weights ? w_pm.data() : nullptr);
    std::vector<float> dq(n), dk(n), dv(n), dq_pm(n), dk_pm(n), dv_pm(n);
    attention_backward(d, p.q.data(), p.k.data(), p.v.data(), out.data(), lse.data(), r.data(), p.o, dq.data(),
                       dk.data(), dv.data());
    attention_backward(d, layout, q, k, v, out_pm.data(), lse_pm.data(), r_pm.data(), p.o, grads, dq_pm.data(),
                       dk_pm.data(), dv_pm.data());
    CHECK(lse == lse_pm);
    CHECK(w == w_pm);
    bool same = true;
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t h = 0; h < H; ++h)
        for (std::int64_t t = 0; t < T; ++t)
          for (std::int64_t e = 0; e < E; ++e) {
            const std::int64_t at = heads_major(b, h, t) + e, pm = positions_major(b, t, h) + e;
            same = same && out[at] == out_pm[pm] && dq[at] == dq_pm[pm] && dk[at] == dk_pm[pm] && dv[at] == dv_pm[pm];
          }
    CHECK(same);
  }
}

// Dropout: both forward paths drop the same weights, and the backward is the gradient of that forward.
void dropout_is_reproducible_and_differentiated() {
  Problem p = make_problem(1, 2, 33, 90, 4, 3, true, false);
  p.o.dropout_p = 0.3f, p.o.seed = 42;
  const auto& d = p.d;
  std::vector<float> out(d.heads * d.q_len * d.value_dim), out2(out.size()), lse(d.heads * d.q_len),
      w(d.heads * d.q_len * d.kv_len), r(out.size());
  attention_forward(d, p.q.data(), p.k.data(), p.v.data(), p.o, out.data(), lse.data());
  attention_forward(d, p.q.data(), p.k.data(), p.v.data(), p.o, out2.data(), lse.data(), w.data());
  double diff = 0.0;
  for (std::size_t i = 0; i < out.size(); ++i) diff = std::fmax(diff, std::fabs(out[i] - out2[i]));
  CHECK(diff < 1e-5);
  AttentionOptions no_drop = p.o;
  no_drop.dropout_p = 0.0f;
  attention_forward(d, p.q.data(), p.k.data(), p.v.data(), no_drop, out2.data(), lse.data());
  diff = 0.0;
  for (std::size_t i = 0; i < out.size(); ++i) diff = std::fmax(diff, std::fabs(out[i] - out2[i]));
  CHECK(diff > 1e-2);  // dropout did change the output
  for (std::size_t i = 0; i < r.size(); ++i) r[i] = std::sin(1.3f * i);
  attention_forward(d, p.q.data(), p.k.data(), p.v.data(), p.o, out.data(), lse.data());
  std::vector<float> dq(p.q.size()), dk(p.k.size()), dv(p.v.size());
  attention_backward(d, p.q.data(), p.k.data(), p.v.data(), out.data(), lse.data(), r.data(), p.o, dq.data(),
                     dk.data(), dv.data());
  auto loss = [&]() {
    std::vector<float> o(out.size()), l(lse.size());
    attention_forward(d, p.q.data(), p.k.data(), p.v.data(), p.o, o.data(), l.data());
    double s = 0.0;
    for (std::size_t i = 0; i < o.size(); ++i) s += double(o[i]) * r[i];
    return s;
  };
  // float32 forward, so a larger step and tolerance than the double-reference test.
  const float eps = 1e-2f;
  double worst = 0.0;
  for (std::size_t i = 0; i < p.q.size(); i += 3) {
    const float x0 = p.q[i];
    p.q[i] = x0 + eps;
    const double up = loss();
    p.q[i] = x0 - eps;
    const double down = loss();
    p.q[i] = x0;
    worst = std::fmax(worst, std::fabs((up - down) / (2 * eps) - dq[i]));
  }
  CHECK(worst < 5e-3);
}

// The tiled path never holds a q_len x kv_len buffer: heap use at T = 8192 stays tiny next to T*T*4 = 256 MB.
void causal_8192_allocates_only_tiles() {
  const std::int64_t T = 8192, dk = 64;
  AttentionDims d{1, 1, T, T, dk, dk};
  std::vector<float> q(T * dk), out(T * dk), lse(T);
  for (std::size_t i = 0; i < q.size(); ++i) q[i] = std::sin(0.01f * i);
  AttentionOptions o;
  o.mask.causal = true;
  const long long before = g_live.load();
  g_peak.store(before);
  attention_forward(d, q.data(), q.data(), q.data(), o, out.data(), lse.data());
  const long long extra = g_peak.load() - before;
  std::fprintf(stderr, "causal T=8192 forward: %lld bytes of heap beyond the inputs and outputs\n", extra);
  CHECK(extra < 4LL << 20);
  // The last query attends to all 8192 keys; a spot check against the reference formula.
  double mx = -1e300, sum = 0.0, acc = 0.0;
  std::vector<double> s(T);
  for (std::int64_t j = 0; j < T; ++j) {
    double dot = 0.0;
    for (std::int64_t c = 0; c < dk; ++c) dot += double(q[(T - 1) * dk + c]) * q[j * dk + c];
    s[j] = dot / 8.0;
    mx = std::fmax(mx, s[j]);
  }
  for (std::int64_t j = 0; j < T; ++j) {
    const double e = std::exp(s[j] - mx);
    sum += e;
    acc += e * q[j * dk + 3];
  }
  CHECK(std::fabs(out[(T - 1) * dk + 3] - acc / sum) < 1e-4);
}

void errors_name_the_function() {
  AttentionDims d{1, 1, -1, 2, 2, 2};
  AttentionOptions o;
  float x[8] = {};
  try {
    attention_forward(d, x, x, x, o, x, x);
    CHECK(false);
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("attention_forward") != std::string::npos);
  }
  d.q_len = 2;
  o.dropout_p = 1.0f;
  CHECK_THROWS(attention_backward(d, x, x, x, x, x, x, o, x, x, x));
}

void layer_norm_matches_reference_and_finite_differences() {
  const std::int64_t R = 3, F = 7;
  std::vector<float> x(R * F), g(F), b(F), y(R * F), mean(R), inv(R), dy(R * F), dx(R * F), dg(F), db(F);
  for (std::int64_t i = 0; i < R * F; ++i) x[i] = 100.0f + std::sin(1.1f * i), dy[i] = std::cos(0.4f * i);
  for (std::int64_t c = 0; c < F; ++c) g[c] = 1.0f + 0.1f * c, b[c] = 0.05f * c;
  const float eps = 1e-3f;
  auto ref = [&](const std::vector<double>& xd, std::int64_t r, std::int64_t c) {
    double mu = 0.0, var = 0.0;
    for (std::int64_t k = 0; k < F; ++k) mu += xd[r * F + k] / F;
    for (std::int64_t k = 0; k < F; ++k) var += (xd[r * F + k] - mu) * (xd[r * F + k] - mu) / F;
    return (xd[r * F + c] - mu) / std::sqrt(var + eps) * g[c] + b[c];
  };
  layer_norm_forward(x.data(), g.data(), b.data(), R, F, eps, y.data(), mean.data(), inv.data());
  std::vector<double> xd(x.begin(), x.end());
  double worst = 0.0;
  for (std::int64_t r = 0; r < R; ++r)
    for (std::int64_t c = 0; c < F; ++c) worst = std::fmax(worst, std::fabs(y[r * F + c] - ref(xd, r, c)));
  CHECK(worst < 1e-5);
  layer_norm_backward(x.data(), g.data(), mean.data(), inv.data(), dy.data(), R, F, dx.data(), dg.data(), db.data());
  worst = 0.0;
  for (std::int64_t i = 0; i < R * F; ++i) {
    auto loss = [&]() {
      double l = 0.0;
      for (std::int64_t r = 0; r < R; ++r)
        for (std::int64_t c = 0; c < F; ++c) l += ref(xd, r, c) * dy[r * F + c];
      return l;
    };
    const double x0 = xd[i], h = 1e-6;
    xd[i] = x0 + h;
    const double up = loss();
    xd[i] = x0 - h;
    const double down = loss();
    xd[i] = x0;
    worst = std::fmax(worst, std::fabs((up - down) / (2 * h) - dx[i]));
  }
  CHECK(worst < 1e-3);
  double sum_b = 0.0;
  for (std::int64_t r = 0; r < R; ++r) sum_b += dy[r * F + 2];
  CHECK(std::fabs(db[2] - sum_b) < 1e-5);
}

}  // namespace

int main() {
  for (bool causal : {false, true})
    for (bool masks : {false, true}) {
      forwards_match_reference(causal, masks);
      backward_matches_finite_differences(causal, masks);
      layouts_give_the_heads_major_results(causal, masks);
    }
  dropout_is_reproducible_and_differentiated();
  causal_8192_allocates_only_tiles();
  errors_name_the_function();
  layer_norm_matches_reference_and_finite_differences();
  return rnnkit_test::failures();
}
