// GroupNormalization over (batch, positions, channels): each sample's channels split into `groups` groups, each
// (sample, group) normalised over its positions x channels / groups values. Statistics in double. Forward next to
// backward; samples over OpenMP, gamma's and beta's gradients summed per fixed batch slice, then in slice order, so
// they do not depend on the threads.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "rnnkit/checked.hpp"
#include "rnnkit/layer_ops.hpp"
#include "rnnkit/runtime.hpp"

namespace rnnkit {

namespace {

constexpr std::int64_t kParameterGradientSlices = 16;

void check_sizes(const char* fn, std::int64_t batch, std::int64_t positions, std::int64_t channels,
                 std::int64_t groups) {
  if (batch < 0 || positions < 0 || channels < 1 || groups < 1 || channels % groups != 0)
    throw std::invalid_argument(std::string(fn) + ": expected batch, positions >= 0 and channels a positive multiple "
                                "of groups, received channels=" + std::to_string(channels) +
                                ", groups=" + std::to_string(groups));
  checked_mul(batch, positions, channels, fn);
}

int threads_for(std::int64_t work_items) {
  return static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(num_threads(), work_items)));
}

}  // namespace

void group_norm_forward(const float* x, const float* gamma, const float* beta, std::int64_t batch,
                        std::int64_t positions, std::int64_t channels, std::int64_t groups, float epsilon, float* y,
                        float* mean, float* inv_std) {
  check_sizes("group_norm_forward", batch, positions, channels, groups);
  const std::int64_t width = channels / groups;
#pragma omp parallel for schedule(static) num_threads(threads_for(batch))
  for (std::int64_t b = 0; b < batch; ++b) {
    const float* xs = x + b * positions * channels;
    float* ys = y + b * positions * channels;
    for (std::int64_t g = 0; g < groups; ++g) {
      double sum = 0, squares = 0;
      for (std::int64_t n = 0; n < positions; ++n)
        for (std::int64_t c = g * width; c < (g + 1) * width; ++c) {
          const double v = xs[n * channels + c];
          sum += v, squares += v * v;
        }
      const double count = std::max<double>(1.0, double(positions * width)), mu = sum / count;
      const double variance = std::max(0.0, squares / count - mu * mu);
      const float inv = static_cast<float>(1.0 / std::sqrt(variance + epsilon)), m = static_cast<float>(mu);
      if (mean) mean[b * groups + g] = m;
      if (inv_std) inv_std[b * groups + g] = inv;
      for (std::int64_t n = 0; n < positions; ++n)
        for (std::int64_t c = g * width; c < (g + 1) * width; ++c) {
          const float normalised = (xs[n * channels + c] - m) * inv;
          ys[n * channels + c] = normalised * (gamma ? gamma[c] : 1.0f) + (beta ? beta[c] : 0.0f);
        }
    }
  }
}

void group_norm_backward(const float* x, const float* gamma, const float* mean, const float* inv_std,
                         const float* d_y, std::int64_t batch, std::int64_t positions, std::int64_t channels,
                         std::int64_t groups, float* d_x, float* d_gamma, float* d_beta) {
  check_sizes("group_norm_backward", batch, positions, channels, groups);
  const std::int64_t width = channels / groups;
  const std::int64_t slices = std::clamp<std::int64_t>(batch, 1, kParameterGradientSlices);
  std::vector<double> partials(static_cast<std::size_t>(slices * 2 * channels), 0.0);  // d_gamma, then d_beta
#pragma omp parallel for schedule(static) num_threads(threads_for(slices))
  for (std::int64_t slice = 0; slice < slices; ++slice) {
    double *dg = &partials[slice * 2 * channels], *db = dg + channels;
    for (std::int64_t b = batch * slice / slices; b < batch * (slice + 1) / slices; ++b) {
      const float *xs = x + b * positions * channels, *dys = d_y + b * positions * channels;
      for (std::int64_t g = 0; g < groups; ++g) {
        const float m = mean[b * groups + g], inv = inv_std[b * groups + g];
        // dx = inv * (dx̂ - mean(dx̂) - x̂ * mean(dx̂ * x̂)), dx̂ = dy * gamma, over the group's values.
        double sum_dxh = 0, sum_dxh_xh = 0;
        for (std::int64_t n = 0; n < positions; ++n)
          for (std::int64_t c = g * width; c < (g + 1) * width; ++c) {
            const double xh = (xs[n * channels + c] - m) * inv, dy = dys[n * channels + c];
            const double dxh = dy * (gamma ? gamma[c] : 1.0f);
            sum_dxh += dxh, sum_dxh_xh += dxh * xh;
            dg[c] += dy * xh, db[c] += dy;
          }
        if (!d_x) continue;
        const double count = std::max<double>(1.0, double(positions * width));
        const double mean_dxh = sum_dxh / count, mean_dxh_xh = sum_dxh_xh / count;
        float* dxs = d_x + b * positions * channels;
        for (std::int64_t n = 0; n < positions; ++n)
          for (std::int64_t c = g * width; c < (g + 1) * width; ++c) {
            const double xh = (xs[n * channels + c] - m) * inv;
            const double dxh = dys[n * channels + c] * (gamma ? gamma[c] : 1.0f);
            dxs[n * channels + c] = static_cast<float>(inv * (dxh - mean_dxh - xh * mean_dxh_xh));
          }
      }
    }
  }
  for (std::int64_t slice = 1; slice < slices; ++slice)
    for (std::int64_t i = 0; i < 2 * channels; ++i) partials[i] += partials[slice * 2 * channels + i];
  for (std::int64_t c = 0; c < channels; ++c) {
    if (d_gamma) d_gamma[c] = static_cast<float>(partials[c]);
    if (d_beta) d_beta[c] = static_cast<float>(partials[channels + c]);
  }
}

}  // namespace rnnkit
