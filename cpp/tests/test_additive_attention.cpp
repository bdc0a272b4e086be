// The C++ API of additive attention: forward against a double-precision reference (value and query masks, causal,
// a query that sees no key), the backward against central differences of that reference for the inputs and the
// score parameters, and argument errors.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"
#include "rnnkit/additive_attention.hpp"

using namespace rnnkit;

namespace {

struct Problem {
  AdditiveAttentionDims d{2, 3, 4, 3, 2};
  std::vector<double> q, k, v, weight{0.7, -1.1, 0.4};
  double outer = 1.3, inner = 0.8;
  // Batch 0 hides keys 0 and 1, so with the causal mask its queries 0 and 1 see nothing.
  std::vector<std::uint8_t> value_mask{0, 0, 1, 1, 1, 1, 0, 1}, query_mask{1, 1, 1, 1, 0, 1};

  Problem() : q(2 * 3 * 3), k(2 * 4 * 3), v(2 * 4 * 2) {
    for (std::size_t i = 0; i < q.size(); ++i) q[i] = std::sin(0.37 * i + 0.1);
    for (std::size_t i = 0; i < k.size(); ++i) k[i] = std::cos(0.23 * i);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::sin(0.11 * i + 1.0);
  }
  AdditiveAttentionOptions options() const {
    AdditiveAttentionOptions o;
    o.value_mask = value_mask.data();
    o.query_mask = query_mask.data();
    o.causal = true;
    return o;
  }
};

// out[b, i, :] in double, straight from the definition.
std::vector<double> reference(const Problem& p) {
  const auto& d = p.d;
  std::vector<double> out(d.batch * d.q_len * d.value_dim, 0.0);
  for (std::int64_t b = 0; b < d.batch; ++b)
    for (std::int64_t i = 0; i < d.q_len; ++i) {
      std::vector<double> e(d.kv_len, 0.0);
      double top = -INFINITY, sum = 0.0;
      std::vector<double> s(d.kv_len, 0.0);
      for (std::int64_t j = 0; j < d.kv_len; ++j) {
        if (!p.value_mask[b * d.kv_len + j] || j > i) continue;
        for (std::int64_t c = 0; c < d.dim; ++c)
          s[j] += p.outer * p.weight[c] *
                  std::tanh(p.inner * (p.q[(b * d.q_len + i) * d.dim + c] + p.k[(b * d.kv_len + j) * d.dim + c]));
        top = std::max(top, s[j]);
      }
      if (top == -INFINITY || !p.query_mask[b * d.q_len + i]) continue;
      for (std::int64_t j = 0; j < d.kv_len; ++j)
        if (p.value_mask[b * d.kv_len + j] && j <= i) sum += e[j] = std::exp(s[j] - top);
      for (std::int64_t j = 0; j < d.kv_len; ++j)
        for (std::int64_t c = 0; c < d.value_dim; ++c)
          out[(b * d.q_len + i) * d.value_dim + c] += e[j] / sum * p.v[(b * d.kv_len + j) * d.value_dim + c];
    }
  return out;
}

std::vector<float> as_float(const std::vector<double>& x) { return std::vector<float>(x.begin(), x.end()); }

bool close(double got, double want, double rtol, double atol) {
  return std::fabs(got - want) <= atol + rtol * std::fabs(want);
}

void forward_and_backward_match_reference() {
  Problem p;
  const auto& d = p.d;
  const std::vector<float> q = as_float(p.q), k = as_float(p.k), v = as_float(p.v), w = as_float(p.weight);
  AdditiveScore score{w.data(), static_cast<float>(p.outer), static_cast<float>(p.inner)};
  std::vector<float> out(d.batch * d.q_len * d.value_dim), weights(d.batch * d.q_len * d.kv_len);
  additive_attention_forward(d, q.data(), k.data(), v.data(), score, p.options(), out.data(), weights.data());
  const std::vector<double> want = reference(p);
  for (std::size_t i = 0; i < out.size(); ++i) CHECK(close(out[i], want[i], 1e-5, 1e-6));
  for (std::int64_t j = 0; j < d.kv_len; ++j) CHECK(weights[j] == 0.0f && weights[d.kv_len + j] == 0.0f);

  // loss = sum(out * r), r fixed; the analytic gradients against central differences of the reference.
  std::vector<float> r(out.size());
  for (std::size_t i = 0; i < r.size(); ++i) r[i] = static_cast<float>(std::cos(0.7 * i));
  std::vector<float> dq(q.size()), dk(k.size()), dv(v.size()), dw(w.size());
  AdditiveScoreGrads grads;
  grads.d_weight = dw.data();
  additive_attention_backward(d, q.data(), k.data(), v.data(), score, p.options(), weights.data(), r.data(),
                              dq.data(), dk.data(), dv.data(), grads);
  auto numeric = [&](double& x) {
    const double eps = 1e-6, saved = x;
    double loss[2];
    for (int side = 0; side < 2; ++side) {
      x = saved + (side ? -eps : eps);
      const std::vector<double> y = reference(p);
      loss[side] = 0.0;
      for (std::size_t i = 0; i < y.size(); ++i) loss[side] += y[i] * r[i];
    }
    x = saved;
    return (loss[0] - loss[1]) / (2 * eps);
  };
  for (std::size_t i = 0; i < q.size(); ++i) CHECK(close(dq[i], numeric(p.q[i]), 1e-4, 1e-5));
  for (std::size_t i = 0; i < k.size(); ++i) CHECK(close(dk[i], numeric(p.k[i]), 1e-4, 1e-5));
  for (std::size_t i = 0; i < v.size(); ++i) CHECK(close(dv[i], numeric(p.v[i]), 1e-4, 1e-5));
  for (std::size_t i = 0; i < w.size(); ++i) CHECK(close(dw[i], numeric(p.weight[i]), 1e-4, 1e-5));
  CHECK(close(grads.d_outer, numeric(p.outer), 1e-4, 1e-5));
  CHECK(close(grads.d_inner, numeric(p.inner), 1e-4, 1e-5));
}

bool throws_naming(const char* fn, void (*call)()) {
  try {
    call();
  } catch (const std::invalid_argument& e) {
    return std::string(e.what()).rfind(fn, 0) == 0;
  }
  return false;
}

void errors_name_the_function() {
  static float x[64] = {}, out[64], weights[64];
  static const AdditiveAttentionDims small{1, 2, 2, 2, 2};
  CHECK(throws_naming("additive_attention_forward", [] {
    additive_attention_forward({1, -1, 2, 2, 2}, x, x, x, {}, {}, out, weights);
  }));
  CHECK(throws_naming("additive_attention_forward", [] {
    AdditiveAttentionOptions o;
    o.dropout_p = 1.0f;
    additive_attention_forward(small, x, x, x, {}, o, out, weights);
  }));
  CHECK(throws_naming("additive_attention_forward", [] {
    additive_attention_forward(small, x, x, x, {nullptr, 1.0f, INFINITY}, {}, out, weights);
  }));
  CHECK(throws_naming("additive_attention_backward", [] {
    AdditiveScoreGrads g;
    additive_attention_backward(small, x, x, x, {}, {}, weights, nullptr, out, out, out, g);
  }));
}

}  // namespace

int main() {
  forward_and_backward_match_reference();
  errors_name_the_function();
  return rnnkit_test::failures();
}
