// Concatenate, Add, Subtract and Average: the multi-input layers of functional models, with Keras 3's mask rules.
#include <algorithm>

#include "model/support.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

// Keras: a missing mask counts as all-kept; the merged mask keeps a step when any input keeps it.
StepMask any_kept(const std::vector<const StepMask*>& masks, std::size_t steps) {
  StepMask out(steps, 0);
  for (const StepMask* m : masks)
    for (std::size_t s = 0; s < steps; ++s) out[s] = out[s] || m->empty() || (*m)[s];
  return out;
}

bool no_masks(const std::vector<const StepMask*>& masks) {
  return std::all_of(masks.begin(), masks.end(), [](const StepMask* m) { return m->empty(); });
}

struct SizesCache final : LayerCache {
  std::vector<Shape> shapes;
};

class ConcatenateLayer final : public MergeLayer {
 public:
  ConcatenateLayer(std::string name, std::int64_t axis) : MergeLayer(std::move(name)), axis_(axis) {}
  const char* class_name() const override { return "Concatenate"; }
  std::string config_json() const override { return config_object(*this, "\"axis\": " + std::to_string(axis_)); }

  Shape build_merge(const std::vector<Shape>& inputs) override {
    if (inputs.size() < 2) fail_layer(*this, "expects at least 2 inputs, received " + std::to_string(inputs.size()));
    const std::int64_t rank = static_cast<std::int64_t>(inputs[0].size()) + 1;  // with the batch axis
    axis_ = axis_ < 0 ? axis_ + rank : axis_;
    if (axis_ <= 0 || axis_ >= rank) fail_layer(*this, "axis " + std::to_string(axis_) + " is not a feature axis");
    Shape output = inputs[0];
    const std::size_t a = static_cast<std::size_t>(axis_ - 1);
    for (std::size_t i = 1; i < inputs.size(); ++i) {
      Shape other = inputs[i], first = inputs[0];
      if (other.size() != first.size()) fail_layer(*this, "inputs must have the same rank");
      other[a] = first[a] = 0;
      if (other != first) fail_layer(*this, "inputs must match in every axis but the concatenation axis");
      output[a] = output[a] < 0 || inputs[i][a] < 0 ? -1 : output[a] + inputs[i][a];
    }
    return output;
  }

  Tensor merge(const std::vector<const Tensor*>& xs, const std::vector<const StepMask*>& masks, StepMask& out_mask,
               TrainingStep* training) const override {
    const std::size_t a = static_cast<std::size_t>(axis_);
    Shape shape = xs[0]->shape;
    shape[a] = 0;
    for (const Tensor* x : xs) shape[a] += x->shape[a];
    Tensor y(shape);
    const std::int64_t outer = element_count(Shape(shape.begin(), shape.begin() + axis_));
    auto out = y.values.begin();
    for (std::int64_t o = 0; o < outer; ++o)
      for (const Tensor* x : xs) {
        const std::int64_t chunk = x->size() / std::max<std::int64_t>(outer, 1);
        out = std::copy_n(x->values.begin() + o * chunk, chunk, out);
      }
    out_mask.clear();
    if (!no_masks(masks)) {
      if (axis_ == static_cast<std::int64_t>(shape.size()) - 1) {
        out_mask = any_kept(masks, static_cast<std::size_t>(shape[0] * shape[1]));
      } else if (axis_ == 1 && shape.size() == 3) {  // concatenating along time concatenates the step masks
        for (std::int64_t b = 0; b < shape[0]; ++b)
          for (std::size_t i = 0; i < xs.size(); ++i)
            for (std::int64_t t = 0; t < xs[i]->shape[1]; ++t)
              out_mask.push_back(masks[i]->empty() || (*masks[i])[static_cast<std::size_t>(b * xs[i]->shape[1] + t)]);
      } else {
        fail_layer(*this, "masked inputs are supported only when concatenating along the feature or time axis");
      }
    }
    if (training) {
      auto cache = std::make_unique<SizesCache>();
      for (const Tensor* x : xs) cache->shapes.push_back(x->shape);
      training->cache = std::move(cache);
    }
    return y;
  }

