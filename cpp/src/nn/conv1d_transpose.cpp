// Conv1DTranspose over (batch, steps, channels): the adjoint of the strided, dilated Conv1D described by
// TransposedWindow1d::conv. The forward multiplies every input step by the whole kernel in one GEMM (x · Wᵀ, one
// column block per tap) and then lets each output step gather the taps that land on it, so no two threads ever add
// into the same output element and the sums run in tap order whatever the thread count. The backward is that
// Conv1D itself: d_x is the Conv1D of d_y, d_kernel the Conv1D's own kernel gradient with x in the role of d_y.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "kernels/aligned_buffers.hpp"
#include "kernels/flush_denormals.hpp"
#include "rnnkit/checked.hpp"
#include "rnnkit/gemm.hpp"
#include "rnnkit/layer_ops.hpp"
#include "rnnkit/runtime.hpp"

namespace rnnkit {

namespace {

void check_sizes(const char* fn, std::int64_t batch, std::int64_t channels, std::int64_t filters,
                 const TransposedWindow1d& w) {
  const Window1d& c = w.conv;
  if (batch < 0 || channels < 0 || filters < 0 || w.steps < 0 || c.size <= 0 || c.stride <= 0 || c.dilation <= 0 ||
      c.pad_left < 0 || c.steps_out < 0)
    throw std::invalid_argument(std::string(fn) + ": sizes must be >= 0 and the window's size, stride and dilation "
                                "positive");
  checked_mul(batch, c.steps_out, c.size, filters, fn);
  checked_mul(batch, c.steps_out, channels, fn);
  checked_mul(batch, w.steps, filters, fn);
  checked_mul(c.size, filters, channels, fn);
}

int threads_for(std::int64_t work_items) {
  return static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(num_threads(), work_items)));
}

}  // namespace

TransposedWindow1d conv1d_transpose_window(std::int64_t input_steps, std::int64_t size, std::int64_t stride,
                                           std::int64_t dilation, const std::string& padding,
                                           std::int64_t output_padding) {
  if (input_steps < 1 || size <= 0 || stride <= 0 || dilation <= 0)
    throw std::invalid_argument("conv1d_transpose_window: expected input_steps >= 1 and positive size, stride and "
                                "dilation, received input_steps=" + std::to_string(input_steps) + " size=" +
                                std::to_string(size) + " stride=" + std::to_string(stride) + " dilation=" +
                                std::to_string(dilation));
  if (output_padding >= stride)
    throw std::invalid_argument("conv1d_transpose_window: output_padding must be less than the stride, received " +
                                std::to_string(output_padding) + " with stride " + std::to_string(stride));
  const std::int64_t span = checked_mul(dilation, size - 1, "conv1d_transpose_window") + 1;
  const bool keras_default = output_padding < 0;
  // Keras pads the stride-dilated input by (left, right) before the span-wide correlation (JAX's lax padding;
  // its torch backend crops the full output to the same window). The full output starts span - 1 - left earlier.
  std::int64_t total;
  if (padding == "valid")
    total = 2 * (span - 1) + (keras_default ? std::max(span, stride) - span : output_padding);
  else if (padding == "same")
    total = keras_default ? stride + span - 2 : span + span % 2 - 2 + output_padding;
  else
    throw std::invalid_argument("conv1d_transpose_window: padding must be 'valid' or 'same', received '" + padding +
                                "'");
  const std::int64_t left = std::min((total + 1) / 2, span - 1);  // ceil(total / 2); total >= -1
  const std::int64_t steps = checked_mul(input_steps - 1, stride, "conv1d_transpose_window") - span + 2 + total;
  return {{size, stride, dilation, span - 1 - left, input_steps}, steps};
}

void conv1d_transpose_forward(const float* x, const float* kernel, const float* bias, std::int64_t batch,
                              std::int64_t channels, std::int64_t filters, const TransposedWindow1d& window,
                              float* y) {
  check_sizes("conv1d_transpose_forward", batch, channels, filters, window);
  const Window1d& conv = window.conv;
  const std::int64_t rows = batch * conv.steps_out, width = conv.size * filters, out_rows = batch * window.steps;
  const KeptFloats taps(rows * width, "conv1d_transpose taps");  // taps[(b, i), (k, f)], beta 0 writes them all
  if (rows > 0 && width > 0)
    sgemm(Trans::no, Trans::yes, rows, width, channels, 1.0f, x, channels, kernel, channels, 0.0f, taps.get(),
          width);
#pragma omp parallel num_threads(threads_for(out_rows))
  {
    const FlushDenormals flush;
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < out_rows; ++r) {
      const std::int64_t b = r / window.steps, p = r % window.steps;
      float* y_row = y + r * filters;
      for (std::int64_t f = 0; f < filters; ++f) y_row[f] = bias ? bias[f] : 0.0f;
      for (std::int64_t k = 0; k < conv.size; ++k) {
        const std::int64_t strided = p + conv.pad_left - k * conv.dilation;  // i * stride for an input step i
        if (strided < 0 || strided % conv.stride != 0 || strided / conv.stride >= conv.steps_out) continue;
        const float* tap = taps.get() + (b * conv.steps_out + strided / conv.stride) * width + k * filters;
        for (std::int64_t f = 0; f < filters; ++f) y_row[f] += tap[f];
      }
    }
  }
}

void conv1d_transpose_backward(const float* x, const float* kernel, const float* d_y, std::int64_t batch,
                               std::int64_t channels, std::int64_t filters, const TransposedWindow1d& window,
                               float* d_x, float* d_kernel, float* d_bias) {
  check_sizes("conv1d_transpose_backward", batch, channels, filters, window);
  // Keras' [size, filters, channels] kernel is the Conv1D's [size, its channels, its filters] read as it stands.
  if (d_x) conv1d_forward(d_y, kernel, nullptr, batch, window.steps, filters, channels, window.conv, d_x);
  conv1d_backward(d_y, kernel, x, batch, window.steps, filters, channels, window.conv, nullptr, d_kernel, nullptr);
  if (!d_bias) return;
  std::fill(d_bias, d_bias + filters, 0.0f);
  for (std::int64_t r = 0; r < batch * window.steps; ++r)
    for (std::int64_t f = 0; f < filters; ++f) d_bias[f] += d_y[r * filters + f];
}

}  // namespace rnnkit
