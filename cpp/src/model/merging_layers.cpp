// Concatenate, Add, Subtract, Average, Multiply, Maximum, Minimum and Dot: the multi-input layers of functional
// models, with Keras 3's mask rules.
#include <algorithm>
#include <array>
#include <cmath>

#include "model/support.hpp"
#include "rnnkit/gemm.hpp"

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

// Keras 3: any input without a mask means no output mask.
bool all_masked(const std::vector<const StepMask*>& masks) {
  return std::none_of(masks.begin(), masks.end(), [](const StepMask* m) { return m->empty(); });
}

void require_inputs(const Layer& layer, std::size_t count, std::size_t at_least) {
  if (count < at_least)
    fail_layer(layer, "expects at least " + std::to_string(at_least) + " inputs, received " + std::to_string(count));
}

void require_equal_shapes(const Layer& layer, const std::vector<Shape>& inputs) {
  for (const Shape& s : inputs)
    if (s != inputs[0])
      fail_layer(layer, "the C++ model API merges inputs of equal shapes only; received " + shape_text(inputs[0]) +
                        " and " + shape_text(s));
}

// Sizes left unknown when the model was built (-1) are only checked here.
void require_equal_shapes(const Layer& layer, const std::vector<const Tensor*>& xs) {
  for (const Tensor* x : xs)
    if (x->shape != xs[0]->shape) fail_layer(layer, "inputs of different shapes cannot be merged");
}

// A step mask read value by value: each step's flag covers that step's features.
class ValueMask {
 public:
  ValueMask(const StepMask& mask, std::size_t values)
      : mask_(&mask), per_step_(mask.empty() ? 1 : std::max<std::size_t>(values / mask.size(), 1)) {}
  bool kept(std::size_t value) const { return mask_->empty() || (*mask_)[value / per_step_]; }

 private:
  const StepMask* mask_;
  std::size_t per_step_;
};

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

// A merge of two or more inputs of equal shapes whose config has no keys of its own.
class EqualShapesMerge : public MergeLayer {
 public:
  using MergeLayer::MergeLayer;
  std::string config_json() const override { return config_object(*this, ""); }
  Shape build_merge(const std::vector<Shape>& inputs) override {
    require_inputs(*this, inputs.size(), 2);
    require_equal_shapes(*this, inputs);
    return inputs[0];
  }
};

// Add, Subtract and Average: one element-wise op over inputs of equal shapes.
enum class ElementwiseOp { add, subtract, average };

class ElementwiseMergeLayer final : public EqualShapesMerge {
 public:
  ElementwiseMergeLayer(std::string name, ElementwiseOp op) : EqualShapesMerge(std::move(name)), op_(op) {}
  const char* class_name() const override {
    return op_ == ElementwiseOp::add ? "Add" : op_ == ElementwiseOp::subtract ? "Subtract" : "Average";
  }

  Shape build_merge(const std::vector<Shape>& inputs) override {
    if (op_ == ElementwiseOp::subtract && inputs.size() != 2)
      fail_layer(*this, "expects exactly 2 inputs, received " + std::to_string(inputs.size()));
    return EqualShapesMerge::build_merge(inputs);
  }

