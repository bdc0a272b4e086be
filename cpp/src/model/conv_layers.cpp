// Conv1D, MaxPooling1D and AveragePooling1D over the steps axis of (batch, steps, channels): forward next to
// backward, with their factories and from_config. None supports masking in Keras 3, so each drops the mask.
#include <optional>

#include "model/window_layers.hpp"
#include "rnnkit/layers.hpp"

namespace rnnkit {
namespace model_detail {

Window1d layer_window(const Layer& layer, std::int64_t steps, std::int64_t size, std::int64_t stride,
                      std::int64_t dilation, const std::string& padding) {
  if (steps < 0) return {size, stride, dilation, 0, -1};
  const Window1d w = window_1d(steps, size, stride, dilation, padding);
  if (w.steps_out == 0 && steps > 0)
    fail_layer(layer, "an input of " + std::to_string(steps) + " steps is shorter than the window's span " +
                          std::to_string(dilation * (size - 1) + 1) + " with padding \"valid\"");
  return w;
}

void require_channels_last(const ConfigReader& c) {
  if (c.text("data_format", "channels_last") != "channels_last")
    fail(c.where(), "only data_format=channels_last is supported by the C++ model API");
}

namespace {

std::string size_list(std::int64_t n) { return "[" + std::to_string(n) + "]"; }

class Conv1DLayer final : public ActivatedProductLayer {
 public:
  Conv1DLayer(std::string name, std::int64_t filters, std::int64_t kernel_size, const layers::Conv1DOptions& options)
      : ActivatedProductLayer(std::move(name), options.activation, options.use_bias), filters_(filters),
        kernel_size_(kernel_size), strides_(options.strides), dilation_(options.dilation_rate),
        padding_(options.padding) {
    checked_activation(activation_, who(*this));
    if (filters <= 0 || kernel_size <= 0 || strides_ <= 0 || dilation_ <= 0)
      fail_layer(*this, "needs positive filters, kernel_size, strides and dilation_rate, received " +
                            std::to_string(filters) + ", " + std::to_string(kernel_size) + ", " +
                            std::to_string(strides_) + ", " + std::to_string(dilation_));
    if (padding_ != "valid" && padding_ != "same" && padding_ != "causal")
      fail_layer(*this, "padding must be \"valid\", \"same\" or \"causal\", received \"" + padding_ + "\"");
    if (strides_ > 1 && dilation_ > 1) fail_layer(*this, "cannot combine strides > 1 with dilation_rate > 1 (Keras)");
  }
  const char* class_name() const override { return "Conv1D"; }
  std::string config_json() const override {
    return config_object(*this, "\"filters\": " + std::to_string(filters_) + ", \"kernel_size\": " +
                                    size_list(kernel_size_) + ", \"strides\": " + size_list(strides_) +
                                    ", \"padding\": " + json_quote(padding_) +
                                    ", \"data_format\": \"channels_last\", \"dilation_rate\": " + size_list(dilation_) +
                                    ", \"groups\": 1, \"activation\": " + json_quote(activation_) +
                                    ", \"use_bias\": " + (use_bias_ ? "true" : "false"));
  }

  Shape build(const Shape& input, std::mt19937_64* rng) override {
    if (input.size() != 2 || input[1] <= 0)
      fail_layer(*this, "needs a (steps, channels) input with known channels, received " + shape_text(input));
    channels_ = input[1];
    ensure_weight(weights_, 0, *this, "kernel", {kernel_size_, channels_, filters_}, Init::glorot_uniform, rng);
    if (use_bias_) ensure_weight(weights_, 1, *this, "bias", {filters_}, Init::zeros, rng);
    return {window(input[0]).steps_out, filters_};
  }

 protected:
  Tensor product(const Tensor& x) const override {
    const std::int64_t batch = x.shape[0], steps = x.shape[1];
    const Window1d w = window(steps);
    Tensor y({batch, w.steps_out, filters_});
    conv1d_forward(x.values.data(), weight(0), bias(), batch, steps, channels_, filters_, w, y.values.data());
    return y;
  }

  void product_backward(const Tensor& x, const Tensor& d_product, LayerGradients& g) const override {
    const std::int64_t batch = x.shape[0], steps = x.shape[1];
    conv1d_backward(x.values.data(), weight(0), d_product.values.data(), batch, steps, channels_, filters_,
                    window(steps), g.d_x.values.data(), g.d_weights[0].values.data(), d_bias(g));
  }

 private:
  Window1d window(std::int64_t steps) const {
    return layer_window(*this, steps, kernel_size_, strides_, dilation_, padding_);
  }

  std::int64_t filters_, kernel_size_, strides_, dilation_, channels_ = 0;
  std::string padding_;
};

class Pooling1D final : public Layer {
 public:
  Pooling1D(std::string name, bool max, std::int64_t pool_size, std::optional<std::int64_t> strides,
            std::string padding)
      : Layer(std::move(name)), max_(max), pool_size_(pool_size), strides_(strides.value_or(pool_size)),
        padding_(std::move(padding)) {
    if (pool_size_ <= 0 || strides_ <= 0)
      fail_layer(*this, "needs a positive pool_size and strides, received " + std::to_string(pool_size_) + ", " +
                            std::to_string(strides_));
    if (padding_ != "valid" && padding_ != "same")
      fail_layer(*this, "padding must be \"valid\" or \"same\", received \"" + padding_ + "\"");
  }
  const char* class_name() const override { return max_ ? "MaxPooling1D" : "AveragePooling1D"; }
  std::string config_json() const override {
    return config_object(*this, "\"pool_size\": " + size_list(pool_size_) + ", \"padding\": " + json_quote(padding_) +
                                    ", \"strides\": " + size_list(strides_) +
                                    ", \"data_format\": \"channels_last\"");
  }

