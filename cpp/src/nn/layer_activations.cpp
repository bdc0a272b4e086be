// Layer activations, forward next to backward: the element-wise ones of activations.hpp (vectorised, shared with
// the recurrent cells), the element-wise ones only layers take (portable loops, Keras 3's default arguments), and
// softmax, log_softmax and sparsemax over the last axis. Derivatives are written through the output y where it
// determines them, so a layer keeps only its output; the rest read the input x (kNeedsInput).
#include "rnnkit/layer_activations.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <vector>

#include "rnnkit/activations.hpp"

namespace rnnkit {
namespace {

using std::int64_t;

// ---- element-wise, layers only: value(x) and slope(y or x) = d value / dx -------------------------------------
// Comparisons are ordered so that NaN falls through to an expression of x and stays NaN.

float leaky_relu(float x) { return x > 0.0f ? x : 0.2f * x; }  // Keras' negative_slope 0.2
float leaky_relu_slope(float y) { return y > 0.0f ? 1.0f : 0.2f; }

float relu6(float x) { return x >= 6.0f ? 6.0f : x <= 0.0f ? 0.0f : x; }
float relu6_slope(float y) { return y > 0.0f && y < 6.0f ? 1.0f : 0.0f; }

float hard_tanh(float x) { return x >= 1.0f ? 1.0f : x <= -1.0f ? -1.0f : x; }
float hard_tanh_slope(float y) { return std::fabs(y) < 1.0f ? 1.0f : 0.0f; }

float celu(float x) { return x > 0.0f ? x : std::expm1(x); }  // alpha 1: e^x - 1 = y below 0, slope y + 1
float celu_slope(float y) { return y > 0.0f ? 1.0f : y + 1.0f; }

float hard_shrink(float x) { return x >= -0.5f && x <= 0.5f ? 0.0f : x; }  // threshold 0.5
float hard_shrink_slope(float y) { return y != 0.0f ? 1.0f : 0.0f; }

float soft_shrink(float x) { return x > 0.5f ? x - 0.5f : x < -0.5f ? x + 0.5f : x * 0.0f; }
float soft_shrink_slope(float y) { return y != 0.0f ? 1.0f : 0.0f; }

// (x + 1)^2 / 4 on (-1, 1): its slope (x + 1) / 2 is sqrt(y) there.
float sparse_plus(float x) { return x <= -1.0f ? 0.0f : x < 1.0f ? 0.25f * (x + 1.0f) * (x + 1.0f) : x; }
float sparse_plus_slope(float y) { return y >= 1.0f ? 1.0f : std::sqrt(y); }

float sparse_sigmoid(float x) { return x <= -1.0f ? 0.0f : x >= 1.0f ? 1.0f : 0.5f * (x + 1.0f); }
float sparse_sigmoid_slope(float y) { return y > 0.0f && y < 1.0f ? 0.5f : 0.0f; }

// -softplus(-x); its slope sigmoid(-x) = 1 - e^y.
float log_sigmoid(float x) { return -(std::log1p(std::exp(-std::fabs(x))) + std::max(-x, 0.0f)); }
float log_sigmoid_slope(float y) { return -std::expm1(y); }

// (x + sqrt(x^2 + 4)) / 2, b = 4, in the form without cancellation for negative x; slope y^2 / (y^2 + 1).
float squareplus(float x) {
  const float root = std::hypot(x, 2.0f);
  return x >= 0.0f ? 0.5f * (x + root) : 2.0f / (root - x);
}
float squareplus_slope(float y) { return 1.0f / (1.0f + 1.0f / (y * y)); }

float sigmoid_of(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// x - tanh(x) cancels for small x: its series there, double precision elsewhere.
float tanh_shrink(float x) {
  const double d = x;
  if (std::fabs(d) < 0.01) return static_cast<float>(d * d * d * (1.0 / 3.0 - 2.0 / 15.0 * d * d));
  return static_cast<float>(d - std::tanh(d));
}
float tanh_shrink_slope(float x) {
  const float t = std::tanh(x);
  return t * t;
}

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

// Keras' gelu is the exact one (approximate=False): x Φ(x), Φ written with erfc so it keeps relative accuracy
// far into the negative tail.
float gelu(float x) { return 0.5f * x * std::erfc(-x * kInvSqrt2); }
float gelu_slope(float x) { return 0.5f * std::erfc(-x * kInvSqrt2) + x * kInvSqrt2Pi * std::exp(-0.5f * x * x); }

float silu(float x) { return x * sigmoid_of(x); }
float silu_slope(float x) {
  const float s = sigmoid_of(x);
  return s == 0.0f ? 0.0f : s * (1.0f + x * (1.0f - s));
}

float softplus_of(float x) { return std::log1p(std::exp(-std::fabs(x))) + std::max(x, 0.0f); }
float mish(float x) { return x * std::tanh(softplus_of(x)); }
float mish_slope(float x) {
  const float t = std::tanh(softplus_of(x));
  return t + x * (1.0f - t * t) * sigmoid_of(x);
}

// x relu6(x + 3) / 6; the slope at the ends follows PyTorch's hardswish (what Keras on torch differentiates).
float hard_silu(float x) { return x <= -3.0f ? 0.0f : x >= 3.0f ? x : x * (x + 3.0f) / 6.0f; }
float hard_silu_slope(float x) { return x < -3.0f ? 0.0f : x <= 3.0f ? x / 3.0f + 0.5f : 1.0f; }

template <float (*Value)(float)>
void map_forward(const float* x, float* y, int64_t rows, int64_t cols) {
  for (int64_t i = 0, n = rows * cols; i < n; ++i) y[i] = Value(x[i]);
}

// `in` is y, or x for the activations of kNeedsInput.
template <float (*Slope)(float)>
void map_backward(const float* in, const float* dy, float* dx, int64_t rows, int64_t cols) {
  for (int64_t i = 0, n = rows * cols; i < n; ++i) dx[i] = dy[i] * Slope(in[i]);
}

// ---- over the last axis ----------------------------------------------------------------------------------------

// Subtracting the row max keeps exp from overflowing; the result is unchanged.
float row_peak(const float* x, int64_t cols) { return cols > 0 ? *std::max_element(x, x + cols) : 0.0f; }

void softmax_rows(const float* x, float* y, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    const float peak = row_peak(xr, cols);
    for (int64_t c = 0; c < cols; ++c) yr[c] = xr[c] - peak;
    exp_array(yr, yr, cols);
    float total = 0.0f;
    for (int64_t c = 0; c < cols; ++c) total += yr[c];
    const float inverse = 1.0f / total;
    for (int64_t c = 0; c < cols; ++c) yr[c] *= inverse;
  }
}

void softmax_rows_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* yr = y + r * cols;
    const float* dyr = dy + r * cols;
    float* dxr = dx + r * cols;
    double projection = 0.0;
    for (int64_t c = 0; c < cols; ++c) projection += static_cast<double>(yr[c]) * dyr[c];
    for (int64_t c = 0; c < cols; ++c) dxr[c] = yr[c] * (dyr[c] - static_cast<float>(projection));
  }
}