  Tensor merge(const std::vector<const Tensor*>& xs, const std::vector<const StepMask*>& masks, StepMask& out_mask,
               TrainingStep* training) const override {
    require_equal_shapes(*this, xs);
    Tensor y = *xs[0];
    const float sign = op_ == ElementwiseOp::subtract ? -1.0f : 1.0f;
    for (std::size_t i = 1; i < xs.size(); ++i)
      for (std::size_t k = 0; k < y.values.size(); ++k) y.values[k] += sign * xs[i]->values[k];
    // Divided as Keras does (not multiplied by 1/n) so the float32 results match its own.
    if (op_ == ElementwiseOp::average)
      for (float& v : y.values) v /= static_cast<float>(xs.size());
    out_mask = all_masked(masks) ? any_kept(masks, masks[0]->size()) : StepMask{};
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

struct MultiplyCache final : LayerCache {
  std::vector<Tensor> factors;  // the inputs with their masked values replaced by 1
  std::vector<StepMask> masks;  // the inputs'
  StepMask zeroed;              // the output mask whose masked steps were set to 0; empty when none were
};

// Keras 3's Multiply: a masked value counts as 1; with every input masked, the steps none keeps are 0.
class MultiplyLayer final : public EqualShapesMerge {
 public:
  using EqualShapesMerge::EqualShapesMerge;
  const char* class_name() const override { return "Multiply"; }

  Tensor merge(const std::vector<const Tensor*>& xs, const std::vector<const StepMask*>& masks, StepMask& out_mask,
               TrainingStep* training) const override {
    require_equal_shapes(*this, xs);
    const std::size_t size = xs[0]->values.size();
    std::vector<Tensor> factors;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      factors.push_back(*xs[i]);
      const ValueMask kept(*masks[i], size);
      for (std::size_t k = 0; k < size; ++k)
        if (!kept.kept(k)) factors[i].values[k] = 1.0f;
    }
    // Multiplied in input order, as Keras does, so the float32 results match its own.
    Tensor y = factors[0];
    for (std::size_t i = 1; i < factors.size(); ++i)
      for (std::size_t k = 0; k < size; ++k) y.values[k] *= factors[i].values[k];
    out_mask = all_masked(masks) ? any_kept(masks, masks[0]->size()) : StepMask{};
    const ValueMask output_kept(out_mask, size);
    for (std::size_t k = 0; k < size; ++k)
      if (!output_kept.kept(k)) y.values[k] = 0.0f;
    if (training) {
      auto cache = std::make_unique<MultiplyCache>();
      cache->factors = std::move(factors);
      for (const StepMask* m : masks) cache->masks.push_back(*m);
      cache->zeroed = out_mask;
      training->cache = std::move(cache);
    }
    return y;
  }

  std::vector<Tensor> unmerge(const LayerCache& base, const Tensor& d_y) const override {
    const auto& cache = static_cast<const MultiplyCache&>(base);
    const std::size_t n = cache.factors.size(), size = d_y.values.size();
    const ValueMask output_kept(cache.zeroed, size);
    std::vector<Tensor> d;
    for (std::size_t i = 0; i < n; ++i) {
      d.emplace_back(d_y.shape);
      const ValueMask kept(cache.masks[i], size);
      // The others' product itself, not y / x_i: a factor may be 0.
      for (std::size_t k = 0; k < size; ++k) {
        if (!output_kept.kept(k) || !kept.kept(k)) continue;
        float g = d_y.values[k];
        for (std::size_t j = 0; j < n; ++j)
          if (j != i) g *= cache.factors[j].values[k];
        d[i].values[k] = g;
      }
    }
    return d;
  }
};

struct ExtremumCache final : LayerCache {
  std::vector<StepMask> masks;  // the inputs'
  // For input i >= 1, at [i - 1]: the running output's mask before it, and the running output and input i as the
  // pairwise op read them (after Keras' replacements of masked values).
  std::vector<StepMask> running_masks;
  std::vector<Tensor> running, replaced;
};

// Keras 3's Maximum and Minimum: pairwise in input order, a masked value of the next input taking the running
// output's and a masked value of the running output the next input's.
class ExtremumLayer final : public EqualShapesMerge {
 public:
  ExtremumLayer(std::string name, bool maximum) : EqualShapesMerge(std::move(name)), maximum_(maximum) {}
  const char* class_name() const override { return maximum_ ? "Maximum" : "Minimum"; }

  Tensor merge(const std::vector<const Tensor*>& xs, const std::vector<const StepMask*>& masks, StepMask& out_mask,
               TrainingStep* training) const override {
    require_equal_shapes(*this, xs);
    const std::size_t size = xs[0]->values.size();
    auto cache = training ? std::make_unique<ExtremumCache>() : nullptr;
    Tensor out = *xs[0];
    StepMask running_mask = *masks[0];
    for (std::size_t i = 1; i < xs.size(); ++i) {
      Tensor x = *xs[i];
      const ValueMask kept(*masks[i], size), running_kept(running_mask, size);
      for (std::size_t k = 0; k < size; ++k) {
        if (!kept.kept(k)) x.values[k] = out.values[k];
        if (!running_kept.kept(k)) out.values[k] = x.values[k];
      }
      if (cache) {
        cache->running_masks.push_back(running_mask);
        cache->running.push_back(out);
        cache->replaced.push_back(x);
      }
      if (masks[i]->empty() || running_mask.empty()) {
        running_mask.clear();
      } else {
        for (std::size_t s = 0; s < running_mask.size(); ++s)
          running_mask[s] = running_mask[s] || (*masks[i])[s];
      }
      // A NaN wins, as in torch.maximum and torch.minimum.
      for (std::size_t k = 0; k < size; ++k) {
        const float a = out.values[k], b = x.values[k];
        out.values[k] = std::isnan(a) || (maximum_ ? a > b : a < b) ? a : b;
      }
    }
    out_mask = std::move(running_mask);
    if (cache) {
      for (const StepMask* m : masks) cache->masks.push_back(*m);
      training->cache = std::move(cache);
    }
    return out;
  }

