// Dense, Activation, the activation layers with arguments (ReLU, LeakyReLU, ELU, Softmax), Dropout, SpatialDropout1D,
// GaussianNoise, GaussianDropout and Masking: forward next to backward, with their factories and from_config.
#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <stdexcept>

#include "model/dropout_noise.hpp"
#include "model/support.hpp"
#include "rnnkit/layer_activations.hpp"
#include "rnnkit/layer_ops.hpp"
#include "rnnkit/layers.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

class Dense final : public ActivatedProductLayer {
 public:
  Dense(std::string name, std::int64_t units, std::string activation, bool use_bias)
      : ActivatedProductLayer(std::move(name), checked_activation(activation, name), use_bias), units_(units) {
    if (units <= 0) fail_layer(*this, "units must be positive, received " + std::to_string(units));
  }
  const char* class_name() const override { return "Dense"; }
  std::string config_json() const override {
    return config_object(*this, "\"units\": " + std::to_string(units_) + ", \"activation\": " +
                                    json_quote(activation_) + ", \"use_bias\": " + (use_bias_ ? "true" : "false"));
  }

  Shape build(const Shape& input, std::mt19937_64* rng) override {
    if (input.empty() || input.back() <= 0)
      fail_layer(*this, "needs an input with a known last dimension, received " + shape_text(input));
    in_ = input.back();
    ensure_weight(weights_, 0, *this, "kernel", {in_, units_}, Init::glorot_uniform, rng);
    if (use_bias_) ensure_weight(weights_, 1, *this, "bias", {units_}, Init::zeros, rng);
    Shape output = input;
    output.back() = units_;
    return output;
  }

 protected:
  Tensor product(const Tensor& x) const override {
    Shape shape = x.shape;
    shape.back() = units_;
    Tensor y(shape);
    dense_forward(x.values.data(), weight(0), bias(), x.size() / in_, in_, units_, y.values.data());
    return y;
  }

  void product_backward(const Tensor& x, const Tensor& d_product, LayerGradients& g) const override {
    dense_backward(x.values.data(), weight(0), d_product.values.data(), x.size() / in_, in_, units_,
                   g.d_x.values.data(), g.d_weights[0].values.data(), d_bias(g));
  }

  bool keeps_mask() const override { return true; }

 private:
  std::int64_t units_, in_ = 0;
};

class ActivationLayer : public Layer {
 public:
  ActivationLayer(std::string name, std::string activation)
      : Layer(std::move(name)), activation_(checked_activation(activation, this->name())) {}
  const char* class_name() const override { return "Activation"; }
  std::string config_json() const override {
    return config_object(*this, "\"activation\": " + json_quote(activation_));
  }
  Shape build(const Shape& input, std::mt19937_64*) override { return input; }

  // Keeps the input where the derivative needs it, the output otherwise.
  Tensor forward(const Tensor& x, StepMask&, TrainingStep* training) const override {
    Tensor y = x;
    activate(activation_, y);
    if (training) training->cache = std::make_unique<TensorCache>(keeps_input() ? x : y);
    return y;
  }
  LayerGradients backward(const LayerCache& cache, const Tensor& d_y) const override {
    LayerGradients g{d_y, {}};
    const Tensor& kept = static_cast<const TensorCache&>(cache).tensor;
    activate_backward(activation_, kept, kept, g.d_x);
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>&) override {}

 private:
  bool keeps_input() const { return layer_activation_needs_input(activation_); }

  std::string activation_;
};

// Keras' Softmax layer is Activation("softmax") under its own class and config. Keras turns off the logits a mask
// of the input's shape covers; the masks here mark a sequence's steps, of lower rank than the input, so they pass
// on and leave the values alone, as in rnnkit's Python Softmax.
class SoftmaxLayer final : public ActivationLayer {
 public:
  SoftmaxLayer(std::string name, std::int64_t axis) : ActivationLayer(std::move(name), "softmax"), axis_(axis) {}
  const char* class_name() const override { return "Softmax"; }
  std::string config_json() const override { return config_object(*this, "\"axis\": " + std::to_string(axis_)); }
  Shape build(const Shape& input, std::mt19937_64*) override {
    // Keras' axis counts the batch axis: the last axis of a per-example (steps, features) input is 2.
    if (axis_ != -1 && axis_ != static_cast<std::int64_t>(input.size()))
      fail_layer(*this, "acts over the last axis only, received axis=" + std::to_string(axis_) +
                            " for an input of shape " + shape_text(with_batch(-1, input)));
    return input;
  }