void log_softmax_rows(const float* x, float* y, int64_t rows, int64_t cols) {
  std::vector<float> shifted_exp(static_cast<std::size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    const float peak = row_peak(xr, cols);
    for (int64_t c = 0; c < cols; ++c) yr[c] = xr[c] - peak;
    exp_array(yr, shifted_exp.data(), cols);
    double total = 0.0;
    for (int64_t c = 0; c < cols; ++c) total += shifted_exp[c];
    const float log_total = static_cast<float>(std::log(total));
    for (int64_t c = 0; c < cols; ++c) yr[c] -= log_total;
  }
}

// softmax = e^y, so dx = dy - e^y * sum(dy).
void log_softmax_rows_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* yr = y + r * cols;
    const float* dyr = dy + r * cols;
    float* dxr = dx + r * cols;
    double total = 0.0;
    for (int64_t c = 0; c < cols; ++c) total += dyr[c];
    for (int64_t c = 0; c < cols; ++c) dxr[c] = dyr[c] - std::exp(yr[c]) * static_cast<float>(total);
  }
}

// Martins & Astudillo (2016): y = max(x - tau, 0) with tau chosen so the row sums to 1; the support is the k
// largest entries with 1 + k z_(k) > z_(1) + ... + z_(k) over the sorted row.
void sparsemax_rows(const float* x, float* y, int64_t rows, int64_t cols) {
  std::vector<float> sorted(static_cast<std::size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    std::copy(xr, xr + cols, sorted.begin());
    std::sort(sorted.begin(), sorted.end(), std::greater<float>());
    double running = 0.0, support_sum = 0.0;
    int64_t support = 0;
    for (int64_t k = 0; k < cols; ++k) {
      running += sorted[k];
      if (1.0 + static_cast<double>(k + 1) * sorted[k] > running) support = k + 1, support_sum = running;
    }
    const float tau = support > 0 ? static_cast<float>((support_sum - 1.0) / static_cast<double>(support)) : 0.0f;
    for (int64_t c = 0; c < cols; ++c) yr[c] = std::max(xr[c] - tau, 0.0f);
  }
}

