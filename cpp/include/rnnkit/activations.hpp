// Element-wise activations of the recurrent cells (and of every layer): the first five vectorised per ISA and
// dispatched on active_isa(), the rest portable loops.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace rnnkit {

// Keras 3 names. hard_sigmoid is Keras 3's relu6(x + 3) / 6; elu has alpha 1 and selu Keras' constants.
enum class Activation { tanh, sigmoid, hard_sigmoid, relu, linear, elu, selu, softplus, softsign, exponential };

// The activation of a Keras name, if it is one of these.
std::optional<Activation> activation_by_name(const std::string& name);
// Parses a Keras name; std::invalid_argument naming `caller` when unknown.
Activation parse_activation(const std::string& name, const char* caller);
const char* activation_name(Activation a);
// Every name activation_by_name knows, comma-separated (for error messages).
std::string activation_names();

// y[i] = act(x[i]); x == y allowed.
void activation_forward(Activation a, const float* x, float* y, std::int64_t n);
// dx[i] = act'(.) * dy[i], with the derivative expressed through the output y = act(x). dy == dx allowed.
void activation_backward(Activation a, const float* y, const float* dy, float* dx, std::int64_t n);

// Vectorised exp (input clamped to [-88, 88] so the result is always finite and non-zero-safe).
void exp_array(const float* x, float* y, std::int64_t n);

}  // namespace rnnkit
