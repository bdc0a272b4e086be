// Global 1-D pooling over the time axis of (batch, steps, features): masked mean and max, with backwards.
#include <cmath>
#include <stdexcept>
#include <string>

#include "rnnkit/checked.hpp"
#include "rnnkit/layer_ops.hpp"
#include "rnnkit/runtime.hpp"

namespace rnnkit {

namespace {
void check_pool_sizes(const char* fn, std::int64_t batch, std::int64_t steps, std::int64_t features) {
  if (batch < 0 || steps < 0 || features < 0)
    throw std::invalid_argument(std::string(fn) + ": sizes must be >= 0");
  checked_mul(batch, steps, features, fn);
}

std::int64_t kept_steps(const std::uint8_t* mask, std::int64_t b, std::int64_t steps) {
  if (mask == nullptr) return steps;
  std::int64_t count = 0;
  for (std::int64_t t = 0; t < steps; ++t) count += mask[b * steps + t] != 0;
  return count;
}
}  // namespace

void global_average_pool_1d_forward(const float* x, const std::uint8_t* mask, std::int64_t batch,
                                    std::int64_t steps, std::int64_t features, float* out) {
  check_pool_sizes("global_average_pool_1d_forward", batch, steps, features);
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (batch * steps * features > (1 << 16))
  for (std::int64_t b = 0; b < batch; ++b) {
    float* o = out + b * features;
    for (std::int64_t f = 0; f < features; ++f) o[f] = 0.f;
    const std::int64_t count = kept_steps(mask, b, steps);
    if (count == 0) continue;
    for (std::int64_t t = 0; t < steps; ++t) {
      if (mask != nullptr && mask[b * steps + t] == 0) continue;
      const float* xt = x + (b * steps + t) * features;
      for (std::int64_t f = 0; f < features; ++f) o[f] += xt[f];
    }
    const float inv = 1.f / static_cast<float>(count);
    for (std::int64_t f = 0; f < features; ++f) o[f] *= inv;
  }
}

void global_average_pool_1d_backward(const float* d_out, const std::uint8_t* mask, std::int64_t batch,
                                     std::int64_t steps, std::int64_t features, float* d_x) {
  check_pool_sizes("global_average_pool_1d_backward", batch, steps, features);
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (batch * steps * features > (1 << 16))
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::int64_t count = kept_steps(mask, b, steps);
    const float inv = count == 0 ? 0.f : 1.f / static_cast<float>(count);
    const float* g = d_out + b * features;
    for (std::int64_t t = 0; t < steps; ++t) {
      float* dxt = d_x + (b * steps + t) * features;
      const float scale = (mask != nullptr && mask[b * steps + t] == 0) ? 0.f : inv;
      for (std::int64_t f = 0; f < features; ++f) dxt[f] = g[f] * scale;
    }
  }
}

void global_max_pool_1d_forward(const float* x, std::int64_t batch, std::int64_t steps, std::int64_t features,
                                float* out, std::int64_t* argmax) {
  check_pool_sizes("global_max_pool_1d_forward", batch, steps, features);
  if (steps == 0 && batch * features > 0)
    throw std::invalid_argument("global_max_pool_1d_forward: expected at least 1 step, received 0");
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (batch * steps * features > (1 << 16))
  for (std::int64_t b = 0; b < batch; ++b) {
    float* o = out + b * features;
    std::int64_t* a = argmax + b * features;
    const float* x0 = x + b * steps * features;
    for (std::int64_t f = 0; f < features; ++f) {
      o[f] = x0[f];
      a[f] = 0;
    }
    // The first NaN wins and stays, as in Keras: a diverged step shows in the output instead of being passed over.
    for (std::int64_t t = 1; t < steps; ++t) {
      const float* xt = x0 + t * features;
      for (std::int64_t f = 0; f < features; ++f)
        if (!(xt[f] <= o[f]) && !std::isnan(o[f])) {
          o[f] = xt[f];
          a[f] = t;
        }
    }
  }
}

void global_max_pool_1d_backward(const float* d_out, const std::int64_t* argmax, std::int64_t batch,
                                 std::int64_t steps, std::int64_t features, float* d_x) {
  check_pool_sizes("global_max_pool_1d_backward", batch, steps, features);
  for (std::int64_t i = 0; i < batch * steps * features; ++i) d_x[i] = 0.f;
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t f = 0; f < features; ++f) {
      const std::int64_t t = argmax[b * features + f];
      if (t < 0 || t >= steps)
        throw std::invalid_argument("global_max_pool_1d_backward: argmax step " + std::to_string(t) +
                                    " outside [0, " + std::to_string(steps) + ")");
      d_x[(b * steps + t) * features + f] = d_out[b * features + f];
    }
}

}  // namespace rnnkit
