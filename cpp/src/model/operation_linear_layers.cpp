// matmul, softmax, reshape and stack operation nodes (Keras' Matmul, Reshape and Stack in keras.src.ops.numpy,
// Softmax in keras.src.ops.nn): layers over the node's tensors, forward next to backward, keeping the model's batch
// axis first and whole; outputs carry no mask, as in Keras.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "model/operation_support.hpp"
#include "model/support.hpp"
#include "rnnkit/gemm.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

// ---- matmul: per batch row (and any other leading axis), the last two axes multiply ------------------------------

class MatmulLayer final : public MergeLayer {
 public:
  using MergeLayer::MergeLayer;
  const char* class_name() const override { return "Matmul"; }
  std::string config_json() const override { return operation_config(*this); }

  Shape build_merge(const std::vector<Shape>& inputs) override {
    if (inputs.size() != 2) fail_layer(*this, "expects two tensors, received " + std::to_string(inputs.size()));
    const Shape &a = inputs[0], &b = inputs[1];
    if (a.size() < 2 || a.size() != b.size())
      fail_layer(*this, "the C++ model API multiplies tensors of equal rank 3 or more (batch included), received " +
                            shape_text(a) + " and " + shape_text(b));
    for (std::size_t i = 0; i + 2 < a.size(); ++i)
      if (a[i] != b[i]) fail_layer(*this, "leading axes must be equal, received " + shape_text(a) + " and " +
                                              shape_text(b));
    const std::int64_t k = a[a.size() - 1], k2 = b[b.size() - 2];
    if (k >= 0 && k2 >= 0 && k != k2)
      fail_layer(*this, "cannot multiply " + shape_text(a) + " by " + shape_text(b) + ": inner sizes " +
                            std::to_string(k) + " and " + std::to_string(k2));
    Shape out(a.begin(), a.end() - 1);
    out.push_back(b.back());
    return out;
  }

  Tensor merge(const std::vector<const Tensor*>& xs, const std::vector<const StepMask*>&, StepMask& out_mask,
               TrainingStep* training) const override {
    const Tensor &a = *xs[0], &b = *xs[1];
    if (a.shape.size() != b.shape.size() || !std::equal(a.shape.begin(), a.shape.end() - 2, b.shape.begin()) ||
        a.shape.back() != b.shape[b.shape.size() - 2])
      fail_layer(*this, "cannot multiply arrays of shapes " + shape_text(a.shape) + " and " + shape_text(b.shape));
    Shape shape(a.shape.begin(), a.shape.end() - 1);
    shape.push_back(b.shape.back());
    Tensor y(shape);
    for_each_matrix(a.shape, b.shape, [&](std::int64_t n, std::int64_t k, std::int64_t m, std::int64_t i) {
      sgemm(Trans::no, Trans::no, n, m, k, 1.0f, &a.values[i * n * k], k, &b.values[i * k * m], m, 0.0f,
            &y.values[i * n * m], m);
    });
    out_mask.clear();
    keep_tensors(training, xs);
    return y;
  }

  std::vector<Tensor> unmerge(const LayerCache& base, const Tensor& d_y) const override {
    const std::vector<Tensor>& in = static_cast<const InputsCache&>(base).inputs;
    Tensor d_a(in[0].shape), d_b(in[1].shape);
    for_each_matrix(in[0].shape, in[1].shape, [&](std::int64_t n, std::int64_t k, std::int64_t m, std::int64_t i) {
      const float* g = &d_y.values[i * n * m];
      sgemm(Trans::no, Trans::yes, n, k, m, 1.0f, g, m, &in[1].values[i * k * m], m, 0.0f, &d_a.values[i * n * k],
            k);
      sgemm(Trans::yes, Trans::no, k, m, n, 1.0f, &in[0].values[i * n * k], k, g, m, 0.0f, &d_b.values[i * k * m],
            m);
    });
    return {std::move(d_a), std::move(d_b)};
  }

 private:
  // visit(n, k, m, i) for the i-th (n x k) · (k x m) product of the leading axes.
  template <class Visit>
  static void for_each_matrix(const Shape& a, const Shape& b, Visit visit) {
    const std::int64_t n = a[a.size() - 2], k = a.back(), m = b.back();
    const std::int64_t count = element_count(Shape(a.begin(), a.end() - 2));
    for (std::int64_t i = 0; i < count; ++i) visit(n, k, m, i);
  }
};