  // Backwards through the pairwise steps; equal values share the gradient, half each, as PyTorch's maximum and
  // minimum (Keras on the torch backend) do.
  std::vector<Tensor> unmerge(const LayerCache& base, const Tensor& d_y) const override {
    const auto& cache = static_cast<const ExtremumCache&>(base);
    const std::size_t n = cache.masks.size(), size = d_y.values.size();
    std::vector<Tensor> d(n);
    Tensor d_out = d_y;
    for (std::size_t i = n - 1; i >= 1; --i) {
      const Tensor &a = cache.running[i - 1], &b = cache.replaced[i - 1];
      const ValueMask kept(cache.masks[i], size), running_kept(cache.running_masks[i - 1], size);
      d[i] = Tensor(d_y.shape);
      for (std::size_t k = 0; k < size; ++k) {
        const float g = d_out.values[k], av = a.values[k], bv = b.values[k];
        const bool a_wins = maximum_ ? av > bv : av < bv, b_wins = maximum_ ? av < bv : av > bv;
        float d_a = a_wins ? g : b_wins ? 0.0f : 0.5f * g;
        float d_b = b_wins ? g : a_wins ? 0.0f : 0.5f * g;
        if (!running_kept.kept(k)) {  // the running output had taken b's value
          d_b += d_a;
          d_a = 0.0f;
        }
        if (!kept.kept(k)) {  // b had taken the running output's value
          d_a += d_b;
          d_b = 0.0f;
        }
        d[i].values[k] = d_b;
        d_out.values[k] = d_a;
      }
    }
    d[0] = std::move(d_out);
    return d;
  }

 private:
  bool maximum_;
};

// One input of Dot as a matrix per example: `rows` x `depth`, the depth being the dot axis, stored [rows, depth]
// when the dot axis is the last one, else [depth, rows]. A (batch, d) input is one row.
struct DotOperand {
  std::int64_t rows, depth;
  bool depth_last;

  DotOperand(const Shape& shape, std::int64_t axis)
      : rows(shape.size() == 2 ? 1 : shape[axis == 1 ? 2 : 1]), depth(shape[axis]),
        depth_last(axis + 1 == static_cast<std::int64_t>(shape.size())) {}
  std::int64_t ld() const { return depth_last ? depth : rows; }
  Trans as_rows_by_depth() const { return depth_last ? Trans::no : Trans::yes; }
  Trans as_depth_by_rows() const { return depth_last ? Trans::yes : Trans::no; }
  std::int64_t row_stride() const { return depth_last ? depth : 1; }
  std::int64_t depth_stride() const { return depth_last ? 1 : rows; }
};

// Keras' normalize: x * min(1 / sqrt(sum x^2), 1 / epsilon) along the dot axis, epsilon = 1e-7.
constexpr float kInverseNormalizeEpsilon = 1e7f;

struct DotCache final : LayerCache {
  std::array<Tensor, 2> operands;  // the inputs, normalised when the layer normalises
  // With normalize, per (example, row), i.e. per slice along the dot axis: its scale and whether that was clamped
  // to 1 / epsilon.
  std::array<std::vector<float>, 2> scales;
  std::array<std::vector<std::uint8_t>, 2> clamped;
  std::array<std::int64_t, 2> axes;
};

// Keras 3's Dot (batch_dot) over inputs of rank 2 or 3, counting the batch axis. Masks are ignored, as in Keras.
class DotLayer final : public MergeLayer {
 public:
  // `axes` as Keras' config holds it: one axis for both inputs, or one each.
  DotLayer(std::string name, std::vector<std::int64_t> axes, bool normalize)
      : MergeLayer(std::move(name)), axes_(std::move(axes)), normalize_(normalize) {}
  const char* class_name() const override { return "Dot"; }
  std::string config_json() const override {
    return config_object(*this, "\"axes\": " + (axes_.size() == 1 ? std::to_string(axes_[0]) : json_list(axes_)) +
                                    ", \"normalize\": " + (normalize_ ? "true" : "false"));
  }

  Shape build_merge(const std::vector<Shape>& inputs) override {
    if (inputs.size() != 2) fail_layer(*this, "expects exactly 2 inputs, received " + std::to_string(inputs.size()));
    std::array<Shape, 2> shapes;
    for (std::size_t i = 0; i < 2; ++i) {
      shapes[i] = with_batch(-1, inputs[i]);
      if (shapes[i].size() != 2 && shapes[i].size() != 3)
        fail_layer(*this, "takes inputs of rank 2 or 3 (with the batch axis), received " + shape_text(shapes[i]));
    }
    const std::array<std::int64_t, 2> axes = checked_axes(shapes[0], shapes[1]);
    Shape output;
    for (std::size_t i = 0; i < 2; ++i)
      for (std::size_t a = 1; a < shapes[i].size(); ++a)
        if (static_cast<std::int64_t>(a) != axes[i]) output.push_back(shapes[i][a]);
    return output.empty() ? Shape{1} : output;
  }

