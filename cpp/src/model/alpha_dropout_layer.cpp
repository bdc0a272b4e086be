// AlphaDropout (Keras 3's): dropout for SELU networks. In training, dropped inputs become SELU's negative saturation,
// then a * x + b restores zero mean and unit variance; the identity at inference. Draws its keep mask as Dropout
// does (the model's generator, Keras' noise_shape) and keeps the mask.
#include <cmath>

#include "model/dropout_noise.hpp"
#include "model/support.hpp"
#include "rnnkit/layers.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

// SELU's constants as Keras writes them, in double as Python computes a and b before rounding them to float32.
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;
constexpr double kSaturation = -kSeluAlpha * kSeluScale;

class AlphaDropoutLayer final : public Layer {
 public:
  // rate in double: a and b are computed from the config's number before rounding, as in Python.
  AlphaDropoutLayer(std::string name, double rate, NoiseShape noise_shape)
      : Layer(std::move(name)), rate_(rate), noise_shape_(std::move(noise_shape)) {
    if (!(rate >= 0.0 && rate < 1.0)) fail_layer(*this, "rate must be in [0, 1), received " + json_number(rate));
    check_noise_shape(*this, noise_shape_);
    const double a = std::pow((1.0 - rate) * (1.0 + rate * kSaturation * kSaturation), -0.5);
    const double b = -a * kSaturation * rate;
    kept_scale_ = static_cast<float>(a);
    kept_shift_ = static_cast<float>(b);
    dropped_value_ = static_cast<float>(a * kSaturation + b);
    draw_threshold_ = static_cast<float>(rate);
  }
  const char* class_name() const override { return "AlphaDropout"; }
  std::string config_json() const override {
    const std::string noise = noise_shape_.empty() ? "null" : noise_shape_text(noise_shape_);
    return config_object(*this,
                         "\"rate\": " + json_number(rate_) + ", \"noise_shape\": " + noise + ", \"seed\": null");
  }
  Shape build(const Shape& input, std::mt19937_64*) override {
    check_noise_rank(*this, noise_shape_, input);
    return input;
  }

  // The cache holds each draw's factor on x (a where kept, 0 where dropped); empty at rate 0, which draws nothing
  // and passes x (and the gradient) unchanged, as Python's layer does.
  Tensor forward(const Tensor& x, StepMask&, TrainingStep* training) const override {
    if (!training) return x;
    Tensor scale;
    Tensor y = x;
    if (rate_ > 0.0) {
      scale = Tensor(concrete_noise_shape(*this, noise_shape_, x.shape));
      std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
      for (float& s : scale.values) s = uniform(training->rng) >= draw_threshold_ ? kept_scale_ : 0.0f;
      broadcast_noise(scale, y, [this](float v, float s) {
        return v * s + (s != 0.0f ? kept_shift_ : dropped_value_);
      });
    }
    training->cache = std::make_unique<TensorCache>(std::move(scale));
    return y;
  }
  LayerGradients backward(const LayerCache& cache, const Tensor& d_y) const override {
    LayerGradients g{d_y, {}};
    const Tensor& scale = static_cast<const TensorCache&>(cache).tensor;
    if (!scale.values.empty()) broadcast_noise(scale, g.d_x, [](float d, float s) { return d * s; });
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>&) override {}

 private:
  double rate_;
  NoiseShape noise_shape_;  // empty: the input's shape
  float kept_scale_, kept_shift_, dropped_value_;  // a, b and a * saturation + b in float32
  float draw_threshold_;  // a uniform draw below it drops, as Dropout's
};

}  // namespace

// The seed only picks Python's random stream; in C++ the draws come from the model's generator.
std::unique_ptr<Layer> alpha_dropout_from_config(const ConfigReader& c) {
  return std::make_unique<AlphaDropoutLayer>(c.name(), c.number("rate", 0.0),
                                             noise_shape_from_config(c));
}

}  // namespace model_detail

namespace layers {
std::unique_ptr<Layer> AlphaDropout(float rate, const std::string& name, Shape noise_shape) {
  return std::make_unique<model_detail::AlphaDropoutLayer>(
      name.empty() ? model_detail::auto_name("alpha_dropout") : name, rate, std::move(noise_shape));
}
}  // namespace layers

}  // namespace rnnkit