  Shape build(const Shape& input, std::mt19937_64*) override {
    if (input.size() != 2 || input[1] < 0)
      fail_layer(*this, "needs a (steps, channels) input with known channels, received " + shape_text(input));
    return {window(input[0]).steps_out, input[1]};
  }

  struct Cache final : LayerCache {
    Shape x_shape;
    std::vector<std::int64_t> argmax;  // MaxPooling1D only
  };

  Tensor forward(const Tensor& x, StepMask& mask, TrainingStep* training) const override {
    const std::int64_t batch = x.shape[0], steps = x.shape[1], channels = x.shape[2];
    const Window1d w = window(steps);
    Tensor y({batch, w.steps_out, channels});
    auto cache = std::make_unique<Cache>();
    if (max_) {  // the maxima's steps only for a backward
      if (training) cache->argmax.resize(y.values.size());
      max_pool_1d_forward(x.values.data(), batch, steps, channels, w, y.values.data(),
                          training ? cache->argmax.data() : nullptr);
    } else {
      average_pool_1d_forward(x.values.data(), batch, steps, channels, w, y.values.data());
    }
    if (training) {
      cache->x_shape = x.shape;
      training->cache = std::move(cache);
    }
    mask.clear();
    return y;
  }

  LayerGradients backward(const LayerCache& base, const Tensor& d_y) const override {
    const auto& cache = static_cast<const Cache&>(base);
    const std::int64_t batch = cache.x_shape[0], steps = cache.x_shape[1], channels = cache.x_shape[2];
    const Window1d w = window(steps);
    LayerGradients g{Tensor(cache.x_shape), {}};
    if (max_)
      max_pool_1d_backward(d_y.values.data(), cache.argmax.data(), batch, steps, channels, w, g.d_x.values.data());
    else
      average_pool_1d_backward(d_y.values.data(), batch, steps, channels, w, g.d_x.values.data());
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>&) override {}

 private:
  Window1d window(std::int64_t steps) const { return layer_window(*this, steps, pool_size_, strides_, 1, padding_); }

  bool max_;
  std::int64_t pool_size_, strides_;
  std::string padding_;
};

std::unique_ptr<Layer> pooling_1d_from_config(const ConfigReader& c, bool max) {
  require_channels_last(c);
  const std::int64_t pool_size = c.size_1d("pool_size", 2);
  return std::make_unique<Pooling1D>(c.name(), max, pool_size, c.size_1d("strides", pool_size),
                                     c.text("padding", "valid"));
}

}  // namespace

std::unique_ptr<Layer> conv1d_from_config(const ConfigReader& c) {
  require_channels_last(c);
  if (c.integer("groups", 1) != 1) fail(c.where(), "groups other than 1 are not supported by the C++ model API");
  for (const char* key : {"lora_rank", "dora_rank"})
    if (const Json* rank = c.get(key); rank != nullptr && rank->kind != Json::Kind::null)
      fail(c.where(), std::string(key) + " is not supported by the C++ model API");
  layers::Conv1DOptions options;
  options.strides = c.size_1d("strides", 1);
  options.padding = c.text("padding", "valid");
  options.dilation_rate = c.size_1d("dilation_rate", 1);
  options.activation = checked_activation(c.text("activation", "linear"), c.where());
  options.use_bias = c.flag("use_bias", true);
  return std::make_unique<Conv1DLayer>(c.name(), c.positive_integer("filters"), c.size_1d("kernel_size"), options);
}
std::unique_ptr<Layer> max_pooling_1d_from_config(const ConfigReader& c) { return pooling_1d_from_config(c, true); }
std::unique_ptr<Layer> average_pooling_1d_from_config(const ConfigReader& c) {
  return pooling_1d_from_config(c, false);
}

}  // namespace model_detail

namespace layers {
std::unique_ptr<Layer> Conv1D(std::int64_t filters, std::int64_t kernel_size, const Conv1DOptions& options) {
  return std::make_unique<model_detail::Conv1DLayer>(
      options.name.empty() ? model_detail::auto_name("conv1d") : options.name, filters, kernel_size, options);
}
std::unique_ptr<Layer> MaxPooling1D(std::int64_t pool_size, std::optional<std::int64_t> strides,
                                    const std::string& padding, const std::string& name) {
  return std::make_unique<model_detail::Pooling1D>(name.empty() ? model_detail::auto_name("max_pooling1d") : name,
                                                   true, pool_size, strides, padding);
}
std::unique_ptr<Layer> AveragePooling1D(std::int64_t pool_size, std::optional<std::int64_t> strides,
                                        const std::string& padding, const std::string& name) {
  return std::make_unique<model_detail::Pooling1D>(
      name.empty() ? model_detail::auto_name("average_pooling1d") : name, false, pool_size, strides, padding);
}
}  // namespace layers

}  // namespace rnnkit
