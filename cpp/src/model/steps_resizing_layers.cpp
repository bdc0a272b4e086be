// ZeroPadding1D, Cropping1D and UpSampling1D, which resize one axis of a (steps, features) input, and Identity:
// forward next to backward, with their factories and from_config. Each output position along the resized axis copies
// one input position or is zero, so the backward adds every copy's gradient back into its source. The three drop the
// mask, as in Keras 3; Identity keeps it.
#include <algorithm>

#include "model/support.hpp"
#include "rnnkit/layers.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

class StepsResizingLayer final : public Layer {
 public:
  enum class Kind { zero_padding, cropping, up_sampling };
  // zero_padding and cropping: (before, after); up_sampling: {size, 0}. axis 1 or 2 of the batched input.
  StepsResizingLayer(std::string name, Kind kind, std::int64_t first, std::int64_t second, int axis)
      : Layer(std::move(name)), kind_(kind), first_(first), second_(second), axis_(axis) {
    if (kind == Kind::up_sampling ? first < 1 : first < 0 || second < 0)
      fail_layer(*this, kind == Kind::up_sampling ? "size must be positive, received " + std::to_string(first)
                                                  : "needs non-negative amounts, received " + amounts());
  }
  const char* class_name() const override {
    return kind_ == Kind::zero_padding ? "ZeroPadding1D" : kind_ == Kind::cropping ? "Cropping1D" : "UpSampling1D";
  }
  std::string config_json() const override {
    switch (kind_) {
      case Kind::zero_padding:
        return config_object(*this, "\"padding\": " + amounts() + ", \"data_format\": " +
                                        json_quote(axis_ == 1 ? "channels_last" : "channels_first"));
      case Kind::cropping: return config_object(*this, "\"cropping\": " + amounts());
      default: return config_object(*this, "\"size\": " + std::to_string(first_));
    }
  }
  Shape build(const Shape& input, std::mt19937_64*) override {
    if (input.size() != 2) fail_layer(*this, "needs a (steps, features) input, received " + shape_text(input));
    Shape output = input;
    if (input[axis_ - 1] >= 0) output[axis_ - 1] = output_length(input[axis_ - 1]);
    return output;
  }

  Tensor forward(const Tensor& x, StepMask& mask, TrainingStep* training) const override {
    const auto [outer, length, inner] = split(x.shape);
    const std::int64_t resized = output_length(length);
    Shape shape = x.shape;
    shape[axis_] = resized;
    Tensor y(shape);
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t i = 0; i < resized; ++i)
        if (const std::int64_t from = source(i, length); from >= 0)
          std::copy_n(x.values.data() + (o * length + from) * inner, inner,
                      y.values.data() + (o * resized + i) * inner);
    mask.clear();
    if (training) training->cache = std::make_unique<ShapeCache>(x.shape);
    return y;
  }
  LayerGradients backward(const LayerCache& cache, const Tensor& d_y) const override {
    const Shape& shape = static_cast<const ShapeCache&>(cache).shape;
    const auto [outer, length, inner] = split(shape);
    const std::int64_t resized = d_y.shape[axis_];
    LayerGradients g{Tensor(shape), {}};
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t i = 0; i < resized; ++i)
        if (const std::int64_t from = source(i, length); from >= 0)
          for (std::int64_t k = 0; k < inner; ++k)
            g.d_x.values[static_cast<std::size_t>((o * length + from) * inner + k)] +=
                d_y.values[static_cast<std::size_t>((o * resized + i) * inner + k)];
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>&) override {}

 private:
  struct Split {
    std::int64_t outer, length, inner;  // sizes before, along and after the resized axis
  };
  Split split(const Shape& shape) const {
    std::int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis_; ++d) outer *= shape[d];
    for (std::size_t d = axis_ + 1; d < shape.size(); ++d) inner *= shape[d];
    return {outer, shape[axis_], inner};
  }
  std::int64_t output_length(std::int64_t length) const {
    switch (kind_) {
      case Kind::zero_padding: return length + first_ + second_;
      case Kind::cropping:
        if (first_ + second_ >= length)
          fail_layer(*this, "cropping " + amounts() + " leaves no step of " + std::to_string(length));
        return length - first_ - second_;
      default: return length * first_;
    }
  }
  // The input position (of `length`) that output position i copies, or -1 (zeros).
  std::int64_t source(std::int64_t i, std::int64_t length) const {
    switch (kind_) {
      case Kind::zero_padding: return i < first_ || i >= first_ + length ? -1 : i - first_;
      case Kind::cropping: return i + first_;
      default: return i / first_;
    }
  }
  std::string amounts() const { return "[" + std::to_string(first_) + ", " + std::to_string(second_) + "]"; }

  Kind kind_;
  std::int64_t first_, second_;
  int axis_;
};