// ---- softmax over one feature axis ---------------------------------------------------------------------------------

class SoftmaxOperation final : public MergeLayer {
 public:
  SoftmaxOperation(std::string name, std::int64_t axis) : MergeLayer(std::move(name)), axis_(axis) {}
  const char* class_name() const override { return "Softmax"; }
  std::string config_json() const override { return operation_config(*this); }

  Shape build_merge(const std::vector<Shape>& inputs) override {
    require_one(*this, inputs.size());
    axis(inputs[0].size() + 1);
    return inputs[0];
  }

  Tensor merge(const std::vector<const Tensor*>& xs, const std::vector<const StepMask*>&, StepMask& out_mask,
               TrainingStep* training) const override {
    const Tensor& x = *xs[0];
    Tensor y = x;
    over_rows(x.shape, [&](std::int64_t first, std::int64_t stride, std::int64_t length) {
      float top = -INFINITY;
      for (std::int64_t j = 0; j < length; ++j) top = std::max(top, x.values[first + j * stride]);
      double total = 0.0;
      for (std::int64_t j = 0; j < length; ++j) {
        float& e = y.values[first + j * stride];
        total += e = std::exp(e - top);
      }
      for (std::int64_t j = 0; j < length; ++j) {
        float& e = y.values[first + j * stride];
        e = static_cast<float>(e / total);
      }
    });
    out_mask.clear();
    keep_tensors(training, {&y});
    return y;
  }

  std::vector<Tensor> unmerge(const LayerCache& base, const Tensor& d_y) const override {
    const Tensor& y = static_cast<const InputsCache&>(base).inputs[0];
    Tensor d_x(y.shape);
    over_rows(y.shape, [&](std::int64_t first, std::int64_t stride, std::int64_t length) {
      double dot = 0.0;
      for (std::int64_t j = 0; j < length; ++j)
        dot += double(d_y.values[first + j * stride]) * y.values[first + j * stride];
      for (std::int64_t j = 0; j < length; ++j) {
        const std::int64_t at = first + j * stride;
        d_x.values[at] = static_cast<float>(y.values[at] * (d_y.values[at] - dot));
      }
    });
    return {std::move(d_x)};
  }

 private:
  std::size_t axis(std::size_t rank) const { return feature_axis(*this, axis_, rank, "takes the softmax"); }

  // visit(first, stride, length) for every line of values along the axis.
  template <class Visit>
  void over_rows(const Shape& shape, Visit visit) const {
    const std::size_t a = axis(shape.size());
    const std::int64_t length = shape[a];
    const std::int64_t inner = element_count(Shape(shape.begin() + static_cast<std::ptrdiff_t>(a) + 1, shape.end()));
    const std::int64_t outer = element_count(Shape(shape.begin(), shape.begin() + static_cast<std::ptrdiff_t>(a)));
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t i = 0; i < inner; ++i) visit(o * length * inner + i, inner, length);
  }

  std::int64_t axis_;
};

// ---- reshape to (-1, ...): the batch axis kept, the rest of the shape given ------------------------------------

class ReshapeOperation final : public ReshapingOperation {
 public:
  ReshapeOperation(std::string name, Shape per_example) : ReshapingOperation(std::move(name)), shape_(per_example) {}
  const char* class_name() const override { return "Reshape"; }

  Shape build_merge(const std::vector<Shape>& inputs) override {
    require_one(*this, inputs.size());
    if (std::none_of(inputs[0].begin(), inputs[0].end(), [](std::int64_t d) { return d < 0; }))
      check(element_count(inputs[0]), inputs[0]);
    return shape_;
  }

 protected:
  Shape reshaped(const Shape& full) const override {
    check(element_count(Shape(full.begin() + 1, full.end())), full);
    Shape out{full[0]};
    out.insert(out.end(), shape_.begin(), shape_.end());
    return out;
  }

 private:
  void check(std::int64_t count, const Shape& shape) const {
    if (count != element_count(shape_))
      fail_layer(*this, "cannot reshape " + shape_text(shape) + " to (-1, ...) " + shape_text(shape_));
  }

  Shape shape_;
};

// ---- stack along a feature axis -------------------------------------------------------------------------------------

