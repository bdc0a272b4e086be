// Flatten and RepeatVector: forward next to backward, with their factories and from_config.
#include <algorithm>

#include "model/support.hpp"
#include "rnnkit/layers.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

struct ShapeCache final : LayerCache {
  explicit ShapeCache(Shape s) : shape(std::move(s)) {}
  Shape shape;
};

class FlattenLayer final : public Layer {
 public:
  using Layer::Layer;
  const char* class_name() const override { return "Flatten"; }
  std::string config_json() const override { return config_object(*this, ""); }
  Shape build(const Shape& input, std::mt19937_64*) override {
    if (std::any_of(input.begin(), input.end(), [](std::int64_t d) { return d < 0; }))
      fail_layer(*this, "needs a fully known input shape, received " + shape_text(input));
    return {element_count(input)};
  }
  Tensor forward(const Tensor& x, StepMask& mask, TrainingStep* training) const override {
    Tensor y = x;
    y.shape = {x.shape[0], x.shape[0] == 0 ? 0 : x.size() / x.shape[0]};
    mask.clear();
    if (training) training->cache = std::make_unique<ShapeCache>(x.shape);
    return y;
  }
  LayerGradients backward(const LayerCache& cache, const Tensor& d_y) const override {
    LayerGradients g{d_y, {}};
    g.d_x.shape = static_cast<const ShapeCache&>(cache).shape;
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>&) override {}
};

class RepeatVectorLayer final : public Layer {
 public:
  RepeatVectorLayer(std::string name, std::int64_t n) : Layer(std::move(name)), n_(n) {
    if (n <= 0) fail_layer(*this, "n must be positive, received " + std::to_string(n));
  }
  const char* class_name() const override { return "RepeatVector"; }
  std::string config_json() const override { return config_object(*this, "\"n\": " + std::to_string(n_)); }
  Shape build(const Shape& input, std::mt19937_64*) override {
    if (input.size() != 1) fail_layer(*this, "needs a (features,) input, received " + shape_text(input));
    return {n_, input[0]};
  }
  Tensor forward(const Tensor& x, StepMask& mask, TrainingStep* training) const override {
    const std::int64_t batch = x.shape[0], features = x.shape[1];
    Tensor y({batch, n_, features});
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t t = 0; t < n_; ++t)
        std::copy_n(x.values.data() + b * features, features, y.values.data() + (b * n_ + t) * features);
    mask.clear();
    if (training) training->cache = std::make_unique<ShapeCache>(x.shape);
    return y;
  }
  LayerGradients backward(const LayerCache&, const Tensor& d_y) const override {
    const std::int64_t batch = d_y.shape[0], features = d_y.shape[2];
    LayerGradients g{Tensor({batch, features}), {}};
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t t = 0; t < n_; ++t)
        for (std::int64_t f = 0; f < features; ++f)
          g.d_x.values[static_cast<std::size_t>(b * features + f)] +=
              d_y.values[static_cast<std::size_t>((b * n_ + t) * features + f)];
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>&) override {}

 private:
  std::int64_t n_;
};

}  // namespace

std::unique_ptr<Layer> flatten_from_config(const ConfigReader& c) {
  if (c.text("data_format", "channels_last") != "channels_last")
    fail(c.where(), "only data_format=channels_last is supported by the C++ model API");
  return std::make_unique<FlattenLayer>(c.name());
}
std::unique_ptr<Layer> repeat_vector_from_config(const ConfigReader& c) {
  return std::make_unique<RepeatVectorLayer>(c.name(), c.positive_integer("n"));
}

}  // namespace model_detail

namespace layers {
std::unique_ptr<Layer> Flatten(const std::string& name) {
  return std::make_unique<model_detail::FlattenLayer>(name.empty() ? model_detail::auto_name("flatten") : name);
}
std::unique_ptr<Layer> RepeatVector(std::int64_t n, const std::string& name) {
  return std::make_unique<model_detail::RepeatVectorLayer>(name.empty() ? model_detail::auto_name("repeat_vector") : name, n);
}
}  // namespace layers

}  // namespace rnnkit
