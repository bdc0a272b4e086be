// AdaptiveAveragePooling1D and AdaptiveMaxPooling1D (Keras 3's) over the steps of (batch, steps, channels): a fixed
// number of output steps whatever the input's length, each pooling one of PyTorch's bins (rnnkit/layer_ops.hpp).
// Channels last only. They drop the mask, as Keras' do.
#include <string>
#include <vector>

#include "model/support.hpp"
#include "model/window_layers.hpp"
#include "rnnkit/layer_ops.hpp"
#include "rnnkit/layers.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

class AdaptivePooling1D final : public Layer {
 public:
  AdaptivePooling1D(std::string name, bool max, std::int64_t output_size)
      : Layer(std::move(name)), max_(max), output_size_(output_size) {
    if (output_size <= 0)
      fail_layer(*this, "output_size must be a positive integer, received " + std::to_string(output_size));
  }
  const char* class_name() const override { return max_ ? "AdaptiveMaxPooling1D" : "AdaptiveAveragePooling1D"; }
  std::string config_json() const override {
    return config_object(*this, "\"output_size\": [" + std::to_string(output_size_) +
                                    "], \"data_format\": \"channels_last\"");
  }
  Shape build(const Shape& input, std::mt19937_64*) override {
    if (input.size() != 2 || input[1] < 0)
      fail_layer(*this, "needs a (steps, channels) input with known channels, received " + shape_text(input));
    if (input[0] == 0) fail_layer(*this, "cannot pool an input of 0 steps");
    return {output_size_, input[1]};
  }

  struct Cache final : LayerCache {
    Shape x_shape;
    std::vector<std::int64_t> argmax;  // the max's step of each output entry
  };

  Tensor forward(const Tensor& x, StepMask& mask, TrainingStep* training) const override {
    const std::int64_t batch = x.shape[0], steps = x.shape[1], channels = x.shape[2];
    if (steps == 0)
      fail_layer(*this, "cannot pool an input of 0 steps to " + std::to_string(output_size_) + " (input shape " +
                            shape_text(x.shape) + ")");
    Tensor y({batch, output_size_, channels});
    auto cache = std::make_unique<Cache>();
    if (max_) {
      if (training) cache->argmax.resize(y.values.size());
      adaptive_max_pool_1d_forward(x.values.data(), batch, steps, channels, output_size_, y.values.data(),
                                   training ? cache->argmax.data() : nullptr);
    } else {
      adaptive_average_pool_1d_forward(x.values.data(), batch, steps, channels, output_size_, y.values.data());
    }
    mask.clear();
    if (training) {
      cache->x_shape = x.shape;
      training->cache = std::move(cache);
    }
    return y;
  }
  LayerGradients backward(const LayerCache& base, const Tensor& d_y) const override {
    const auto& cache = static_cast<const Cache&>(base);
    const std::int64_t batch = cache.x_shape[0], steps = cache.x_shape[1], channels = cache.x_shape[2];
    LayerGradients g{Tensor(cache.x_shape), {}};
    if (max_)
      adaptive_max_pool_1d_backward(d_y.values.data(), cache.argmax.data(), batch, steps, channels, output_size_,
                                    g.d_x.values.data());
    else
      adaptive_average_pool_1d_backward(d_y.values.data(), batch, steps, channels, output_size_, g.d_x.values.data());
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>&) override {}

 private:
  bool max_;
  std::int64_t output_size_;
};

std::unique_ptr<Layer> adaptive_pooling_from_config(const ConfigReader& c, bool max) {
  require_channels_last(c);
  return std::make_unique<AdaptivePooling1D>(c.name(), max, c.size_1d("output_size"));
}

}  // namespace

std::unique_ptr<Layer> adaptive_average_pooling_1d_from_config(const ConfigReader& c) {
  return adaptive_pooling_from_config(c, false);
}
std::unique_ptr<Layer> adaptive_max_pooling_1d_from_config(const ConfigReader& c) {
  return adaptive_pooling_from_config(c, true);
}

}  // namespace model_detail

namespace layers {
std::unique_ptr<Layer> AdaptiveAveragePooling1D(std::int64_t output_size, const std::string& name) {
  return std::make_unique<model_detail::AdaptivePooling1D>(
      name.empty() ? model_detail::auto_name("adaptive_average_pooling1d") : name, false, output_size);
}
std::unique_ptr<Layer> AdaptiveMaxPooling1D(std::int64_t output_size, const std::string& name) {
  return std::make_unique<model_detail::AdaptivePooling1D>(
      name.empty() ? model_detail::auto_name("adaptive_max_pooling1d") : name, true, output_size);
}
}  // namespace layers

}  // namespace rnnkit
