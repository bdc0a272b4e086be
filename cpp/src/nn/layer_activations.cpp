// Layer activations, forward next to backward: the element-wise ones of activations.hpp (per-ISA kernels, shared
// with the recurrent cells), the element-wise ones only layers take (Keras 3's default arguments), and softmax,
// log_softmax and sparsemax over the last axis. Derivatives are written through the output y where it determines
// them, so a layer keeps only its output; the rest read the input x (LayerOnly::needs_input).
#include "rnnkit/layer_activations.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <vector>

#include "rnnkit/activations.hpp"
#include "rnnkit/runtime.hpp"

namespace rnnkit {
namespace {

using std::int64_t;

// ---- element-wise, layers only: value(x) and slope(y or x) = d value / dx -------------------------------------
// Written as selects between values computed unconditionally (std::min / std::max are selects), which GCC
// vectorises (with -fno-trapping-math, cpp/CMakeLists.txt). std::max(x, c) and std::min(x, c) return x when x is
// NaN, so NaN stays NaN.

float leaky_relu(float x) { return std::max(x, 0.0f) + 0.2f * std::min(x, 0.0f); }  // Keras' negative_slope 0.2
float leaky_relu_slope(float y) { return y > 0.0f ? 1.0f : 0.2f; }

float relu6(float x) { return std::min(std::max(x, 0.0f), 6.0f); }
float relu6_slope(float y) { return y > 0.0f && y < 6.0f ? 1.0f : 0.0f; }

float hard_tanh(float x) { return std::min(std::max(x, -1.0f), 1.0f); }
float hard_tanh_slope(float y) { return std::fabs(y) < 1.0f ? 1.0f : 0.0f; }

float hard_shrink(float x) { return std::fabs(x) <= 0.5f ? 0.0f : x; }  // threshold 0.5
float hard_shrink_slope(float y) { return y != 0.0f ? 1.0f : 0.0f; }

float soft_shrink(float x) { return x - std::min(std::max(x, -0.5f), 0.5f); }
float soft_shrink_slope(float y) { return y != 0.0f ? 1.0f : 0.0f; }

// (x + 1)^2 / 4 on (-1, 1): its slope (x + 1) / 2 is sqrt(y) there.
float sparse_plus(float x) {
  const float square = 0.25f * (x + 1.0f) * (x + 1.0f);
  return x <= -1.0f ? 0.0f : x < 1.0f ? square : x;
}
float sparse_plus_slope(float y) { return std::min(std::sqrt(y), 1.0f); }

float sparse_sigmoid(float x) { return std::min(std::max(0.5f * (x + 1.0f), 0.0f), 1.0f); }
float sparse_sigmoid_slope(float y) { return y > 0.0f && y < 1.0f ? 0.5f : 0.0f; }

// x relu6(x + 3) / 6 (x itself from 3 on); the slope at the ends follows PyTorch's hardswish, which Keras on
// torch differentiates.
float hard_silu(float x) { return x * (std::min(std::max(x + 3.0f, 0.0f), 6.0f) / 6.0f); }
float hard_silu_slope(float x) {
  const float middle = x / 3.0f + 0.5f;
  return x < -3.0f ? 0.0f : x <= 3.0f ? middle : 1.0f;
}

// Through libm (scalar loops): rare enough in models that their speed has not mattered.
float celu(float x) { return x > 0.0f ? x : std::expm1(x); }  // alpha 1: e^x - 1 = y below 0, slope y + 1
float celu_slope(float y) { return y > 0.0f ? 1.0f : y + 1.0f; }

// -softplus(-x); its slope sigmoid(-x) = 1 - e^y.
float log_sigmoid(float x) { return -(std::log1p(std::exp(-std::fabs(x))) + std::max(-x, 0.0f)); }
float log_sigmoid_slope(float y) { return -std::expm1(y); }

// (x + sqrt(x^2 + 4)) / 2, b = 4, in the form without cancellation for negative x; slope y^2 / (y^2 + 1).
float squareplus(float x) {
  const float root = std::hypot(x, 2.0f);
  return x >= 0.0f ? 0.5f * (x + root) : 2.0f / (root - x);
}
float squareplus_slope(float y) { return 1.0f / (1.0f + 1.0f / (y * y)); }

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


constexpr int64_t kBlock = 512;
// From this many blocks (128 K elements) the team shares them: below, waking it costs more than it saves.
constexpr int64_t kParallelBlocks = 256;

// body(start, count) over [0, n) in blocks of kBlock, shared by the team when there are enough of them.
template <typename Body>
void in_blocks(int64_t n, Body body) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (blocks >= kParallelBlocks)
  for (int64_t b = 0; b < blocks; ++b) body(b * kBlock, std::min(kBlock, n - b * kBlock));
}

template <float (*Value)(float)>
void map_forward(const float* x, float* y, int64_t rows, int64_t cols) {
  in_blocks(rows * cols, [&](int64_t start, int64_t n) {
    for (int64_t i = start; i < start + n; ++i) y[i] = Value(x[i]);
  });
}

// `in` is y, or x for the activations that need their input.
template <float (*Slope)(float)>
void map_backward(const float* in, const float* dy, float* dx, int64_t rows, int64_t cols) {
  in_blocks(rows * cols, [&](int64_t start, int64_t n) {
    for (int64_t i = start; i < start + n; ++i) dx[i] = dy[i] * Slope(in[i]);
  });
}

// ---- element-wise through exp: gelu, silu, mish -----------------------------------------------------------------
// A block at a time: the exponentials (or sigmoids) of the block by the ISA's vector kernels into a buffer in L1,
// then a select-only loop GCC vectorises.

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;
// Below this Φ(x) < 1e-44 (gelu would be subnormal): 0.
constexpr float kGeluZeroBelow = -14.0f;
// Below this x e^x < 1e-36 (silu, mish): 0, where the clamped exp would leave x * 1.6e-38.
constexpr float kExpZeroBelow = -88.0f;

// Φ(x) = erfc(-x / √2) / 2 with erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2) for z = |x|/√2 >= 0: the
// Chebyshev fit of Numerical Recipes (2nd ed., §6.2, erfcc), fractional error below 1.2e-7 everywhere, so the
// far negative tail keeps its relative accuracy. `t` and the exponent for one element; the block exps it.
inline float erfc_exponent(float x, float& t) {
  const float z = std::fabs(x) * kInvSqrt2;
  t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  for (const float c : {-0.82215223f, 1.48851587f, -1.13520398f, 0.27886807f, -0.18628806f, 0.09678418f,
                        0.37409196f, 1.00002368f, -1.26551223f})
    p = p * t + c;
  return p - z * z;
}

// Φ(x) over a block: erfc's exponentials in one vector pass.
void normal_cdf_block(const float* x, float* phi, int64_t n) {
  alignas(64) float t[kBlock];
  for (int64_t i = 0; i < n; ++i) phi[i] = erfc_exponent(x[i], t[i]);
  exp_array(phi, phi, n);
  for (int64_t i = 0; i < n; ++i) {
    const float lower_tail = 0.5f * t[i] * phi[i];
    const float upper = 1.0f - lower_tail;
    phi[i] = x[i] < kGeluZeroBelow ? 0.0f : x[i] < 0.0f ? lower_tail : upper;
  }
}

// Keras' gelu is the exact one (approximate=False): x Φ(x).
void gelu_forward(const float* x, float* y, int64_t rows, int64_t cols) {
  in_blocks(rows * cols, [&](int64_t start, int64_t n) {
    alignas(64) float phi[kBlock];
    normal_cdf_block(x + start, phi, n);
    for (int64_t i = 0; i < n; ++i) y[start + i] = x[start + i] * phi[i];
  });
}

// Φ(x) + x φ(x).
void gelu_backward(const float* x, const float* dy, float* dx, int64_t rows, int64_t cols) {
  in_blocks(rows * cols, [&](int64_t start, int64_t n) {
    alignas(64) float phi[kBlock], density[kBlock];
    normal_cdf_block(x + start, phi, n);
    for (int64_t i = 0; i < n; ++i) density[i] = -0.5f * x[start + i] * x[start + i];
    exp_array(density, density, n);
    for (int64_t i = 0; i < n; ++i)
      dx[start + i] = dy[start + i] * (phi[i] + x[start + i] * kInvSqrt2Pi * density[i]);
  });
}

// x σ(x).
void silu_forward(const float* x, float* y, int64_t rows, int64_t cols) {
  in_blocks(rows * cols, [&](int64_t start, int64_t n) {
    alignas(64) float s[kBlock];
    activation_forward(Activation::sigmoid, x + start, s, n);
    for (int64_t i = 0; i < n; ++i) y[start + i] = x[start + i] * (x[start + i] < kExpZeroBelow ? 0.0f : s[i]);
  });
}

// σ(x) (1 + x (1 - σ(x))).
void silu_backward(const float* x, const float* dy, float* dx, int64_t rows, int64_t cols) {
  in_blocks(rows * cols, [&](int64_t start, int64_t n) {
    alignas(64) float s[kBlock];
    activation_forward(Activation::sigmoid, x + start, s, n);
    for (int64_t i = 0; i < n; ++i) {
      const float slope = s[i] * (1.0f + x[start + i] * (1.0f - s[i]));
      dx[start + i] = dy[start + i] * (x[start + i] < kExpZeroBelow ? 0.0f : slope);
    }
  });
}

// tanh(softplus(x)) = n / (n + 2) with n = e^x (e^x + 2): one exp, no log. From x = 20 on it is 1 in float32
// (and n would overflow past 44).
constexpr float kMishSaturatedFrom = 20.0f;

void mish_factors_block(const float* x, float* e, float* tanh_softplus, int64_t n) {
  exp_array(x, e, n);
  for (int64_t i = 0; i < n; ++i) {
    const float m = e[i] * (e[i] + 2.0f);
    const float t = m / (m + 2.0f);
    tanh_softplus[i] = x[i] < kExpZeroBelow ? 0.0f : x[i] >= kMishSaturatedFrom ? 1.0f : t;
  }
}

// x tanh(softplus(x)).
void mish_forward(const float* x, float* y, int64_t rows, int64_t cols) {
  in_blocks(rows * cols, [&](int64_t start, int64_t n) {
    alignas(64) float e[kBlock], t[kBlock];
    mish_factors_block(x + start, e, t, n);
    for (int64_t i = 0; i < n; ++i) y[start + i] = x[start + i] * t[i];
  });
}

// t + x (1 - t^2) σ(x), t = tanh(softplus(x)), σ(x) = e^x / (1 + e^x).
void mish_backward(const float* x, const float* dy, float* dx, int64_t rows, int64_t cols) {
  in_blocks(rows * cols, [&](int64_t start, int64_t n) {
    alignas(64) float e[kBlock], t[kBlock];
    mish_factors_block(x + start, e, t, n);
    for (int64_t i = 0; i < n; ++i) {
      const float sigmoid = e[i] / (1.0f + e[i]);
      const float slope = t[i] + x[start + i] * (1.0f - t[i] * t[i]) * sigmoid;
      dx[start + i] = dy[start + i] * (x[start + i] < kExpZeroBelow ? 0.0f : x[start + i] >= kMishSaturatedFrom ? 1.0f : slope);
    }
  });
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
    {"gelu", gelu_forward, gelu_backward, true},
    {"silu", silu_forward, silu_backward, true},
    {"swish", silu_forward, silu_backward, true},
    {"mish", mish_forward, mish_backward, true},
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
