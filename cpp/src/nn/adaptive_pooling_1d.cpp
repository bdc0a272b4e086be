// AdaptiveAveragePooling1D and AdaptiveMaxPooling1D over the steps axis of (batch, steps, channels), forward next to
// backward. Output step t pools the input steps [floor(t * steps / steps_out), ceil((t + 1) * steps / steps_out)):
// the bins of PyTorch's adaptive pooling, which Keras 3 reproduces on every backend. Neighbouring bins may share a
// step, and with steps_out > steps a step feeds several bins, so the backward accumulates.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "rnnkit/checked.hpp"
#include "rnnkit/layer_ops.hpp"

namespace rnnkit {

namespace {

void check_adaptive_sizes(const char* fn, std::int64_t batch, std::int64_t steps, std::int64_t channels,
                          std::int64_t steps_out) {
  if (batch < 0 || channels < 0 || steps <= 0 || steps_out <= 0)
    throw std::invalid_argument(std::string(fn) + ": expected batch, channels >= 0 and steps, steps_out > 0, "
                                "received steps=" + std::to_string(steps) + ", steps_out=" +
                                std::to_string(steps_out));
  checked_mul(batch, steps, channels, fn);
  checked_mul(batch, steps_out, channels, fn);
  checked_mul(steps_out + 1, steps, fn);  // the bin bounds' products
}

struct Bin {
  std::int64_t first, last;
};

Bin bin(std::int64_t t, std::int64_t steps, std::int64_t steps_out) {
  return {t * steps / steps_out, ((t + 1) * steps + steps_out - 1) / steps_out};
}

}  // namespace

void adaptive_average_pool_1d_forward(const float* x, std::int64_t batch, std::int64_t steps, std::int64_t channels,
                                      std::int64_t steps_out, float* y) {
  check_adaptive_sizes("adaptive_average_pool_1d_forward", batch, steps, channels, steps_out);
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t t = 0; t < steps_out; ++t) {
      const Bin span = bin(t, steps, steps_out);
      float* out = y + (b * steps_out + t) * channels;
      std::fill(out, out + channels, 0.0f);
      for (std::int64_t s = span.first; s < span.last; ++s) {
        const float* xs = x + (b * steps + s) * channels;
        for (std::int64_t c = 0; c < channels; ++c) out[c] += xs[c];
      }
      const float inverse = 1.0f / static_cast<float>(span.last - span.first);
      for (std::int64_t c = 0; c < channels; ++c) out[c] *= inverse;
    }
}

void adaptive_average_pool_1d_backward(const float* d_y, std::int64_t batch, std::int64_t steps,
                                       std::int64_t channels, std::int64_t steps_out, float* d_x) {
  check_adaptive_sizes("adaptive_average_pool_1d_backward", batch, steps, channels, steps_out);
  std::fill(d_x, d_x + batch * steps * channels, 0.0f);
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t t = 0; t < steps_out; ++t) {
      const Bin span = bin(t, steps, steps_out);
      const float* d = d_y + (b * steps_out + t) * channels;
      const float inverse = 1.0f / static_cast<float>(span.last - span.first);
      for (std::int64_t s = span.first; s < span.last; ++s) {
        float* to = d_x + (b * steps + s) * channels;
        for (std::int64_t c = 0; c < channels; ++c) to[c] += d[c] * inverse;
      }
    }
}

void adaptive_max_pool_1d_forward(const float* x, std::int64_t batch, std::int64_t steps, std::int64_t channels,
                                  std::int64_t steps_out, float* y, std::int64_t* argmax) {
  check_adaptive_sizes("adaptive_max_pool_1d_forward", batch, steps, channels, steps_out);
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t t = 0; t < steps_out; ++t) {
      const Bin span = bin(t, steps, steps_out);
      float* out = y + (b * steps_out + t) * channels;
      std::int64_t* where = argmax ? argmax + (b * steps_out + t) * channels : nullptr;
      const float* x_first = x + (b * steps + span.first) * channels;
      std::copy(x_first, x_first + channels, out);
      if (where) std::fill(where, where + channels, span.first);
      // As MaxPooling1D: the first maximum, and the first NaN, which then stays.
      for (std::int64_t s = span.first + 1; s < span.last; ++s) {
        const float* xs = x + (b * steps + s) * channels;
        for (std::int64_t c = 0; c < channels; ++c) {
          const float v = xs[c], m = out[c];
          const bool take = (v > m) | ((v != v) & (m == m));
          out[c] = take ? v : m;
          if (where && take) where[c] = s;
        }
      }
    }
}

void adaptive_max_pool_1d_backward(const float* d_y, const std::int64_t* argmax, std::int64_t batch,
                                   std::int64_t steps, std::int64_t channels, std::int64_t steps_out, float* d_x) {
  check_adaptive_sizes("adaptive_max_pool_1d_backward", batch, steps, channels, steps_out);
  std::fill(d_x, d_x + batch * steps * channels, 0.0f);
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t t = 0; t < steps_out; ++t) {
      const float* d = d_y + (b * steps_out + t) * channels;
      const std::int64_t* where = argmax + (b * steps_out + t) * channels;
      for (std::int64_t c = 0; c < channels; ++c) {
        if (where[c] < 0 || where[c] >= steps)
          throw std::invalid_argument("adaptive_max_pool_1d_backward: argmax " + std::to_string(where[c]) +
                                      " outside [0, " + std::to_string(steps) + ")");
        d_x[(b * steps + where[c]) * channels + c] += d[c];
      }
    }
}

}  // namespace rnnkit
