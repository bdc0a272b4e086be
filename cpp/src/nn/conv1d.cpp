// Conv1D over (batch, steps, channels) as one GEMM: the windows unrolled into rows (im2col, [batch * steps_out]
// x [size * channels]) times the kernel [size * channels] x [filters], which is Keras' kernel layout read flat.
// The backward is the same GEMM's two transposes and the rows folded back onto the steps (col2im).
#include <algorithm>
#include <stdexcept>
#include <string>

#include "kernels/aligned_buffers.hpp"
#include "rnnkit/checked.hpp"
#include "rnnkit/gemm.hpp"
#include "rnnkit/layer_ops.hpp"

namespace rnnkit {

namespace {

std::int64_t window_steps_out(std::int64_t padded_steps, std::int64_t span, std::int64_t stride) {
  return padded_steps < span ? 0 : (padded_steps - span) / stride + 1;
}

void check_conv_sizes(const char* fn, std::int64_t batch, std::int64_t steps, std::int64_t channels,
                      std::int64_t filters, const Window1d& w) {
  if (batch < 0 || steps < 0 || channels < 0 || filters < 0 || w.size <= 0 || w.stride <= 0 || w.dilation <= 0 ||
      w.pad_left < 0 || w.steps_out < 0)
    throw std::invalid_argument(std::string(fn) + ": sizes must be >= 0 and the window's size, stride and dilation "
                                "positive");
  checked_mul(checked_mul(batch, w.steps_out, fn), checked_mul(w.size, channels, fn), fn);
  checked_mul(checked_mul(batch, steps, fn), channels, fn);
  checked_mul(checked_mul(w.size, channels, fn), filters, fn);
}

// The step of x under tap k of output step t (may fall outside [0, steps)).
std::int64_t tap_step(const Window1d& w, std::int64_t t, std::int64_t k) {
  return t * w.stride - w.pad_left + k * w.dilation;
}

// rows[(b, t), (k, c)] = x[b, tap_step(t, k), c], zeros where the tap falls outside x.
// Kept blocks (aligned_buffers.hpp): megabytes of fresh memory per call would page-fault in anew each time.
KeptFloats unroll_windows(const float* x, std::int64_t batch, std::int64_t steps, std::int64_t channels,
                          const Window1d& w) {
  const std::int64_t width = w.size * channels;
  KeptFloats rows(batch * w.steps_out * width, "conv1d unrolled windows");
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t t = 0; t < w.steps_out; ++t) {
      float* row = rows.get() + (b * w.steps_out + t) * width;
      for (std::int64_t k = 0; k < w.size; ++k) {
        const std::int64_t s = tap_step(w, t, k);
        float* out = row + k * channels;
        if (s < 0 || s >= steps)
          std::fill(out, out + channels, 0.0f);
        else
          std::copy(x + (b * steps + s) * channels, x + (b * steps + s + 1) * channels, out);
      }
    }
  return rows;
}

}  // namespace

Window1d window_1d(std::int64_t steps, std::int64_t size, std::int64_t stride, std::int64_t dilation,
                   const std::string& padding) {
  if (steps < 0 || size <= 0 || stride <= 0 || dilation <= 0)
    throw std::invalid_argument("window_1d: expected steps >= 0 and positive size, stride and dilation, received "
                                "steps=" + std::to_string(steps) + " size=" + std::to_string(size) + " stride=" +
                                std::to_string(stride) + " dilation=" + std::to_string(dilation));
  const std::int64_t span = checked_mul(dilation, size - 1, "window_1d") + 1;
  if (padding == "valid") return {size, stride, dilation, 0, window_steps_out(steps, span, stride)};
  if (padding == "causal") return {size, stride, dilation, span - 1, window_steps_out(steps + span - 1, span, stride)};
  if (padding != "same")
    throw std::invalid_argument("window_1d: padding must be 'valid', 'same' or 'causal', received '" + padding + "'");
  const std::int64_t steps_out = (steps + stride - 1) / stride;
  const std::int64_t total = std::max<std::int64_t>(0, (steps_out - 1) * stride + span - steps);
  return {size, stride, dilation, total / 2, steps_out};
}

void conv1d_forward(const float* x, const float* kernel, const float* bias, std::int64_t batch, std::int64_t steps,
                    std::int64_t channels, std::int64_t filters, const Window1d& window, float* y) {
  check_conv_sizes("conv1d_forward", batch, steps, channels, filters, window);
  const std::int64_t rows = batch * window.steps_out, width = window.size * channels;
  if (rows == 0 || filters == 0) return;
  const KeptFloats unrolled = unroll_windows(x, batch, steps, channels, window);
  sgemm(Trans::no, Trans::no, rows, filters, width, 1.0f, unrolled.get(), width, kernel, filters, 0.0f, y, filters,
        bias);
}

void conv1d_backward(const float* x, const float* kernel, const float* d_y, std::int64_t batch, std::int64_t steps,
                     std::int64_t channels, std::int64_t filters, const Window1d& window, float* d_x,
                     float* d_kernel, float* d_bias) {
  check_conv_sizes("conv1d_backward", batch, steps, channels, filters, window);
  const std::int64_t rows = batch * window.steps_out, width = window.size * channels;
  if (d_x) std::fill(d_x, d_x + batch * steps * channels, 0.0f);
  if (d_bias) std::fill(d_bias, d_bias + filters, 0.0f);
  if (rows == 0 || filters == 0 || width == 0) {
    std::fill(d_kernel, d_kernel + width * filters, 0.0f);
    return;
  }
  const KeptFloats unrolled = unroll_windows(x, batch, steps, channels, window);
  sgemm(Trans::yes, Trans::no, width, filters, rows, 1.0f, unrolled.get(), width, d_y, filters, 0.0f, d_kernel,
        filters);
  if (d_bias)
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t f = 0; f < filters; ++f) d_bias[f] += d_y[r * filters + f];
  if (!d_x) return;
  const KeptFloats d_rows(rows * width, "conv1d window gradients");  // sgemm with beta 0 writes every element
  sgemm(Trans::no, Trans::yes, rows, width, filters, 1.0f, d_y, filters, kernel, filters, 0.0f, d_rows.get(), width);
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t t = 0; t < window.steps_out; ++t)
      for (std::int64_t k = 0; k < window.size; ++k) {
        const std::int64_t s = tap_step(window, t, k);
        if (s < 0 || s >= steps) continue;
        const float* from = d_rows.get() + (b * window.steps_out + t) * width + k * channels;
        float* to = d_x + (b * steps + s) * channels;
        for (std::int64_t c = 0; c < channels; ++c) to[c] += from[c];
      }
}

}  // namespace rnnkit
