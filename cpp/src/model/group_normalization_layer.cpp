// GroupNormalization: forward next to backward, with its factory and from_config. The statistics, normalisation and
// gradients are the core's group_norm kernels (cpp/src/nn/group_norm.cpp), which Python's layer calls too.
#include "model/support.hpp"
#include "rnnkit/layer_ops.hpp"
#include "rnnkit/layers.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

// Over the last axis of any input: every axis between the batch and the channels is a position of the group's
// statistics. Unlike BatchNormalization there is no moving state: training and inference compute the same.
class GroupNormalizationLayer final : public Layer {
 public:
  GroupNormalizationLayer(std::string name, std::int64_t groups, std::int64_t axis, float epsilon, bool center,
                          bool scale)
      : Layer(std::move(name)), groups_(groups), axis_(axis), epsilon_(epsilon), center_(center), scale_(scale) {
    if (groups_ < 1 && groups_ != -1)
      fail_layer(*this, "groups must be positive or -1 (one group a channel), received " + std::to_string(groups_));
    if (axis_ != -1 && axis_ < 1)
      fail_layer(*this, "normalises over the last axis only, received axis=" + std::to_string(axis_));
  }
  const char* class_name() const override { return "GroupNormalization"; }
  // groups as resolved once built (-1 becomes the channels), as Python's layer writes it.
  std::string config_json() const override {
    return config_object(*this, "\"groups\": " + std::to_string(groups_) + ", \"axis\": " + std::to_string(axis_) +
                                    ", \"epsilon\": " + json_number(epsilon_) + ", \"center\": " +
                                    (center_ ? "true" : "false") + ", \"scale\": " + (scale_ ? "true" : "false"));
  }

  Shape build(const Shape& input, std::mt19937_64* rng) override {
    const std::int64_t channels = normalized_axis_size(*this, input, axis_);
    if (channels == 0) fail_layer(*this, "needs at least one channel, received " + shape_text(input));
    if (groups_ == -1) groups_ = channels;
    if (channels < groups_ || channels % groups_ != 0)
      fail_layer(*this, std::to_string(channels) + " channels do not split into " + std::to_string(groups_) +
                            " groups of equal size");
    ensure_gamma_beta(weights_, *this, channels, scale_, center_, rng);
    channels_ = channels;
    return input;
  }

  struct Cache final : LayerCache {
    Tensor x;
    std::vector<float> mean, inv_std;  // per (sample, group)
  };

  Tensor forward(const Tensor& x, StepMask&, TrainingStep* training) const override {
    const std::int64_t batch = x.shape[0], positions = positions_of(x);
    auto cache = training ? std::make_unique<Cache>() : nullptr;
    if (cache) {
      cache->x = x;
      cache->mean.resize(static_cast<std::size_t>(batch * groups_));
      cache->inv_std.resize(cache->mean.size());
    }
    Tensor y(x.shape);
    group_norm_forward(x.values.data(), gamma(), beta(), batch, positions, channels_, groups_, epsilon_,
                       y.values.data(), cache ? cache->mean.data() : nullptr, cache ? cache->inv_std.data() : nullptr);
    if (cache) training->cache = std::move(cache);
    return y;
  }

  LayerGradients backward(const LayerCache& base, const Tensor& d_y) const override {
    const auto& cache = static_cast<const Cache&>(base);
    LayerGradients g = zero_gradients(cache.x.shape, *this);
    float* d_gamma = scale_ ? g.d_weights[0].values.data() : nullptr;
    float* d_beta = center_ ? g.d_weights[scale_ ? 1 : 0].values.data() : nullptr;
    group_norm_backward(cache.x.values.data(), gamma(), cache.mean.data(), cache.inv_std.data(), d_y.values.data(),
                        cache.x.shape[0], positions_of(cache.x), channels_, groups_, g.d_x.values.data(), d_gamma,
                        d_beta);
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>& out) override {
    for (Weight& w : weights_) out.push_back(&w);
  }

 private:
  // The entries of one example's input per channel (its steps, for a (steps, channels) input).
  std::int64_t positions_of(const Tensor& x) const {
    if (x.shape.back() != channels_)
      fail_layer(*this, "was built for " + std::to_string(channels_) + " channels, received an input of shape " +
                            shape_text(x.shape));
    return element_count(Shape(x.shape.begin() + 1, x.shape.end() - 1));
  }
  const float* gamma() const { return scale_ ? weights_.front().value.values.data() : nullptr; }
  const float* beta() const { return center_ ? weights_.back().value.values.data() : nullptr; }

  std::int64_t groups_, axis_;
  float epsilon_;
  bool center_, scale_;
  std::int64_t channels_ = 0;
  std::vector<Weight> weights_;  // gamma (when scale_), beta (when center_), Keras' order
};

}  // namespace

// The initializers only drew the first values, which the file replaces; regularizers and constraints are refused
// for every layer when its config is read (ConfigReader).
std::unique_ptr<Layer> group_normalization_from_config(const ConfigReader& c) {
  return std::make_unique<GroupNormalizationLayer>(c.name(), c.integer("groups", 32), c.axis(),
                                                   static_cast<float>(c.number("epsilon", 1e-3)),
                                                   c.flag("center", true), c.flag("scale", true));
}

}  // namespace model_detail

namespace layers {
std::unique_ptr<Layer> GroupNormalization(std::int64_t groups, float epsilon, bool center, bool scale,
                                          const std::string& name) {
  return std::make_unique<model_detail::GroupNormalizationLayer>(
      name.empty() ? model_detail::auto_name("group_normalization") : name, groups, -1, epsilon, center, scale);
}
}  // namespace layers

}  // namespace rnnkit