// Over the support (y > 0) dx = dy - mean of dy there; 0 off it.
void sparsemax_rows_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* yr = y + r * cols;
    const float* dyr = dy + r * cols;
    float* dxr = dx + r * cols;
    double total = 0.0;
    int64_t support = 0;
    for (int64_t c = 0; c < cols; ++c)
      if (yr[c] > 0.0f) total += dyr[c], ++support;
    const float mean = support > 0 ? static_cast<float>(total / static_cast<double>(support)) : 0.0f;
    for (int64_t c = 0; c < cols; ++c) dxr[c] = yr[c] > 0.0f ? dyr[c] - mean : 0.0f;
  }
}

// ---- the table ------------------------------------------------------------------------------------------------

using Forward = void (*)(const float* x, float* y, int64_t rows, int64_t cols);
using Backward = void (*)(const float* in, const float* dy, float* dx, int64_t rows, int64_t cols);

struct LayerOnly {
  const char* name;
  Forward forward;
  Backward backward;
  bool needs_input;
};

template <float (*Value)(float), float (*Slope)(float)>
constexpr LayerOnly element_wise(const char* name, bool needs_input) {
  return {name, map_forward<Value>, map_backward<Slope>, needs_input};
}

constexpr LayerOnly kLayerOnly[] = {
    {"softmax", softmax_rows, softmax_rows_backward, false},
    {"log_softmax", log_softmax_rows, log_softmax_rows_backward, false},
    {"sparsemax", sparsemax_rows, sparsemax_rows_backward, false},
    element_wise<leaky_relu, leaky_relu_slope>("leaky_relu", false),
    element_wise<relu6, relu6_slope>("relu6", false),
    element_wise<hard_tanh, hard_tanh_slope>("hard_tanh", false),
    element_wise<celu, celu_slope>("celu", false),
    element_wise<hard_shrink, hard_shrink_slope>("hard_shrink", false),
    element_wise<soft_shrink, soft_shrink_slope>("soft_shrink", false),
    element_wise<sparse_plus, sparse_plus_slope>("sparse_plus", false),
    element_wise<sparse_sigmoid, sparse_sigmoid_slope>("sparse_sigmoid", false),
    element_wise<log_sigmoid, log_sigmoid_slope>("log_sigmoid", false),
    element_wise<squareplus, squareplus_slope>("squareplus", false),
    element_wise<tanh_shrink, tanh_shrink_slope>("tanh_shrink", true),
    element_wise<gelu, gelu_slope>("gelu", true),
    element_wise<silu, silu_slope>("silu", true),
    element_wise<silu, silu_slope>("swish", true),
    element_wise<mish, mish_slope>("mish", true),
    element_wise<hard_silu, hard_silu_slope>("hard_silu", true),
    element_wise<hard_silu, hard_silu_slope>("hard_swish", true),
};

const LayerOnly* layer_only(const std::string& name) {
  for (const LayerOnly& a : kLayerOnly)
    if (name == a.name) return &a;
  return nullptr;
}

[[noreturn]] void unknown(const std::string& name, const char* caller) {
  std::string known = activation_names();
  for (const LayerOnly& a : kLayerOnly) known += std::string(", ") + a.name;
  throw std::invalid_argument(std::string(caller) + ": expected an activation in {" + known + "}, received '" + name +
                              "'");
}

}  // namespace

bool is_layer_activation(const std::string& name) { return layer_only(name) || activation_by_name(name); }

bool layer_activation_needs_input(const std::string& name) {
  const LayerOnly* a = layer_only(name);
  return a && a->needs_input;
}

void layer_activation_forward(const std::string& name, const float* x, float* y, int64_t rows, int64_t cols) {
  if (const LayerOnly* a = layer_only(name)) return a->forward(x, y, rows, cols);
  const std::optional<Activation> a = activation_by_name(name);
  if (!a) unknown(name, "activation");
  activation_forward(*a, x, y, rows * cols);
}

void layer_activation_backward(const std::string& name, const float* x, const float* y, const float* dy, float* dx,
                               int64_t rows, int64_t cols) {
  if (const LayerOnly* a = layer_only(name)) return a->backward(a->needs_input ? x : y, dy, dx, rows, cols);
  const std::optional<Activation> a = activation_by_name(name);
  if (!a) unknown(name, "activation_grad");
  activation_backward(*a, y, dy, dx, rows * cols);
}

}  // namespace rnnkit
