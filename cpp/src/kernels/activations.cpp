// Name parsing and run-time ISA dispatch of the activation kernels, and the portable forms of the activations
// without SIMD kernels (every ISA's kernels hand them here), forward next to backward, derivatives written through
// the output y (a layer or cell keeps only its output for backprop).
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "rnnkit/activations.hpp"
#include "rnnkit/runtime.hpp"
#include "simd_isa_kernels.hpp"

namespace rnnkit {

namespace {

struct Named {
  const char* name;
  Activation activation;
};
constexpr Named kNames[] = {
    {"tanh", Activation::tanh},         {"sigmoid", Activation::sigmoid},   {"hard_sigmoid", Activation::hard_sigmoid},
    {"relu", Activation::relu},         {"linear", Activation::linear},     {"elu", Activation::elu},
    {"selu", Activation::selu},         {"softplus", Activation::softplus}, {"softsign", Activation::softsign},
    {"exponential", Activation::exponential}};

// SELU constants from Klambauer et al. (2017), as Keras 3 uses them.
constexpr float kSeluAlpha = 1.67326324235437728f;
constexpr float kSeluScale = 1.05070098735548049f;

}  // namespace

void portable_activation_forward(Activation a, const float* x, float* y, std::int64_t n) {
  switch (a) {
    case Activation::elu:
      for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : std::expm1(x[i]);
      return;
    case Activation::selu:
      for (std::int64_t i = 0; i < n; ++i) y[i] = kSeluScale * (x[i] > 0.0f ? x[i] : kSeluAlpha * std::expm1(x[i]));
      return;
    case Activation::softplus:  // log1p(exp(-|x|)) + max(x, 0) never overflows
      for (std::int64_t i = 0; i < n; ++i) y[i] = std::log1p(std::exp(-std::fabs(x[i]))) + std::max(x[i], 0.0f);
      return;
    case Activation::softsign:
      for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] / (1.0f + std::fabs(x[i]));
      return;
    case Activation::exponential:
      for (std::int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
      return;
    default: throw std::logic_error("portable_activation_forward: an activation with SIMD kernels");
  }
}

void portable_activation_backward(Activation a, const float* y, const float* dy, float* dx, std::int64_t n) {
  switch (a) {
    case Activation::elu:  // y > 0 exactly where x > 0; below, d/dx (e^x - 1) = y + 1
      for (std::int64_t i = 0; i < n; ++i) dx[i] = dy[i] * (y[i] > 0.0f ? 1.0f : y[i] + 1.0f);
      return;
    case Activation::selu:  // below 0: scale·alpha·e^x = y + scale·alpha
      for (std::int64_t i = 0; i < n; ++i) dx[i] = dy[i] * (y[i] > 0.0f ? kSeluScale : y[i] + kSeluScale * kSeluAlpha);
      return;
    case Activation::softplus:  // sigmoid(x) = 1 - e^{-y}
      for (std::int64_t i = 0; i < n; ++i) dx[i] = dy[i] * -std::expm1(-y[i]);
      return;
    case Activation::softsign:  // 1 / (1 + |x|)^2 = (1 - |y|)^2
      for (std::int64_t i = 0; i < n; ++i) {
        const float slope = 1.0f - std::fabs(y[i]);
        dx[i] = dy[i] * slope * slope;
      }
      return;
    case Activation::exponential:
      for (std::int64_t i = 0; i < n; ++i) dx[i] = dy[i] * y[i];
      return;
    default: throw std::logic_error("portable_activation_backward: an activation with SIMD kernels");
  }
}

std::optional<Activation> activation_by_name(const std::string& name) {
  for (const Named& n : kNames)
    if (name == n.name) return n.activation;
  return std::nullopt;
}

Activation parse_activation(const std::string& name, const char* caller) {
  if (const std::optional<Activation> a = activation_by_name(name)) return *a;
  throw std::invalid_argument(std::string(caller) + ": expected an activation in {" + activation_names() +
                              "}, received '" + name + "'");
}

std::string activation_names() {
  std::string known;
  for (const Named& n : kNames) known += std::string(known.empty() ? "" : ", ") + n.name;
  return known;
}

const char* activation_name(Activation a) {
  for (const Named& n : kNames)
    if (n.activation == a) return n.name;
  return "?";
}

void activation_forward(Activation a, const float* x, float* y, std::int64_t n) {
  switch (active_isa()) {
    case Isa::avx512: return avx512::activation_forward(a, x, y, n);
    case Isa::avx2: return avx2::activation_forward(a, x, y, n);
    case Isa::generic: return generic::activation_forward(a, x, y, n);
  }
}

void activation_backward(Activation a, const float* y, const float* dy, float* dx, std::int64_t n) {
  switch (active_isa()) {
    case Isa::avx512: return avx512::activation_backward(a, y, dy, dx, n);
    case Isa::avx2: return avx2::activation_backward(a, y, dy, dx, n);
    case Isa::generic: return generic::activation_backward(a, y, dy, dx, n);
  }
}

void exp_array(const float* x, float* y, std::int64_t n) {
  switch (active_isa()) {
    case Isa::avx512: return avx512::exp_array(x, y, n);
    case Isa::avx2: return avx2::exp_array(x, y, n);
    case Isa::generic: return generic::exp_array(x, y, n);
  }
}

}  // namespace rnnkit
