// The operation nodes of functional configs (Keras' keras.src.ops.numpy: GetItem, Add, Subtract, Multiply,
// TrueDivide, Negative), which Python and Keras write for x[...], x + y, 1.0 - x, x * y, x / 2 and -x on symbolic
// tensors: layers over the node's tensors whose constant operands come from the node's arguments. Forward next to
// backward; outputs carry no mask, as in Keras.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "model/support.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

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

std::vector<std::int64_t> row_major_strides(const Shape& shape) {
  std::vector<std::int64_t> strides(shape.size(), 1);
  for (std::size_t a = shape.size(); a-- > 1;) strides[a - 1] = strides[a] * shape[a];
  return strides;
}

struct InputsCache final : LayerCache {
  std::vector<Tensor> inputs;
};

struct ShapeCache final : LayerCache {
  Shape shape;
};

// ---- x + y, x / y, maximum(x, y), tanh(x), ... over tensors and numbers, broadcast as numpy --------------------

enum class Elementwise {
  add, subtract, multiply, divide, maximum, minimum,                          // two operands
  negative, tanh, sigmoid, relu, exp, log, sqrt, square, absolute             // one
};

struct Operand {
  bool tensor = false;
  float number = 0.0f;  // when not a tensor
};

class ElementwiseLayer final : public MergeLayer {
 public:
  ElementwiseLayer(std::string name, const char* class_name, Elementwise op, std::vector<Operand> operands)
      : MergeLayer(std::move(name)), class_name_(class_name), op_(op), operands_(std::move(operands)) {
    for (const Operand& operand : operands_) tensor_slot_.push_back(tensors_), tensors_ += operand.tensor;
  }

  const char* class_name() const override { return class_name_; }
  std::string config_json() const override { return "{\"name\": " + json_quote(name()) + "}"; }

  Shape build_merge(const std::vector<Shape>& inputs) override {
    check_tensor_count(inputs.size());
    Shape out = inputs[0];
    for (const Shape& shape : inputs) {
      if (shape.size() != out.size())
        fail_layer(*this, "the C++ model API applies operations to tensors of equal rank; received " +
                              shape_text(inputs[0]) + " and " + shape_text(shape));
      for (std::size_t a = 0; a < out.size(); ++a) out[a] = broadcast_size(out[a], shape[a], inputs);
    }
    return out;
  }

  Tensor merge(const std::vector<const Tensor*>& xs, const std::vector<const StepMask*>&, StepMask& out_mask,
               TrainingStep* training) const override {
    check_tensor_count(xs.size());
    const Walk walk = plan(xs);
    Tensor y(walk.out);
    walk.run([&](std::int64_t i, const std::vector<std::int64_t>& at) {
      y.values[i] = apply(value(0, xs, at), operands_.size() > 1 ? value(1, xs, at) : 0.0f);
    });
    out_mask.clear();
    if (training) {
      auto cache = std::make_unique<InputsCache>();
      for (const Tensor* x : xs) cache->inputs.push_back(*x);
      training->cache = std::move(cache);
    }
    return y;
  }

  std::vector<Tensor> unmerge(const LayerCache& base, const Tensor& d_y) const override {
    const std::vector<Tensor>& inputs = static_cast<const InputsCache&>(base).inputs;
    std::vector<const Tensor*> xs;
    for (const Tensor& x : inputs) xs.push_back(&x);
    const Walk walk = plan(xs);
    std::vector<Tensor> d;
    for (const Tensor& x : inputs) d.emplace_back(x.shape);
    walk.run([&](std::int64_t i, const std::vector<std::int64_t>& at) {
      const float a = value(0, xs, at), b = operands_.size() > 1 ? value(1, xs, at) : 0.0f, g = d_y.values[i];
      for (std::size_t p = 0; p < operands_.size(); ++p)
        if (operands_[p].tensor) d[tensor_slot_[p]].values[at[tensor_slot_[p]]] += partial(p, a, b, g);
    });
    return d;
  }

