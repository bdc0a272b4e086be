// Name parsing and run-time ISA dispatch of the activation kernels.
#include <stdexcept>

#include "rnnkit/activations.hpp"
#include "rnnkit/runtime.hpp"
#include "simd_isa_kernels.hpp"

namespace rnnkit {

Activation parse_activation(const std::string& name, const char* caller) {
  if (name == "tanh") return Activation::tanh;
  if (name == "sigmoid") return Activation::sigmoid;
  if (name == "hard_sigmoid") return Activation::hard_sigmoid;
  if (name == "relu") return Activation::relu;
  if (name == "linear") return Activation::linear;
  throw std::invalid_argument(std::string(caller) +
                              ": expected an activation in {tanh, sigmoid, hard_sigmoid, relu, linear}, received '" +
                              name + "'");
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::tanh: return "tanh";
    case Activation::sigmoid: return "sigmoid";
    case Activation::hard_sigmoid: return "hard_sigmoid";
    case Activation::relu: return "relu";
    case Activation::linear: return "linear";
  }
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
