// Keras' noise_shape of the dropout layers (Dropout, SpatialDropout1D, AlphaDropout): one draw per entry of the noise
// shape, broadcast over the input's axes where that shape is 1.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/support.hpp"

namespace rnnkit::model_detail {

// Batch axis first, -1 for None; empty: the input's own shape.
using NoiseShape = std::vector<std::int64_t>;

std::string noise_shape_text(const NoiseShape& noise_shape);  // [null, 1, 4]
// Entries must be positive or None; the rank must match the input's (checked when built).
void check_noise_shape(const Layer& layer, const NoiseShape& noise_shape);
void check_noise_rank(const Layer& layer, const NoiseShape& noise_shape, const Shape& per_example);
// A config's noise_shape: a list of integers and nulls, or null (empty).
NoiseShape noise_shape_from_config(const ConfigReader& c);
// The draws' shape for a batched input of shape x: x's own without a noise_shape; else each entry 1 or x's size.
Shape concrete_noise_shape(const Layer& layer, const NoiseShape& noise_shape, const Shape& x);

// t[i] = op(t[i], noise[j]) for every entry of t, j the entry of `noise` it reads (index 0 where noise's size is 1).
template <class Op>
void broadcast_noise(const Tensor& noise, Tensor& t, Op op) {
  if (noise.shape == t.shape) {
    for (std::size_t i = 0; i < t.values.size(); ++i) t.values[i] = op(t.values[i], noise.values[i]);
    return;
  }
  const std::size_t rank = t.shape.size();
  std::vector<std::int64_t> stride(rank, 0), index(rank, 0);  // noise's stride per axis, 0 where broadcast
  for (std::int64_t d = static_cast<std::int64_t>(rank) - 1, step = 1; d >= 0; --d) {
    if (noise.shape[d] != 1) stride[d] = step;
    step *= noise.shape[d];
  }
  std::int64_t k = 0;
  for (float& v : t.values) {
    v = op(v, noise.values[static_cast<std::size_t>(k)]);
    for (std::int64_t d = static_cast<std::int64_t>(rank) - 1; d >= 0; --d) {  // next index, odometer-style
      k += stride[d];
      if (++index[d] < t.shape[d]) break;
      k -= stride[d] * t.shape[d];
      index[d] = 0;
    }
  }
}

}  // namespace rnnkit::model_detail