  Tensor merge(const std::vector<const Tensor*>& xs, const std::vector<const StepMask*>&, StepMask& out_mask,
               TrainingStep* training) const override {
    const std::array<std::int64_t, 2> axes = checked_axes(xs[0]->shape, xs[1]->shape);
    const std::int64_t batch = xs[0]->shape[0];
    const DotOperand left(xs[0]->shape, axes[0]), right(xs[1]->shape, axes[1]);
    std::array<Tensor, 2> operands = {*xs[0], *xs[1]};
    std::array<std::vector<float>, 2> scales;
    std::array<std::vector<std::uint8_t>, 2> clamped;
    if (normalize_) {
      normalize(left, operands[0], scales[0], clamped[0]);
      normalize(right, operands[1], scales[1], clamped[1]);
    }
    Shape shape{batch};
    if (xs[0]->shape.size() == 3) shape.push_back(left.rows);
    if (xs[1]->shape.size() == 3) shape.push_back(right.rows);
    if (shape.size() == 1) shape.push_back(1);
    Tensor y(shape);
    const std::int64_t m = left.rows, n = right.rows, k = left.depth;
    for (std::int64_t b = 0; b < batch; ++b)
      sgemm(left.as_rows_by_depth(), right.as_depth_by_rows(), m, n, k, 1.0f, operands[0].values.data() + b * m * k,
            left.ld(), operands[1].values.data() + b * k * n, right.ld(), 0.0f, y.values.data() + b * m * n, n);
    out_mask.clear();
    if (training) {
      auto cache = std::make_unique<DotCache>();
      cache->operands = std::move(operands);
      cache->scales = std::move(scales);
      cache->clamped = std::move(clamped);
      cache->axes = axes;
      training->cache = std::move(cache);
    }
    return y;
  }

  std::vector<Tensor> unmerge(const LayerCache& base, const Tensor& d_y) const override {
    const auto& cache = static_cast<const DotCache&>(base);
    const Tensor &u = cache.operands[0], &v = cache.operands[1];
    const DotOperand left(u.shape, cache.axes[0]), right(v.shape, cache.axes[1]);
    const std::int64_t batch = u.shape[0], m = left.rows, n = right.rows, k = left.depth;
    std::vector<Tensor> d = {Tensor(u.shape), Tensor(v.shape)};
    for (std::int64_t b = 0; b < batch; ++b) {
      const float *ub = u.values.data() + b * m * k, *vb = v.values.data() + b * k * n;
      const float* gb = d_y.values.data() + b * m * n;  // [m, n]
      float *du = d[0].values.data() + b * m * k, *dv = d[1].values.data() + b * k * n;
      // dU = dY · op(V)^T and dV = op(U)^T · dY, each written in its input's layout.
      if (left.depth_last)
        sgemm(Trans::no, right.as_rows_by_depth(), m, k, n, 1.0f, gb, n, vb, right.ld(), 0.0f, du, k);
      else
        sgemm(right.as_depth_by_rows(), Trans::yes, k, m, n, 1.0f, vb, right.ld(), gb, n, 0.0f, du, m);
      if (right.depth_last)
        sgemm(Trans::yes, left.as_rows_by_depth(), n, k, m, 1.0f, gb, n, ub, left.ld(), 0.0f, dv, k);
      else
        sgemm(left.as_depth_by_rows(), Trans::no, k, n, m, 1.0f, ub, left.ld(), gb, n, 0.0f, dv, n);
    }
    if (normalize_) {
      normalize_backward(left, cache.operands[0], cache.scales[0], cache.clamped[0], d[0]);
      normalize_backward(right, cache.operands[1], cache.scales[1], cache.clamped[1], d[1]);
    }
    return d;
  }

