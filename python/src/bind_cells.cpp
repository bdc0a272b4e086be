// rnnkit._core bindings of the recurrent cells (rnn_forward / rnn_backward, conv_lstm_forward / conv_lstm_backward)
// and the vectorised exp.
// Shape checks live here so each error names the Python-facing function, the expected and the received shape.
#include <pybind11/stl.h>

#include <optional>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "bindings.hpp"
#include "rnnkit/activations.hpp"
#include "rnnkit/conv_lstm.hpp"
#include "rnnkit/rnn.hpp"

namespace rnnkit::py {
namespace {

using Shape = std::vector<std::int64_t>;
using OptArray = std::optional<FloatArray>;

std::string shape_str(const Shape& s) {
  std::ostringstream o;
  o << "(";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << (s.size() == 1 ? ",)" : ")");
  return o.str();
}

Shape shape_of(const pyb::array& a) { return Shape(a.shape(), a.shape() + a.ndim()); }

void expect_shape(const char* fn, const char* what, const pyb::array& a, const Shape& expected) {
  if (shape_of(a) != expected)
    throw std::invalid_argument(std::string(fn) + ": expected " + what + " of shape " + shape_str(expected) +
                                ", received " + shape_str(shape_of(a)));
}

CellKind parse_cell(const std::string& name) {
  if (name == "simple_rnn") return CellKind::simple_rnn;
  if (name == "lstm") return CellKind::lstm;
  if (name == "gru") return CellKind::gru;
  throw std::invalid_argument("rnn_forward: expected cell in {simple_rnn, lstm, gru}, received '" + name + "'");
}

const float* data_or_null(const OptArray& a) { return a ? a->data() : nullptr; }

pyb::array_t<float> new_array(const Shape& shape) { return pyb::array_t<float>(shape); }

// Keeps the C++ cache alive on the Python side (opaque to users).
struct PyRnnCache { RnnCachePtr cache; };

using IdArray = pyb::array_t<std::int64_t, pyb::array::c_style | pyb::array::forcecast>;

pyb::tuple rnn_forward_py(const std::string& cell_name, OptArray x, FloatArray kernel, FloatArray recurrent_kernel,
                          OptArray bias, OptArray peephole, OptArray h0, OptArray c0,
                          std::optional<pyb::array_t<bool, pyb::array::c_style | pyb::array::forcecast>> mask,
                          bool go_backwards, const std::string& activation, const std::string& recurrent_activation,
                          bool reset_after, OptArray input_dropout, OptArray recurrent_dropout, bool training,
                          std::optional<IdArray> ids, OptArray input_table, bool return_sequences) {
  const char* fn = "rnn_forward";
  RnnConfig cfg;
  cfg.cell = parse_cell(cell_name);
  cfg.activation = parse_activation(activation, fn);
  cfg.recurrent_activation = parse_activation(recurrent_activation, fn);
  cfg.reset_after = reset_after;
  cfg.go_backwards = go_backwards;
  if (x.has_value() == ids.has_value() || ids.has_value() != input_table.has_value())
    throw std::invalid_argument(std::string(fn) + ": expected x, or ids with an input_table, received " +
                                (x ? "x and " : "") + (ids ? "ids and " : "") + (input_table ? "input_table" : "") +
                                (x || ids || input_table ? "" : "neither"));
  if (x && x->ndim() != 3)
    throw std::invalid_argument(std::string(fn) + ": expected x of rank 3 (batch, time, features), received shape " +
                                shape_str(shape_of(*x)));
  if (ids && ids->ndim() != 2)
    throw std::invalid_argument(std::string(fn) + ": expected ids of rank 2 (batch, time), received shape " +
                                shape_str(shape_of(*ids)));
  if (recurrent_kernel.ndim() != 2 || kernel.ndim() != 2)
    throw std::invalid_argument(std::string(fn) + ": expected kernel and recurrent_kernel of rank 2, received " +
                                shape_str(shape_of(kernel)) + " and " + shape_str(shape_of(recurrent_kernel)));
  const pyb::array steps = x ? pyb::array(*x) : pyb::array(*ids);
  const std::int64_t B = steps.shape(0), T = steps.shape(1), I = x ? x->shape(2) : kernel.shape(0);
  const std::int64_t H = recurrent_kernel.shape(0), GH = gate_count(cfg.cell) * H;
  cfg.batch = B, cfg.time = T, cfg.input = I, cfg.units = H;
  expect_shape(fn, "kernel", kernel, {I, GH});
  if (input_table && (input_table->ndim() != 2 || input_table->shape(1) != GH || input_table->shape(0) < 1))
    throw std::invalid_argument(std::string(fn) + ": expected input_table of shape (rows >= 1, " +
                                std::to_string(GH) + "), received " + shape_str(shape_of(*input_table)));
  expect_shape(fn, "recurrent_kernel", recurrent_kernel, {H, GH});
  if (bias) {
    if (cfg.cell == CellKind::gru && reset_after) expect_shape(fn, "bias", *bias, {2, GH});
    else expect_shape(fn, "bias", *bias, {GH});
  }
  if (peephole) {
    if (cfg.cell != CellKind::lstm)
      throw std::invalid_argument(std::string(fn) + ": expected peephole=None for cell '" + cell_name +
                                  "', received an array (peepholes are LSTM only)");
    expect_shape(fn, "peephole", *peephole, {3, H});
  }
  if (h0) expect_shape(fn, "initial h state", *h0, {B, H});
  if (c0) {
    if (cfg.cell != CellKind::lstm)
      throw std::invalid_argument(std::string(fn) + ": expected 1 initial state for cell '" + cell_name +
                                  "', received 2");
    expect_shape(fn, "initial c state", *c0, {B, H});
  }
  if (mask) expect_shape(fn, "mask", *mask, {B, T});
  if (input_dropout) expect_shape(fn, "input_dropout_mask", *input_dropout, {B, I});
  if (recurrent_dropout) expect_shape(fn, "recurrent_dropout_mask", *recurrent_dropout, {B, H});
  if (B < 1 || T < 1 || I < 1 || H < 1)
    throw std::invalid_argument(std::string(fn) + ": expected non-empty x (B,T,I) and units, received x " +
                                shape_str(shape_of(steps)) + " and units " + std::to_string(H));

  const bool lstm = cfg.cell == CellKind::lstm;
  std::optional<pyb::array_t<float>> outputs;
  if (return_sequences) outputs = new_array({B, T, H});
  auto last = new_array({B, H});
  auto h_last = new_array({B, H});
  std::optional<pyb::array_t<float>> c_last;
  if (lstm) c_last = new_array({B, H});
  RnnInputs in;
  in.x = data_or_null(x), in.kernel = kernel.data(), in.recurrent_kernel = recurrent_kernel.data();
  if (ids) in.ids = ids->data(), in.input_table = input_table->data(), in.table_rows = input_table->shape(0);
  in.bias = data_or_null(bias), in.peephole = data_or_null(peephole);
  in.h0 = data_or_null(h0), in.c0 = data_or_null(c0);
  in.mask = mask ? reinterpret_cast<const std::uint8_t*>(mask->data()) : nullptr;
  in.input_dropout = data_or_null(input_dropout), in.recurrent_dropout = data_or_null(recurrent_dropout);
  RnnOutputs out;
  out.outputs = outputs ? outputs->mutable_data() : nullptr, out.last_output = last.mutable_data(), out.h_last = h_last.mutable_data();
  out.c_last = lstm ? c_last->mutable_data() : nullptr;
  RnnCachePtr cache;
  {
    pyb::gil_scoped_release nogil;
    cache = rnn_forward(cfg, in, out, training);
  }
  pyb::list states;
  states.append(h_last);
  if (lstm) states.append(*c_last);
  pyb::object cache_obj = pyb::none();
  if (cache) cache_obj = pyb::cast(PyRnnCache{std::move(cache)});
  return pyb::make_tuple(outputs ? pyb::object(*outputs) : pyb::none(), last, states, cache_obj);
}

pyb::dict rnn_backward_py(const PyRnnCache& holder, OptArray d_outputs, OptArray d_last, OptArray d_h, OptArray d_c,
                          bool return_state_gradients, bool x_gradient) {
  const char* fn = "rnn_backward";
  const RnnCache& cache = *holder.cache;
  const RnnConfig& cfg = cache_config(cache);
  const std::int64_t B = cfg.batch, T = cfg.time, I = cfg.input, H = cfg.units, GH = gate_count(cfg.cell) * H;
  const bool lstm = cfg.cell == CellKind::lstm;
  if (d_outputs) expect_shape(fn, "d_outputs", *d_outputs, {B, T, H});
  if (d_last) expect_shape(fn, "d_last_output", *d_last, {B, H});
  if (d_h) expect_shape(fn, "d_states[0]", *d_h, {B, H});
  if (d_c) {
    if (!lstm) throw std::invalid_argument(std::string(fn) + ": expected 1 state gradient, received 2");
    expect_shape(fn, "d_states[1]", *d_c, {B, H});
  }
  // A new array for one gradient: its data is where the backward writes `slot`.
  auto gradient = [](const Shape& shape, float*& slot) {
    auto a = new_array(shape);
    slot = a.mutable_data();
    return pyb::object(a);
  };
  const pyb::object none = pyb::none();
  RnnGradients out;
  // After a forward on token ids: the input table's gradient in place of x's and the kernel's.
  const std::int64_t table_rows = cache_table_rows(cache);
  const pyb::object d_table = table_rows ? gradient({table_rows, GH}, out.d_input_table) : none;
  const pyb::object dk = table_rows ? none : gradient({I, GH}, out.d_kernel);
  const pyb::object dx = table_rows || !x_gradient ? none : gradient({B, T, I}, out.d_x);
  const pyb::object drk = gradient({H, GH}, out.d_recurrent_kernel), dh0 = gradient({B, H}, out.d_h0);
  const bool two_biases = cfg.cell == CellKind::gru && cfg.reset_after;
  const pyb::object db = !cache_has_bias(cache) ? none
                         : two_biases          ? gradient({2, GH}, out.d_bias)
                                               : gradient({GH}, out.d_bias);
  const pyb::object dp = cache_has_peephole(cache) ? gradient({3, H}, out.d_peephole) : none;
  const pyb::object dc0 = lstm ? gradient({B, H}, out.d_c0) : none;
  const pyb::object sg = return_state_gradients ? gradient({B, T, H}, out.state_gradients) : none;
  RnnGradInputs in;
  in.d_outputs = data_or_null(d_outputs), in.d_last_output = data_or_null(d_last);
  in.d_h_last = data_or_null(d_h), in.d_c_last = data_or_null(d_c);
  {
    pyb::gil_scoped_release nogil;
    rnn_backward(cache, in, out);
  }
  pyb::list initial;
  initial.append(dh0);
  if (lstm) initial.append(dc0);
  pyb::dict result;
  result["x"] = dx, result["kernel"] = dk, result["recurrent_kernel"] = drk, result["bias"] = db;
  if (table_rows) result["input_table"] = d_table;
  if (lstm) result["peephole"] = dp;
  result["initial_state"] = initial;
  if (return_state_gradients) result["state_gradients"] = sg;
  return result;
}

struct PyConvLstmCache {
  ConvLstmCachePtr cache;
  Shape x_shape, state_shape;
  std::int64_t time, kernel_floats, recurrent_floats, bias_floats;
};

// x (B, T, *S, C), kernel (*k, C, 4F); strides, dilation_rate one per spatial axis; padding "valid" or "same".
pyb::tuple conv_lstm_forward_py(FloatArray x, FloatArray kernel, FloatArray recurrent_kernel, OptArray bias,
                                OptArray h0, OptArray c0, const Shape& strides, const Shape& dilation_rate,
                                const std::string& padding, bool go_backwards, const std::string& activation,
                                const std::string& recurrent_activation, bool training, bool return_sequences,
                                OptArray recurrent_dropout_mask) {
  const char* fn = "conv_lstm_forward";
  const std::int64_t rank = x.ndim() - 3;
  if (rank < 1 || rank > 3 || kernel.ndim() != rank + 2 || recurrent_kernel.ndim() != rank + 2 ||
      static_cast<std::int64_t>(strides.size()) != rank || static_cast<std::int64_t>(dilation_rate.size()) != rank)
    throw std::invalid_argument(std::string(fn) + ": expected x (batch, time, 1 to 3 spatial axes, channels) with "
                                "kernels of rank axes + 2 and a stride and dilation per axis, received x " +
                                shape_str(shape_of(x)) + " and kernel " + shape_str(shape_of(kernel)));
  const Shape xs = shape_of(x), ks = shape_of(kernel);
  ConvLstmConfig cfg;
  cfg.batch = xs[0], cfg.time = xs[1], cfg.channels = xs[rank + 2], cfg.filters = ks[rank + 1] / 4;
  cfg.activation = parse_activation(activation, fn);
  cfg.recurrent_activation = parse_activation(recurrent_activation, fn);
  cfg.go_backwards = go_backwards;
  Shape kernel_shape, recurrent_shape;
  for (std::int64_t a = 0; a < rank; ++a) {
    cfg.input_sizes.push_back(xs[a + 2]);
    cfg.windows.push_back(window_1d(xs[a + 2], ks[a], strides[a], dilation_rate[a], padding));
    kernel_shape.push_back(ks[a]), recurrent_shape.push_back(ks[a]);
  }
  const std::int64_t F = cfg.filters, G = 4 * F;
  kernel_shape.insert(kernel_shape.end(), {cfg.channels, G});
  recurrent_shape.insert(recurrent_shape.end(), {F, G});
  if (ks[rank + 1] % 4 != 0 || F < 1)
    throw std::invalid_argument(std::string(fn) + ": expected the kernel's last axis to be 4 * filters, received " +
                                shape_str(ks));
  expect_shape(fn, "kernel", kernel, kernel_shape);
  expect_shape(fn, "recurrent_kernel", recurrent_kernel, recurrent_shape);
  if (bias) expect_shape(fn, "bias", *bias, {G});
  Shape state_shape{cfg.batch};
  for (const std::int64_t size : conv_lstm_output_sizes(cfg)) state_shape.push_back(size);
  state_shape.push_back(F);
  if (h0) expect_shape(fn, "initial h state", *h0, state_shape);
  if (c0) expect_shape(fn, "initial c state", *c0, state_shape);
  if (recurrent_dropout_mask) expect_shape(fn, "recurrent_dropout_mask", *recurrent_dropout_mask, state_shape);
  Shape output_shape = state_shape;
  output_shape.insert(output_shape.begin() + 1, cfg.time);
  std::optional<pyb::array_t<float>> outputs;
  if (return_sequences) outputs = new_array(output_shape);
  auto h = new_array(state_shape), c = new_array(state_shape);
  ConvLstmInputs in{x.data(),           kernel.data(),    recurrent_kernel.data(),
                    data_or_null(bias),  data_or_null(h0), data_or_null(c0),
                    data_or_null(recurrent_dropout_mask)};
  ConvLstmOutputs out{outputs ? outputs->mutable_data() : nullptr, h.mutable_data(), c.mutable_data()};
  ConvLstmCachePtr cache;
  {
    pyb::gil_scoped_release nogil;
    cache = conv_lstm_forward(cfg, in, out, training);
  }
  pyb::object cache_obj = pyb::none();
  if (cache)
    cache_obj = pyb::cast(PyConvLstmCache{std::move(cache), xs, state_shape, cfg.time, kernel.size(),
                                          recurrent_kernel.size(), bias ? G : 0});
  return pyb::make_tuple(outputs ? pyb::object(*outputs) : pyb::none(), h, c, cache_obj);
}

pyb::dict conv_lstm_backward_py(const PyConvLstmCache& holder, OptArray d_outputs, OptArray d_h, OptArray d_c,
                                bool x_gradient) {
  const char* fn = "conv_lstm_backward";
  Shape output_shape = holder.state_shape;
  output_shape.insert(output_shape.begin() + 1, holder.time);
  if (d_outputs) expect_shape(fn, "d_outputs", *d_outputs, output_shape);
  if (d_h) expect_shape(fn, "d_h", *d_h, holder.state_shape);
  if (d_c) expect_shape(fn, "d_c", *d_c, holder.state_shape);
  auto gradient = [](const Shape& shape, float*& slot) {
    auto a = new_array(shape);
    slot = a.mutable_data();
    return pyb::object(a);
  };
  ConvLstmGradients out;
  const pyb::object none = pyb::none();
  const pyb::object dx = x_gradient ? gradient(holder.x_shape, out.d_x) : none;
  const pyb::object dk = gradient({holder.kernel_floats}, out.d_kernel);
  const pyb::object drk = gradient({holder.recurrent_floats}, out.d_recurrent_kernel);
  const pyb::object db = holder.bias_floats ? gradient({holder.bias_floats}, out.d_bias) : none;
  const pyb::object dh0 = gradient(holder.state_shape, out.d_h0), dc0 = gradient(holder.state_shape, out.d_c0);
  ConvLstmGradInputs in{data_or_null(d_outputs), data_or_null(d_h), data_or_null(d_c)};
  {
    pyb::gil_scoped_release nogil;
    conv_lstm_backward(*holder.cache, in, out);
  }
  pyb::dict result;
  result["x"] = dx, result["kernel"] = dk, result["recurrent_kernel"] = drk, result["bias"] = db;
  result["initial_state"] = pyb::make_tuple(dh0, dc0);
  return result;
}

FloatArray exp_py(FloatArray x) {
  pyb::array_t<float> y(shape_of(x));
  {
    pyb::gil_scoped_release nogil;
    exp_array(x.data(), y.mutable_data(), x.size());
  }
  return y;
}

}  // namespace

void bind_cells(pyb::module_& m) {
  pyb::class_<PyRnnCache>(m, "RnnCache", "Opaque training cache of rnn_forward, consumed by rnn_backward.");
  m.def("rnn_forward", &rnn_forward_py, pyb::arg("cell"), pyb::arg("x"), pyb::arg("kernel"),
        pyb::arg("recurrent_kernel"), pyb::arg("bias"), pyb::arg("peephole"), pyb::arg("h0"), pyb::arg("c0"),
        pyb::arg("mask"), pyb::arg("go_backwards"), pyb::arg("activation"), pyb::arg("recurrent_activation"),
        pyb::arg("reset_after"), pyb::arg("input_dropout_mask"), pyb::arg("recurrent_dropout_mask"),
        pyb::arg("training"), pyb::arg("ids") = pyb::none(), pyb::arg("input_table") = pyb::none(),
        pyb::arg("return_sequences") = true, "Whole-sequence forward; returns (outputs, last_output, states, cache or None). See rnnkit.ops.");
  m.def("rnn_backward", &rnn_backward_py, pyb::arg("cache"), pyb::arg("d_outputs"), pyb::arg("d_last_output"),
        pyb::arg("d_h"), pyb::arg("d_c"), pyb::arg("return_state_gradients"), pyb::arg("x_gradient") = true,
        "BPTT through a training cache; returns a dict of gradients. See rnnkit.ops.");
  pyb::class_<PyConvLstmCache>(m, "ConvLstmCache", "Opaque training cache of conv_lstm_forward.");
  m.def("conv_lstm_forward", &conv_lstm_forward_py, pyb::arg("x"), pyb::arg("kernel"), pyb::arg("recurrent_kernel"),
        pyb::arg("bias"), pyb::arg("h0"), pyb::arg("c0"), pyb::arg("strides"), pyb::arg("dilation_rate"),
        pyb::arg("padding"), pyb::arg("go_backwards"), pyb::arg("activation"), pyb::arg("recurrent_activation"),
        pyb::arg("training"), pyb::arg("return_sequences"), pyb::arg("recurrent_dropout_mask") = pyb::none(),
        "ConvLSTM over 1-3 spatial axes; returns (outputs or None, h, c, cache or None).");
  m.def("conv_lstm_backward", &conv_lstm_backward_py, pyb::arg("cache"), pyb::arg("d_outputs"), pyb::arg("d_h"),
        pyb::arg("d_c"), pyb::arg("x_gradient") = true,
        "BPTT through a conv_lstm_forward cache; kernel gradients come flat (reshape to the kernels' shapes).");
  m.def("exp", &exp_py, pyb::arg("x"), "Vectorised float32 exp (input clamped to [-88, 88]).");
}

}  // namespace rnnkit::py