 private:
  std::int64_t axis_;
};

// ReLU, LeakyReLU and ELU: y = value(x) entry by entry and dL/dx = dL/dy * slope(x), which reads the input, so the
// training cache keeps it. They keep the mask, as Keras' activation layers support masking.
class ElementwiseLayer final : public Layer {
 public:
  using Function = std::function<float(float)>;
  ElementwiseLayer(std::string name, const char* class_name, std::string config_fields, Function value,
                   Function slope)
      : Layer(std::move(name)), class_name_(class_name), config_fields_(std::move(config_fields)),
        value_(std::move(value)), slope_(std::move(slope)) {}
  const char* class_name() const override { return class_name_; }
  std::string config_json() const override { return config_object(*this, config_fields_); }
  Shape build(const Shape& input, std::mt19937_64*) override { return input; }

  Tensor forward(const Tensor& x, StepMask&, TrainingStep* training) const override {
    Tensor y = x;
    for (float& v : y.values) v = value_(v);
    if (training) training->cache = std::make_unique<TensorCache>(x);
    return y;
  }
  LayerGradients backward(const LayerCache& cache, const Tensor& d_y) const override {
    LayerGradients g{d_y, {}};
    const std::vector<float>& x = static_cast<const TensorCache&>(cache).tensor.values;
    for (std::size_t i = 0; i < x.size(); ++i) g.d_x.values[i] *= slope_(x[i]);
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>&) override {}

 private:
  const char* class_name_;
  std::string config_fields_;  // the config's keys after name, trainable and dtype
  Function value_, slope_;
};

// Keras 3 refuses negative values of ReLU's and LeakyReLU's arguments.
void require_non_negative(const Layer& layer, const char* key, float value) {
  if (!(value >= 0.0f)) fail_layer(layer, std::string(key) + " must be >= 0, received " + json_number(value));
}

// Keras 3's relu: x above threshold (clipped to max_value when there is one), else 0, minus
// negative_slope * (threshold - x) below threshold. LeakyReLU is the case of threshold 0 and no max_value.
std::unique_ptr<Layer> relu_layer(std::string name, const char* class_name, std::string config_fields,
                                  std::optional<float> max_value, float negative_slope, float threshold) {
  // threshold >= 0 keeps the positive part >= 0, so clipping it to [0, max_value] only needs the upper bound.
  auto value = [=](float x) {
    const float positive = x > threshold ? x : 0.0f;
    return (max_value ? std::min(positive, *max_value) : positive) - negative_slope * std::max(threshold - x, 0.0f);
  };
  auto slope = [=](float x) {
    const bool passes = x > threshold && (!max_value || x < *max_value);
    return (passes ? 1.0f : 0.0f) + (x < threshold ? negative_slope : 0.0f);
  };
  auto layer = std::make_unique<ElementwiseLayer>(std::move(name), class_name, std::move(config_fields), value, slope);
  if (max_value) require_non_negative(*layer, "max_value", *max_value);
  require_non_negative(*layer, "negative_slope", negative_slope);
  require_non_negative(*layer, "threshold", threshold);
  return layer;
}

std::unique_ptr<Layer> make_relu(std::string name, std::optional<float> max_value, float negative_slope,
                                 float threshold) {
  return relu_layer(std::move(name), "ReLU",
                    "\"max_value\": " + (max_value ? json_number(*max_value) : "null") + ", \"negative_slope\": " +
                        json_number(negative_slope) + ", \"threshold\": " + json_number(threshold),
                    max_value, negative_slope, threshold);
}

std::unique_ptr<Layer> make_leaky_relu(std::string name, float negative_slope) {
  return relu_layer(std::move(name), "LeakyReLU", "\"negative_slope\": " + json_number(negative_slope), std::nullopt,
                    negative_slope, 0.0f);
}

std::unique_ptr<Layer> make_elu(std::string name, float alpha) {
  return std::make_unique<ElementwiseLayer>(
      std::move(name), "ELU", "\"alpha\": " + json_number(alpha),
      [alpha](float x) { return x > 0.0f ? x : alpha * std::expm1(x); },
      [alpha](float x) { return x > 0.0f ? 1.0f : alpha * std::exp(x); });
}

// Inverted dropout: kept entries scaled by 1 / (1 - rate); the identity at inference. Keras' noise_shape (batch
// axis first, -1 for None: the input's size there) draws one keep factor per entry of that shape, broadcast over the
// axes where it is 1; SpatialDropout1D is noise_shape (batch, 1, channels): whole channels of every step. Both keep
// the mask, as Keras' Dropout supports masking.
const NoiseShape kSpatialNoise{-1, 1, -1};

