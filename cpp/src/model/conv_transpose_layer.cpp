// Conv1DTranspose over the steps axis of (batch, steps, channels): forward next to backward, with its factory and
// from_config. The core's conv1d_transpose kernels compute it, as in Python's layer; Keras 3's layer does not
// support masking, so it drops the mask.
#include <optional>

#include "model/window_layers.hpp"
#include "rnnkit/layers.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

class Conv1DTransposeLayer final : public ActivatedProductLayer {
 public:
  Conv1DTransposeLayer(std::string name, std::int64_t filters, std::int64_t kernel_size,
                       const layers::Conv1DTransposeOptions& options)
      : ActivatedProductLayer(std::move(name), options.activation, options.use_bias), filters_(filters),
        kernel_size_(kernel_size), strides_(options.strides), dilation_(options.dilation_rate),
        output_padding_(options.output_padding), padding_(options.padding) {
    checked_activation(activation_, who(*this));
    if (filters <= 0 || kernel_size <= 0 || strides_ <= 0 || dilation_ <= 0)
      fail_layer(*this, "needs positive filters, kernel_size, strides and dilation_rate, received " +
                            std::to_string(filters) + ", " + std::to_string(kernel_size) + ", " +
                            std::to_string(strides_) + ", " + std::to_string(dilation_));
    if (padding_ != "valid" && padding_ != "same")
      fail_layer(*this, "padding must be \"valid\" or \"same\", received \"" + padding_ + "\"");
    if (strides_ > 1 && dilation_ > 1) fail_layer(*this, "cannot combine strides > 1 with dilation_rate > 1 (Keras)");
    if (output_padding_ && (*output_padding_ < 0 || *output_padding_ >= strides_))
      fail_layer(*this, "output_padding must be >= 0 and below strides " + std::to_string(strides_) +
                            ", received " + std::to_string(*output_padding_));
  }
  const char* class_name() const override { return "Conv1DTranspose"; }
  std::string config_json() const override {
    const std::string output_padding = output_padding_ ? json_list({*output_padding_}) : "null";
    return config_object(*this, "\"filters\": " + std::to_string(filters_) + ", \"kernel_size\": " +
                                    json_list({kernel_size_}) + ", \"strides\": " + json_list({strides_}) +
                                    ", \"padding\": " + json_quote(padding_) + ", \"output_padding\": " +
                                    output_padding + ", \"data_format\": \"channels_last\", \"dilation_rate\": " +
                                    json_list({dilation_}) + ", \"activation\": " + json_quote(activation_) +
                                    ", \"use_bias\": " + (use_bias_ ? "true" : "false"));
  }

  Shape build(const Shape& input, std::mt19937_64* rng) override {
    if (input.size() != 2 || input[1] <= 0)
      fail_layer(*this, "needs a (steps, channels) input with known channels, received " + shape_text(input));
    channels_ = input[1];
    ensure_weight(weights_, 0, *this, "kernel", {kernel_size_, filters_, channels_}, Init::glorot_uniform, rng);
    if (use_bias_) ensure_weight(weights_, 1, *this, "bias", {filters_}, Init::zeros, rng);
    return {input[0] < 0 ? -1 : window(input[0]).steps, filters_};
  }

 protected:
  Tensor product(const Tensor& x) const override {
    const TransposedWindow1d w = window(x.shape[1]);
    Tensor y({x.shape[0], w.steps, filters_});
    conv1d_transpose_forward(x.values.data(), weight(0), bias(), x.shape[0], channels_, filters_, w,
                             y.values.data());
    return y;
  }

  void product_backward(const Tensor& x, const Tensor& d_product, LayerGradients& g) const override {
    conv1d_transpose_backward(x.values.data(), weight(0), d_product.values.data(), x.shape[0], channels_, filters_,
                              window(x.shape[1]), g.d_x.values.data(), g.d_weights[0].values.data(), d_bias(g));
  }

 private:
  TransposedWindow1d window(std::int64_t steps) const {
    if (steps == 0) fail_layer(*this, "needs an input of at least one step");
    return conv1d_transpose_window(steps, kernel_size_, strides_, dilation_, padding_, output_padding_.value_or(-1));
  }

  std::int64_t filters_, kernel_size_, strides_, dilation_;
  std::optional<std::int64_t> output_padding_;
  std::int64_t channels_ = 0;
  std::string padding_;
};

// Keras writes output_padding as null or a list of one integer, which may be 0.
std::optional<std::int64_t> output_padding_of(const ConfigReader& c) {
  const Json* v = c.get("output_padding");
  if (v == nullptr || v->kind == Json::Kind::null) return std::nullopt;
  if (v->kind == Json::Kind::array && v->array.size() == 1) v = &v->array[0];
  if (!v->is_integer || v->integer < 0)
    fail(c.where(), "output_padding must be null, an integer >= 0 or a list of one");
  return v->integer;
}

}  // namespace

std::unique_ptr<Layer> conv1d_transpose_from_config(const ConfigReader& c) {
  require_channels_last(c);
  layers::Conv1DTransposeOptions options;
  options.strides = c.size_1d("strides", 1);
  options.padding = c.text("padding", "valid");
  options.output_padding = output_padding_of(c);
  options.dilation_rate = c.size_1d("dilation_rate", 1);
  options.activation = checked_activation(c.text("activation", "linear"), c.where());
  options.use_bias = c.flag("use_bias", true);
  return std::make_unique<Conv1DTransposeLayer>(c.name(), c.positive_integer("filters"), c.size_1d("kernel_size"),
                                                options);
}

}  // namespace model_detail

namespace layers {
std::unique_ptr<Layer> Conv1DTranspose(std::int64_t filters, std::int64_t kernel_size,
                                       const Conv1DTransposeOptions& options) {
  return std::make_unique<model_detail::Conv1DTransposeLayer>(
      options.name.empty() ? model_detail::auto_name("conv1d_transpose") : options.name, filters, kernel_size,
      options);
}
}  // namespace layers

}  // namespace rnnkit
