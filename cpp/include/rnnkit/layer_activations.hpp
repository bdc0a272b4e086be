// Activations of Dense and Activation layers: every Keras 3 name rnnkit supports. The element-wise ones of
// activations.hpp (which the recurrent cells take too), the element-wise ones only layers take, and softmax,
// log_softmax and sparsemax over the last axis.
#pragma once
#include <cstdint>
#include <string>

namespace rnnkit {

// True for the names layer_activation_forward accepts.
bool is_layer_activation(const std::string& name);
// True when the derivative is not a function of the output (gelu, silu, mish, ...): backward then reads the
// activation's input x, which a layer must keep; every other backward reads the output y alone.
bool layer_activation_needs_input(const std::string& name);

// y = act(x) for x viewed as (rows, cols) row-major; cols is the axis softmax normalises. x == y allowed.
void layer_activation_forward(const std::string& name, const float* x, float* y, std::int64_t rows,
                              std::int64_t cols);
// dx from dy and the output y, or the input x where layer_activation_needs_input (the other may be null).
// dy == dx allowed.
void layer_activation_backward(const std::string& name, const float* x, const float* y, const float* dy, float* dx,
                               std::int64_t rows, std::int64_t cols);

}  // namespace rnnkit