 private:
  // The two inputs' axes counting the batch axis, a negative one taken modulo the input's rank as Python does;
  // std::invalid_argument unless they name a non-batch axis each and sizes along them agree (unknown sizes, -1,
  // agree with any).
  std::array<std::int64_t, 2> checked_axes(const Shape& first, const Shape& second) const {
    const std::array<const Shape*, 2> shapes = {&first, &second};
    std::array<std::int64_t, 2> axes{};
    for (std::size_t i = 0; i < 2; ++i) {
      const std::int64_t rank = static_cast<std::int64_t>(shapes[i]->size());
      const std::int64_t axis = axes_[axes_.size() == 2 ? i : 0];
      axes[i] = axis < 0 ? (axis % rank + rank) % rank : axis;
      if (axes[i] == 0) fail_layer(*this, "cannot take the dot product over the batch axis (axis 0)");
      if (axes[i] >= rank)
        fail_layer(*this, "axis " + std::to_string(axis) + " is out of range for an input of shape " +
                              shape_text(*shapes[i]));
    }
    const std::int64_t a = first[axes[0]], b = second[axes[1]];
    if (a >= 0 && b >= 0 && a != b)
      fail_layer(*this, "needs equal sizes along the dot axes, received " + std::to_string(a) + " (axis " +
                            std::to_string(axes[0]) + " of " + shape_text(first) + ") and " + std::to_string(b) +
                            " (axis " + std::to_string(axes[1]) + " of " + shape_text(second) + ")");
    return axes;
  }

  static void normalize(const DotOperand& o, Tensor& x, std::vector<float>& scales,
                        std::vector<std::uint8_t>& clamped) {
    const std::int64_t slices = x.size() / std::max<std::int64_t>(o.depth, 1);
    for (std::int64_t s = 0; s < slices; ++s) {
      float* row = slice_start(o, x.values.data(), s);
      float sum = 0.0f;
      for (std::int64_t k = 0; k < o.depth; ++k) sum += row[k * o.depth_stride()] * row[k * o.depth_stride()];
      const float inverse_norm = 1.0f / std::sqrt(sum);  // infinite for an all-zero slice, then clamped
      const bool clamp = !(inverse_norm < kInverseNormalizeEpsilon);
      const float scale = clamp ? kInverseNormalizeEpsilon : inverse_norm;
      for (std::int64_t k = 0; k < o.depth; ++k) row[k * o.depth_stride()] *= scale;
      scales.push_back(scale);
      clamped.push_back(clamp);
    }
  }

  // Through u = x * s, s = (sum x^2)^(-1/2): dx = s * (du - u * <du, u>); a clamped s is a constant, dx = s * du
  // (where Keras' gradient is NaN for an all-zero slice).
  static void normalize_backward(const DotOperand& o, const Tensor& u, const std::vector<float>& scales,
                                 const std::vector<std::uint8_t>& clamped, Tensor& d) {
    for (std::size_t s = 0; s < scales.size(); ++s) {
      const float* us = slice_start(o, u.values.data(), static_cast<std::int64_t>(s));
      float* ds = slice_start(o, d.values.data(), static_cast<std::int64_t>(s));
      const std::int64_t step = o.depth_stride();
      float along = 0.0f;
      if (!clamped[s])
        for (std::int64_t k = 0; k < o.depth; ++k) along += ds[k * step] * us[k * step];
      for (std::int64_t k = 0; k < o.depth; ++k) ds[k * step] = scales[s] * (ds[k * step] - us[k * step] * along);
    }
  }

  // Slice s (example s / rows, row s % rows) of an operand's values; its entries are depth_stride() apart.
  template <typename T>
  static T* slice_start(const DotOperand& o, T* values, std::int64_t s) {
    return values + (s / o.rows) * o.rows * o.depth + (s % o.rows) * o.row_stride();
  }

  std::vector<std::int64_t> axes_;
  bool normalize_;
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
std::unique_ptr<Layer> multiply_from_config(const ConfigReader& c) { return std::make_unique<MultiplyLayer>(c.name()); }
std::unique_ptr<Layer> maximum_from_config(const ConfigReader& c) {
  return std::make_unique<ExtremumLayer>(c.name(), true);
}
std::unique_ptr<Layer> minimum_from_config(const ConfigReader& c) {
  return std::make_unique<ExtremumLayer>(c.name(), false);
}
std::unique_ptr<Layer> dot_from_config(const ConfigReader& c) {
  const Json* axes = c.get("axes");
  std::vector<std::int64_t> values;
  if (axes && axes->is_integer) {
    values = {axes->integer};
  } else if (axes && axes->kind == Json::Kind::array && axes->array.size() == 2 && axes->array[0].is_integer &&
             axes->array[1].is_integer) {
    values = {axes->array[0].integer, axes->array[1].integer};
  } else {
    throw std::invalid_argument(c.where() + ": axes must be an integer or a list of two integers");
  }
  return std::make_unique<DotLayer>(c.name(), std::move(values), c.flag("normalize", false));
}

}  // namespace model_detail
}  // namespace rnnkit
