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
class DepthwiseWindowLayer : public ActivatedProductLayer {
 public:
  DepthwiseWindowLayer(std::string name, std::int64_t kernel_size, const layers::DepthwiseConv1DOptions& options)
      : ActivatedProductLayer(std::move(name), options.activation, options.use_bias), kernel_size_(kernel_size),
        strides_(options.strides), dilation_(options.dilation_rate), multiplier_(options.depth_multiplier),
        padding_(options.padding) {}

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
  std::string padding_;
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

 protected:
  Tensor product(const Tensor& x) const override {
    const std::int64_t batch = x.shape[0], steps = x.shape[1];
    const Window1d w = window(steps);
    Tensor y({batch, w.steps_out, channels_ * multiplier_});
    depthwise_conv1d_forward(x.values.data(), weight(0), bias(), batch, steps, channels_, multiplier_, w,
                             y.values.data());
    return y;
  }

  void product_backward(const Tensor& x, const Tensor& d_product, LayerGradients& g) const override {
    const std::int64_t batch = x.shape[0], steps = x.shape[1];
    depthwise_conv1d_backward(x.values.data(), weight(0), d_product.values.data(), batch, steps, channels_,
                              multiplier_, window(steps), g.d_x.values.data(), g.d_weights[0].values.data(),
                              d_bias(g));
  }
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

 protected:
  Tensor depthwise(const Tensor& x) const {
    const std::int64_t batch = x.shape[0], steps = x.shape[1];
    const Window1d w = window(steps);
    Tensor result({batch, w.steps_out, channels_ * multiplier_});
    depthwise_conv1d_forward(x.values.data(), weight(0), nullptr, batch, steps, channels_, multiplier_, w,
                             result.values.data());
    return result;
  }

  // z = depthwise(x) · pointwise (+ bias), the bias filled in first and the GEMM adding onto it, as Python's layer
  // computes it (the same sums in the same order).
  Tensor product(const Tensor& x) const override {
    const Tensor middle = depthwise(x);
    const std::int64_t rows = middle.shape[0] * middle.shape[1], width = middle.shape[2];
    Tensor z({middle.shape[0], middle.shape[1], filters_});
    if (use_bias_)
      for (std::int64_t r = 0; r < rows; ++r) std::copy_n(bias(), filters_, z.values.data() + r * filters_);
    sgemm(Trans::no, Trans::no, rows, filters_, width, 1.0f, middle.values.data(), width, weight(1), filters_,
          use_bias_ ? 1.0f : 0.0f, z.values.data(), filters_);
    return z;
  }

  // The depthwise result is computed again rather than kept by the forward: one depthwise pass, a small part of
  // the step next to the two GEMMs, for the activation's cache alone.
  void product_backward(const Tensor& x, const Tensor& d_z, LayerGradients& g) const override {
    const Tensor middle = depthwise(x);
    const std::int64_t batch = x.shape[0], steps = x.shape[1], width = middle.shape[2];
    const std::int64_t rows = middle.shape[0] * middle.shape[1];
    sgemm(Trans::yes, Trans::no, width, filters_, rows, 1.0f, middle.values.data(), width, d_z.values.data(),
          filters_, 0.0f, g.d_weights[1].values.data(), filters_);
    Tensor d_middle(middle.shape);
    sgemm(Trans::no, Trans::yes, rows, width, filters_, 1.0f, d_z.values.data(), filters_, weight(1), filters_, 0.0f,
          d_middle.values.data(), width);
    depthwise_conv1d_backward(x.values.data(), weight(0), d_middle.values.data(), batch, steps, channels_,
                              multiplier_, window(steps), g.d_x.values.data(), g.d_weights[0].values.data(),
                              nullptr);
    if (float* d_b = d_bias(g))
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t f = 0; f < filters_; ++f) d_b[f] += d_z.values[r * filters_ + f];
  }

 private:
  std::int64_t filters_;
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