 private:
  void check_tensor_count(std::size_t count) const {
    if (tensors_ != count)
      fail_layer(*this, "expects " + std::to_string(tensors_) + " tensors, received " + std::to_string(count));
  }

  // Sizes as Python's shapes: -1 unknown; an unknown one against a known one above 1 is that one.
  std::int64_t broadcast_size(std::int64_t a, std::int64_t b, const std::vector<Shape>& inputs) const {
    if (a == b || b == 1) return a;
    if (a == 1) return b;
    if (a == -1 || b == -1) return std::max(a, b);
    fail_layer(*this, "cannot broadcast the shapes " + shape_text(inputs[0]) + " and " + shape_text(inputs.back()));
  }

  Walk plan(const std::vector<const Tensor*>& xs) const {
    Walk walk;
    walk.out = xs[0]->shape;
    for (const Tensor* x : xs) {
      if (x->shape.size() != walk.out.size()) fail_layer(*this, "received tensors of different ranks");
      for (std::size_t a = 0; a < walk.out.size(); ++a) {
        if (x->shape[a] != walk.out[a] && x->shape[a] != 1 && walk.out[a] != 1)
          fail_layer(*this, "cannot broadcast the shapes " + shape_text(xs[0]->shape) + " and " +
                                shape_text(x->shape));
        walk.out[a] = std::max(walk.out[a], x->shape[a]);
      }
    }
    for (const Tensor* x : xs) {
      std::vector<std::int64_t> strides = row_major_strides(x->shape);
      for (std::size_t a = 0; a < strides.size(); ++a)
        if (x->shape[a] == 1 && walk.out[a] != 1) strides[a] = 0;
      walk.strides.push_back(std::move(strides));
      walk.base.push_back(0);
    }
    return walk;
  }

  // Operand p's value at the walk's offsets `at` (one per tensor, in order).
  float value(std::size_t p, const std::vector<const Tensor*>& xs, const std::vector<std::int64_t>& at) const {
    if (!operands_[p].tensor) return operands_[p].number;
    const std::size_t k = tensor_slot_[p];
    return xs[k]->values[at[k]];
  }

