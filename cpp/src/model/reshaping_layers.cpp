// Flatten, RepeatVector, Reshape and Permute: forward next to backward, with their factories and from_config. None
// supports masking in Keras 3, so each drops the mask.
#include <algorithm>

#include "model/support.hpp"
#include "rnnkit/checked.hpp"
#include "rnnkit/layers.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

// x's values in `shape`, the mask dropped; in training the input's shape is kept for reshaped_back.
Tensor reshaped(const Tensor& x, Shape shape, StepMask& mask, TrainingStep* training) {
  Tensor y = x;
  y.shape = std::move(shape);
  mask.clear();
  if (training) training->cache = std::make_unique<ShapeCache>(x.shape);
  return y;
}

// The gradient of a layer that only changes the shape: d_y's values in the input's shape.
LayerGradients reshaped_back(const LayerCache& cache, const Tensor& d_y) {
  LayerGradients g{d_y, {}};
  g.d_x.shape = static_cast<const ShapeCache&>(cache).shape;
  return g;
}

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
    return reshaped(x, {x.shape[0], x.shape[0] == 0 ? 0 : x.size() / x.shape[0]}, mask, training);
  }
  LayerGradients backward(const LayerCache& cache, const Tensor& d_y) const override {
    return reshaped_back(cache, d_y);
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

class ReshapeLayer final : public Layer {
 public:
  ReshapeLayer(std::string name, Shape target_shape)
      : Layer(std::move(name)), target_shape_(std::move(target_shape)) {
    if (std::any_of(target_shape_.begin(), target_shape_.end(), [](std::int64_t d) { return d == 0 || d < -1; }) ||
        std::count(target_shape_.begin(), target_shape_.end(), -1) > 1)
      fail_layer(*this, "needs a target_shape of positive sizes and at most one -1, received " +
                            json_list(target_shape_));
    // Checked once here, so that resolving a shape when called cannot overflow.
    for (std::int64_t d : target_shape_)
      if (d != -1) known_size_ = checked_mul(known_size_, d, "Reshape target_shape");
  }
  const char* class_name() const override { return "Reshape"; }
  std::string config_json() const override {
    return config_object(*this, "\"target_shape\": " + json_list(target_shape_));
  }
  Shape build(const Shape& input, std::mt19937_64*) override { return resolved(input); }
  Tensor forward(const Tensor& x, StepMask& mask, TrainingStep* training) const override {
    return reshaped(x, with_batch(x.shape[0], resolved(Shape(x.shape.begin() + 1, x.shape.end()))), mask, training);
  }
  LayerGradients backward(const LayerCache& cache, const Tensor& d_y) const override {
    return reshaped_back(cache, d_y);
  }

 protected:
  void collect_weights(std::vector<Weight*>&) override {}

 private:
  // target_shape with its -1 inferred from an input of this per-example shape. While the input has sizes known
  // only at run time, the -1 stays and a mismatch shows when called, as in Keras.
  Shape resolved(const Shape& input) const {
    if (std::any_of(input.begin(), input.end(), [](std::int64_t d) { return d < 0; })) return target_shape_;
    const std::int64_t size = element_count(input);
    Shape out = target_shape_;
    const auto inferred = std::find(out.begin(), out.end(), -1);
    const bool infers = inferred != out.end();
    if (infers ? size % known_size_ != 0 : size != known_size_)
      fail_layer(*this, "cannot reshape an input of shape " + shape_text(input) + " (" + std::to_string(size) +
                            " values an example) to target_shape " + json_list(target_shape_));
    if (infers) *inferred = size / known_size_;
    return out;
  }

  Shape target_shape_;
  std::int64_t known_size_ = 1;  // the product of target_shape's sizes other than -1
};

class PermuteLayer final : public Layer {
 public:
  PermuteLayer(std::string name, std::vector<std::int64_t> dims) : Layer(std::move(name)), dims_(std::move(dims)) {
    std::vector<std::int64_t> sorted = dims_;
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t i = 0; i < sorted.size(); ++i)
      if (sorted[i] != static_cast<std::int64_t>(i) + 1)
        fail_layer(*this, "needs dims that are a permutation of 1.." + std::to_string(dims_.size()) +
                              ", received " + json_list(dims_));
    axes_.push_back(0);  // the batch axis stays first
    for (std::int64_t d : dims_) axes_.push_back(static_cast<std::size_t>(d));
    inverse_.resize(axes_.size());
    for (std::size_t a = 0; a < axes_.size(); ++a) inverse_[axes_[a]] = a;
  }
  const char* class_name() const override { return "Permute"; }
  std::string config_json() const override { return config_object(*this, "\"dims\": " + json_list(dims_)); }
  Shape build(const Shape& input, std::mt19937_64*) override {
    if (input.size() != dims_.size())
      fail_layer(*this, "needs an input of " + std::to_string(dims_.size()) + " axes besides the batch, received " +
                            shape_text(input));
    Shape output;
    for (std::int64_t d : dims_) output.push_back(input[static_cast<std::size_t>(d - 1)]);
    return output;
  }
  Tensor forward(const Tensor& x, StepMask& mask, TrainingStep* training) const override {
    mask.clear();
    if (training) training->cache = std::make_unique<LayerCache>();  // the backward needs only the dims
    return transposed(x, axes_);
  }
  LayerGradients backward(const LayerCache&, const Tensor& d_y) const override {
    return {transposed(d_y, inverse_), {}};
  }

 protected:
  void collect_weights(std::vector<Weight*>&) override {}

 private:
  // x with its axes reordered: output axis a is input axis axes[a]. An odometer over the output index carries the
  // input offset along, so any rank works without dividing per element.
  static Tensor transposed(const Tensor& x, const std::vector<std::size_t>& axes) {
    const std::size_t rank = x.shape.size();
    std::vector<std::int64_t> in_stride(rank), step(rank), index(rank, 0);
    std::int64_t stride = 1;
    for (std::size_t a = rank; a-- > 0;) {
      in_stride[a] = stride;
      stride *= x.shape[a];
    }
    Shape shape(rank);
    for (std::size_t a = 0; a < rank; ++a) {
      shape[a] = x.shape[axes[a]];
      step[a] = in_stride[axes[a]];
    }
    Tensor y(shape);
    std::int64_t from = 0;
    for (float& v : y.values) {
      v = x.values[static_cast<std::size_t>(from)];
      for (std::size_t a = rank; a-- > 0;) {
        from += step[a];
        if (++index[a] < shape[a]) break;
        from -= step[a] * shape[a];
        index[a] = 0;
      }
    }
    return y;
  }

  std::vector<std::int64_t> dims_;
  std::vector<std::size_t> axes_, inverse_;  // the input axis of each output axis (batch first) and the reverse
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
std::unique_ptr<Layer> reshape_from_config(const ConfigReader& c) {
  return std::make_unique<ReshapeLayer>(c.name(), c.integers("target_shape"));
}
std::unique_ptr<Layer> permute_from_config(const ConfigReader& c) {
  return std::make_unique<PermuteLayer>(c.name(), c.integers("dims"));
}

}  // namespace model_detail

namespace layers {
std::unique_ptr<Layer> Flatten(const std::string& name) {
  return std::make_unique<model_detail::FlattenLayer>(name.empty() ? model_detail::auto_name("flatten") : name);
}
std::unique_ptr<Layer> RepeatVector(std::int64_t n, const std::string& name) {
  return std::make_unique<model_detail::RepeatVectorLayer>(name.empty() ? model_detail::auto_name("repeat_vector") : name, n);
}
std::unique_ptr<Layer> Reshape(std::vector<std::int64_t> target_shape, const std::string& name) {
  return std::make_unique<model_detail::ReshapeLayer>(name.empty() ? model_detail::auto_name("reshape") : name,
                                                      std::move(target_shape));
}
std::unique_ptr<Layer> Permute(std::vector<std::int64_t> dims, const std::string& name) {
  return std::make_unique<model_detail::PermuteLayer>(name.empty() ? model_detail::auto_name("permute") : name,
                                                      std::move(dims));
}
}  // namespace layers

}  // namespace rnnkit
