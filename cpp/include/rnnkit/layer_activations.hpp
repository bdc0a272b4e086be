// Activations of Dense and Activation layers: every Keras 3 name rnnkit supports, the element-wise ones of
// activations.hpp (which the recurrent cells take too) and softmax over the last axis.
#pragma once
#include <cstdint>
#include <string>

namespace rnnkit {

// True for the names layer_activation_forward accepts.
bool is_layer_activation(const std::string& name);

// y = act(x) for x viewed as (rows, cols) row-major; cols is the axis softmax normalises. x == y allowed.
void layer_activation_forward(const std::string& name, const float* x, float* y, std::int64_t rows,
                              std::int64_t cols);
// dx from the output y and dy (every derivative here is a function of the output). dy == dx allowed.
void layer_activation_backward(const std::string& name, const float* y, const float* dy, float* dx,
                               std::int64_t rows, std::int64_t cols);

}  // namespace rnnkit
