// The shape operations of functional configs (Keras' keras.src.ops.numpy and .core): x[key] (GetItem); mean, sum,
// max and min over axes; expand_dims, squeeze, transpose, concatenate and cast. Layers over the node's tensors,
// forward next to backward, that keep the model's batch axis first (the C++ graph's invariant); outputs carry no
// mask, as in Keras.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "model/operation_support.hpp"
#include "model/support.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

// A tensor's shape from its per-example shape: the batch axis (size unknown, -1) in front.
Shape full_shape(const Shape& per_example) {
  Shape full{-1};
  full.insert(full.end(), per_example.begin(), per_example.end());
  return full;
}

// Keras axes (negative from the end) of a tensor of `rank` axes, batch included, as sorted distinct positions; the
// batch axis and axes out of range are refused.
std::vector<std::size_t> feature_axes(const Layer& layer, const std::vector<std::int64_t>& axes, std::size_t rank) {
  std::vector<std::size_t> out;
  for (const std::int64_t axis : axes) {
    const std::int64_t a = axis < 0 ? axis + static_cast<std::int64_t>(rank) : axis;
    if (a < 0 || a >= static_cast<std::int64_t>(rank))
      fail_layer(layer,
                 "axis " + std::to_string(axis) + " is out of range for a tensor of rank " + std::to_string(rank));
    if (a == 0) fail_layer(layer, "the C++ model API keeps the batch axis: axis 0 cannot be reduced, moved or joined");
    out.push_back(static_cast<std::size_t>(a));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool contains(const std::vector<std::size_t>& axes, std::size_t a) {
  return std::find(axes.begin(), axes.end(), a) != axes.end();
}

// ---- x[key]: integers, slices, None (a new axis) and one Ellipsis, numpy's basic indexing ----------------------

struct KeyItem {
  enum class Kind { index, slice, new_axis, ellipsis } kind = Kind::index;
  std::int64_t index = 0;
  bool has_start = false, has_stop = false;
  std::int64_t start = 0, stop = 0, step = 1;
};

// Python's slice.indices(length) and the number of elements it selects.
struct SliceRange {
  std::int64_t start, step, count;
};
SliceRange resolve(const KeyItem& item, std::int64_t length) {
  const std::int64_t step = item.step;
  const std::int64_t lower = step > 0 ? 0 : -1, upper = step > 0 ? length : length - 1;
  auto bound = [&](bool given, std::int64_t v, std::int64_t fallback) {
    if (!given) return fallback;
    return v < 0 ? std::max(v + length, lower) : std::min(v, upper);
  };
  const std::int64_t start = bound(item.has_start, item.start, step > 0 ? lower : upper);
  const std::int64_t stop = bound(item.has_stop, item.stop, step > 0 ? upper : lower);
  const std::int64_t span = step > 0 ? stop - start : start - stop, magnitude = step > 0 ? step : -step;
  return {start, step, span > 0 ? (span + magnitude - 1) / magnitude : 0};
}

class GetItemLayer final : public MergeLayer {
 public:
  GetItemLayer(std::string name, std::vector<KeyItem> key) : MergeLayer(std::move(name)), key_(std::move(key)) {}
  const char* class_name() const override { return "GetItem"; }
  std::string config_json() const override { return operation_config(*this); }

  Shape build_merge(const std::vector<Shape>& inputs) override {
    require_one(*this, inputs.size());
    const Shape full = full_shape(inputs[0]);
    const std::vector<const KeyItem*> items = expanded(full.size());
    // The model's batch axis must stay its first: Keras' x[:, ...] or x[..., k] keep it, x[0] or x[None] do not.
    if (items[0] == nullptr || items[0]->kind != KeyItem::Kind::slice || items[0]->has_start || items[0]->has_stop ||
        items[0]->step != 1)
      fail_layer(*this, "the C++ model API keeps the batch axis: index it with ':' (as x[:, -1]) or an Ellipsis");
    Shape out;
    std::size_t axis = 0;
    for (const KeyItem* item : items) {
      if (item == nullptr) {
        out.push_back(1);
        continue;
      }
      const std::int64_t length = full[axis++];
      if (item->kind == KeyItem::Kind::slice) out.push_back(length < 0 ? -1 : resolve(*item, length).count);
      else if (length >= 0) index_in(*item, length, full);
    }
    return Shape(out.begin() + 1, out.end());
  }

  Tensor merge(const std::vector<const Tensor*>& xs, const std::vector<const StepMask*>&, StepMask& out_mask,
               TrainingStep* training) const override {
    const Walk walk = plan(xs[0]->shape);
    Tensor y(walk.out);
    walk.run([&](std::int64_t i, const std::vector<std::int64_t>& at) { y.values[i] = xs[0]->values[at[0]]; });
    out_mask.clear();
    keep_shape(training, xs[0]->shape);
    return y;
  }

  std::vector<Tensor> unmerge(const LayerCache& base, const Tensor& d_y) const override {
    Tensor d_x(static_cast<const ShapeCache&>(base).shape);  // zeros of the input's shape
    plan(d_x.shape).run(
        [&](std::int64_t i, const std::vector<std::int64_t>& at) { d_x.values[at[0]] += d_y.values[i]; });
    return {std::move(d_x)};
  }

 private:
  // One entry per axis of the result of indexing a tensor of `rank` axes: the key item that consumes the next
  // input axis (a slice or an index, the Ellipsis expanded into full slices) or null for a new axis.
  std::vector<const KeyItem*> expanded(std::size_t rank) const {
    const auto consuming = static_cast<std::size_t>(std::count_if(key_.begin(), key_.end(), [](const KeyItem& k) {
      return k.kind == KeyItem::Kind::index || k.kind == KeyItem::Kind::slice;
    }));
    if (consuming > rank)
      fail_layer(*this, "indexes " + std::to_string(consuming) + " axes of a tensor of " + std::to_string(rank));
    const bool has_ellipsis =
        std::any_of(key_.begin(), key_.end(), [](const KeyItem& k) { return k.kind == KeyItem::Kind::ellipsis; });
    std::vector<const KeyItem*> items;
    auto fill = [&] { items.insert(items.end(), rank - consuming, &full_slice_); };
    for (const KeyItem& item : key_) {
      if (item.kind == KeyItem::Kind::ellipsis) fill();
      else items.push_back(item.kind == KeyItem::Kind::new_axis ? nullptr : &item);
    }
    if (!has_ellipsis) fill();
    return items;
  }

  std::int64_t index_in(const KeyItem& item, std::int64_t length, const Shape& shape) const {
    if (item.index < -length || item.index >= length)
      fail_layer(*this, "index " + std::to_string(item.index) + " is out of range for an axis of size " +
                            std::to_string(length) + " (tensor shape " + shape_text(shape) + ")");
    return item.index < 0 ? item.index + length : item.index;
  }

  Walk plan(const Shape& shape) const {
    const std::vector<std::int64_t> strides = row_major_strides(shape);
    Walk walk;
    walk.strides.emplace_back();
    walk.base.push_back(0);
    std::size_t axis = 0;
    for (const KeyItem* item : expanded(shape.size())) {
      if (item == nullptr) {
        walk.out.push_back(1);
        walk.strides[0].push_back(0);
        continue;
      }
      const std::int64_t length = shape[axis], stride = strides[axis++];
      if (item->kind == KeyItem::Kind::index) {
        walk.base[0] += index_in(*item, length, shape) * stride;
        continue;
      }
      const SliceRange range = resolve(*item, length);
      walk.out.push_back(range.count);
      walk.strides[0].push_back(range.step * stride);
      if (range.count > 0) walk.base[0] += range.start * stride;
    }
    return walk;
  }

  std::vector<KeyItem> key_;
  KeyItem full_slice_{KeyItem::Kind::slice};
};

// ---- mean, sum, max, min over feature axes ----------------------------------------------------------------------

enum class Reduce { mean, sum, max, min };

struct ReductionCache final : LayerCache {
  Tensor x, y;  // y with the reduced axes kept (size 1)
};

class ReductionLayer final : public MergeLayer {
 public:
  ReductionLayer(std::string name, const char* class_name, Reduce op, std::vector<std::int64_t> axes, bool keepdims)
      : MergeLayer(std::move(name)), class_name_(class_name), op_(op), axes_(std::move(axes)), keepdims_(keepdims) {}
  const char* class_name() const override { return class_name_; }
  std::string config_json() const override { return operation_config(*this); }

  Shape build_merge(const std::vector<Shape>& inputs) override {
    require_one(*this, inputs.size());
    const Shape full = full_shape(inputs[0]);
    const std::vector<std::size_t> axes = feature_axes(*this, axes_, full.size());
    Shape out;
    for (std::size_t a = 1; a < full.size(); ++a)
      if (!contains(axes, a)) out.push_back(full[a]);
      else if (keepdims_) out.push_back(1);
    return out;
  }

  Tensor merge(const std::vector<const Tensor*>& xs, const std::vector<const StepMask*>&, StepMask& out_mask,
               TrainingStep* training) const override {
    const Tensor& x = *xs[0];
    const std::vector<std::size_t> axes = feature_axes(*this, axes_, x.shape.size());
    Shape kept = x.shape;
    for (const std::size_t a : axes) {
      if (x.shape[a] == 0 && (op_ == Reduce::max || op_ == Reduce::min))
        fail_layer(*this, "cannot reduce an empty axis of a tensor of shape " + shape_text(x.shape));
      kept[a] = 1;
    }
    Tensor y(kept);
    std::vector<double> sums(y.values.size(), 0.0);
    std::vector<char> seen(y.values.size(), 0);
    walk(x.shape, kept, axes).run([&](std::int64_t, const std::vector<std::int64_t>& at) {
      const float v = x.values[at[0]];
      const std::int64_t o = at[1];
      float& best = y.values[o];
      if (op_ == Reduce::mean || op_ == Reduce::sum) sums[o] += v;
      else if (!seen[o]) best = v, seen[o] = 1;
      else if (!std::isnan(best) && (std::isnan(v) || (op_ == Reduce::max ? v > best : v < best))) best = v;
    });
    const double count = static_cast<double>(x.size()) / static_cast<double>(std::max<std::int64_t>(1, y.size()));
    if (op_ == Reduce::mean || op_ == Reduce::sum)
      for (std::size_t o = 0; o < sums.size(); ++o)
        y.values[o] = static_cast<float>(op_ == Reduce::mean ? sums[o] / count : sums[o]);
    out_mask.clear();
    Tensor out(output_shape(kept, axes), y.values);
    if (training) {
      auto cache = std::make_unique<ReductionCache>();
      cache->x = x, cache->y = std::move(y);
      training->cache = std::move(cache);
    }
    return out;
  }

  std::vector<Tensor> unmerge(const LayerCache& base, const Tensor& d_y) const override {
    const auto& cache = static_cast<const ReductionCache&>(base);
    const Tensor &x = cache.x, &y = cache.y;
    const std::vector<std::size_t> axes = feature_axes(*this, axes_, x.shape.size());
    const Walk w = walk(x.shape, y.shape, axes);
    Tensor d_x(x.shape);
    const double count = static_cast<double>(x.size()) / static_cast<double>(std::max<std::int64_t>(1, y.size()));
    std::vector<float> winners(y.values.size(), 0.0f);  // max, min: ties share the gradient evenly, as torch.amax
    const bool extreme = op_ == Reduce::max || op_ == Reduce::min;
    if (extreme)
      w.run([&](std::int64_t, const std::vector<std::int64_t>& at) {
        winners[at[1]] += x.values[at[0]] == y.values[at[1]] ? 1.0f : 0.0f;
      });
    w.run([&](std::int64_t, const std::vector<std::int64_t>& at) {
      const float g = d_y.values[at[1]];
      if (op_ == Reduce::sum) d_x.values[at[0]] = g;
      else if (op_ == Reduce::mean) d_x.values[at[0]] = static_cast<float>(g / count);
      else d_x.values[at[0]] = x.values[at[0]] == y.values[at[1]] ? g / winners[at[1]] : 0.0f;
    });
    return {std::move(d_x)};
  }

 private:
  // Over x: operand 0 is x itself, operand 1 its element of the reduced tensor (`kept`: reduced axes of size 1).
  static Walk walk(const Shape& x_shape, const Shape& kept, const std::vector<std::size_t>& axes) {
    std::vector<std::int64_t> out_strides = row_major_strides(kept);
    for (const std::size_t a : axes) out_strides[a] = 0;
    return Walk{x_shape, {row_major_strides(x_shape), out_strides}, {0, 0}};
  }

  Shape output_shape(const Shape& kept, const std::vector<std::size_t>& axes) const {
    if (keepdims_) return kept;
    Shape out;
    for (std::size_t a = 0; a < kept.size(); ++a)
      if (!contains(axes, a)) out.push_back(kept[a]);
    return out;
  }

  const char* class_name_;
  Reduce op_;
  std::vector<std::int64_t> axes_;
  bool keepdims_;
};

// ---- expand_dims, squeeze: the same values in another shape ------------------------------------------------------

class ExpandDimsLayer final : public ReshapingOperation {
 public:
  ExpandDimsLayer(std::string name, std::int64_t axis) : ReshapingOperation(std::move(name)), axis_(axis) {}
  const char* class_name() const override { return "ExpandDims"; }

  Shape build_merge(const std::vector<Shape>& inputs) override {
    require_one(*this, inputs.size());
    const Shape out = reshaped(full_shape(inputs[0]));
    return Shape(out.begin() + 1, out.end());
  }

 protected:
  Shape reshaped(const Shape& full) const override {
    const std::size_t position = feature_axes(*this, {axis_}, full.size() + 1)[0];
    Shape out = full;
    out.insert(out.begin() + static_cast<std::ptrdiff_t>(position), 1);
    return out;
  }

 private:
  std::int64_t axis_;
};

class SqueezeLayer final : public ReshapingOperation {
 public:
  SqueezeLayer(std::string name, bool all, std::vector<std::int64_t> axes)
      : ReshapingOperation(std::move(name)), all_(all), axes_(std::move(axes)) {}
  const char* class_name() const override { return "Squeeze"; }

  Shape build_merge(const std::vector<Shape>& inputs) override {
    require_one(*this, inputs.size());
    const Shape full = full_shape(inputs[0]);
    if (all_) {  // the feature axes known to be 1 now; a size unknown here stays
      axes_.clear();
      for (std::size_t a = 1; a < full.size(); ++a)
        if (full[a] == 1) axes_.push_back(static_cast<std::int64_t>(a));
      all_ = false;
    }
    const Shape out = reshaped(full);
    return Shape(out.begin() + 1, out.end());
  }

 protected:
  Shape reshaped(const Shape& full) const override {
    const std::vector<std::size_t> axes = feature_axes(*this, axes_, full.size());
    Shape out;
    for (std::size_t a = 0; a < full.size(); ++a) {
      if (!contains(axes, a)) {
        out.push_back(full[a]);
      } else if (full[a] != 1 && full[a] != -1) {
        fail_layer(*this, "cannot squeeze axis " + std::to_string(a) + " of size " + std::to_string(full[a]) +
                              " (shape " + shape_text(full) + ")");
      }
    }
    return out;
  }

 private:
  bool all_;
  std::vector<std::int64_t> axes_;
};

// ---- cast: to float32 the values as they are, to an integer type truncated (and no gradient through it) ----------

class CastLayer final : public MergeLayer {
 public:
  CastLayer(std::string name, bool to_integer) : MergeLayer(std::move(name)), to_integer_(to_integer) {}
  const char* class_name() const override { return "Cast"; }
  std::string config_json() const override { return operation_config(*this); }

  Shape build_merge(const std::vector<Shape>& inputs) override {
    require_one(*this, inputs.size());
    return inputs[0];
  }

  Tensor merge(const std::vector<const Tensor*>& xs, const std::vector<const StepMask*>&, StepMask& out_mask,
               TrainingStep* training) const override {
    Tensor y = *xs[0];
    if (to_integer_)
      for (float& v : y.values) v = std::trunc(v);
    out_mask.clear();
    keep_shape(training, y.shape);
    return y;
  }

  std::vector<Tensor> unmerge(const LayerCache& base, const Tensor& d_y) const override {
    return {to_integer_ ? Tensor(static_cast<const ShapeCache&>(base).shape) : d_y};
  }

 private:
  bool to_integer_;
};

// ---- transpose: a permutation of the feature axes -----------------------------------------------------------------

class TransposeLayer final : public MergeLayer {
 public:
  TransposeLayer(std::string name, std::vector<std::int64_t> axes)
      : MergeLayer(std::move(name)), axes_(std::move(axes)) {}
  const char* class_name() const override { return "Transpose"; }
  std::string config_json() const override { return operation_config(*this); }

  Shape build_merge(const std::vector<Shape>& inputs) override {
    require_one(*this, inputs.size());
    const Shape full = full_shape(inputs[0]);
    const std::vector<std::size_t> order = permutation(full.size());
    Shape out;
    for (std::size_t a = 1; a < order.size(); ++a) out.push_back(full[order[a]]);
    return out;
  }

  Tensor merge(const std::vector<const Tensor*>& xs, const std::vector<const StepMask*>&, StepMask& out_mask,
               TrainingStep* training) const override {
    const Tensor& x = *xs[0];
    const Walk w = walk(x.shape);
    Tensor y(w.out);
    w.run([&](std::int64_t i, const std::vector<std::int64_t>& at) { y.values[i] = x.values[at[0]]; });
    out_mask.clear();
    keep_shape(training, x.shape);
    return y;
  }

  std::vector<Tensor> unmerge(const LayerCache& base, const Tensor& d_y) const override {
    Tensor d_x(static_cast<const ShapeCache&>(base).shape);
    walk(d_x.shape).run(
        [&](std::int64_t i, const std::vector<std::int64_t>& at) { d_x.values[at[0]] = d_y.values[i]; });
    return {std::move(d_x)};
  }

 private:
  // Output axis a reads input axis order[a]; the batch axis must stay first.
  std::vector<std::size_t> permutation(std::size_t rank) const {
    std::vector<std::size_t> order;
    for (const std::int64_t axis : axes_) {
      const std::int64_t a = axis < 0 ? axis + static_cast<std::int64_t>(rank) : axis;
      if (a < 0 || a >= static_cast<std::int64_t>(rank)) break;
      order.push_back(static_cast<std::size_t>(a));
    }
    std::vector<std::size_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    bool permutes = sorted.size() == rank;
    for (std::size_t a = 0; permutes && a < rank; ++a) permutes = sorted[a] == a;
    if (!permutes) fail_layer(*this, "axes are not a permutation of the tensor's " + std::to_string(rank) + " axes");
    if (order[0] != 0) fail_layer(*this, "the C++ model API keeps the batch axis first: axes must start with 0");
    return order;
  }

  Walk walk(const Shape& x_shape) const {
    const std::vector<std::size_t> order = permutation(x_shape.size());
    const std::vector<std::int64_t> strides = row_major_strides(x_shape);
    Walk w{{}, {{}}, {0}};
    for (const std::size_t a : order) w.out.push_back(x_shape[a]), w.strides[0].push_back(strides[a]);
    return w;
  }

  std::vector<std::int64_t> axes_;
};

// ---- concatenate: Keras' Concatenate layer's product without its masks -------------------------------------------

class ConcatenateOperation final : public MergeLayer {
 public:
  ConcatenateOperation(std::string name, std::unique_ptr<Layer> layer)
      : MergeLayer(std::move(name)), layer_(std::move(layer)), merge_(dynamic_cast<MergeLayer&>(*layer_)) {}
  const char* class_name() const override { return "Concatenate"; }
  std::string config_json() const override { return operation_config(*this); }
  Shape build_merge(const std::vector<Shape>& inputs) override { return merge_.build_merge(inputs); }

  Tensor merge(const std::vector<const Tensor*>& xs, const std::vector<const StepMask*>&, StepMask& out_mask,
               TrainingStep* training) const override {
    const StepMask none;
    const std::vector<const StepMask*> no_masks(xs.size(), &none);
    Tensor y = merge_.merge(xs, no_masks, out_mask, training);
    out_mask.clear();
    return y;
  }

  std::vector<Tensor> unmerge(const LayerCache& cache, const Tensor& d_y) const override {
    return merge_.unmerge(cache, d_y);
  }

 private:
  std::unique_ptr<Layer> layer_;
  MergeLayer& merge_;
};

// ---- reading the configs ----------------------------------------------------------------------------------------

// Keras' "axis"/"axes": an integer, a list of them, or null (every axis: refused, it would take the batch axis).
std::vector<std::int64_t> axis_list(const ConfigReader& config, const char* key, bool& given) {
  const Json* value = config.get(key);
  given = value && value->kind != Json::Kind::null;
  if (!given) return {};
  if (value->is_integer) return {value->integer};
  return config.integers(key);
}

std::int64_t key_integer(const Json& value, const std::string& where) {
  if (!value.is_integer) fail(where, "expected an integer in the index, received another value");
  return value.integer;
}

KeyItem key_item(const Json& value, const std::string& where) {
  KeyItem item;
  if (value.kind == Json::Kind::null) {
    item.kind = KeyItem::Kind::new_axis;
  } else if (value.kind == Json::Kind::object) {
    const Json* name = value.find("class_name");
    const std::string kind = name && name->kind == Json::Kind::string ? name->string : "";
    if (kind == "__ellipsis__") {
      item.kind = KeyItem::Kind::ellipsis;
    } else if (kind == "__slice__") {
      item.kind = KeyItem::Kind::slice;
      const Json* config = value.find("config");
      auto part = [&](const char* key, bool& given, std::int64_t& out) {
        const Json* v = config ? config->find(key) : nullptr;
        given = v && v->kind != Json::Kind::null;
        if (given) out = key_integer(*v, where);
      };
      bool has_step = false;
      part("start", item.has_start, item.start);
      part("stop", item.has_stop, item.stop);
      part("step", has_step, item.step);
      if (item.step == 0) fail(where, "slice step cannot be zero");
    } else {
      fail(where, "expected integers, slices, None and Ellipsis in the index");
    }
  } else {
    item.index = key_integer(value, where);
  }
  return item;
}

std::vector<KeyItem> index_key(const Json& key, const std::string& where) {
  std::vector<KeyItem> items;
  if (key.kind != Json::Kind::array) return {key_item(key, where)};
  for (const Json& value : key.array) items.push_back(key_item(value, where));
  if (std::count_if(items.begin(), items.end(), [](const KeyItem& k) { return k.kind == KeyItem::Kind::ellipsis; }) > 1)
    fail(where, "an index may hold one Ellipsis");
  return items;
}

}  // namespace

std::unique_ptr<Layer> shape_operation_from_config(const ConfigReader& config,
                                                  const std::vector<const Json*>& arguments) {
  const std::string& kind = config.class_name();
  const std::size_t tensors =
      static_cast<std::size_t>(std::count(arguments.begin(), arguments.end(), static_cast<const Json*>(nullptr)));
  if (kind == "GetItem") {
    if (arguments.size() != 2 || arguments[0] != nullptr || arguments[1] == nullptr)
      fail(config.where(), "expects a tensor and an index as its arguments");
    return std::make_unique<GetItemLayer>(config.name(), index_key(*arguments[1], config.where()));
  }
  static const std::pair<const char*, Reduce> reductions[] = {
      {"Mean", Reduce::mean}, {"Sum", Reduce::sum}, {"Max", Reduce::max}, {"Min", Reduce::min}};
  const bool is_shape_op = kind == "ExpandDims" || kind == "Squeeze" || kind == "Transpose" || kind == "Concatenate" ||
                           kind == "Cast" ||
                           std::any_of(std::begin(reductions), std::end(reductions),
                                       [&](const auto& r) { return kind == r.first; });
  if (!is_shape_op) return nullptr;
  if (tensors != arguments.size() || (kind != "Concatenate" && tensors != 1))
    fail(config.where(), "expects " + std::string(kind == "Concatenate" ? "a list of tensors" : "one tensor") +
                             " as its arguments");
  bool given = false;
  for (const auto& [name, op] : reductions) {
    if (kind != name) continue;
    std::vector<std::int64_t> axes = axis_list(config, "axis", given);
    if (!given) fail(config.where(), "the C++ model API keeps the batch axis: reduce over given feature axes");
    if (const Json* initial = config.get("initial"); initial && initial->kind != Json::Kind::null)
      fail(config.where(), "initial= is not supported by the C++ model API");
    return std::make_unique<ReductionLayer>(config.name(), name, op, std::move(axes), config.flag("keepdims", false));
  }
  if (kind == "ExpandDims") return std::make_unique<ExpandDimsLayer>(config.name(), config.integer("axis", 0));
  if (kind == "Cast") {
    const std::string dtype = config.text("dtype", "");
    if (dtype != "float32" && dtype != "int32" && dtype != "int64")
      fail(config.where(), "casts to float32, int32 or int64, received \"" + dtype + "\"");
    return std::make_unique<CastLayer>(config.name(), dtype != "float32");
  }
  if (kind == "Squeeze") {
    std::vector<std::int64_t> axes = axis_list(config, "axis", given);
    return std::make_unique<SqueezeLayer>(config.name(), !given, std::move(axes));
  }
  if (kind == "Transpose") {
    std::vector<std::int64_t> axes = axis_list(config, "axes", given);
    if (!given) fail(config.where(), "the C++ model API keeps the batch axis first: give axes starting with 0");
    return std::make_unique<TransposeLayer>(config.name(), std::move(axes));
  }
  const Json entry = parse_json(R"({"class_name": "Concatenate", "config": {"name": )" + json_quote(config.name()) +
                                    ", \"axis\": " + std::to_string(config.integer("axis", 0)) + "}}",
                                config.where());
  return std::make_unique<ConcatenateOperation>(config.name(),
                                                concatenate_from_config(ConfigReader(entry, config.source())));
}

}  // namespace model_detail
}  // namespace rnnkit
