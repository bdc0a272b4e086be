// What the operation layers share (operation_layers.cpp, operation_shape_layers.cpp, operation_linear_layers.cpp):
// element walks, their caches, and the base of the operations that only change a tensor's shape.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/support.hpp"

namespace rnnkit::model_detail {

// Every element of an output of shape `out`, each operand k read at base[k] + Σ index[a] * strides[k][a] (a
// stride 0 where the operand is broadcast along that axis).
struct Walk {
  Shape out;
  std::vector<std::vector<std::int64_t>> strides;
  std::vector<std::int64_t> base;

  template <class Visit>
  void run(Visit visit) const {
    const std::size_t rank = out.size(), operands = strides.size();
    const std::int64_t total = element_count(out);
    std::vector<std::int64_t> index(rank, 0), offset = base;
    for (std::int64_t i = 0; i < total; ++i) {
      visit(i, offset);
      for (std::size_t a = rank; a-- > 0;) {
        ++index[a];
        for (std::size_t k = 0; k < operands; ++k) offset[k] += strides[k][a];
        if (index[a] < out[a]) break;
        for (std::size_t k = 0; k < operands; ++k) offset[k] -= strides[k][a] * out[a];
        index[a] = 0;
      }
    }
  }
};

inline std::vector<std::int64_t> row_major_strides(const Shape& shape) {
  std::vector<std::int64_t> strides(shape.size(), 1);
  for (std::size_t a = shape.size(); a-- > 1;) strides[a - 1] = strides[a] * shape[a];
  return strides;
}

// A layer's one tensor, refused otherwise.
inline void require_one(const Layer& layer, std::size_t count) {
  if (count != 1) fail_layer(layer, "expects one tensor, received " + std::to_string(count));
}

// Keras' `axis` (negative from the end) among `rank` axes, batch included, which must be a feature axis: the C++
// graph keeps the batch axis first and whole. `what` says what the operation does along it.
inline std::size_t feature_axis(const Layer& layer, std::int64_t axis, std::size_t rank, const std::string& what) {
  const std::int64_t a = axis < 0 ? axis + static_cast<std::int64_t>(rank) : axis;
  if (a <= 0 || a >= static_cast<std::int64_t>(rank))
    fail_layer(layer, "the C++ model API " + what + " along a feature axis, received axis " + std::to_string(axis) +
                          " of a tensor of rank " + std::to_string(rank));
  return static_cast<std::size_t>(a);
}

// A training cache of an operation's inputs, or of what its backward reads.
struct InputsCache final : LayerCache {
  std::vector<Tensor> inputs;
};

// In training, the input's shape for the backward (all an operation that only moves values needs).
inline void keep_shape(TrainingStep* training, const Shape& shape) {
  if (!training) return;
  training->cache = std::make_unique<ShapeCache>(shape);
}

// In training, copies of the tensors the backward reads (an operation's inputs or its output).
inline void keep_tensors(TrainingStep* training, const std::vector<const Tensor*>& tensors) {
  if (!training) return;
  auto cache = std::make_unique<InputsCache>();
  for (const Tensor* t : tensors) cache->inputs.push_back(*t);
  training->cache = std::move(cache);
}

// An operation's config as written back: its name (operations have no other state C++ writes).
inline std::string operation_config(const Layer& layer) { return "{\"name\": " + json_quote(layer.name()) + "}"; }

// An operation of one tensor whose output holds the same values in another shape (expand_dims, squeeze, reshape).
class ReshapingOperation : public MergeLayer {
 public:
  using MergeLayer::MergeLayer;
  std::string config_json() const override { return operation_config(*this); }

  Tensor merge(const std::vector<const Tensor*>& xs, const std::vector<const StepMask*>&, StepMask& out_mask,
               TrainingStep* training) const override {
    require_one(*this, xs.size());
    out_mask.clear();
    keep_shape(training, xs[0]->shape);
    return Tensor(reshaped(xs[0]->shape), xs[0]->values);
  }

  std::vector<Tensor> unmerge(const LayerCache& base, const Tensor& d_y) const override {
    return {Tensor(static_cast<const ShapeCache&>(base).shape, d_y.values)};
  }

 protected:
  virtual Shape reshaped(const Shape& full) const = 0;  // the output's shape for an input of this one
};

}  // namespace rnnkit::model_detail
