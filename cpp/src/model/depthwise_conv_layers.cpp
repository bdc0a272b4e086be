// DepthwiseConv1D and SeparableConv1D over the steps axis of (batch, steps, channels): forward next to backward, with
// their factories and from_config. The per-channel convolution is the core's depthwise_conv1d kernel and
// SeparableConv1D's pointwise kernel one GEMM, as in Python's layers. Neither supports masking in Keras 3, so each
// drops the mask.
#include <algorithm>

#include "model/window_layers.hpp"
#include "rnnkit/gemm.hpp"
#include "rnnkit/layers.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

// What both layers share: the window, the depth multiplier, the activation and the bias.
class DepthwiseWindowLayer : public Layer {
 public:
  DepthwiseWindowLayer(std::string name, std::int64_t kernel_size, const layers::DepthwiseConv1DOptions& options)
      : Layer(std::move(name)), kernel_size_(kernel_size), strides_(options.strides),
        dilation_(options.dilation_rate), multiplier_(options.depth_multiplier), padding_(options.padding),
        activation_(options.activation), use_bias_(options.use_bias) {}

 protected:
  // Called by the subclasses' constructors: only there does class_name() name the layer in the messages.
  void check_arguments() const {
    checked_activation(activation_, who(*this));
    if (kernel_size_ <= 0 || strides_ <= 0 || dilation_ <= 0 || multiplier_ <= 0)
      fail_layer(*this, "needs positive kernel_size, strides, dilation_rate and depth_multiplier, received " +
                            std::to_string(kernel_size_) + ", " + std::to_string(strides_) + ", " +
                            std::to_string(dilation_) + ", " + std::to_string(multiplier_));
    if (padding_ != "valid" && padding_ != "same")
      fail_layer(*this, "padding must be \"valid\" or \"same\", received \"" + padding_ + "\"");
    if (strides_ > 1 && dilation_ > 1) fail_layer(*this, "cannot combine strides > 1 with dilation_rate > 1 (Keras)");
  }

  // The config fields both write, in Keras' key order after the subclass's own.
  std::string window_config() const {
    return "\"kernel_size\": " + json_list({kernel_size_}) + ", \"strides\": " + json_list({strides_}) +
           ", \"padding\": " + json_quote(padding_) + ", \"depth_multiplier\": " + std::to_string(multiplier_) +
           ", \"data_format\": \"channels_last\", \"dilation_rate\": " + json_list({dilation_}) +
           ", \"activation\": " + json_quote(activation_) + ", \"use_bias\": " + (use_bias_ ? "true" : "false");
  }

  // The channels of a (steps, channels) input, which the layer keeps.
  std::int64_t read_channels(const Shape& input) {
    if (input.size() != 2 || input[1] <= 0)
      fail_layer(*this, "needs a (steps, channels) input with known channels, received " + shape_text(input));
    channels_ = input[1];
    return channels_;
  }

  Window1d window(std::int64_t steps) const {
    return layer_window(*this, steps, kernel_size_, strides_, dilation_, padding_);
  }

  std::int64_t kernel_size_, strides_, dilation_, multiplier_, channels_ = 0;
  std::string padding_, activation_;
  bool use_bias_;
};

class DepthwiseConv1DLayer final : public DepthwiseWindowLayer {
 public:
  DepthwiseConv1DLayer(std::string name, std::int64_t kernel_size, const layers::DepthwiseConv1DOptions& options)
      : DepthwiseWindowLayer(std::move(name), kernel_size, options) {
    check_arguments();
  }
  const char* class_name() const override { return "DepthwiseConv1D"; }
  std::string config_json() const override { return config_object(*this, window_config()); }

  Shape build(const Shape& input, std::mt19937_64* rng) override {
    const std::int64_t channels = read_channels(input);
    ensure_weight(weights_, 0, *this, "kernel", {kernel_size_, channels, multiplier_}, Init::glorot_uniform, rng);
    if (use_bias_) ensure_weight(weights_, 1, *this, "bias", {channels * multiplier_}, Init::zeros, rng);
    return {window(input[0]).steps_out, channels * multiplier_};
  }

