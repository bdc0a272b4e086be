// Layer activations: the element-wise ones of activations.hpp, and softmax over the last axis, forward next to
// backward. Derivatives are written through the output y so a layer keeps only its output for backprop.
#include "rnnkit/layer_activations.hpp"

#include <algorithm>
#include <stdexcept>

#include "rnnkit/activations.hpp"

namespace rnnkit {
namespace {

bool is_softmax(const std::string& name) { return name == "softmax"; }

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

bool is_layer_activation(const std::string& name) { return is_softmax(name) || activation_by_name(name); }

void layer_activation_forward(const std::string& name, const float* x, float* y, std::int64_t rows,
                              std::int64_t cols) {
  if (is_softmax(name)) return softmax_rows(x, y, rows, cols);
  const std::optional<Activation> a = activation_by_name(name);
  if (!a) unknown(name, "activation");
  activation_forward(*a, x, y, rows * cols);
}

void layer_activation_backward(const std::string& name, const float* y, const float* dy, float* dx,
                               std::int64_t rows, std::int64_t cols) {
  if (is_softmax(name)) return softmax_rows_backward(y, dy, dx, rows, cols);
  const std::optional<Activation> a = activation_by_name(name);
  if (!a) unknown(name, "activation_grad");
  activation_backward(*a, y, dy, dx, rows * cols);
}

}  // namespace rnnkit