  std::vector<Tensor> unmerge(const LayerCache& base, const Tensor& d_y) const override {
    const auto& cache = static_cast<const SizesCache&>(base);
    std::vector<Tensor> d;
    for (const Shape& s : cache.shapes) d.emplace_back(s);
    const std::int64_t outer = element_count(Shape(d_y.shape.begin(), d_y.shape.begin() + axis_));
    auto in = d_y.values.begin();
    for (std::int64_t o = 0; o < outer; ++o)
      for (Tensor& part : d) {
        const std::int64_t chunk = part.size() / std::max<std::int64_t>(outer, 1);
        std::copy_n(in, chunk, part.values.begin() + o * chunk);
        in += chunk;
      }
    return d;
  }

 private:
  std::int64_t axis_;
};

// Add, Subtract and Average: one element-wise op over inputs of equal shapes.
enum class ElementwiseOp { add, subtract, average };

class ElementwiseMergeLayer final : public MergeLayer {
 public:
  ElementwiseMergeLayer(std::string name, ElementwiseOp op) : MergeLayer(std::move(name)), op_(op) {}
  const char* class_name() const override {
    return op_ == ElementwiseOp::add ? "Add" : op_ == ElementwiseOp::subtract ? "Subtract" : "Average";
  }
  std::string config_json() const override { return config_object(*this, ""); }

  Shape build_merge(const std::vector<Shape>& inputs) override {
    if (op_ == ElementwiseOp::subtract && inputs.size() != 2)
      fail_layer(*this, "expects exactly 2 inputs, received " + std::to_string(inputs.size()));
    if (inputs.size() < 2) fail_layer(*this, "expects at least 2 inputs, received " + std::to_string(inputs.size()));
    for (const Shape& s : inputs)
      if (s != inputs[0])
        fail_layer(*this, "the C++ model API merges inputs of equal shapes only; received " + shape_text(inputs[0]) +
                         " and " + shape_text(s));
    return inputs[0];
  }

  Tensor merge(const std::vector<const Tensor*>& xs, const std::vector<const StepMask*>& masks, StepMask& out_mask,
               TrainingStep* training) const override {
    Tensor y = *xs[0];
    const float sign = op_ == ElementwiseOp::subtract ? -1.0f : 1.0f;
    for (std::size_t i = 1; i < xs.size(); ++i) {
      if (xs[i]->shape != y.shape) fail_layer(*this, "inputs of different shapes cannot be merged");
      for (std::size_t k = 0; k < y.values.size(); ++k) y.values[k] += sign * xs[i]->values[k];
    }
    // Divided as Keras does (not multiplied by 1/n) so the float32 results match its own.
    if (op_ == ElementwiseOp::average)
      for (float& v : y.values) v /= static_cast<float>(xs.size());
    // Keras 3: any input without a mask means no output mask.
    const bool all_masked = std::none_of(masks.begin(), masks.end(), [](const StepMask* m) { return m->empty(); });
    out_mask = all_masked ? any_kept(masks, masks[0]->size()) : StepMask{};
    if (training) {
      auto cache = std::make_unique<SizesCache>();
      cache->shapes.assign(xs.size(), y.shape);
      training->cache = std::move(cache);
    }
    return y;
  }

  std::vector<Tensor> unmerge(const LayerCache& base, const Tensor& d_y) const override {
    const std::size_t n = static_cast<const SizesCache&>(base).shapes.size();
    std::vector<Tensor> d(n, d_y);
    if (op_ == ElementwiseOp::subtract)
      for (float& v : d[1].values) v = -v;
    if (op_ == ElementwiseOp::average)
      for (Tensor& part : d)
        for (float& v : part.values) v /= static_cast<float>(n);
    return d;
  }

 private:
  ElementwiseOp op_;
};

}  // namespace

std::unique_ptr<Layer> concatenate_from_config(const ConfigReader& c) {
  return std::make_unique<ConcatenateLayer>(c.name(), c.integer("axis", -1));
}
std::unique_ptr<Layer> add_from_config(const ConfigReader& c) {
  return std::make_unique<ElementwiseMergeLayer>(c.name(), ElementwiseOp::add);
}
std::unique_ptr<Layer> subtract_from_config(const ConfigReader& c) {
  return std::make_unique<ElementwiseMergeLayer>(c.name(), ElementwiseOp::subtract);
}
std::unique_ptr<Layer> average_from_config(const ConfigReader& c) {
  return std::make_unique<ElementwiseMergeLayer>(c.name(), ElementwiseOp::average);
}

}  // namespace model_detail
}  // namespace rnnkit
