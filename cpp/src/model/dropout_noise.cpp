// Keras' noise_shape of the dropout layers: its text, its config, its checks and its size for one input.
#include "model/dropout_noise.hpp"

namespace rnnkit::model_detail {

std::string noise_shape_text(const NoiseShape& noise_shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < noise_shape.size(); ++i)
    text += (i ? ", " : "") + (noise_shape[i] < 0 ? std::string("null") : std::to_string(noise_shape[i]));
  return text + "]";
}

void check_noise_shape(const Layer& layer, const NoiseShape& noise_shape) {
  for (std::int64_t n : noise_shape)
    if (n < -1 || n == 0)
      fail_layer(layer, "noise_shape entries must be positive or None, received " + noise_shape_text(noise_shape));
}

void check_noise_rank(const Layer& layer, const NoiseShape& noise_shape, const Shape& per_example) {
  if (!noise_shape.empty() && noise_shape.size() != per_example.size() + 1)
    fail_layer(layer, "noise_shape " + noise_shape_text(noise_shape) + " does not match the rank of input " +
                          shape_text(with_batch(-1, per_example)));
}

NoiseShape noise_shape_from_config(const ConfigReader& c) {
  NoiseShape noise_shape;
  if (const Json* v = c.get("noise_shape"); v != nullptr && v->kind != Json::Kind::null) {
    if (v->kind != Json::Kind::array) fail(c.where(), "noise_shape must be a list");
    for (const Json& n : v->array) {
      if (n.kind != Json::Kind::null && !n.is_integer) fail(c.where(), "noise_shape entries must be integers or null");
      noise_shape.push_back(n.kind == Json::Kind::null ? -1 : n.integer);
    }
  }
  return noise_shape;
}

Shape concrete_noise_shape(const Layer& layer, const NoiseShape& noise_shape, const Shape& x) {
  if (noise_shape.empty()) return x;
  Shape noise(x.size());
  for (std::size_t d = 0; d < x.size(); ++d) {
    noise[d] = noise_shape[d] < 0 ? x[d] : noise_shape[d];
    if (noise[d] != 1 && noise[d] != x[d])
      fail_layer(layer, "noise_shape " + noise_shape_text(noise_shape) + " does not broadcast to the input " +
                            shape_text(x));
  }
  return noise;
}

}  // namespace rnnkit::model_detail
