// BatchNormalization over the channels (last) axis, forward next to backward. Statistics and the backward's channel
// sums accumulate in double: a batch of many rows would otherwise lose the small variances of nearly constant
// channels.
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "rnnkit/checked.hpp"
#include "rnnkit/layer_ops.hpp"

namespace rnnkit {

namespace {

void check_batch_norm_sizes(const char* fn, std::int64_t rows, std::int64_t channels) {
  if (rows < 0 || channels < 0)
    throw std::invalid_argument(std::string(fn) + ": sizes must be >= 0, received rows=" + std::to_string(rows) +
                                " channels=" + std::to_string(channels));
  checked_mul(rows, channels, fn);
}

float weight_of(const float* row_weight, std::int64_t r) { return row_weight ? row_weight[r] : 1.0f; }

std::vector<float> inverse_deviations(const float* variance, float epsilon, std::int64_t channels) {
  std::vector<float> inverse(static_cast<std::size_t>(channels));
  for (std::int64_t c = 0; c < channels; ++c) inverse[c] = 1.0f / std::sqrt(variance[c] + epsilon);
  return inverse;
}

}  // namespace

void batch_norm_moments(const float* x, const float* row_weight, std::int64_t rows, std::int64_t channels,
                        float* mean, float* variance) {
  check_batch_norm_sizes("batch_norm_moments", rows, channels);
  std::vector<double> sum(static_cast<std::size_t>(channels), 0.0), squares(sum.size(), 0.0);
  double count = 0.0;
  for (std::int64_t r = 0; r < rows; ++r) {
    const double w = weight_of(row_weight, r);
    if (w == 0.0) continue;
    count += w;
    for (std::int64_t c = 0; c < channels; ++c) sum[c] += w * x[r * channels + c];
  }
  for (std::int64_t c = 0; c < channels; ++c) sum[c] = count > 0.0 ? sum[c] / count : 0.0;
  // Second pass about the mean: the one-pass E[x^2] - E[x]^2 cancels for channels far from zero.
  for (std::int64_t r = 0; r < rows; ++r) {
    const double w = weight_of(row_weight, r);
    if (w == 0.0) continue;
    for (std::int64_t c = 0; c < channels; ++c) {
      const double d = x[r * channels + c] - sum[c];
      squares[c] += w * d * d;
    }
  }
  for (std::int64_t c = 0; c < channels; ++c) {
    mean[c] = static_cast<float>(sum[c]);
    variance[c] = static_cast<float>(count > 0.0 ? squares[c] / count : 0.0);
  }
}

void batch_norm_forward(const float* x, const float* mean, const float* variance, const float* gamma,
                        const float* beta, float epsilon, std::int64_t rows, std::int64_t channels, float* y) {
  check_batch_norm_sizes("batch_norm_forward", rows, channels);
  std::vector<float> scale = inverse_deviations(variance, epsilon, channels), shift(scale.size());
  for (std::int64_t c = 0; c < channels; ++c) {
    if (gamma) scale[c] *= gamma[c];
    shift[c] = (beta ? beta[c] : 0.0f) - mean[c] * scale[c];
  }
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < channels; ++c) y[r * channels + c] = x[r * channels + c] * scale[c] + shift[c];
}

void batch_norm_backward(const float* x, const float* mean, const float* variance, const float* gamma,
                         const float* row_weight, bool batch_statistics, float epsilon, std::int64_t rows,
                         std::int64_t channels, const float* d_y, float* d_x, float* d_gamma, float* d_beta) {
  check_batch_norm_sizes("batch_norm_backward", rows, channels);
  const std::vector<float> inverse = inverse_deviations(variance, epsilon, channels);
  // Over every row: sum dy and sum dy * x_hat (dL/dbeta, dL/dgamma); the statistics' terms use the same sums.
  std::vector<double> sum_dy(static_cast<std::size_t>(channels), 0.0), sum_dy_xhat(sum_dy.size(), 0.0);
  double count = 0.0;
  for (std::int64_t r = 0; r < rows; ++r) {
    count += weight_of(row_weight, r);
    for (std::int64_t c = 0; c < channels; ++c) {
      const double dy = d_y[r * channels + c];
      sum_dy[c] += dy;
      sum_dy_xhat[c] += dy * (x[r * channels + c] - mean[c]) * inverse[c];
    }
  }
  for (std::int64_t c = 0; c < channels; ++c) {
    if (d_beta) d_beta[c] = static_cast<float>(sum_dy[c]);
    if (d_gamma) d_gamma[c] = static_cast<float>(sum_dy_xhat[c]);
  }
  if (!d_x) return;
  for (std::int64_t r = 0; r < rows; ++r) {
    // A row the statistics leave out (weight 0) or constant statistics: only the direct path through x.
    const double share = batch_statistics && count > 0.0 ? weight_of(row_weight, r) / count : 0.0;
    for (std::int64_t c = 0; c < channels; ++c) {
      const float x_hat = (x[r * channels + c] - mean[c]) * inverse[c];
      const double through_stats = share * (sum_dy[c] + x_hat * sum_dy_xhat[c]);
      d_x[r * channels + c] =
          (gamma ? gamma[c] : 1.0f) * inverse[c] * static_cast<float>(d_y[r * channels + c] - through_stats);
    }
  }
}

}  // namespace rnnkit
