// DepthwiseConv1D over (batch, steps, channels): every channel convolved with its own `multiplier` filters, no
// mixing across channels, so there is no GEMM to make: each tap is a multiply-add along a row of Keras' kernel
// (channels x multiplier, contiguous) against x's row with each channel repeated `multiplier` times.
// Forward next to backward; rows of the output (forward) and samples (the input's gradient) over OpenMP, the
// kernel's gradient summed per fixed batch slice and then in slice order, so it does not depend on the threads.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/aligned_buffers.hpp"
#include "kernels/flush_denormals.hpp"
#include "rnnkit/checked.hpp"
#include "rnnkit/layer_ops.hpp"
#include "rnnkit/runtime.hpp"

namespace rnnkit {

namespace {

constexpr std::int64_t kKernelGradientSlices = 16;

void check_sizes(const char* fn, std::int64_t batch, std::int64_t steps, std::int64_t channels,
                 std::int64_t multiplier, const Window1d& w) {
  if (batch < 0 || steps < 0 || channels < 0 || multiplier <= 0 || w.size <= 0 || w.stride <= 0 ||
      w.dilation <= 0 || w.pad_left < 0 || w.steps_out < 0)
    throw std::invalid_argument(std::string(fn) + ": sizes must be >= 0, the multiplier and the window's size, "
                                "stride and dilation positive");
  checked_mul(batch, w.steps_out, channels, multiplier, fn);
  checked_mul(batch, steps, channels, multiplier, fn);  // the repeated channels too
  checked_mul(w.size, channels, multiplier, fn);
}

int threads_for(std::int64_t work_items) {
  return static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(num_threads(), work_items)));
}

// x with each channel repeated `multiplier` times, (rows, channels * multiplier), so that every tap is one
// contiguous multiply-add along a row of the output (the loop over a channel's few filters alone did not vectorise:
// 9x slower at a multiplier of 2); x itself at a multiplier of 1.
class RepeatedChannels {
 public:
  RepeatedChannels(const float* x, std::int64_t rows, std::int64_t channels, std::int64_t multiplier)
      : data_(x) {
    if (multiplier == 1) return;
    repeated_ = KeptFloats(rows * channels * multiplier, "depthwise_conv1d repeated channels");
#pragma omp parallel for schedule(static) num_threads(threads_for(rows))
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < channels; ++c)
        for (std::int64_t j = 0; j < multiplier; ++j)
          repeated_.get()[(r * channels + c) * multiplier + j] = x[r * channels + c];
    data_ = repeated_.get();
  }
  const float* get() const { return data_; }

 private:
  KeptFloats repeated_;
  const float* data_;
};

}  // namespace

void depthwise_conv1d_forward(const float* x, const float* kernel, const float* bias, std::int64_t batch,
                              std::int64_t steps, std::int64_t channels, std::int64_t multiplier,
                              const Window1d& window, float* y) {
  check_sizes("depthwise_conv1d_forward", batch, steps, channels, multiplier, window);
  const std::int64_t rows = batch * window.steps_out, width = channels * multiplier;
  const RepeatedChannels xs(x, batch * steps, channels, multiplier);
#pragma omp parallel num_threads(threads_for(rows))
  {
    const FlushDenormals flush;
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < rows; ++r) {
      const std::int64_t b = r / window.steps_out, t = r % window.steps_out;
      float* y_row = y + r * width;
      for (std::int64_t i = 0; i < width; ++i) y_row[i] = bias ? bias[i] : 0.0f;
      for (std::int64_t k = 0; k < window.size; ++k) {
        const std::int64_t s = t * window.stride - window.pad_left + k * window.dilation;
        if (s < 0 || s >= steps) continue;
        const float *x_row = xs.get() + (b * steps + s) * width, *kernel_row = kernel + k * width;
        for (std::int64_t i = 0; i < width; ++i) y_row[i] += x_row[i] * kernel_row[i];
      }
    }
  }
}

void depthwise_conv1d_backward(const float* x, const float* kernel, const float* d_y, std::int64_t batch,
                               std::int64_t steps, std::int64_t channels, std::int64_t multiplier,
                               const Window1d& window, float* d_x, float* d_kernel, float* d_bias) {
  check_sizes("depthwise_conv1d_backward", batch, steps, channels, multiplier, window);
  const std::int64_t width = channels * multiplier, slice_floats = window.size * width + width;
  const std::int64_t slices = std::clamp<std::int64_t>(batch, 1, kKernelGradientSlices);
  std::vector<float> partials(static_cast<std::size_t>(slices * slice_floats), 0.0f);  // d_kernel, then d_bias
  const RepeatedChannels xs(x, batch * steps, channels, multiplier);
  // Sample b: its share of the kernel's and bias's gradients into dk and db, and the gradient of its repeated
  // channels (one row a step, `width` wide) into dx_rows, then summed per channel into d_x.
  auto sample = [&](std::int64_t b, float* dk, float* db, float* dx_rows) {
    if (d_x) std::fill(dx_rows, dx_rows + steps * width, 0.0f);
    for (std::int64_t t = 0; t < window.steps_out; ++t) {
      const float* dy_row = d_y + (b * window.steps_out + t) * width;
      for (std::int64_t i = 0; i < width; ++i) db[i] += dy_row[i];
      for (std::int64_t k = 0; k < window.size; ++k) {
        const std::int64_t s = t * window.stride - window.pad_left + k * window.dilation;
        if (s < 0 || s >= steps) continue;
        const float *x_row = xs.get() + (b * steps + s) * width, *kernel_row = kernel + k * width;
        float* dk_row = dk + k * width;
        for (std::int64_t i = 0; i < width; ++i) dk_row[i] += x_row[i] * dy_row[i];
        if (d_x)
          for (std::int64_t i = 0; i < width; ++i) dx_rows[s * width + i] += dy_row[i] * kernel_row[i];
      }
    }
    if (!d_x) return;
    float* dx = d_x + b * steps * channels;
    for (std::int64_t e = 0; e < steps * channels; ++e) {
      float sum = 0.0f;
      for (std::int64_t j = 0; j < multiplier; ++j) sum += dx_rows[e * multiplier + j];
      dx[e] = sum;
    }
  };
#pragma omp parallel num_threads(threads_for(slices))
  {
    const FlushDenormals flush;
    std::vector<float> dx_rows(d_x ? static_cast<std::size_t>(steps * width) : 0);
#pragma omp for schedule(static)
    for (std::int64_t slice = 0; slice < slices; ++slice) {
      float* dk = &partials[slice * slice_floats];
      for (std::int64_t b = batch * slice / slices; b < batch * (slice + 1) / slices; ++b)
        sample(b, dk, dk + window.size * width, dx_rows.data());
    }
  }
  for (std::int64_t slice = 1; slice < slices; ++slice)
    for (std::int64_t i = 0; i < slice_floats; ++i) partials[i] += partials[slice * slice_floats + i];
  std::copy_n(partials.begin(), window.size * width, d_kernel);
  if (d_bias) std::copy_n(partials.begin() + window.size * width, width, d_bias);
}

}  // namespace rnnkit
