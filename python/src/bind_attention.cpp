// Attention ops: scaled dot-product attention forward/backward and layer normalisation. Shapes are checked and
// broadcast masks turned into strides here; the math is in the core (rnnkit/attention.hpp).
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include <pybind11/stl.h>

#include "bindings.hpp"
#include "rnnkit/attention.hpp"

namespace rnnkit::py {

namespace {
using MaskArray = pyb::array_t<std::uint8_t, pyb::array::c_style | pyb::array::forcecast>;
// float32 and aligned, any strides: a (batch, heads, len, dim) view into a wider buffer (a fused projection's
// output, or a [batch, len, heads, dim] array transposed) reaches the kernels without a copy.
using StridedFloats = pyb::array_t<float, pyb::array::forcecast | kAligned>;

[[noreturn]] void fail(const char* fn, const std::string& what) {
  throw pyb::value_error(std::string(fn) + ": " + what);
}

void expect_rank(const char* fn, const char* what, const pyb::array& a, pyb::ssize_t ndim) {
  if (a.ndim() != ndim)
    fail(fn, std::string("expected ") + what + " of rank " + std::to_string(ndim) + ", received rank " +
                 std::to_string(a.ndim()));
}

// Element strides over (batch, head, query, key) for a rank-4 mask whose axes are each 1 (broadcast) or full.
void mask_strides(const char* fn, const char* what, const pyb::array& m, const AttentionDims& d,
                  std::int64_t* strides) {
  expect_rank(fn, what, m, 4);
  const std::int64_t full[4] = {d.batch, d.heads, d.q_len, d.kv_len};
  std::int64_t step = 1;
  for (int axis = 3; axis >= 0; --axis) {
    const std::int64_t n = m.shape(axis);
    if (n != 1 && n != full[axis])
      fail(fn, std::string(what) + " must broadcast to (batch, heads, q_len, kv_len) = (" + std::to_string(d.batch) +
                   ", " + std::to_string(d.heads) + ", " + std::to_string(d.q_len) + ", " + std::to_string(d.kv_len) +
                   "), received axis " + std::to_string(axis) + " of size " + std::to_string(n));
    strides[axis] = n == 1 ? 0 : step;
    step *= n;
  }
}

// The rows of a rank-4 (batch, heads, len, dim) operand. One whose dim axis is not contiguous is copied first.
AttentionRows rows_of(StridedFloats& a) {
  if (a.ndim() == 4 && a.shape(3) > 1 && a.strides(3) != static_cast<pyb::ssize_t>(sizeof(float)))
    a = FloatArray::ensure(a);
  const auto at = [&a](int axis) { return static_cast<std::int64_t>(a.strides(axis) / sizeof(float)); };
  return {at(0), at(1), at(2)};
}

// A new float32 array for a (batch, heads, len, dim) result, returned as that shape. positions_major: the memory
// is [batch, len, heads, dim] (the array is a transposed view of it), so a multi-head layer reshapes it to its
// output projection's rows without a copy.
struct Result {
  pyb::array array;
  float* data;
  AttentionRows rows;
};

Result new_result(std::int64_t batch, std::int64_t heads, std::int64_t len, std::int64_t dim, bool positions_major) {
  if (!positions_major) {
    FloatArray a({batch, heads, len, dim});
    return {a, a.mutable_data(), {heads * len * dim, len * dim, dim}};
  }
  FloatArray memory({batch, len, heads, dim});
  const AttentionRows rows{len * heads * dim, dim, heads * dim};
  const auto bytes = [](std::int64_t n) { return static_cast<pyb::ssize_t>(n * sizeof(float)); };
  pyb::array view(pyb::dtype::of<float>(), {batch, heads, len, dim},
                  {bytes(rows.batch), bytes(rows.head), bytes(rows.position), bytes(1)}, memory.mutable_data(),
                  memory);
  return {view, memory.mutable_data(), rows};
}

struct Call {
  AttentionDims dims;
  AttentionLayout layout;  // of q, k and v; out's is set by the caller
  AttentionOptions options;
  std::optional<MaskArray> keep;
  std::optional<FloatArray> bias;
};

Call make_call(const char* fn, StridedFloats& q, StridedFloats& k, StridedFloats& v,
               std::optional<MaskArray> keep, std::optional<FloatArray> bias, bool is_causal,
               std::int64_t causal_offset, float scale, float dropout_p, std::uint64_t seed,
               std::int64_t kv_len = -1) {
  expect_rank(fn, "query", q, 4);
  expect_rank(fn, "key", k, 4);
  expect_rank(fn, "value", v, 4);
  Call c;
  c.layout.q = rows_of(q), c.layout.k = rows_of(k), c.layout.v = rows_of(v);
  c.dims.batch = q.shape(0), c.dims.heads = q.shape(1), c.dims.q_len = q.shape(2), c.dims.head_dim = q.shape(3);
  c.dims.kv_len = k.shape(2), c.dims.value_dim = v.shape(3);
  for (int axis = 0; axis < 2; ++axis)
    if (k.shape(axis) != q.shape(axis) || v.shape(axis) != q.shape(axis))
      fail(fn, "query, key and value must share (batch, heads), received " + std::to_string(q.shape(0)) + "x" +
                   std::to_string(q.shape(1)) + ", " + std::to_string(k.shape(0)) + "x" + std::to_string(k.shape(1)) +
                   ", " + std::to_string(v.shape(0)) + "x" + std::to_string(v.shape(1)));
  if (k.shape(3) != q.shape(3))
    fail(fn, "key head_dim " + std::to_string(k.shape(3)) + " != query head_dim " + std::to_string(q.shape(3)));
  if (v.shape(2) != k.shape(2))
    fail(fn, "value length " + std::to_string(v.shape(2)) + " != key length " + std::to_string(k.shape(2)));
  if (kv_len >= 0) {  // the first kv_len positions of a key/value cache, read in place
    if (kv_len > k.shape(2))
      fail(fn, "kv_len " + std::to_string(kv_len) + " exceeds the " + std::to_string(k.shape(2)) +
                   " positions of key and value");
    c.dims.kv_capacity = k.shape(2);
    c.dims.kv_len = kv_len;
  }
  c.keep = std::move(keep);
  c.bias = std::move(bias);
  if (c.keep) {
    mask_strides(fn, "boolean attn_mask", *c.keep, c.dims, c.options.mask.keep_strides);
    c.options.mask.keep = c.keep->data();
  }
  if (c.bias) {
    mask_strides(fn, "additive attn_mask", *c.bias, c.dims, c.options.mask.bias_strides);
    c.options.mask.bias = c.bias->data();
  }
  c.options.mask.causal = is_causal;
  c.options.mask.causal_offset = causal_offset;
  c.options.scale = scale;
  c.options.dropout_p = dropout_p;
  c.options.seed = seed;
  return c;
}

void expect_shape(const char* fn, const char* what, const pyb::array& a, std::initializer_list<pyb::ssize_t> shape) {
  bool ok = a.ndim() == static_cast<pyb::ssize_t>(shape.size());
  pyb::ssize_t axis = 0;
  for (auto n : shape) ok = ok && a.shape(axis++) == n;
  if (!ok) fail(fn, std::string(what) + " does not match the forward's shapes");
}
}  // namespace

void bind_attention(pyb::module_& m) {
  m.def(
      "attention_forward",
      [](StridedFloats q, StridedFloats k, StridedFloats v, std::optional<MaskArray> keep,
         std::optional<FloatArray> bias, bool is_causal, std::int64_t causal_offset, float scale, float dropout_p,
         std::uint64_t seed, bool return_weights, std::int64_t kv_len, bool positions_major) {
        Call c = make_call("attention_forward", q, k, v, std::move(keep), std::move(bias), is_causal, causal_offset,
                           scale, dropout_p, seed, kv_len);
        const auto& d = c.dims;
        Result out = new_result(d.batch, d.heads, d.q_len, d.value_dim, positions_major);
        c.layout.out = out.rows;
        FloatArray lse({d.batch, d.heads, d.q_len});
        pyb::object weights = pyb::none();
        float* w = nullptr;
        if (return_weights) {
          FloatArray a({d.batch, d.heads, d.q_len, d.kv_len});
          w = a.mutable_data();
          weights = a;
        }
        float* l = lse.mutable_data();
        {
          pyb::gil_scoped_release nogil;
          attention_forward(d, c.layout, q.data(), k.data(), v.data(), c.options, out.data, l, w);
        }
        return pyb::make_tuple(out.array, lse, weights);
      },
      pyb::arg("q"), pyb::arg("k"), pyb::arg("v"), pyb::arg("keep_mask") = pyb::none(),
      pyb::arg("bias_mask") = pyb::none(), pyb::arg("is_causal") = false, pyb::arg("causal_offset") = 0,
      pyb::arg("scale") = std::numeric_limits<float>::quiet_NaN(), pyb::arg("dropout_p") = 0.0f,
      pyb::arg("seed") = 0, pyb::arg("return_weights") = false, pyb::arg("kv_len") = -1,
      pyb::arg("positions_major") = false,
      "(out, lse, weights or None) of scaled dot-product attention on (batch, heads, len, dim) arrays of any "
      "strides (views are read in place); kv_len >= 0 uses only the first kv_len positions of k and v (a "
      "preallocated key/value cache); positions_major: out is a view of a [batch, len, heads, dim] array");
  m.def(
      "attention_backward",
      [](StridedFloats q, StridedFloats k, StridedFloats v, StridedFloats out, FloatArray lse, StridedFloats d_out,
         std::optional<MaskArray> keep, std::optional<FloatArray> bias, bool is_causal, std::int64_t causal_offset,
         float scale, float dropout_p, std::uint64_t seed, bool positions_major) {
        const char* fn = "attention_backward";
        Call c = make_call(fn, q, k, v, std::move(keep), std::move(bias), is_causal, causal_offset, scale, dropout_p,
                           seed);
        const auto& d = c.dims;
        expect_shape(fn, "out", out, {d.batch, d.heads, d.q_len, d.value_dim});
        expect_shape(fn, "d_out", d_out, {d.batch, d.heads, d.q_len, d.value_dim});
        expect_shape(fn, "lse", lse, {d.batch, d.heads, d.q_len});
        c.layout.out = rows_of(out);
        AttentionLayout grad_layout;
        grad_layout.out = rows_of(d_out);
        Result dq = new_result(d.batch, d.heads, d.q_len, d.head_dim, positions_major);
        Result dk = new_result(d.batch, d.heads, d.kv_len, d.head_dim, positions_major);
        Result dv = new_result(d.batch, d.heads, d.kv_len, d.value_dim, positions_major);
        grad_layout.q = dq.rows, grad_layout.k = dk.rows, grad_layout.v = dv.rows;
        {
          pyb::gil_scoped_release nogil;
          attention_backward(d, c.layout, q.data(), k.data(), v.data(), out.data(), lse.data(), d_out.data(),
                             c.options, grad_layout, dq.data, dk.data, dv.data);
        }
        return pyb::make_tuple(dq.array, dk.array, dv.array);
      },
      pyb::arg("q"), pyb::arg("k"), pyb::arg("v"), pyb::arg("out"), pyb::arg("lse"), pyb::arg("d_out"),
      pyb::arg("keep_mask") = pyb::none(), pyb::arg("bias_mask") = pyb::none(), pyb::arg("is_causal") = false,
      pyb::arg("causal_offset") = 0, pyb::arg("scale") = std::numeric_limits<float>::quiet_NaN(),
      pyb::arg("dropout_p") = 0.0f, pyb::arg("seed") = 0, pyb::arg("positions_major") = false,
      "(d_q, d_k, d_v) of attention_forward, recomputed tile by tile from the saved lse; inputs of any strides; "
      "positions_major: the gradients are views of [batch, len, heads, dim] arrays");
  m.def(
      "layer_norm_forward",
      [](FloatArray x, std::optional<FloatArray> gamma, std::optional<FloatArray> beta, float epsilon) {
        const char* fn = "layer_norm_forward";
        expect_rank(fn, "x", x, 2);
        const auto rows = x.shape(0), features = x.shape(1);
        if (gamma) expect_shape(fn, "gamma", *gamma, {features});
        if (beta) expect_shape(fn, "beta", *beta, {features});
        FloatArray y({rows, features}), mean({rows}), inv_std({rows});
        const float* g = gamma ? gamma->data() : nullptr;
        const float* b = beta ? beta->data() : nullptr;
        float *yo = y.mutable_data(), *mo = mean.mutable_data(), *so = inv_std.mutable_data();
        {
          pyb::gil_scoped_release nogil;
          layer_norm_forward(x.data(), g, b, rows, features, epsilon, yo, mo, so);
        }
        return pyb::make_tuple(y, mean, inv_std);
      },
      pyb::arg("x"), pyb::arg("gamma"), pyb::arg("beta"), pyb::arg("epsilon"),
      "(y, mean, inv_std) of layer normalisation over the last axis of a 2-D x");
  m.def(
      "layer_norm_backward",
      [](FloatArray x, std::optional<FloatArray> gamma, FloatArray mean, FloatArray inv_std, FloatArray d_y,
         bool with_params) -> pyb::tuple {
        const char* fn = "layer_norm_backward";
        expect_rank(fn, "x", x, 2);
        const auto rows = x.shape(0), features = x.shape(1);
        if (gamma) expect_shape(fn, "gamma", *gamma, {features});
        expect_shape(fn, "mean", mean, {rows});
        expect_shape(fn, "inv_std", inv_std, {rows});
        expect_shape(fn, "d_y", d_y, {rows, features});
        FloatArray d_x({rows, features}), d_gamma({features}), d_beta({features});
        const float* g = gamma ? gamma->data() : nullptr;
        float *dx = d_x.mutable_data(), *dg = with_params ? d_gamma.mutable_data() : nullptr;
        float* db = with_params ? d_beta.mutable_data() : nullptr;
        {
          pyb::gil_scoped_release nogil;
          layer_norm_backward(x.data(), g, mean.data(), inv_std.data(), d_y.data(), rows, features, dx, dg, db);
        }
        if (!with_params) return pyb::make_tuple(d_x, pyb::none(), pyb::none());
        return pyb::make_tuple(d_x, d_gamma, d_beta);
      },
      pyb::arg("x"), pyb::arg("gamma"), pyb::arg("mean"), pyb::arg("inv_std"), pyb::arg("d_y"),
      pyb::arg("with_params") = true, "(d_x, d_gamma or None, d_beta or None) of layer_norm_forward");
}

}  // namespace rnnkit::py
