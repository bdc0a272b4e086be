// BatchNormalization: forward next to backward, with its factory and from_config. The statistics, normalisation and
// gradients are the core's batch_norm kernels (cpp/src/nn/batch_norm.cpp), which Python's layer calls too.
#include "model/support.hpp"
#include "rnnkit/layer_ops.hpp"
#include "rnnkit/layers.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

// Keras 3's rule: a trainable layer's training forward normalises with the batch's statistics and moves the moving
// statistics; a frozen one normalises with the moving statistics in training too (as at inference) and leaves them.
class BatchNormalizationLayer final : public Layer {
 public:
  BatchNormalizationLayer(std::string name, std::int64_t axis, float momentum, float epsilon, bool center, bool scale)
      : Layer(std::move(name)), axis_(axis), momentum_(momentum), epsilon_(epsilon), center_(center), scale_(scale) {
    if (axis_ != -1 && axis_ < 1) fail_layer(*this, "normalises over the last axis only, received axis=" +
                                                        std::to_string(axis_));
  }
  const char* class_name() const override { return "BatchNormalization"; }
  std::string config_json() const override {
    return config_object(*this, "\"axis\": " + std::to_string(axis_) + ", \"momentum\": " + json_number(momentum_) +
                                    ", \"epsilon\": " + json_number(epsilon_) + ", \"center\": " +
                                    (center_ ? "true" : "false") + ", \"scale\": " + (scale_ ? "true" : "false"));
  }

  Shape build(const Shape& input, std::mt19937_64* rng) override {
    const Shape channels{normalized_axis_size(*this, input, axis_)};
    ensure_gamma_beta(affine_, *this, channels[0], scale_, center_, rng);
    ensure_weight(moving_, 0, *this, "moving_mean", channels, Init::zeros, rng, false);
    ensure_weight(moving_, 1, *this, "moving_variance", channels, Init::ones, rng, false);
    return input;
  }

  struct Cache final : LayerCache {
    Tensor x;
    // The statistics x was normalised with: the batch's (row_weight empty when unmasked), or for a frozen layer
    // the moving statistics, constants of the step.
    std::vector<float> mean, variance, row_weight;
    bool batch_statistics;
  };

  Tensor forward(const Tensor& x, StepMask& mask, TrainingStep* training) const override {
    const std::int64_t channels = x.shape.back(), rows = row_count(x.shape);
    const std::vector<float>& moving_mean = moving_[0].value.values;
    const std::vector<float>& moving_variance = moving_[1].value.values;
    const float* mean = moving_mean.data();
    const float* variance = moving_variance.data();
    auto cache = training ? std::make_unique<Cache>() : nullptr;
    if (cache) {
      cache->x = x;
      cache->batch_statistics = trainable();
      if (cache->batch_statistics) {
        cache->row_weight = row_weights(mask, rows);
        cache->mean.resize(static_cast<std::size_t>(channels));
        cache->variance.resize(cache->mean.size());
        batch_norm_moments(x.values.data(), row_weight_data(*cache), rows, channels, cache->mean.data(),
                           cache->variance.data());
        move_toward(moving_[0], cache->mean);
        move_toward(moving_[1], cache->variance);
      } else {
        cache->mean = moving_mean;
        cache->variance = moving_variance;
      }
      mean = cache->mean.data();
      variance = cache->variance.data();
    }
    Tensor y(x.shape);
    batch_norm_forward(x.values.data(), mean, variance, gamma(), beta(), epsilon_, rows, channels, y.values.data());
    if (cache) training->cache = std::move(cache);
    return y;
  }

