// LayerNormalization over the last axis: forward next to backward, with its factory and from_config. The kernels are
// the core's layer_norm_forward/backward (cpp/src/attention/layer_norm.cpp), which Python's layer calls too.
#include "model/support.hpp"
#include "rnnkit/attention.hpp"
#include "rnnkit/layers.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

class LayerNormalizationLayer final : public Layer {
 public:
  LayerNormalizationLayer(std::string name, std::int64_t axis, float epsilon, bool center, bool scale)
      : Layer(std::move(name)), axis_(axis), epsilon_(epsilon), center_(center), scale_(scale) {}
  const char* class_name() const override { return "LayerNormalization"; }
  std::string config_json() const override {
    return config_object(*this, "\"axis\": " + std::to_string(axis_) + ", \"epsilon\": " + json_number(epsilon_) +
                                    ", \"center\": " + (center_ ? "true" : "false") + ", \"scale\": " +
                                    (scale_ ? "true" : "false") + ", \"rms_scaling\": false");
  }

  Shape build(const Shape& input, std::mt19937_64* rng) override {
    ensure_gamma_beta(weights_, *this, normalized_axis_size(*this, input, axis_), scale_, center_, rng);
    return input;
  }

  struct Cache final : LayerCache {
    Tensor x;
    std::vector<float> mean, inv_std;
  };

  Tensor forward(const Tensor& x, StepMask&, TrainingStep* training) const override {
    const std::int64_t rows = row_count(x.shape);
    auto cache = std::make_unique<Cache>();
    cache->mean.resize(static_cast<std::size_t>(rows));
    cache->inv_std.resize(cache->mean.size());
    Tensor y(x.shape);
    layer_norm_forward(x.values.data(), gamma(), beta(), rows, x.shape.back(), epsilon_, y.values.data(),
                       cache->mean.data(), cache->inv_std.data());
    if (training) {
      cache->x = x;
      training->cache = std::move(cache);
    }
    return y;
  }

  LayerGradients backward(const LayerCache& base, const Tensor& d_y) const override {
    const auto& cache = static_cast<const Cache&>(base);
    LayerGradients g = zero_gradients(cache.x.shape, *this);
    float* d_gamma = scale_ ? g.d_weights[0].values.data() : nullptr;
    float* d_beta = center_ ? g.d_weights[scale_ ? 1 : 0].values.data() : nullptr;
    layer_norm_backward(cache.x.values.data(), gamma(), cache.mean.data(), cache.inv_std.data(), d_y.values.data(),
                        row_count(cache.x.shape), cache.x.shape.back(), g.d_x.values.data(), d_gamma, d_beta);
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>& out) override {
    for (Weight& w : weights_) out.push_back(&w);
  }

 private:
  static std::int64_t row_count(const Shape& shape) { return element_count(Shape(shape.begin(), shape.end() - 1)); }
  const float* gamma() const { return scale_ ? weights_.front().value.values.data() : nullptr; }
  const float* beta() const { return center_ ? weights_.back().value.values.data() : nullptr; }

  std::int64_t axis_;
  float epsilon_;
  bool center_, scale_;
  std::vector<Weight> weights_;  // gamma (when scale_), beta (when center_)
};

}  // namespace

// Regularizers and constraints are refused for every layer when its config is read (ConfigReader).
std::unique_ptr<Layer> layer_normalization_from_config(const ConfigReader& c) {
  c.require_default("rms_scaling", false);
  return std::make_unique<LayerNormalizationLayer>(c.name(), c.axis(), static_cast<float>(c.number("epsilon", 1e-3)),
                                                   c.flag("center", true), c.flag("scale", true));
}

}  // namespace model_detail

namespace layers {
std::unique_ptr<Layer> LayerNormalization(float epsilon, bool center, bool scale, const std::string& name) {
  return std::make_unique<model_detail::LayerNormalizationLayer>(
      name.empty() ? model_detail::auto_name("layer_normalization") : name, -1, epsilon, center, scale);
}
}  // namespace layers

}  // namespace rnnkit