class DropoutLayer final : public Layer {
 public:
  DropoutLayer(std::string name, float rate, NoiseShape noise_shape, bool spatial)
      : Layer(std::move(name)), rate_(rate), noise_shape_(std::move(noise_shape)), spatial_(spatial) {
    if (!(rate >= 0.0f && rate < 1.0f)) fail_layer(*this, "rate must be in [0, 1), received " + std::to_string(rate));
    check_noise_shape(*this, noise_shape_);
  }
  const char* class_name() const override { return spatial_ ? "SpatialDropout1D" : "Dropout"; }
  std::string config_json() const override {
    // Keras' SpatialDropout1D config has neither noise_shape nor trainable (its constructor takes neither).
    if (spatial_)
      return "{\"name\": " + json_quote(name()) + ", \"dtype\": \"float32\", \"rate\": " + json_number(rate_) +
             ", \"seed\": null}";
    const std::string noise = noise_shape_.empty() ? "null" : noise_shape_text(noise_shape_);
    return config_object(*this,
                         "\"rate\": " + json_number(rate_) + ", \"noise_shape\": " + noise + ", \"seed\": null");
  }
  Shape build(const Shape& input, std::mt19937_64*) override {
    if (spatial_ && input.size() != 2)
      fail_layer(*this, "needs a (steps, channels) input, received " + shape_text(input));
    check_noise_rank(*this, noise_shape_, input);
    return input;
  }

  Tensor forward(const Tensor& x, StepMask&, TrainingStep* training) const override {
    if (!training) return x;
    Tensor keep(concrete_noise_shape(*this, noise_shape_, x.shape));
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    const float scale = 1.0f / (1.0f - rate_);
    for (float& k : keep.values) k = uniform(training->rng) >= rate_ ? scale : 0.0f;
    Tensor y = x;
    broadcast_noise(keep, y, std::multiplies<float>());
    training->cache = std::make_unique<TensorCache>(std::move(keep));
    return y;
  }
  LayerGradients backward(const LayerCache& cache, const Tensor& d_y) const override {
    LayerGradients g{d_y, {}};
    broadcast_noise(static_cast<const TensorCache&>(cache).tensor, g.d_x, std::multiplies<float>());
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>&) override {}

 private:
  float rate_;
  NoiseShape noise_shape_;  // empty: the input's shape
  bool spatial_;
};

// Gaussian noise while training, the identity at inference; both keep the mask, as Keras'. GaussianNoise adds
// N(0, stddev) (its gradient passes unchanged); GaussianDropout multiplies by N(1, sqrt(rate / (1 - rate))), and
// its backward scales by the same factors.
class GaussianNoiseLayer final : public Layer {
 public:
  enum class Kind { additive, multiplicative };
  GaussianNoiseLayer(std::string name, Kind kind, float amount) : Layer(std::move(name)), kind_(kind), amount_(amount) {
    const bool additive = kind == Kind::additive;
    if (!(amount >= 0.0f && (additive ? amount <= 1.0f : amount < 1.0f)))
      fail_layer(*this, std::string(additive ? "stddev must be in [0, 1]" : "rate must be in [0, 1)") +
                            ", received " + json_number(amount));
  }
  const char* class_name() const override {
    return kind_ == Kind::additive ? "GaussianNoise" : "GaussianDropout";
  }
  std::string config_json() const override {
    return config_object(*this, std::string(kind_ == Kind::additive ? "\"stddev\": " : "\"rate\": ") +
                                    json_number(amount_) + ", \"seed\": null");
  }
  Shape build(const Shape& input, std::mt19937_64*) override { return input; }

  // The training cache holds GaussianDropout's factors; it is empty where the gradient passes unchanged.
  Tensor forward(const Tensor& x, StepMask&, TrainingStep* training) const override {
    if (!training) return x;
    const bool additive = kind_ == Kind::additive;
    Tensor y = x, factors;
    if (amount_ > 0.0f) {
      std::normal_distribution<float> normal(additive ? 0.0f : 1.0f,
                                             additive ? amount_ : std::sqrt(amount_ / (1.0f - amount_)));
      if (!additive) factors = Tensor(x.shape);
      for (std::size_t i = 0; i < y.values.size(); ++i) {
        const float draw = normal(training->rng);
        if (additive) {
          y.values[i] += draw;
        } else {
          factors.values[i] = draw;
          y.values[i] *= draw;
        }
      }
    }
    training->cache = std::make_unique<TensorCache>(std::move(factors));
    return y;
  }
  LayerGradients backward(const LayerCache& cache, const Tensor& d_y) const override {
    LayerGradients g{d_y, {}};
    const Tensor& factors = static_cast<const TensorCache&>(cache).tensor;
    for (std::size_t i = 0; i < factors.values.size(); ++i) g.d_x.values[i] *= factors.values[i];
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>&) override {}