  // Batch statistics are functions of x; the moving statistics' gradients stay zero, as no output reads them as
  // weights to optimise.
  LayerGradients backward(const LayerCache& base, const Tensor& d_y) const override {
    const auto& cache = static_cast<const Cache&>(base);
    LayerGradients g = zero_gradients(cache.x.shape, *this);
    float* d_gamma = scale_ ? g.d_weights[0].values.data() : nullptr;
    float* d_beta = center_ ? g.d_weights[scale_ ? 1 : 0].values.data() : nullptr;
    batch_norm_backward(cache.x.values.data(), cache.mean.data(), cache.variance.data(), gamma(),
                        row_weight_data(cache), cache.batch_statistics, epsilon_, row_count(cache.x.shape),
                        cache.x.shape.back(), d_y.values.data(), g.d_x.values.data(), d_gamma, d_beta);
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>& out) override {
    for (Weight& w : affine_) out.push_back(&w);
    for (Weight& w : moving_) out.push_back(&w);
  }
  void apply_trainable(bool trainable) override {
    for (Weight& w : affine_) w.trainable = trainable;
  }

 private:
  static std::int64_t row_count(const Shape& shape) { return element_count(Shape(shape.begin(), shape.end() - 1)); }
  static const float* row_weight_data(const Cache& cache) {
    return cache.row_weight.empty() ? nullptr : cache.row_weight.data();
  }
  const float* gamma() const { return scale_ ? affine_.front().value.values.data() : nullptr; }
  const float* beta() const { return center_ ? affine_.back().value.values.data() : nullptr; }

  // 1 for the rows (the (batch, step) entries) the mask keeps, 0 for the others; empty when unmasked.
  std::vector<float> row_weights(const StepMask& mask, std::int64_t rows) const {
    if (mask.empty()) return {};
    if (static_cast<std::int64_t>(mask.size()) != rows)
      fail_layer(*this, "received a mask of " + std::to_string(mask.size()) + " entries for an input of " +
                            std::to_string(rows) + " rows (its size without the last axis)");
    std::vector<float> weights(mask.size());
    for (std::size_t r = 0; r < mask.size(); ++r) weights[r] = mask[r] != 0 ? 1.0f : 0.0f;
    return weights;
  }

  // m = momentum * m + (1 - momentum) * batch in float32, as Python's layer computes it.
  void move_toward(Weight& moving, const std::vector<float>& batch) const {
    const float keep = momentum_;
    for (std::size_t c = 0; c < batch.size(); ++c)
      moving.value.values[c] = moving.value.values[c] * keep + batch[c] * (1.0f - keep);
  }

  std::int64_t axis_;
  float momentum_, epsilon_;
  bool center_, scale_;
  std::vector<Weight> affine_;  // gamma (when scale_), beta (when center_)
  // moving_mean, moving_variance (non-trainable). The training forward moves them itself, where Keras' call does:
  // every caller of one (Model::forward_train, TimeDistributed, each node of a shared layer) then moves them once
  // per call, with no separate update step for the training loop and every wrapper to relay. Hence mutable: forward
  // is const so that inference leaves the layer unchanged (concurrent predicts), which it still does, while a
  // training forward already needs the model to itself (Model::forward_train is non-const).
  mutable std::vector<Weight> moving_;
};

}  // namespace

// The initializers only drew the first values, which the file replaces. Regularizers and constraints are refused for
// every layer when its config is read (ConfigReader).
std::unique_ptr<Layer> batch_normalization_from_config(const ConfigReader& c) {
  c.require_default("synchronized", false);
  c.require_default("renorm", false);
  return std::make_unique<BatchNormalizationLayer>(c.name(), c.axis(),
                                                   static_cast<float>(c.number("momentum", 0.99)),
                                                   static_cast<float>(c.number("epsilon", 1e-3)),
                                                   c.flag("center", true), c.flag("scale", true));
}

}  // namespace model_detail

namespace layers {
std::unique_ptr<Layer> BatchNormalization(float momentum, float epsilon, bool center, bool scale,
                                          const std::string& name) {
  return std::make_unique<model_detail::BatchNormalizationLayer>(
      name.empty() ? model_detail::auto_name("batch_normalization") : name, -1, momentum, epsilon, center, scale);
}
}  // namespace layers

}  // namespace rnnkit
