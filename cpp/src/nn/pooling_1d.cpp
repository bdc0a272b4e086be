// MaxPooling1D and AveragePooling1D over the steps axis of (batch, steps, channels), forward next to backward.
// Window positions that fall in the padding are left out (Keras' "same": a max never comes from padding, an average
// divides by the steps it covers).
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "rnnkit/checked.hpp"
#include "rnnkit/layer_ops.hpp"

namespace rnnkit {

namespace {

void check_pool_sizes(const char* fn, std::int64_t batch, std::int64_t steps, std::int64_t channels,
                      const Window1d& w) {
  if (batch < 0 || steps < 0 || channels < 0 || w.size <= 0 || w.stride <= 0 || w.dilation != 1 || w.pad_left < 0 ||
      w.steps_out < 0)
    throw std::invalid_argument(std::string(fn) + ": sizes must be >= 0, the pool size and stride positive and the "
                                "dilation 1");
  checked_mul(batch, steps, channels, fn);
  checked_mul(batch, w.steps_out, channels, fn);
}

// The input steps [first, last) under output step t; never empty for a window_1d of these steps.
void covered_steps(const Window1d& w, std::int64_t steps, std::int64_t t, std::int64_t& first, std::int64_t& last) {
  const std::int64_t start = t * w.stride - w.pad_left;
  first = std::max<std::int64_t>(start, 0);
  last = std::min(start + w.size, steps);
  if (first >= last)
    throw std::invalid_argument("pool_1d: output step " + std::to_string(t) + " covers no input step (" +
                                std::to_string(steps) + " steps); the window does not fit the input");
}

}  // namespace

void max_pool_1d_forward(const float* x, std::int64_t batch, std::int64_t steps, std::int64_t channels,
                         const Window1d& window, float* y, std::int64_t* argmax) {
  check_pool_sizes("max_pool_1d_forward", batch, steps, channels, window);
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t t = 0; t < window.steps_out; ++t) {
      std::int64_t first, last;
      covered_steps(window, steps, t, first, last);
      float* out = y + (b * window.steps_out + t) * channels;
      const float* x_first = x + (b * steps + first) * channels;
      std::copy(x_first, x_first + channels, out);
      // The first NaN wins and stays (Keras propagates it). Selects of floats only, so the loop vectorises; the
      // steps of the maxima are found after, when wanted.
      for (std::int64_t s = first + 1; s < last; ++s) {
        const float* xs = x + (b * steps + s) * channels;
        for (std::int64_t c = 0; c < channels; ++c) {
          const float v = xs[c], m = out[c];
          out[c] = ((v > m) | ((v != v) & (m == m))) ? v : m;
        }
      }
      if (!argmax) continue;
      std::int64_t* where = argmax + (b * window.steps_out + t) * channels;
      for (std::int64_t c = 0; c < channels; ++c) {  // the first step holding the maximum (or the NaN)
        const bool nan = std::isnan(out[c]);
        std::int64_t s = first;
        for (; s + 1 < last; ++s) {
          const float v = x[(b * steps + s) * channels + c];
          if (v == out[c] || (nan && std::isnan(v))) break;
        }
        where[c] = s;
      }
    }
}

void max_pool_1d_backward(const float* d_y, const std::int64_t* argmax, std::int64_t batch, std::int64_t steps,
                          std::int64_t channels, const Window1d& window, float* d_x) {
  check_pool_sizes("max_pool_1d_backward", batch, steps, channels, window);
  std::fill(d_x, d_x + batch * steps * channels, 0.0f);
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t t = 0; t < window.steps_out; ++t) {
      const float* d = d_y + (b * window.steps_out + t) * channels;
      const std::int64_t* where = argmax + (b * window.steps_out + t) * channels;
      for (std::int64_t c = 0; c < channels; ++c) {
        if (where[c] < 0 || where[c] >= steps)
          throw std::invalid_argument("max_pool_1d_backward: argmax " + std::to_string(where[c]) +
                                      " outside [0, " + std::to_string(steps) + ")");
        d_x[(b * steps + where[c]) * channels + c] += d[c];
      }
    }
}

void average_pool_1d_forward(const float* x, std::int64_t batch, std::int64_t steps, std::int64_t channels,
                             const Window1d& window, float* y) {
  check_pool_sizes("average_pool_1d_forward", batch, steps, channels, window);
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t t = 0; t < window.steps_out; ++t) {
      std::int64_t first, last;
      covered_steps(window, steps, t, first, last);
      float* out = y + (b * window.steps_out + t) * channels;
      std::fill(out, out + channels, 0.0f);
      for (std::int64_t s = first; s < last; ++s) {
        const float* xs = x + (b * steps + s) * channels;
        for (std::int64_t c = 0; c < channels; ++c) out[c] += xs[c];
      }
      const float inverse = 1.0f / static_cast<float>(last - first);
      for (std::int64_t c = 0; c < channels; ++c) out[c] *= inverse;
    }
}

void average_pool_1d_backward(const float* d_y, std::int64_t batch, std::int64_t steps, std::int64_t channels,
                              const Window1d& window, float* d_x) {
  check_pool_sizes("average_pool_1d_backward", batch, steps, channels, window);
  std::fill(d_x, d_x + batch * steps * channels, 0.0f);
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t t = 0; t < window.steps_out; ++t) {
      std::int64_t first, last;
      covered_steps(window, steps, t, first, last);
      const float* d = d_y + (b * window.steps_out + t) * channels;
      const float inverse = 1.0f / static_cast<float>(last - first);
      for (std::int64_t s = first; s < last; ++s) {
        float* to = d_x + (b * steps + s) * channels;
        for (std::int64_t c = 0; c < channels; ++c) to[c] += d[c] * inverse;
      }
    }
}

}  // namespace rnnkit