 private:
  Kind kind_;
  float amount_;  // GaussianNoise's stddev, GaussianDropout's rate
};

// Steps whose features all equal mask_value are masked (and zeroed); the mask reaches the layers after it.
class MaskingLayer final : public Layer {
 public:
  MaskingLayer(std::string name, float mask_value) : Layer(std::move(name)), mask_value_(mask_value) {}
  const char* class_name() const override { return "Masking"; }
  std::string config_json() const override {
    return config_object(*this, "\"mask_value\": " + json_number(mask_value_));
  }
  Shape build(const Shape& input, std::mt19937_64*) override {
    if (input.size() != 2) fail_layer(*this, "needs a (time, features) input, received " + shape_text(input));
    return input;
  }

  Tensor forward(const Tensor& x, StepMask& mask, TrainingStep* training) const override {
    const std::int64_t width = x.shape.back();
    const std::int64_t rows = width > 0 ? x.size() / width : 0;
    Tensor y = x;
    Tensor keep({rows});
    mask.assign(static_cast<std::size_t>(rows), 0);  // rows are the (batch, time) steps
    for (std::int64_t r = 0; r < rows; ++r) {
      float* row = y.values.data() + r * width;
      const bool kept = std::any_of(row, row + width, [&](float v) { return v != mask_value_; });
      keep.values[static_cast<std::size_t>(r)] = kept ? 1.0f : 0.0f;
      mask[static_cast<std::size_t>(r)] = kept;
      if (!kept) std::fill(row, row + width, 0.0f);
    }
    if (training) training->cache = std::make_unique<TensorCache>(std::move(keep));
    return y;
  }
  LayerGradients backward(const LayerCache& cache, const Tensor& d_y) const override {
    LayerGradients g{d_y, {}};
    const Tensor& keep = static_cast<const TensorCache&>(cache).tensor;
    const std::int64_t width = d_y.shape.back();
    for (std::int64_t r = 0; r < keep.size(); ++r)
      if (keep.values[static_cast<std::size_t>(r)] == 0.0f)
        std::fill_n(g.d_x.values.data() + r * width, width, 0.0f);
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>&) override {}

 private:
  float mask_value_;
};

}  // namespace

std::unique_ptr<Layer> dense_from_config(const ConfigReader& c) {
  return std::make_unique<Dense>(c.name(), c.positive_integer("units"),
                                 checked_activation(c.text("activation", "linear"), c.where()),
                                 c.flag("use_bias", true));
}
std::unique_ptr<Layer> activation_from_config(const ConfigReader& c) {
  return std::make_unique<ActivationLayer>(c.name(), checked_activation(c.text("activation", "linear"), c.where()));
}
namespace {
// An argument Keras refuses as None: a null in the config is an error rather than the default.
float argument(const ConfigReader& c, const char* key, double fallback) {
  if (const Json* v = c.get(key); v != nullptr && v->kind == Json::Kind::null)
    fail(c.where(), std::string(key) + " must be a number, received null");
  return static_cast<float>(c.number(key, fallback));
}
}  // namespace
std::unique_ptr<Layer> relu_from_config(const ConfigReader& c) {
  std::optional<float> max_value;
  if (const Json* v = c.get("max_value"); v != nullptr && v->kind != Json::Kind::null)
    max_value = static_cast<float>(c.number("max_value", 0.0));
  return make_relu(c.name(), max_value, argument(c, "negative_slope", 0.0), argument(c, "threshold", 0.0));
}
// Keras 2 named negative_slope alpha, as older configs still do; given both, alpha wins, as in Python's layer.
std::unique_ptr<Layer> leaky_relu_from_config(const ConfigReader& c) {
  return make_leaky_relu(c.name(), argument(c, c.get("alpha") != nullptr ? "alpha" : "negative_slope", 0.3));
}
std::unique_ptr<Layer> elu_from_config(const ConfigReader& c) { return make_elu(c.name(), argument(c, "alpha", 1.0)); }
std::unique_ptr<Layer> softmax_from_config(const ConfigReader& c) {
  return std::make_unique<SoftmaxLayer>(c.name(), c.axis());
}
std::unique_ptr<Layer> dropout_from_config(const ConfigReader& c) {
  return std::make_unique<DropoutLayer>(c.name(), static_cast<float>(c.number("rate", 0.0)), noise_shape_from_config(c),
                                        false);
}
// Keras' config has no "trainable"; its seed only picks the random stream, which in C++ is the model's.
std::unique_ptr<Layer> spatial_dropout_1d_from_config(const ConfigReader& c) {
  return std::make_unique<DropoutLayer>(c.name(), static_cast<float>(c.number("rate", 0.0)), kSpatialNoise, true);
}
std::unique_ptr<Layer> gaussian_noise_from_config(const ConfigReader& c) {
  return std::make_unique<GaussianNoiseLayer>(c.name(), GaussianNoiseLayer::Kind::additive, argument(c, "stddev", 0.0));
}
std::unique_ptr<Layer> gaussian_dropout_from_config(const ConfigReader& c) {
  return std::make_unique<GaussianNoiseLayer>(c.name(), GaussianNoiseLayer::Kind::multiplicative,
                                              argument(c, "rate", 0.0));
}
std::unique_ptr<Layer> masking_from_config(const ConfigReader& c) {
  return std::make_unique<MaskingLayer>(c.name(), static_cast<float>(c.number("mask_value", 0.0)));
}

}  // namespace model_detail

