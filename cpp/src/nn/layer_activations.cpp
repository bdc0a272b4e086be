// Layer activations beyond the cells' five, forward next to backward. Derivatives are written through the output
// y so a layer keeps only its output for backprop (as the cells do).
#include "rnnkit/layer_activations.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "rnnkit/activations.hpp"

namespace rnnkit {
namespace {

// SELU constants from Klambauer et al. (2017), as Keras 3 uses them.
constexpr float kSeluAlpha = 1.67326324235437728f;
constexpr float kSeluScale = 1.05070098735548049f;

enum class Extra { elu, selu, softplus, softsign, exponential, softmax, none };

Extra parse_extra(const std::string& name) {
  if (name == "elu") return Extra::elu;
  if (name == "selu") return Extra::selu;
  if (name == "softplus") return Extra::softplus;
  if (name == "softsign") return Extra::softsign;
  if (name == "exponential") return Extra::exponential;
  if (name == "softmax") return Extra::softmax;
  return Extra::none;
}

bool is_cell_activation(const std::string& name) {
  return name == "tanh" || name == "sigmoid" || name == "hard_sigmoid" || name == "relu" || name == "linear";
}

[[noreturn]] void unknown(const std::string& name, const char* caller) {
  throw std::invalid_argument(std::string(caller) +
                              ": expected an activation in {linear, relu, sigmoid, tanh, softmax, hard_sigmoid, elu, "
                              "selu, softplus, softsign, exponential}, received '" + name + "'");
}

void softmax_rows(const float* x, float* y, std::int64_t rows, std::int64_t cols) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    // Subtracting the row max keeps exp from overflowing; the result is unchanged.
    const float peak = cols > 0 ? *std::max_element(xr, xr + cols) : 0.0f;
    for (std::int64_t c = 0; c < cols; ++c) yr[c] = xr[c] - peak;
    exp_array(yr, yr, cols);
    float total = 0.0f;
    for (std::int64_t c = 0; c < cols; ++c) total += yr[c];
    const float inverse = 1.0f / total;
    for (std::int64_t c = 0; c < cols; ++c) yr[c] *= inverse;
  }
}

void softmax_rows_backward(const float* y, const float* dy, float* dx, std::int64_t rows, std::int64_t cols) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* yr = y + r * cols;
    const float* dyr = dy + r * cols;
    float* dxr = dx + r * cols;
    double projection = 0.0;
    for (std::int64_t c = 0; c < cols; ++c) projection += static_cast<double>(yr[c]) * dyr[c];
    for (std::int64_t c = 0; c < cols; ++c) dxr[c] = yr[c] * (dyr[c] - static_cast<float>(projection));
  }
}

}  // namespace

bool is_layer_activation(const std::string& name) {
  return is_cell_activation(name) || parse_extra(name) != Extra::none;
}

void layer_activation_forward(const std::string& name, const float* x, float* y, std::int64_t rows,
                              std::int64_t cols) {
  const std::int64_t n = rows * cols;
  if (is_cell_activation(name)) return activation_forward(parse_activation(name, "activation"), x, y, n);
  switch (parse_extra(name)) {
    case Extra::elu:
      for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : std::expm1(x[i]);
      return;
    case Extra::selu:
      for (std::int64_t i = 0; i < n; ++i)
        y[i] = kSeluScale * (x[i] > 0.0f ? x[i] : kSeluAlpha * std::expm1(x[i]));
      return;
    case Extra::softplus:
      // log1p(exp(-|x|)) + max(x, 0) never overflows.
      for (std::int64_t i = 0; i < n; ++i) y[i] = std::log1p(std::exp(-std::fabs(x[i]))) + std::max(x[i], 0.0f);
      return;
    case Extra::softsign:
      for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] / (1.0f + std::fabs(x[i]));
      return;
    case Extra::exponential:
      for (std::int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
      return;
    case Extra::softmax: return softmax_rows(x, y, rows, cols);
    case Extra::none: unknown(name, "activation");
  }
}

void layer_activation_backward(const std::string& name, const float* y, const float* dy, float* dx,
                               std::int64_t rows, std::int64_t cols) {
  const std::int64_t n = rows * cols;
  if (is_cell_activation(name)) return activation_backward(parse_activation(name, "activation_grad"), y, dy, dx, n);
  switch (parse_extra(name)) {
    case Extra::elu:  // y > 0 exactly where x > 0; below, d/dx (e^x - 1) = y + 1
      for (std::int64_t i = 0; i < n; ++i) dx[i] = dy[i] * (y[i] > 0.0f ? 1.0f : y[i] + 1.0f);
      return;
    case Extra::selu:  // below 0: scale·alpha·e^x = y + scale·alpha
      for (std::int64_t i = 0; i < n; ++i)
        dx[i] = dy[i] * (y[i] > 0.0f ? kSeluScale : y[i] + kSeluScale * kSeluAlpha);
      return;
    case Extra::softplus:  // sigmoid(x) = 1 - e^{-y}
      for (std::int64_t i = 0; i < n; ++i) dx[i] = dy[i] * -std::expm1(-y[i]);
      return;
    case Extra::softsign:  // 1 / (1 + |x|)^2 = (1 - |y|)^2
      for (std::int64_t i = 0; i < n; ++i) {
        const float slope = 1.0f - std::fabs(y[i]);
        dx[i] = dy[i] * slope * slope;
      }
      return;
    case Extra::exponential:
      for (std::int64_t i = 0; i < n; ++i) dx[i] = dy[i] * y[i];
      return;
    case Extra::softmax: return softmax_rows_backward(y, dy, dx, rows, cols);
    case Extra::none: unknown(name, "activation_grad");
  }
}

}  // namespace rnnkit