  Tensor forward(const Tensor& x, StepMask& mask, TrainingStep* training) const override {
    const std::int64_t batch = x.shape[0], steps = x.shape[1];
    const Window1d w = window(steps);
    Tensor y({batch, w.steps_out, channels_ * multiplier_});
    depthwise_conv1d_forward(x.values.data(), weights_[0].value.values.data(), bias(), batch, steps, channels_,
                             multiplier_, w, y.values.data());
    activate_and_cache(activation_, x, y, training);
    mask.clear();
    return y;
  }

  LayerGradients backward(const LayerCache& base, const Tensor& d_y) const override {
    const auto& cache = static_cast<const ActivatedCache&>(base);
    const Tensor d_pre = pre_activation_gradient(activation_, cache, d_y);
    LayerGradients g = zero_gradients(cache.x.shape, *this);
    const std::int64_t batch = cache.x.shape[0], steps = cache.x.shape[1];
    depthwise_conv1d_backward(cache.x.values.data(), weights_[0].value.values.data(), d_pre.values.data(), batch,
                              steps, channels_, multiplier_, window(steps), g.d_x.values.data(),
                              g.d_weights[0].values.data(), use_bias_ ? g.d_weights[1].values.data() : nullptr);
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>& out) override {
    for (Weight& w : weights_) out.push_back(&w);
  }

 private:
  const float* bias() const { return use_bias_ ? weights_[1].value.values.data() : nullptr; }

  std::vector<Weight> weights_;  // kernel, bias (when use_bias)
};

// The activation's cache and the depthwise result, which the pointwise kernel's gradient reads.
struct SeparableCache final : LayerCache {
  SeparableCache(std::unique_ptr<LayerCache> activated, Tensor depthwise)
      : activated(std::move(activated)), depthwise(std::move(depthwise)) {}
  std::unique_ptr<LayerCache> activated;  // an ActivatedCache
  Tensor depthwise;                       // (batch, steps_out, channels * depth_multiplier)
};

class SeparableConv1DLayer final : public DepthwiseWindowLayer {
 public:
  SeparableConv1DLayer(std::string name, std::int64_t filters, std::int64_t kernel_size,
                       const layers::DepthwiseConv1DOptions& options)
      : DepthwiseWindowLayer(std::move(name), kernel_size, options), filters_(filters) {
    if (filters_ <= 0) fail_layer(*this, "needs positive filters, received " + std::to_string(filters_));
    check_arguments();
  }
  const char* class_name() const override { return "SeparableConv1D"; }
  std::string config_json() const override {
    return config_object(*this, "\"filters\": " + std::to_string(filters_) + ", " + window_config());
  }

  Shape build(const Shape& input, std::mt19937_64* rng) override {
    const std::int64_t channels = read_channels(input);
    ensure_weight(weights_, 0, *this, "depthwise_kernel", {kernel_size_, channels, multiplier_}, Init::glorot_uniform,
                  rng);
    ensure_weight(weights_, 1, *this, "pointwise_kernel", {1, channels * multiplier_, filters_}, Init::glorot_uniform,
                  rng);
    if (use_bias_) ensure_weight(weights_, 2, *this, "bias", {filters_}, Init::zeros, rng);
    return {window(input[0]).steps_out, filters_};
  }

  // z = depthwise(x) · pointwise (+ bias), the bias filled in first and the GEMM adding onto it, as Python's layer
  // computes it (the same sums in the same order).
  Tensor forward(const Tensor& x, StepMask& mask, TrainingStep* training) const override {
    const std::int64_t batch = x.shape[0], steps = x.shape[1], middle = channels_ * multiplier_;
    const Window1d w = window(steps);
    Tensor depthwise({batch, w.steps_out, middle});
    depthwise_conv1d_forward(x.values.data(), weights_[0].value.values.data(), nullptr, batch, steps, channels_,
                             multiplier_, w, depthwise.values.data());
    const std::int64_t rows = batch * w.steps_out;
    Tensor z({batch, w.steps_out, filters_});
    if (use_bias_)
      for (std::int64_t r = 0; r < rows; ++r)
        std::copy_n(weights_[2].value.values.data(), filters_, z.values.data() + r * filters_);
    sgemm(Trans::no, Trans::no, rows, filters_, middle, 1.0f, depthwise.values.data(), middle,
          weights_[1].value.values.data(), filters_, use_bias_ ? 1.0f : 0.0f, z.values.data(), filters_);
    activate_and_cache(activation_, x, z, training);
    if (training) training->cache = std::make_unique<SeparableCache>(std::move(training->cache), std::move(depthwise));
    mask.clear();
    return z;
  }