namespace layers {
std::unique_ptr<Layer> Dense(std::int64_t units, const std::string& activation, bool use_bias,
                             const std::string& name) {
  return std::make_unique<model_detail::Dense>(name.empty() ? model_detail::auto_name("dense") : name, units,
                                               activation, use_bias);
}
std::unique_ptr<Layer> Activation(const std::string& activation, const std::string& name) {
  return std::make_unique<model_detail::ActivationLayer>(
      name.empty() ? model_detail::auto_name("activation") : name, activation);
}
std::unique_ptr<Layer> ReLU(std::optional<float> max_value, float negative_slope, float threshold,
                            const std::string& name) {
  return model_detail::make_relu(name.empty() ? model_detail::auto_name("re_lu") : name, max_value, negative_slope,
                                 threshold);
}
std::unique_ptr<Layer> LeakyReLU(float negative_slope, const std::string& name) {
  return model_detail::make_leaky_relu(name.empty() ? model_detail::auto_name("leaky_re_lu") : name, negative_slope);
}
std::unique_ptr<Layer> ELU(float alpha, const std::string& name) {
  return model_detail::make_elu(name.empty() ? model_detail::auto_name("elu") : name, alpha);
}
std::unique_ptr<Layer> Softmax(const std::string& name) {
  return std::make_unique<model_detail::SoftmaxLayer>(name.empty() ? model_detail::auto_name("softmax") : name, -1);
}
std::unique_ptr<Layer> Dropout(float rate, const std::string& name, Shape noise_shape) {
  return std::make_unique<model_detail::DropoutLayer>(name.empty() ? model_detail::auto_name("dropout") : name, rate,
                                                      std::move(noise_shape), false);
}
std::unique_ptr<Layer> GaussianNoise(float stddev, const std::string& name) {
  return std::make_unique<model_detail::GaussianNoiseLayer>(
      name.empty() ? model_detail::auto_name("gaussian_noise") : name, model_detail::GaussianNoiseLayer::Kind::additive,
      stddev);
}
std::unique_ptr<Layer> GaussianDropout(float rate, const std::string& name) {
  return std::make_unique<model_detail::GaussianNoiseLayer>(
      name.empty() ? model_detail::auto_name("gaussian_dropout") : name,
      model_detail::GaussianNoiseLayer::Kind::multiplicative, rate);
}
std::unique_ptr<Layer> SpatialDropout1D(float rate, const std::string& name) {
  return std::make_unique<model_detail::DropoutLayer>(
      name.empty() ? model_detail::auto_name("spatial_dropout1d") : name, rate, model_detail::kSpatialNoise, true);
}
std::unique_ptr<Layer> Masking(float mask_value, const std::string& name) {
  return std::make_unique<model_detail::MaskingLayer>(name.empty() ? model_detail::auto_name("masking") : name,
                                                      mask_value);
}
}  // namespace layers

}  // namespace rnnkit
