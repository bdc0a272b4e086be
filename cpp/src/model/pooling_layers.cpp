// GlobalAveragePooling1D (mask-aware) and GlobalMaxPooling1D over the time axis of (batch, time, features).
#include "model/support.hpp"
#include "rnnkit/layer_ops.hpp"
#include "rnnkit/layers.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

class GlobalPooling final : public Layer {
 public:
  GlobalPooling(std::string name, bool max, bool keepdims) : Layer(std::move(name)), max_(max), keepdims_(keepdims) {}
  const char* class_name() const override { return max_ ? "GlobalMaxPooling1D" : "GlobalAveragePooling1D"; }
  std::string config_json() const override {
    return config_object(*this, std::string("\"keepdims\": ") + (keepdims_ ? "true" : "false"));
  }

  Shape build(const Shape& input, std::mt19937_64*) override {
    if (input.size() != 2 || input[1] < 0)
      fail_layer(*this, "needs a (time, features) input, received " + shape_text(input));
    return keepdims_ ? Shape{1, input[1]} : Shape{input[1]};
  }

  struct Cache final : LayerCache {
    Shape x_shape;
    StepMask mask;
    std::vector<std::int64_t> argmax;
  };

  Tensor forward(const Tensor& x, StepMask& mask, TrainingStep* training) const override {
    const std::int64_t batch = x.shape[0], steps = x.shape[1], features = x.shape[2];
    Tensor y({batch, features});
    auto cache = std::make_unique<Cache>();
    if (max_) {
      // Keras' max pooling ignores the mask; so does this.
      cache->argmax.resize(static_cast<std::size_t>(batch * features));
      global_max_pool_1d_forward(x.values.data(), batch, steps, features, y.values.data(), cache->argmax.data());
    } else {
      global_average_pool_1d_forward(x.values.data(), mask.empty() ? nullptr : mask.data(), batch, steps, features,
                                     y.values.data());
    }
    if (keepdims_) y.shape = {batch, 1, features};
    if (training) {
      cache->x_shape = x.shape;
      cache->mask = mask;
      training->cache = std::move(cache);
    }
    mask.clear();
    return y;
  }

  LayerGradients backward(const LayerCache& base, const Tensor& d_y) const override {
    const auto& cache = static_cast<const Cache&>(base);
    const std::int64_t batch = cache.x_shape[0], steps = cache.x_shape[1], features = cache.x_shape[2];
    LayerGradients g{Tensor(cache.x_shape), {}};
    if (max_)
      global_max_pool_1d_backward(d_y.values.data(), cache.argmax.data(), batch, steps, features,
                                  g.d_x.values.data());
    else
      global_average_pool_1d_backward(d_y.values.data(), cache.mask.empty() ? nullptr : cache.mask.data(), batch,
                                      steps, features, g.d_x.values.data());
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>&) override {}

 private:
  bool max_, keepdims_;
};

std::unique_ptr<Layer> pooling_from_config(const ConfigReader& c, bool max) {
  if (c.text("data_format", "channels_last") != "channels_last")
    fail(c.where(), "only data_format=channels_last is supported by the C++ model API");
  return std::make_unique<GlobalPooling>(c.name(), max, c.flag("keepdims", false));
}

}  // namespace

std::unique_ptr<Layer> global_average_pooling_from_config(const ConfigReader& c) { return pooling_from_config(c, false); }
std::unique_ptr<Layer> global_max_pooling_from_config(const ConfigReader& c) { return pooling_from_config(c, true); }

}  // namespace model_detail

namespace layers {
std::unique_ptr<Layer> GlobalAveragePooling1D(const std::string& name) {
  return std::make_unique<model_detail::GlobalPooling>(name.empty() ? model_detail::auto_name("global_average_pooling1d") : name, false, false);
}
std::unique_ptr<Layer> GlobalMaxPooling1D(const std::string& name) {
  return std::make_unique<model_detail::GlobalPooling>(name.empty() ? model_detail::auto_name("global_max_pooling1d") : name, true, false);
}
}  // namespace layers

}  // namespace rnnkit