  LayerGradients backward(const LayerCache& base, const Tensor& d_y) const override {
    const auto& cache = static_cast<const SeparableCache&>(base);
    const auto& activated = static_cast<const ActivatedCache&>(*cache.activated);
    const Tensor d_z = pre_activation_gradient(activation_, activated, d_y);
    LayerGradients g = zero_gradients(activated.x.shape, *this);
    const std::int64_t batch = activated.x.shape[0], steps = activated.x.shape[1];
    const std::int64_t middle = channels_ * multiplier_, rows = batch * cache.depthwise.shape[1];
    sgemm(Trans::yes, Trans::no, middle, filters_, rows, 1.0f, cache.depthwise.values.data(), middle,
          d_z.values.data(), filters_, 0.0f, g.d_weights[1].values.data(), filters_);
    Tensor d_depthwise(cache.depthwise.shape);
    sgemm(Trans::no, Trans::yes, rows, middle, filters_, 1.0f, d_z.values.data(), filters_,
          weights_[1].value.values.data(), filters_, 0.0f, d_depthwise.values.data(), middle);
    depthwise_conv1d_backward(activated.x.values.data(), weights_[0].value.values.data(), d_depthwise.values.data(),
                              batch, steps, channels_, multiplier_, window(steps), g.d_x.values.data(),
                              g.d_weights[0].values.data(), nullptr);
    if (use_bias_) {
      float* d_bias = g.d_weights[2].values.data();
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t f = 0; f < filters_; ++f) d_bias[f] += d_z.values[r * filters_ + f];
    }
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>& out) override {
    for (Weight& w : weights_) out.push_back(&w);
  }

 private:
  std::int64_t filters_;
  std::vector<Weight> weights_;  // depthwise_kernel, pointwise_kernel, bias (when use_bias), Keras' order
};

layers::DepthwiseConv1DOptions depthwise_options(const ConfigReader& c) {
  require_channels_last(c);
  layers::DepthwiseConv1DOptions options;
  options.strides = c.size_1d("strides", 1);
  options.padding = c.text("padding", "valid");
  options.depth_multiplier = c.integer("depth_multiplier", 1);
  options.dilation_rate = c.size_1d("dilation_rate", 1);
  options.activation = checked_activation(c.text("activation", "linear"), c.where());
  options.use_bias = c.flag("use_bias", true);
  return options;
}

}  // namespace

// The initializers only drew the first values, which the file replaces; regularizers and constraints are refused
// for every layer when its config is read (ConfigReader).
std::unique_ptr<Layer> depthwise_conv1d_from_config(const ConfigReader& c) {
  return std::make_unique<DepthwiseConv1DLayer>(c.name(), c.size_1d("kernel_size"), depthwise_options(c));
}
std::unique_ptr<Layer> separable_conv1d_from_config(const ConfigReader& c) {
  return std::make_unique<SeparableConv1DLayer>(c.name(), c.positive_integer("filters"), c.size_1d("kernel_size"),
                                                depthwise_options(c));
}

}  // namespace model_detail

namespace layers {
std::unique_ptr<Layer> DepthwiseConv1D(std::int64_t kernel_size, const DepthwiseConv1DOptions& options) {
  return std::make_unique<model_detail::DepthwiseConv1DLayer>(
      options.name.empty() ? model_detail::auto_name("depthwise_conv1d") : options.name, kernel_size, options);
}
std::unique_ptr<Layer> SeparableConv1D(std::int64_t filters, std::int64_t kernel_size,
                                       const DepthwiseConv1DOptions& options) {
  return std::make_unique<model_detail::SeparableConv1DLayer>(
      options.name.empty() ? model_detail::auto_name("separable_conv1d") : options.name, filters, kernel_size,
      options);
}
}  // namespace layers

}  // namespace rnnkit
