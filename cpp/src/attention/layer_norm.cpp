// LayerNormalization over the last axis, fused: one pass for the statistics, one for the output (and the
// backward in two row reductions), threads over rows.
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "rnnkit/attention.hpp"
#include "rnnkit/checked.hpp"
#include "rnnkit/runtime.hpp"

namespace rnnkit {

namespace {
void check_layer_norm(const char* fn, std::int64_t rows, std::int64_t features) {
  if (rows < 0 || features < 0)
    throw std::invalid_argument(std::string(fn) + ": sizes must be >= 0, received rows=" + std::to_string(rows) +
                                " features=" + std::to_string(features));
  checked_mul(rows, features, fn);
}
}  // namespace

void layer_norm_forward(const float* x, const float* gamma, const float* beta, std::int64_t rows,
                        std::int64_t features, float epsilon, float* y, float* mean, float* inv_std) {
  check_layer_norm("layer_norm_forward", rows, features);
  if (!(epsilon >= 0.0f))
    throw std::invalid_argument("layer_norm_forward: expected epsilon >= 0, received " + std::to_string(epsilon));
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (rows * features > (1 << 15))
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * features;
    float* yr = y + r * features;
    // Statistics in double: the two-pass variance of float32 rows stays exact enough for large offsets.
    double sum = 0.0;
    for (std::int64_t c = 0; c < features; ++c) sum += xr[c];
    const double mu = features > 0 ? sum / features : 0.0;
    double sq = 0.0;
    for (std::int64_t c = 0; c < features; ++c) sq += (xr[c] - mu) * (xr[c] - mu);
    const double var = features > 0 ? sq / features : 0.0;
    const float m = static_cast<float>(mu), is = static_cast<float>(1.0 / std::sqrt(var + epsilon));
    mean[r] = m;
    inv_std[r] = is;
    for (std::int64_t c = 0; c < features; ++c) {
      const float g = gamma ? gamma[c] : 1.0f, b = beta ? beta[c] : 0.0f;
      yr[c] = (xr[c] - m) * is * g + b;
    }
  }
}

void layer_norm_backward(const float* x, const float* gamma, const float* mean, const float* inv_std,
                         const float* d_y, std::int64_t rows, std::int64_t features, float* d_x, float* d_gamma,
                         float* d_beta) {
  check_layer_norm("layer_norm_backward", rows, features);
  // d_x = inv_std * (g - mean(g) - x_hat * mean(g * x_hat)) with g = d_y * gamma.
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (rows * features > (1 << 15))
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * features;
    const float* dyr = d_y + r * features;
    float* dxr = d_x + r * features;
    const float m = mean[r], is = inv_std[r];
    double sum_g = 0.0, sum_gx = 0.0;
    for (std::int64_t c = 0; c < features; ++c) {
      const float g = dyr[c] * (gamma ? gamma[c] : 1.0f);
      sum_g += g;
      sum_gx += g * (xr[c] - m) * is;
    }
    const float mg = features > 0 ? static_cast<float>(sum_g / features) : 0.0f;
    const float mgx = features > 0 ? static_cast<float>(sum_gx / features) : 0.0f;
    for (std::int64_t c = 0; c < features; ++c) {
      const float g = dyr[c] * (gamma ? gamma[c] : 1.0f);
      const float x_hat = (xr[c] - m) * is;
      dxr[c] = is * (g - mg - x_hat * mgx);
    }
  }
  if (d_gamma == nullptr && d_beta == nullptr) return;
  // Column sums: sequential over rows so the result does not depend on the thread count.
  std::vector<double> dg(features, 0.0), db(features, 0.0);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * features;
    const float* dyr = d_y + r * features;
    for (std::int64_t c = 0; c < features; ++c) {
      dg[c] += dyr[c] * ((xr[c] - mean[r]) * inv_std[r]);
      db[c] += dyr[c];
    }
  }
  for (std::int64_t c = 0; c < features; ++c) {
    if (d_gamma) d_gamma[c] = static_cast<float>(dg[c]);
    if (d_beta) d_beta[c] = static_cast<float>(db[c]);
  }
}

}  // namespace rnnkit