  float apply(float a, float b) const {
    switch (op_) {
      case Elementwise::add: return a + b;
      case Elementwise::subtract: return a - b;
      case Elementwise::multiply: return a * b;
      case Elementwise::divide: return a / b;
      case Elementwise::maximum: return a > b || std::isnan(a) ? a : b;  // NaN wins, as numpy's maximum
      case Elementwise::minimum: return a < b || std::isnan(a) ? a : b;
      case Elementwise::negative: return -a;
      case Elementwise::tanh: return std::tanh(a);
      case Elementwise::sigmoid: return static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(a))));
      case Elementwise::relu: return a > 0.0f ? a : 0.0f;
      case Elementwise::exp: return std::exp(a);
      case Elementwise::log: return std::log(a);
      case Elementwise::sqrt: return std::sqrt(a);
      case Elementwise::square: return a * a;
      default: return std::fabs(a);
    }
  }

  // d(op)/d(operand p) times g, in the order Python's float32 numpy computes it (ties of maximum and minimum
  // share g half and half, PyTorch's rule; relu and |x| have slope 0 at 0).
  float partial(std::size_t p, float a, float b, float g) const {
    switch (op_) {
      case Elementwise::add: return g;
      case Elementwise::subtract: return p == 0 ? g : -g;
      case Elementwise::multiply: return p == 0 ? g * b : g * a;
      case Elementwise::divide: return p == 0 ? g / b : -(g / b) * a / b;
      case Elementwise::maximum:
      case Elementwise::minimum: {
        if (a == b) return g * 0.5f;
        const bool a_wins = op_ == Elementwise::maximum ? a > b : a < b;
        return (p == 0) == a_wins ? g : 0.0f;
      }
      case Elementwise::negative: return -g;
      case Elementwise::tanh: {
        const float y = apply(a, b);
        return g * (1.0f - y * y);
      }
      case Elementwise::sigmoid: {
        const float y = apply(a, b);
        return g * y * (1.0f - y);
      }
      case Elementwise::relu: return a > 0.0f ? g : 0.0f;
      case Elementwise::exp: return g * apply(a, b);
      case Elementwise::log: return g / a;
      case Elementwise::sqrt: return g / (2.0f * apply(a, b));
      case Elementwise::square: return 2.0f * g * a;
      default: return a > 0.0f ? g : (a < 0.0f ? -g : 0.0f);
    }
  }

  const char* class_name_;
  Elementwise op_;
  std::vector<Operand> operands_;
  std::vector<std::size_t> tensor_slot_;  // per operand: its position among the node's tensors
  std::size_t tensors_ = 0;
};

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
  std::string config_json() const override { return "{\"name\": " + json_quote(name()) + "}"; }

  Shape build_merge(const std::vector<Shape>& inputs) override {
    if (inputs.size() != 1) fail_layer(*this, "expects one tensor, received " + std::to_string(inputs.size()));
    Shape full{-1};
    full.insert(full.end(), inputs[0].begin(), inputs[0].end());
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
    if (training) {
      auto cache = std::make_unique<ShapeCache>();
      cache->shape = xs[0]->shape;
      training->cache = std::move(cache);
    }
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

// ---- reading a node's arguments --------------------------------------------------------------------------------

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

bool is_operation_entry(const Json& entry) {
  const Json* module = entry.find("module");
  return module && module->kind == Json::Kind::string && module->string.rfind("keras.src.ops.", 0) == 0;
}

std::unique_ptr<Layer> operation_from_config(const ConfigReader& config, const std::vector<const Json*>& arguments) {
  const std::string& kind = config.class_name();
  if (kind == "GetItem") {
    if (arguments.size() != 2 || arguments[0] != nullptr || arguments[1] == nullptr)
      fail(config.where(), "expects a tensor and an index as its arguments");
    return std::make_unique<GetItemLayer>(config.name(), index_key(*arguments[1], config.where()));
  }
  static const std::pair<const char*, Elementwise> kinds[] = {
      {"Add", Elementwise::add},         {"Subtract", Elementwise::subtract}, {"Multiply", Elementwise::multiply},
      {"TrueDivide", Elementwise::divide}, {"Divide", Elementwise::divide},   {"Maximum", Elementwise::maximum},
      {"Minimum", Elementwise::minimum}, {"Negative", Elementwise::negative}, {"Tanh", Elementwise::tanh},
      {"Sigmoid", Elementwise::sigmoid}, {"Relu", Elementwise::relu},         {"Exp", Elementwise::exp},
      {"Log", Elementwise::log},         {"Sqrt", Elementwise::sqrt},         {"Square", Elementwise::square},
      {"Absolute", Elementwise::absolute}};
  const auto found = std::find_if(std::begin(kinds), std::end(kinds), [&](const auto& k) { return kind == k.first; });
  if (found == std::end(kinds))
    fail(config.where(), "operation " + kind + " is not supported by the C++ model API (GetItem, Add, Subtract, "
                         "Multiply, TrueDivide, Divide, Maximum, Minimum, Negative, Tanh, Sigmoid, Relu, Exp, Log, "
                         "Sqrt, Square, Absolute)");
  const std::size_t expected = found->second < Elementwise::negative ? 2 : 1;
  if (arguments.size() != expected)
    fail(config.where(), "expects " + std::to_string(expected) + " operands, received " +
                             std::to_string(arguments.size()));
  std::vector<Operand> operands;
  for (const Json* argument : arguments) {
    if (argument == nullptr) {
      operands.push_back({true, 0.0f});
      continue;
    }
    if (argument->kind != Json::Kind::number) fail(config.where(), "expects tensors and numbers as operands");
    operands.push_back({false, static_cast<float>(argument->number)});
  }
  if (std::none_of(operands.begin(), operands.end(), [](const Operand& o) { return o.tensor; }))
    fail(config.where(), "expects at least one tensor among its operands");
  return std::make_unique<ElementwiseLayer>(config.name(), found->first, found->second, std::move(operands));
}

}  // namespace model_detail
}  // namespace rnnkit