class StackOperation final : public MergeLayer {
 public:
  StackOperation(std::string name, std::int64_t axis) : MergeLayer(std::move(name)), axis_(axis) {}
  const char* class_name() const override { return "Stack"; }
  std::string config_json() const override { return operation_config(*this); }

  Shape build_merge(const std::vector<Shape>& inputs) override {
    for (const Shape& shape : inputs)
      if (shape != inputs[0]) fail_layer(*this, "stacks tensors of equal shapes, received " + shape_text(inputs[0]) +
                                                    " and " + shape_text(shape));
    Shape batch_first{-1};
    batch_first.insert(batch_first.end(), inputs[0].begin(), inputs[0].end());
    const Shape out = stacked(batch_first, static_cast<std::int64_t>(inputs.size()));
    return Shape(out.begin() + 1, out.end());
  }

  Tensor merge(const std::vector<const Tensor*>& xs, const std::vector<const StepMask*>&, StepMask& out_mask,
               TrainingStep* training) const override {
    for (const Tensor* x : xs)
      if (x->shape != xs[0]->shape) fail_layer(*this, "stacks tensors of equal shapes");
    Tensor y(stacked(xs[0]->shape, static_cast<std::int64_t>(xs.size())));
    const auto [outer, inner] = blocks(xs[0]->shape);
    auto out = y.values.begin();
    for (std::int64_t o = 0; o < outer; ++o)
      for (const Tensor* x : xs) out = std::copy_n(x->values.begin() + o * inner, inner, out);
    out_mask.clear();
    keep_shape(training, xs[0]->shape);
    return y;
  }

  std::vector<Tensor> unmerge(const LayerCache& base, const Tensor& d_y) const override {
    const Shape& shape = static_cast<const ShapeCache&>(base).shape;
    const std::size_t count = static_cast<std::size_t>(d_y.size() / std::max<std::int64_t>(1, element_count(shape)));
    std::vector<Tensor> d(count, Tensor(shape));
    const auto [outer, inner] = blocks(shape);
    auto in = d_y.values.begin();
    for (std::int64_t o = 0; o < outer; ++o)
      for (Tensor& part : d) std::copy_n(in, inner, part.values.begin() + o * inner), in += inner;
    return d;
  }

 private:
  // The stacking axis among `rank` axes (the input's rank + 1, batch included).
  std::size_t axis(std::size_t rank) const { return feature_axis(*this, axis_, rank, "stacks"); }

  // The shape of `count` stacked tensors of shape `input` (batch first).
  Shape stacked(const Shape& input, std::int64_t count) const {
    Shape out = input;
    out.insert(out.begin() + static_cast<std::ptrdiff_t>(axis(input.size() + 1)), count);
    return out;
  }

  // (values before the axis, values from it on) of one input.
  std::pair<std::int64_t, std::int64_t> blocks(const Shape& input) const {
    const auto a = static_cast<std::ptrdiff_t>(axis(input.size() + 1));
    return {element_count(Shape(input.begin(), input.begin() + a)),
            element_count(Shape(input.begin() + a, input.end()))};
  }

  std::int64_t axis_;
};

}  // namespace

std::unique_ptr<Layer> linear_operation_from_config(const ConfigReader& config,
                                                   const std::vector<const Json*>& arguments) {
  const std::string& kind = config.class_name();
  if (kind != "Matmul" && kind != "Softmax" && kind != "Reshape" && kind != "Stack") return nullptr;
  if (std::any_of(arguments.begin(), arguments.end(), [](const Json* a) { return a != nullptr; }))
    fail(config.where(), "expects tensors only as its arguments");
  if (kind == "Matmul") return std::make_unique<MatmulLayer>(config.name());
  if (kind == "Softmax") return std::make_unique<SoftmaxOperation>(config.name(), config.integer("axis", -1));
  if (kind == "Stack") return std::make_unique<StackOperation>(config.name(), config.integer("axis", 0));
  const std::vector<std::int64_t> newshape = config.integers("newshape");
  if (newshape.empty() || newshape[0] != -1 ||
      std::any_of(newshape.begin() + 1, newshape.end(), [](std::int64_t d) { return d < 0; }))
    fail(config.where(), "the C++ model API reshapes to (-1, sizes...): the batch axis -1, every other size given");
  return std::make_unique<ReshapeOperation>(config.name(), Shape(newshape.begin() + 1, newshape.end()));
}

}  // namespace model_detail
}  // namespace rnnkit
