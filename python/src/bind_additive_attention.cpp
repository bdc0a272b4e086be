// Additive (tanh-scored) attention forward/backward. Shapes are checked here; the math is in the core
// (rnnkit/additive_attention.hpp).
#include <cstdint>
#include <optional>
#include <string>

#include <pybind11/stl.h>

#include "bindings.hpp"
#include "rnnkit/additive_attention.hpp"

namespace rnnkit::py {

namespace {
using MaskArray = pyb::array_t<std::uint8_t, pyb::array::c_style | pyb::array::forcecast>;

[[noreturn]] void fail(const char* fn, const std::string& what) {
  throw pyb::value_error(std::string(fn) + ": " + what);
}

std::string shape_of(const pyb::array& a) {
  std::string s = "(";
  for (pyb::ssize_t axis = 0; axis < a.ndim(); ++axis) s += (axis ? ", " : "") + std::to_string(a.shape(axis));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

void expect_shape(const char* fn, const char* what, const pyb::array& a, std::initializer_list<pyb::ssize_t> shape) {
  bool ok = a.ndim() == static_cast<pyb::ssize_t>(shape.size());
  pyb::ssize_t axis = 0;
  for (auto n : shape) ok = ok && a.shape(axis++) == n;
  if (ok) return;
  std::string expected = "(";
  axis = 0;
  for (auto n : shape) expected += (axis++ ? ", " : "") + std::to_string(n);
  fail(fn, std::string("expected ") + what + " of shape " + expected + (shape.size() == 1 ? ",)" : ")") +
               ", received " + shape_of(a));
}

// The arrays of one call, kept alive while the core reads them.
struct Call {
  AdditiveAttentionDims dims;
  AdditiveScore score;
  AdditiveAttentionOptions options;
  std::optional<FloatArray> weight;
  std::optional<MaskArray> value_mask, query_mask;
};

Call make_call(const char* fn, const FloatArray& q, const FloatArray& k, const FloatArray& v,
               std::optional<FloatArray> weight, float outer, float inner, std::optional<MaskArray> value_mask,
               std::optional<MaskArray> query_mask, bool is_causal, float dropout_p, std::uint64_t seed) {
  for (const auto& [what, a] : {std::pair<const char*, const FloatArray*>{"query", &q}, {"key", &k}, {"value", &v}})
    if (a->ndim() != 3)
      fail(fn, std::string("expected ") + what + " of rank 3 (batch, length, features), received shape " +
                   shape_of(*a));
  Call c;
  c.dims.batch = q.shape(0), c.dims.q_len = q.shape(1), c.dims.dim = q.shape(2);
  c.dims.kv_len = k.shape(1), c.dims.value_dim = v.shape(2);
  const auto& d = c.dims;
  expect_shape(fn, "key", k, {d.batch, d.kv_len, d.dim});
  expect_shape(fn, "value", v, {d.batch, d.kv_len, d.value_dim});
  c.weight = std::move(weight);
  c.value_mask = std::move(value_mask);
  c.query_mask = std::move(query_mask);
  if (c.weight) {
    expect_shape(fn, "weight", *c.weight, {d.dim});
    c.score.weight = c.weight->data();
  }
  if (c.value_mask) {
    expect_shape(fn, "value_mask", *c.value_mask, {d.batch, d.kv_len});
    c.options.value_mask = c.value_mask->data();
  }
  if (c.query_mask) {
    expect_shape(fn, "query_mask", *c.query_mask, {d.batch, d.q_len});
    c.options.query_mask = c.query_mask->data();
  }
  c.score.outer = outer;
  c.score.inner = inner;
  c.options.causal = is_causal;
  c.options.dropout_p = dropout_p;
  c.options.seed = seed;
  return c;
}
}  // namespace

void bind_additive_attention(pyb::module_& m) {
  m.def(
      "additive_attention_forward",
      [](FloatArray q, FloatArray k, FloatArray v, std::optional<FloatArray> weight, float outer, float inner,
         std::optional<MaskArray> value_mask, std::optional<MaskArray> query_mask, bool is_causal, float dropout_p,
         std::uint64_t seed) {
        Call c = make_call("additive_attention_forward", q, k, v, std::move(weight), outer, inner,
                           std::move(value_mask), std::move(query_mask), is_causal, dropout_p, seed);
        const auto& d = c.dims;
        FloatArray out({d.batch, d.q_len, d.value_dim});
        FloatArray weights({d.batch, d.q_len, d.kv_len});
        float *o = out.mutable_data(), *w = weights.mutable_data();
        {
          pyb::gil_scoped_release nogil;
          additive_attention_forward(d, q.data(), k.data(), v.data(), c.score, c.options, o, w);
        }
        return pyb::make_tuple(out, weights);
      },
      pyb::arg("q"), pyb::arg("k"), pyb::arg("v"), pyb::arg("weight") = pyb::none(), pyb::arg("outer") = 1.0f,
      pyb::arg("inner") = 1.0f, pyb::arg("value_mask") = pyb::none(), pyb::arg("query_mask") = pyb::none(),
      pyb::arg("is_causal") = false, pyb::arg("dropout_p") = 0.0f, pyb::arg("seed") = 0,
      "(out, weights) of additive attention, scores outer * sum_d weight[d] tanh(inner (q + k)), on "
      "(batch, length, features) arrays");
  m.def(
      "additive_attention_backward",
      [](FloatArray q, FloatArray k, FloatArray v, FloatArray weights, FloatArray d_out,
         std::optional<FloatArray> weight, float outer, float inner, std::optional<MaskArray> value_mask,
         std::optional<MaskArray> query_mask, bool is_causal, float dropout_p, std::uint64_t seed) {
        const char* fn = "additive_attention_backward";
        const bool with_weight = weight.has_value();
        Call c = make_call(fn, q, k, v, std::move(weight), outer, inner, std::move(value_mask),
                           std::move(query_mask), is_causal, dropout_p, seed);
        const auto& d = c.dims;
        expect_shape(fn, "weights", weights, {d.batch, d.q_len, d.kv_len});
        expect_shape(fn, "d_out", d_out, {d.batch, d.q_len, d.value_dim});
        FloatArray dq({d.batch, d.q_len, d.dim}), dk({d.batch, d.kv_len, d.dim}), dv({d.batch, d.kv_len, d.value_dim});
        FloatArray d_weight({with_weight ? d.dim : 0});
        AdditiveScoreGrads grads;
        grads.d_weight = with_weight ? d_weight.mutable_data() : nullptr;
        float *a = dq.mutable_data(), *b = dk.mutable_data(), *e = dv.mutable_data();
        {
          pyb::gil_scoped_release nogil;
          additive_attention_backward(d, q.data(), k.data(), v.data(), c.score, c.options, weights.data(),
                                      d_out.data(), a, b, e, grads);
        }
        return pyb::make_tuple(dq, dk, dv, with_weight ? pyb::object(d_weight) : pyb::none(), grads.d_outer,
                               grads.d_inner);
      },
      pyb::arg("q"), pyb::arg("k"), pyb::arg("v"), pyb::arg("weights"), pyb::arg("d_out"),
      pyb::arg("weight") = pyb::none(), pyb::arg("outer") = 1.0f, pyb::arg("inner") = 1.0f,
      pyb::arg("value_mask") = pyb::none(), pyb::arg("query_mask") = pyb::none(), pyb::arg("is_causal") = false,
      pyb::arg("dropout_p") = 0.0f, pyb::arg("seed") = 0,
      "(d_q, d_k, d_v, d_weight or None, d_outer, d_inner) of additive_attention_forward, from its weights");
}

}  // namespace rnnkit::py
