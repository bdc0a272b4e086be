// Layer ops of rnnkit.layers: activations, Dense, Embedding, Conv1D, 1-D and global 1-D pooling, batch
// normalisation. Shapes are checked here, math in the core.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <pybind11/stl.h>

#include "bindings.hpp"
#include "rnnkit/layer_activations.hpp"
#include "rnnkit/layer_ops.hpp"

namespace rnnkit::py {

namespace {
using IdArray = pyb::array_t<std::int64_t, pyb::array::c_style | pyb::array::forcecast | kAligned>;
using MaskArray = pyb::array_t<std::uint8_t, pyb::array::c_style | pyb::array::forcecast>;

void expect_ndim(const char* fn, const char* what, const pyb::array& a, pyb::ssize_t ndim) {
  if (a.ndim() != ndim)
    throw pyb::value_error(std::string(fn) + ": expected " + what + " of rank " + std::to_string(ndim) +
                           ", received rank " + std::to_string(a.ndim()));
}

void expect_dim(const char* fn, const char* what, pyb::ssize_t received, pyb::ssize_t expected) {
  if (received != expected)
    throw pyb::value_error(std::string(fn) + ": expected " + what + " = " + std::to_string(expected) +
                           ", received " + std::to_string(received));
}

const std::uint8_t* optional_mask(const char* fn, const std::optional<MaskArray>& mask, pyb::ssize_t batch,
                                  pyb::ssize_t steps) {
  if (!mask) return nullptr;
  expect_ndim(fn, "mask", *mask, 2);
  expect_dim(fn, "mask batch", mask->shape(0), batch);
  expect_dim(fn, "mask steps", mask->shape(1), steps);
  return mask->data();
}

std::string shape_text(const pyb::array& a) {
  std::string text = "(";
  for (pyb::ssize_t axis = 0; axis < a.ndim(); ++axis) text += std::to_string(a.shape(axis)) + (a.ndim() == 1 ? "," : axis + 1 < a.ndim() ? ", " : "");
  return text + ")";
}

// Softmax normalises the last axis; the element-wise activations see the same (rows, last) view.
std::pair<std::int64_t, std::int64_t> rows_and_last(const pyb::array& a) {
  const std::int64_t last = a.ndim() == 0 ? 1 : a.shape(a.ndim() - 1);
  return {last == 0 ? 0 : a.size() / last, last};
}

void bind_activations(pyb::module_& m) {
  m.def(
      "activation",
      [](const std::string& name, FloatArray x) {
        if (!is_layer_activation(name)) layer_activation_forward(name, nullptr, nullptr, 0, 0);  // throws
        FloatArray y(std::vector<pyb::ssize_t>(x.shape(), x.shape() + x.ndim()));
        const auto [rows, last] = rows_and_last(x);
        float* out = y.mutable_data();
        pyb::gil_scoped_release nogil;
        layer_activation_forward(name, x.data(), out, rows, last);
        return y;
      },
      pyb::arg("name"), pyb::arg("x"), "Keras 3 activation by name (float32; softmax over the last axis).");
  m.def(
      "activation_grad",
      [](const std::string& name, FloatArray y, FloatArray dy, std::optional<FloatArray> x) {
        if (!is_layer_activation(name)) layer_activation_backward(name, nullptr, nullptr, nullptr, nullptr, 0, 0);
        const auto same_shape = [&](const FloatArray& a, const char* what) {
          if (a.ndim() != y.ndim() || !std::equal(y.shape(), y.shape() + y.ndim(), a.shape()))
            throw pyb::value_error(std::string("activation_grad: expected ") + what + " of shape " + shape_text(y) +
                                   " (that of y), received " + shape_text(a));
        };
        same_shape(dy, "dy");
        if (layer_activation_needs_input(name)) {
          if (!x) throw pyb::value_error("activation_grad: '" + name + "' needs its input x (its derivative is not "
                                         "a function of the output)");
          same_shape(*x, "x");
        }
        FloatArray dx(std::vector<pyb::ssize_t>(y.shape(), y.shape() + y.ndim()));
        const auto [rows, last] = rows_and_last(y);
        const float* input = x ? x->data() : nullptr;
        float* out = dx.mutable_data();
        pyb::gil_scoped_release nogil;
        layer_activation_backward(name, input, y.data(), dy.data(), out, rows, last);
        return dx;
      },
      pyb::arg("name"), pyb::arg("y"), pyb::arg("dy"), pyb::arg("x") = pyb::none(),
      "dL/dx of an activation from its output y and dL/dy, and its input x where the derivative needs it.");
  m.def("activation_needs_input", &layer_activation_needs_input, pyb::arg("name"),
        "True when activation_grad needs the activation's input x (gelu, silu, mish, ...).");
}

void bind_dense(pyb::module_& m) {
  m.def(
      "dense_forward",
      [](FloatArray x, FloatArray kernel, std::optional<FloatArray> bias) {
        expect_ndim("dense_forward", "x", x, 2);
        expect_ndim("dense_forward", "kernel", kernel, 2);
        expect_dim("dense_forward", "kernel rows (x features)", kernel.shape(0), x.shape(1));
        if (bias) {
          expect_ndim("dense_forward", "bias", *bias, 1);
          expect_dim("dense_forward", "bias size", bias->shape(0), kernel.shape(1));
        }
        FloatArray y({x.shape(0), kernel.shape(1)});
        const float* b = bias ? bias->data() : nullptr;
        float* out = y.mutable_data();
        pyb::gil_scoped_release nogil;
        dense_forward(x.data(), kernel.data(), b, x.shape(0), x.shape(1), kernel.shape(1), out);
        return y;
      },
      pyb::arg("x"), pyb::arg("kernel"), pyb::arg("bias") = pyb::none(), "y = x @ kernel (+ bias) for 2-D x");
  m.def(
      "dense_backward",
      [](FloatArray x, FloatArray kernel, FloatArray d_y, bool with_bias, bool with_input_grad) {
        expect_ndim("dense_backward", "x", x, 2);
        expect_ndim("dense_backward", "kernel", kernel, 2);
        expect_ndim("dense_backward", "d_y", d_y, 2);
        expect_dim("dense_backward", "kernel rows (x features)", kernel.shape(0), x.shape(1));
        expect_dim("dense_backward", "d_y rows", d_y.shape(0), x.shape(0));
        expect_dim("dense_backward", "d_y columns", d_y.shape(1), kernel.shape(1));
        FloatArray d_kernel({kernel.shape(0), kernel.shape(1)});
        pyb::object d_x = pyb::none(), d_bias = pyb::none();
        float *dx = nullptr, *db = nullptr;
        if (with_input_grad) {
          FloatArray a({x.shape(0), x.shape(1)});
          dx = a.mutable_data();
          d_x = a;
        }
        if (with_bias) {
          FloatArray a({kernel.shape(1)});
          db = a.mutable_data();
          d_bias = a;
        }
        float* dk = d_kernel.mutable_data();
        {
          pyb::gil_scoped_release nogil;
          dense_backward(x.data(), kernel.data(), d_y.data(), x.shape(0), x.shape(1), kernel.shape(1), dx, dk, db);
        }
        return pyb::make_tuple(d_x, d_kernel, d_bias);
      },
      pyb::arg("x"), pyb::arg("kernel"), pyb::arg("d_y"), pyb::arg("with_bias") = true,
      pyb::arg("with_input_grad") = true, "(d_x or None, d_kernel, d_bias or None) of dense_forward");
}

void bind_embedding(pyb::module_& m) {
  m.def(
      "embedding_forward",
      [](IdArray ids, FloatArray table) {
        expect_ndim("embedding_forward", "table", table, 2);
        std::vector<pyb::ssize_t> shape(ids.shape(), ids.shape() + ids.ndim());
        shape.push_back(table.shape(1));
        FloatArray out(shape);
        float* o = out.mutable_data();
        pyb::gil_scoped_release nogil;
        embedding_forward(ids.data(), ids.size(), table.data(), table.shape(0), table.shape(1), o);
        return out;
      },
      pyb::arg("ids"), pyb::arg("table"), "table[ids]; ids outside [0, vocab) raise ValueError");
  m.def(
      "embedding_backward",
      [](IdArray ids, FloatArray d_out, pyb::ssize_t vocab) {
        const auto dim = d_out.ndim() == 0 ? 0 : d_out.shape(d_out.ndim() - 1);
        expect_dim("embedding_backward", "d_out size", d_out.size(), ids.size() * dim);
        FloatArray d_table({vocab, dim});
        float* dt = d_table.mutable_data();
        pyb::gil_scoped_release nogil;
        embedding_backward(ids.data(), ids.size(), d_out.data(), vocab, dim, dt);
        return d_table;
      },
      pyb::arg("ids"), pyb::arg("d_out"), pyb::arg("vocab"), "scatter-add of d_out rows into a (vocab, dim) zero table");
}

void bind_pooling(pyb::module_& m) {
  m.def(
      "global_average_pool_1d_forward",
      [](FloatArray x, std::optional<MaskArray> mask) {
        expect_ndim("global_average_pool_1d_forward", "x", x, 3);
        const std::uint8_t* mk = optional_mask("global_average_pool_1d_forward", mask, x.shape(0), x.shape(1));
        FloatArray out({x.shape(0), x.shape(2)});
        float* o = out.mutable_data();
        pyb::gil_scoped_release nogil;
        global_average_pool_1d_forward(x.data(), mk, x.shape(0), x.shape(1), x.shape(2), o);
        return out;
      },
      pyb::arg("x"), pyb::arg("mask") = pyb::none());
  m.def(
      "global_average_pool_1d_backward",
      [](FloatArray d_out, std::optional<MaskArray> mask, pyb::ssize_t steps) {
        expect_ndim("global_average_pool_1d_backward", "d_out", d_out, 2);
        const std::uint8_t* mk = optional_mask("global_average_pool_1d_backward", mask, d_out.shape(0), steps);
        FloatArray d_x({d_out.shape(0), steps, d_out.shape(1)});
        float* dx = d_x.mutable_data();
        pyb::gil_scoped_release nogil;
        global_average_pool_1d_backward(d_out.data(), mk, d_out.shape(0), steps, d_out.shape(1), dx);
        return d_x;
      },
      pyb::arg("d_out"), pyb::arg("mask"), pyb::arg("steps"));
  m.def(
      "global_max_pool_1d_forward",
      [](FloatArray x) {
        expect_ndim("global_max_pool_1d_forward", "x", x, 3);
        FloatArray out({x.shape(0), x.shape(2)});
        IdArray argmax({x.shape(0), x.shape(2)});
        float* o = out.mutable_data();
        std::int64_t* a = argmax.mutable_data();
        {
          pyb::gil_scoped_release nogil;
          global_max_pool_1d_forward(x.data(), x.shape(0), x.shape(1), x.shape(2), o, a);
        }
        return pyb::make_tuple(out, argmax);
      },
      pyb::arg("x"), "(max over axis 1, argmax step per (batch, feature))");
  m.def(
      "global_max_pool_1d_backward",
      [](FloatArray d_out, IdArray argmax, pyb::ssize_t steps) {
        expect_ndim("global_max_pool_1d_backward", "d_out", d_out, 2);
        expect_ndim("global_max_pool_1d_backward", "argmax", argmax, 2);
        expect_dim("global_max_pool_1d_backward", "argmax batch", argmax.shape(0), d_out.shape(0));
        expect_dim("global_max_pool_1d_backward", "argmax features", argmax.shape(1), d_out.shape(1));
        FloatArray d_x({d_out.shape(0), steps, d_out.shape(1)});
        float* dx = d_x.mutable_data();
        pyb::gil_scoped_release nogil;
        global_max_pool_1d_backward(d_out.data(), argmax.data(), d_out.shape(0), steps, d_out.shape(1), dx);
        return d_x;
      },
      pyb::arg("d_out"), pyb::arg("argmax"), pyb::arg("steps"));
}
// The window of x's steps axis (x is (batch, steps, channels)).
Window1d window_over(const char* fn, const FloatArray& x, std::int64_t size, std::int64_t stride,
                     std::int64_t dilation, const std::string& padding) {
  expect_ndim(fn, "x", x, 3);
  return window_1d(x.shape(1), size, stride, dilation, padding);
}

using ConvForward = void (*)(const float*, const float*, const float*, std::int64_t, std::int64_t, std::int64_t,
                             std::int64_t, const Window1d&, float*);
using ConvBackward = void (*)(const float*, const float*, const float*, std::int64_t, std::int64_t, std::int64_t,
                              std::int64_t, const Window1d&, float*, float*, float*);

// <name>_forward and <name>_backward of a convolution whose kernel is (size, channels, k): Conv1D (k filters, as
// many output channels) or DepthwiseConv1D (k = multiplier, channels * k output channels).
void bind_conv_pair(pyb::module_& m, const std::string& name, ConvForward forward, ConvBackward backward,
                    bool depthwise, const char* doc) {
  const std::string forward_name = name + "_forward", backward_name = name + "_backward";
  const auto output_channels = [depthwise](const FloatArray& kernel) {
    return depthwise ? kernel.shape(1) * kernel.shape(2) : kernel.shape(2);
  };
  m.def(
      forward_name.c_str(),
      [=](FloatArray x, FloatArray kernel, std::optional<FloatArray> bias, std::int64_t stride,
          std::int64_t dilation, const std::string& padding) {
        const char* fn = forward_name.c_str();
        expect_ndim(fn, "kernel", kernel, 3);
        const Window1d w = window_over(fn, x, kernel.shape(0), stride, dilation, padding);
        expect_dim(fn, "kernel input channels", kernel.shape(1), x.shape(2));
        const pyb::ssize_t out_channels = output_channels(kernel);
        if (bias) expect_dim(fn, "bias size", bias->size(), out_channels);
        FloatArray y({x.shape(0), static_cast<pyb::ssize_t>(w.steps_out), out_channels});
        const float* b = bias ? bias->data() : nullptr;
        float* out = y.mutable_data();
        pyb::gil_scoped_release nogil;
        forward(x.data(), kernel.data(), b, x.shape(0), x.shape(1), x.shape(2), kernel.shape(2), w, out);
        return y;
      },
      pyb::arg("x"), pyb::arg("kernel"), pyb::arg("bias"), pyb::arg("stride"), pyb::arg("dilation"),
      pyb::arg("padding"), doc);
  m.def(
      backward_name.c_str(),
      [=](FloatArray x, FloatArray kernel, FloatArray d_y, std::int64_t stride, std::int64_t dilation,
          const std::string& padding, bool with_bias) {
        const char* fn = backward_name.c_str();
        expect_ndim(fn, "kernel", kernel, 3);
        const Window1d w = window_over(fn, x, kernel.shape(0), stride, dilation, padding);
        expect_dim(fn, "kernel input channels", kernel.shape(1), x.shape(2));
        const pyb::ssize_t out_channels = output_channels(kernel);
        expect_ndim(fn, "d_y", d_y, 3);
        expect_dim(fn, "d_y batch", d_y.shape(0), x.shape(0));
        expect_dim(fn, "d_y steps", d_y.shape(1), w.steps_out);
        expect_dim(fn, "d_y channels", d_y.shape(2), out_channels);
        FloatArray d_x({x.shape(0), x.shape(1), x.shape(2)});
        FloatArray d_kernel({kernel.shape(0), kernel.shape(1), kernel.shape(2)});
        std::optional<FloatArray> d_bias;
        if (with_bias) d_bias.emplace(std::vector<pyb::ssize_t>{out_channels});
        float* dx = d_x.mutable_data();
        float* dk = d_kernel.mutable_data();
        float* db = d_bias ? d_bias->mutable_data() : nullptr;
        {
          pyb::gil_scoped_release nogil;
          backward(x.data(), kernel.data(), d_y.data(), x.shape(0), x.shape(1), x.shape(2), kernel.shape(2), w, dx,
                   dk, db);
        }
        return pyb::make_tuple(d_x, d_kernel, d_bias ? pyb::object(*d_bias) : pyb::none());
      },
      pyb::arg("x"), pyb::arg("kernel"), pyb::arg("d_y"), pyb::arg("stride"), pyb::arg("dilation"),
      pyb::arg("padding"), pyb::arg("with_bias"), ("(d_x, d_kernel, d_bias or None) of " + forward_name + ".").c_str());
}

// Keras' Conv1DTranspose; output_padding None is Keras' default.
TransposedWindow1d transposed_window_over(const char* fn, const FloatArray& x, const FloatArray& kernel,
                                          std::int64_t stride, std::int64_t dilation, const std::string& padding,
                                          std::optional<std::int64_t> output_padding) {
  expect_ndim(fn, "x", x, 3);
  expect_ndim(fn, "kernel", kernel, 3);
  expect_dim(fn, "kernel input channels", kernel.shape(2), x.shape(2));
  return conv1d_transpose_window(x.shape(1), kernel.shape(0), stride, dilation, padding, output_padding.value_or(-1));
}

void bind_conv_transpose(pyb::module_& m) {
  m.def(
      "conv1d_transpose_steps_out",
      [](std::int64_t steps, std::int64_t size, std::int64_t stride, std::int64_t dilation, const std::string& padding,
         std::optional<std::int64_t> output_padding) {
        return conv1d_transpose_window(steps, size, stride, dilation, padding, output_padding.value_or(-1)).steps;
      },
      pyb::arg("steps"), pyb::arg("size"), pyb::arg("stride"), pyb::arg("dilation"), pyb::arg("padding"),
      pyb::arg("output_padding"), "Output steps of Keras' Conv1DTranspose (output_padding None: Keras' default).");
  m.def(
      "conv1d_transpose_forward",
      [](FloatArray x, FloatArray kernel, std::optional<FloatArray> bias, std::int64_t stride, std::int64_t dilation,
         const std::string& padding, std::optional<std::int64_t> output_padding) {
        const char* fn = "conv1d_transpose_forward";
        const TransposedWindow1d w = transposed_window_over(fn, x, kernel, stride, dilation, padding, output_padding);
        if (bias) expect_dim(fn, "bias size", bias->size(), kernel.shape(1));
        FloatArray y({x.shape(0), static_cast<pyb::ssize_t>(w.steps), kernel.shape(1)});
        const float* b = bias ? bias->data() : nullptr;
        float* out = y.mutable_data();
        pyb::gil_scoped_release nogil;
        conv1d_transpose_forward(x.data(), kernel.data(), b, x.shape(0), x.shape(2), kernel.shape(1), w, out);
        return y;
      },
      pyb::arg("x"), pyb::arg("kernel"), pyb::arg("bias"), pyb::arg("stride"), pyb::arg("dilation"),
      pyb::arg("padding"), pyb::arg("output_padding"),
      "Keras' Conv1DTranspose on (batch, steps, channels) with kernel (size, filters, channels).");
  m.def(
      "conv1d_transpose_backward",
      [](FloatArray x, FloatArray kernel, FloatArray d_y, std::int64_t stride, std::int64_t dilation,
         const std::string& padding, std::optional<std::int64_t> output_padding, bool with_bias) {
        const char* fn = "conv1d_transpose_backward";
        const TransposedWindow1d w = transposed_window_over(fn, x, kernel, stride, dilation, padding, output_padding);
        expect_ndim(fn, "d_y", d_y, 3);
        expect_dim(fn, "d_y batch", d_y.shape(0), x.shape(0));
        expect_dim(fn, "d_y steps", d_y.shape(1), w.steps);
        expect_dim(fn, "d_y channels", d_y.shape(2), kernel.shape(1));
        FloatArray d_x({x.shape(0), x.shape(1), x.shape(2)});
        FloatArray d_kernel({kernel.shape(0), kernel.shape(1), kernel.shape(2)});
        std::optional<FloatArray> d_bias;
        if (with_bias) d_bias.emplace(std::vector<pyb::ssize_t>{kernel.shape(1)});
        float* dx = d_x.mutable_data();
        float* dk = d_kernel.mutable_data();
        float* db = d_bias ? d_bias->mutable_data() : nullptr;
        {
          pyb::gil_scoped_release nogil;
          conv1d_transpose_backward(x.data(), kernel.data(), d_y.data(), x.shape(0), x.shape(2), kernel.shape(1), w,
                                    dx, dk, db);
        }
        return pyb::make_tuple(d_x, d_kernel, d_bias ? pyb::object(*d_bias) : pyb::none());
      },
      pyb::arg("x"), pyb::arg("kernel"), pyb::arg("d_y"), pyb::arg("stride"), pyb::arg("dilation"),
      pyb::arg("padding"), pyb::arg("output_padding"), pyb::arg("with_bias"),
      "(d_x, d_kernel, d_bias or None) of conv1d_transpose_forward.");
}

void bind_convolution(pyb::module_& m) {
  m.def(
      "window_steps_out",
      [](std::int64_t steps, std::int64_t size, std::int64_t stride, std::int64_t dilation,
         const std::string& padding) { return window_1d(steps, size, stride, dilation, padding).steps_out; },
      pyb::arg("steps"), pyb::arg("size"), pyb::arg("stride"), pyb::arg("dilation"), pyb::arg("padding"),
      "Output steps of a 1-D window under Keras' padding ('valid', 'same', 'causal').");
  bind_conv_pair(m, "conv1d", conv1d_forward, conv1d_backward, false,
                 "Keras' Conv1D on (batch, steps, channels) with kernel (size, channels, filters).");
  bind_conv_pair(m, "depthwise_conv1d", depthwise_conv1d_forward, depthwise_conv1d_backward, true,
                 "Keras' DepthwiseConv1D on (batch, steps, channels) with kernel (size, channels, multiplier).");
  m.def(
      "max_pool_1d_forward",
      [](FloatArray x, std::int64_t pool_size, std::int64_t stride, const std::string& padding, bool with_argmax) {
        const Window1d w = window_over("max_pool_1d_forward", x, pool_size, stride, 1, padding);
        FloatArray y({x.shape(0), static_cast<pyb::ssize_t>(w.steps_out), x.shape(2)});
        std::optional<IdArray> argmax;
        if (with_argmax) argmax.emplace(std::vector<pyb::ssize_t>{x.shape(0), w.steps_out, x.shape(2)});
        float* out = y.mutable_data();
        std::int64_t* where = argmax ? argmax->mutable_data() : nullptr;
        {
          pyb::gil_scoped_release nogil;
          max_pool_1d_forward(x.data(), x.shape(0), x.shape(1), x.shape(2), w, out, where);
        }
        return pyb::make_tuple(y, argmax ? pyb::object(*argmax) : pyb::none());
      },
      pyb::arg("x"), pyb::arg("pool_size"), pyb::arg("stride"), pyb::arg("padding"), pyb::arg("with_argmax") = true,
      "(Keras' MaxPooling1D of (batch, steps, channels), the step each maximum came from, or None).");
  m.def(
      "max_pool_1d_backward",
      [](FloatArray d_y, IdArray argmax, std::int64_t steps, std::int64_t pool_size, std::int64_t stride,
         const std::string& padding) {
        expect_ndim("max_pool_1d_backward", "d_y", d_y, 3);
        const Window1d w = window_1d(steps, pool_size, stride, 1, padding);
        expect_dim("max_pool_1d_backward", "d_y steps", d_y.shape(1), w.steps_out);
        expect_ndim("max_pool_1d_backward", "argmax", argmax, 3);
        for (int axis = 0; axis < 3; ++axis) expect_dim("max_pool_1d_backward", "argmax shape", argmax.shape(axis),
                                                        d_y.shape(axis));
        FloatArray d_x({d_y.shape(0), static_cast<pyb::ssize_t>(steps), d_y.shape(2)});
        float* dx = d_x.mutable_data();
        pyb::gil_scoped_release nogil;
        max_pool_1d_backward(d_y.data(), argmax.data(), d_y.shape(0), steps, d_y.shape(2), w, dx);
        return d_x;
      },
      pyb::arg("d_y"), pyb::arg("argmax"), pyb::arg("steps"), pyb::arg("pool_size"), pyb::arg("stride"),
      pyb::arg("padding"));
  m.def(
      "average_pool_1d_forward",
      [](FloatArray x, std::int64_t pool_size, std::int64_t stride, const std::string& padding) {
        const Window1d w = window_over("average_pool_1d_forward", x, pool_size, stride, 1, padding);
        FloatArray y({x.shape(0), static_cast<pyb::ssize_t>(w.steps_out), x.shape(2)});
        float* out = y.mutable_data();
        pyb::gil_scoped_release nogil;
        average_pool_1d_forward(x.data(), x.shape(0), x.shape(1), x.shape(2), w, out);
        return y;
      },
      pyb::arg("x"), pyb::arg("pool_size"), pyb::arg("stride"), pyb::arg("padding"),
      "Keras' AveragePooling1D of (batch, steps, channels); padded steps are not counted.");
  m.def(
      "average_pool_1d_backward",
      [](FloatArray d_y, std::int64_t steps, std::int64_t pool_size, std::int64_t stride,
         const std::string& padding) {
        expect_ndim("average_pool_1d_backward", "d_y", d_y, 3);
        const Window1d w = window_1d(steps, pool_size, stride, 1, padding);
        expect_dim("average_pool_1d_backward", "d_y steps", d_y.shape(1), w.steps_out);
        FloatArray d_x({d_y.shape(0), static_cast<pyb::ssize_t>(steps), d_y.shape(2)});
        float* dx = d_x.mutable_data();
        pyb::gil_scoped_release nogil;
        average_pool_1d_backward(d_y.data(), d_y.shape(0), steps, d_y.shape(2), w, dx);
        return d_x;
      },
      pyb::arg("d_y"), pyb::arg("steps"), pyb::arg("pool_size"), pyb::arg("stride"), pyb::arg("padding"));
}
// x as (rows, channels), and the optional per-row weights (a flattened mask) checked against it.
const float* optional_row_weight(const char* fn, const FloatArray& x, const std::optional<FloatArray>& row_weight) {
  expect_ndim(fn, "x", x, 2);
  if (!row_weight) return nullptr;
  expect_ndim(fn, "row_weight", *row_weight, 1);
  expect_dim(fn, "row_weight size", row_weight->shape(0), x.shape(0));
  return row_weight->data();
}

void expect_channel_vector(const char* fn, const char* what, const FloatArray& v, pyb::ssize_t channels) {
  expect_ndim(fn, what, v, 1);
  expect_dim(fn, what, v.shape(0), channels);
}

void bind_batch_norm(pyb::module_& m) {
  m.def(
      "batch_norm_moments",
      [](FloatArray x, std::optional<FloatArray> row_weight) {
        const float* w = optional_row_weight("batch_norm_moments", x, row_weight);
        FloatArray mean({x.shape(1)}), variance({x.shape(1)});
        float* mu = mean.mutable_data();
        float* var = variance.mutable_data();
        {
          pyb::gil_scoped_release nogil;
          batch_norm_moments(x.data(), w, x.shape(0), x.shape(1), mu, var);
        }
        return pyb::make_tuple(mean, variance);
      },
      pyb::arg("x"), pyb::arg("row_weight"), "(mean, biased variance) per channel of x (rows, channels).");
  m.def(
      "batch_norm_forward",
      [](FloatArray x, FloatArray mean, FloatArray variance, std::optional<FloatArray> gamma,
         std::optional<FloatArray> beta, float epsilon) {
        expect_ndim("batch_norm_forward", "x", x, 2);
        const pyb::ssize_t channels = x.shape(1);
        expect_channel_vector("batch_norm_forward", "mean", mean, channels);
        expect_channel_vector("batch_norm_forward", "variance", variance, channels);
        if (gamma) expect_channel_vector("batch_norm_forward", "gamma", *gamma, channels);
        if (beta) expect_channel_vector("batch_norm_forward", "beta", *beta, channels);
        FloatArray y({x.shape(0), channels});
        const float* g = gamma ? gamma->data() : nullptr;
        const float* b = beta ? beta->data() : nullptr;
        float* out = y.mutable_data();
        pyb::gil_scoped_release nogil;
        batch_norm_forward(x.data(), mean.data(), variance.data(), g, b, epsilon, x.shape(0), channels, out);
        return y;
      },
      pyb::arg("x"), pyb::arg("mean"), pyb::arg("variance"), pyb::arg("gamma"), pyb::arg("beta"),
      pyb::arg("epsilon"));
  m.def(
      "batch_norm_backward",
      [](FloatArray x, FloatArray mean, FloatArray variance, std::optional<FloatArray> gamma,
         std::optional<FloatArray> row_weight, bool batch_statistics, float epsilon, FloatArray d_y, bool with_beta) {
        const float* w = optional_row_weight("batch_norm_backward", x, row_weight);
        const pyb::ssize_t channels = x.shape(1);
        expect_channel_vector("batch_norm_backward", "mean", mean, channels);
        expect_channel_vector("batch_norm_backward", "variance", variance, channels);
        if (gamma) expect_channel_vector("batch_norm_backward", "gamma", *gamma, channels);
        expect_ndim("batch_norm_backward", "d_y", d_y, 2);
        expect_dim("batch_norm_backward", "d_y rows", d_y.shape(0), x.shape(0));
        expect_dim("batch_norm_backward", "d_y channels", d_y.shape(1), channels);
        FloatArray d_x({x.shape(0), channels});
        std::optional<FloatArray> d_gamma, d_beta;
        if (gamma) d_gamma.emplace(std::vector<pyb::ssize_t>{channels});
        if (with_beta) d_beta.emplace(std::vector<pyb::ssize_t>{channels});
        const float* g = gamma ? gamma->data() : nullptr;
        float* dx = d_x.mutable_data();
        float* dg = d_gamma ? d_gamma->mutable_data() : nullptr;
        float* db = d_beta ? d_beta->mutable_data() : nullptr;
        {
          pyb::gil_scoped_release nogil;
          batch_norm_backward(x.data(), mean.data(), variance.data(), g, w, batch_statistics, epsilon, x.shape(0),
                              channels, d_y.data(), dx, dg, db);
        }
        return pyb::make_tuple(d_x, d_gamma ? pyb::object(*d_gamma) : pyb::none(),
                               d_beta ? pyb::object(*d_beta) : pyb::none());
      },
      pyb::arg("x"), pyb::arg("mean"), pyb::arg("variance"), pyb::arg("gamma"), pyb::arg("row_weight"),
      pyb::arg("batch_statistics"), pyb::arg("epsilon"), pyb::arg("d_y"), pyb::arg("with_beta"),
      "(d_x, d_gamma or None when gamma is None, d_beta or None) of batch_norm_forward.");
}

void bind_group_norm(pyb::module_& m) {
  m.def(
      "group_norm_forward",
      [](FloatArray x, std::optional<FloatArray> gamma, std::optional<FloatArray> beta, std::int64_t groups,
         float epsilon) {
        const char* fn = "group_norm_forward";
        expect_ndim(fn, "x", x, 3);
        const pyb::ssize_t channels = x.shape(2);
        if (gamma) expect_channel_vector(fn, "gamma", *gamma, channels);
        if (beta) expect_channel_vector(fn, "beta", *beta, channels);
        FloatArray y({x.shape(0), x.shape(1), channels}), mean({x.shape(0), static_cast<pyb::ssize_t>(groups)}),
            inv_std({x.shape(0), static_cast<pyb::ssize_t>(groups)});
        const float *g = gamma ? gamma->data() : nullptr, *b = beta ? beta->data() : nullptr;
        float *out = y.mutable_data(), *mu = mean.mutable_data(), *inv = inv_std.mutable_data();
        {
          pyb::gil_scoped_release nogil;
          group_norm_forward(x.data(), g, b, x.shape(0), x.shape(1), channels, groups, epsilon, out, mu, inv);
        }
        return pyb::make_tuple(y, mean, inv_std);
      },
      pyb::arg("x"), pyb::arg("gamma"), pyb::arg("beta"), pyb::arg("groups"), pyb::arg("epsilon"),
      "(y, mean, inv_std) of GroupNormalization over x (batch, positions, channels).");
  m.def(
      "group_norm_backward",
      [](FloatArray x, std::optional<FloatArray> gamma, FloatArray mean, FloatArray inv_std, FloatArray d_y,
         bool with_beta) {
        const char* fn = "group_norm_backward";
        expect_ndim(fn, "x", x, 3);
        expect_ndim(fn, "mean", mean, 2);
        const pyb::ssize_t channels = x.shape(2), groups = mean.shape(1);
        if (gamma) expect_channel_vector(fn, "gamma", *gamma, channels);
        expect_dim(fn, "mean rows", mean.shape(0), x.shape(0));
        expect_dim(fn, "inv_std size", inv_std.size(), mean.size());
        expect_ndim(fn, "d_y", d_y, 3);
        for (int axis = 0; axis < 3; ++axis) expect_dim(fn, "d_y shape", d_y.shape(axis), x.shape(axis));
        FloatArray d_x({x.shape(0), x.shape(1), channels});
        std::optional<FloatArray> d_gamma, d_beta;
        if (gamma) d_gamma.emplace(std::vector<pyb::ssize_t>{channels});
        if (with_beta) d_beta.emplace(std::vector<pyb::ssize_t>{channels});
        const float* g = gamma ? gamma->data() : nullptr;
        float *dx = d_x.mutable_data(), *dg = d_gamma ? d_gamma->mutable_data() : nullptr;
        float* db = d_beta ? d_beta->mutable_data() : nullptr;
        {
          pyb::gil_scoped_release nogil;
          group_norm_backward(x.data(), g, mean.data(), inv_std.data(), d_y.data(), x.shape(0), x.shape(1), channels,
                              groups, dx, dg, db);
        }
        return pyb::make_tuple(d_x, d_gamma ? pyb::object(*d_gamma) : pyb::none(),
                               d_beta ? pyb::object(*d_beta) : pyb::none());
      },
      pyb::arg("x"), pyb::arg("gamma"), pyb::arg("mean"), pyb::arg("inv_std"), pyb::arg("d_y"), pyb::arg("with_beta"),
      "(d_x, d_gamma or None, d_beta or None) of group_norm_forward.");
}

// Checked before the output is allocated, which a negative size would make fail obscurely.
void expect_positive(const char* fn, const char* what, std::int64_t value) {
  if (value <= 0)
    throw pyb::value_error(std::string(fn) + ": expected " + what + " > 0, received " + std::to_string(value));
}

void bind_adaptive_pooling(pyb::module_& m) {
  m.def(
      "adaptive_average_pool_1d_forward",
      [](FloatArray x, std::int64_t steps_out) {
        expect_ndim("adaptive_average_pool_1d_forward", "x", x, 3);
        expect_positive("adaptive_average_pool_1d_forward", "steps_out", steps_out);
        FloatArray y({x.shape(0), static_cast<pyb::ssize_t>(steps_out), x.shape(2)});
        float* out = y.mutable_data();
        pyb::gil_scoped_release nogil;
        adaptive_average_pool_1d_forward(x.data(), x.shape(0), x.shape(1), x.shape(2), steps_out, out);
        return y;
      },
      pyb::arg("x"), pyb::arg("steps_out"), "Keras' AdaptiveAveragePooling1D of (batch, steps, channels).");
  m.def(
      "adaptive_average_pool_1d_backward",
      [](FloatArray d_y, std::int64_t steps) {
        expect_ndim("adaptive_average_pool_1d_backward", "d_y", d_y, 3);
        expect_positive("adaptive_average_pool_1d_backward", "steps", steps);
        FloatArray d_x({d_y.shape(0), static_cast<pyb::ssize_t>(steps), d_y.shape(2)});
        float* dx = d_x.mutable_data();
        pyb::gil_scoped_release nogil;
        adaptive_average_pool_1d_backward(d_y.data(), d_y.shape(0), steps, d_y.shape(2), d_y.shape(1), dx);
        return d_x;
      },
      pyb::arg("d_y"), pyb::arg("steps"));
  m.def(
      "adaptive_max_pool_1d_forward",
      [](FloatArray x, std::int64_t steps_out, bool with_argmax) {
        expect_ndim("adaptive_max_pool_1d_forward", "x", x, 3);
        expect_positive("adaptive_max_pool_1d_forward", "steps_out", steps_out);
        const std::vector<pyb::ssize_t> shape{x.shape(0), static_cast<pyb::ssize_t>(steps_out), x.shape(2)};
        FloatArray y(shape);
        std::optional<IdArray> argmax;
        if (with_argmax) argmax.emplace(shape);
        float* out = y.mutable_data();
        std::int64_t* where = argmax ? argmax->mutable_data() : nullptr;
        {
          pyb::gil_scoped_release nogil;
          adaptive_max_pool_1d_forward(x.data(), x.shape(0), x.shape(1), x.shape(2), steps_out, out, where);
        }
        return pyb::make_tuple(y, argmax ? pyb::object(*argmax) : pyb::none());
      },
      pyb::arg("x"), pyb::arg("steps_out"), pyb::arg("with_argmax") = true,
      "(Keras' AdaptiveMaxPooling1D of (batch, steps, channels), the step each maximum came from, or None).");
  m.def(
      "adaptive_max_pool_1d_backward",
      [](FloatArray d_y, IdArray argmax, std::int64_t steps) {
        const char* fn = "adaptive_max_pool_1d_backward";
        expect_ndim(fn, "d_y", d_y, 3);
        expect_ndim(fn, "argmax", argmax, 3);
        for (int axis = 0; axis < 3; ++axis) expect_dim(fn, "argmax shape", argmax.shape(axis), d_y.shape(axis));
        expect_positive(fn, "steps", steps);
        FloatArray d_x({d_y.shape(0), static_cast<pyb::ssize_t>(steps), d_y.shape(2)});
        float* dx = d_x.mutable_data();
        pyb::gil_scoped_release nogil;
        adaptive_max_pool_1d_backward(d_y.data(), argmax.data(), d_y.shape(0), steps, d_y.shape(2), d_y.shape(1), dx);
        return d_x;
      },
      pyb::arg("d_y"), pyb::arg("argmax"), pyb::arg("steps"));
}
}  // namespace

void bind_nn(pyb::module_& m) {
  bind_activations(m);
  bind_dense(m);
  bind_embedding(m);
  bind_pooling(m);
  bind_convolution(m);
  bind_conv_transpose(m);
  bind_batch_norm(m);
  bind_group_norm(m);
  bind_adaptive_pooling(m);
}

}  // namespace rnnkit::py