class IdentityLayer final : public Layer {
 public:
  using Layer::Layer;
  const char* class_name() const override { return "Identity"; }
  std::string config_json() const override { return config_object(*this, ""); }
  Shape build(const Shape& input, std::mt19937_64*) override { return input; }
  Tensor forward(const Tensor& x, StepMask&, TrainingStep* training) const override {
    if (training) training->cache = std::make_unique<ShapeCache>(x.shape);
    return x;
  }
  LayerGradients backward(const LayerCache&, const Tensor& d_y) const override { return {d_y, {}}; }

 protected:
  void collect_weights(std::vector<Weight*>&) override {}
};

// Keras' int-or-pair argument (a pair is saved as a list).
std::pair<std::int64_t, std::int64_t> pair_argument(const ConfigReader& c, const char* key, std::int64_t fallback) {
  const Json* value = c.get(key);
  if (value == nullptr) return {fallback, fallback};
  if (value->is_integer) return {value->integer, value->integer};
  const std::vector<std::int64_t> pair = c.integers(key);
  if (pair.size() != 2) fail(c.where(), std::string(key) + " must be an integer or a pair of them");
  return {pair[0], pair[1]};
}

}  // namespace

std::unique_ptr<Layer> zero_padding_1d_from_config(const ConfigReader& c) {
  const std::string data_format = c.text("data_format", "channels_last");
  if (data_format != "channels_last" && data_format != "channels_first")
    fail(c.where(), "data_format must be channels_last or channels_first, received " + data_format);
  const auto [before, after] = pair_argument(c, "padding", 1);
  return std::make_unique<StepsResizingLayer>(c.name(), StepsResizingLayer::Kind::zero_padding, before, after,
                                              data_format == "channels_last" ? 1 : 2);
}
std::unique_ptr<Layer> cropping_1d_from_config(const ConfigReader& c) {
  const auto [start, end] = pair_argument(c, "cropping", 1);
  return std::make_unique<StepsResizingLayer>(c.name(), StepsResizingLayer::Kind::cropping, start, end, 1);
}
std::unique_ptr<Layer> up_sampling_1d_from_config(const ConfigReader& c) {
  return std::make_unique<StepsResizingLayer>(c.name(), StepsResizingLayer::Kind::up_sampling, c.integer("size", 2),
                                              0, 1);
}
std::unique_ptr<Layer> identity_from_config(const ConfigReader& c) { return std::make_unique<IdentityLayer>(c.name()); }

}  // namespace model_detail

namespace layers {
std::unique_ptr<Layer> ZeroPadding1D(std::int64_t before, std::int64_t after, const std::string& name) {
  return std::make_unique<model_detail::StepsResizingLayer>(
      name.empty() ? model_detail::auto_name("zero_padding1d") : name,
      model_detail::StepsResizingLayer::Kind::zero_padding, before, after, 1);
}
std::unique_ptr<Layer> Cropping1D(std::int64_t start, std::int64_t end, const std::string& name) {
  return std::make_unique<model_detail::StepsResizingLayer>(name.empty() ? model_detail::auto_name("cropping1d") : name,
                                                            model_detail::StepsResizingLayer::Kind::cropping, start,
                                                            end, 1);
}
std::unique_ptr<Layer> UpSampling1D(std::int64_t size, const std::string& name) {
  return std::make_unique<model_detail::StepsResizingLayer>(
      name.empty() ? model_detail::auto_name("up_sampling1d") : name,
      model_detail::StepsResizingLayer::Kind::up_sampling, size, 0, 1);
}
std::unique_ptr<Layer> Identity(const std::string& name) {
  return std::make_unique<model_detail::IdentityLayer>(name.empty() ? model_detail::auto_name("identity") : name);
}
}  // namespace layers

}  // namespace rnnkit
