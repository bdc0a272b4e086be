// Rescaling (Keras 3's): x * scale + offset in float32, in training and inference alike; scale and offset are numbers
// or arrays broadcast against the input's trailing axes, as numpy broadcasts. Keeps the mask.
#include <algorithm>
#include <cstdint>
#include <string>

#include "model/support.hpp"
#include "rnnkit/layers.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

// A scale or offset and the config form it came in: a number (shape {}), a nested list, or Keras' __numpy__ dict.
struct Factor {
  Tensor value;
  bool numpy = false;
};

std::string nested_list(const Tensor& t, std::size_t axis, std::int64_t& next) {
  if (axis == t.shape.size()) return json_number(t.values[static_cast<std::size_t>(next++)]);
  std::string out = "[";
  for (std::int64_t i = 0; i < t.shape[axis]; ++i) out += (i ? ", " : "") + nested_list(t, axis + 1, next);
  return out + "]";
}

// Python's config form: numbers and lists as they are, arrays as {"class_name": "__numpy__", ...}.
std::string factor_json(const Factor& factor) {
  std::int64_t next = 0;
  const std::string value = nested_list(factor.value, 0, next);
  if (!factor.numpy) return value;
  return "{\"class_name\": \"__numpy__\", \"config\": {\"value\": " + value + ", \"dtype\": \"float32\"}}";
}

class RescalingLayer final : public Layer {
 public:
  RescalingLayer(std::string name, Factor scale, Factor offset)
      : Layer(std::move(name)), scale_(std::move(scale)), offset_(std::move(offset)) {}
  const char* class_name() const override { return "Rescaling"; }
  std::string config_json() const override {
    return config_object(*this, "\"scale\": " + factor_json(scale_) + ", \"offset\": " + factor_json(offset_));
  }
  Shape build(const Shape& input, std::mt19937_64*) override {
    const Shape batched = with_batch(-1, input);
    check_broadcast(scale_.value.shape, batched);
    check_broadcast(offset_.value.shape, batched);
    return input;
  }

  Tensor forward(const Tensor& x, StepMask&, TrainingStep* training) const override {
    const std::vector<float> scale = per_example(scale_.value, x.shape), offset = per_example(offset_.value, x.shape);
    const std::size_t example = scale.size();
    Tensor y(x.shape);
    for (std::size_t i = 0; i < x.values.size(); ++i)
      y.values[i] = x.values[i] * scale[i % example] + offset[i % example];
    if (training) training->cache = std::make_unique<ShapeCache>(x.shape);
    return y;
  }
  LayerGradients backward(const LayerCache&, const Tensor& d_y) const override {
    const std::vector<float> scale = per_example(scale_.value, d_y.shape);
    LayerGradients g{d_y, {}};
    for (std::size_t i = 0; i < g.d_x.values.size(); ++i) g.d_x.values[i] *= scale[i % scale.size()];
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>&) override {}

 private:
  // numpy's rule over the trailing axes (-1: a size known when called). A factor that would stretch the batch axis
  // or add axes before it makes an output of another shape than the input's, which the layer's shape rule excludes.
  void check_broadcast(const Shape& factor, const Shape& x) const {
    bool fits = factor.size() <= x.size();
    for (std::size_t k = 1; fits && k <= factor.size(); ++k) {
      const std::int64_t f = factor[factor.size() - k], d = x[x.size() - k];
      const bool batch_axis = k == x.size();
      fits = f == 1 || (!batch_axis && (d < 0 || f == d));
    }
    if (!fits)
      fail_layer(*this, "scale of shape " + shape_text(scale_.value.shape) + " and offset of shape " +
                            shape_text(offset_.value.shape) + " do not broadcast against the input of shape " +
                            shape_text(x) + " (the batch axis is never stretched)");
  }

  // The factor broadcast to one example of the batched input x: a value per entry of x.shape[1:].
  std::vector<float> per_example(const Tensor& factor, const Shape& x) const {
    check_broadcast(factor.shape, x);
    const Shape example(x.begin() + 1, x.end());
    std::vector<float> out(static_cast<std::size_t>(element_count(example)));
    const std::size_t rank = example.size(), lead = rank - std::min(rank, factor.shape.size());
    std::vector<std::int64_t> stride(rank, 0), index(rank, 0);  // the factor's stride per axis, 0 where broadcast
    for (std::int64_t d = static_cast<std::int64_t>(rank) - 1, step = 1; d >= static_cast<std::int64_t>(lead); --d) {
      const std::int64_t size = factor.shape[factor.shape.size() - rank + d];
      if (size != 1) stride[d] = step;
      step *= size;
    }
    std::int64_t k = 0;
    for (float& v : out) {
      v = factor.values[static_cast<std::size_t>(k)];
      for (std::int64_t d = static_cast<std::int64_t>(rank) - 1; d >= 0; --d) {  // next index, odometer-style
        k += stride[d];
        if (++index[d] < example[d]) break;
        k -= stride[d] * example[d];
        index[d] = 0;
      }
    }
    return out;
  }

  Factor scale_, offset_;
};

// A number, a boolean or a rectangular nested list of them, as float32 values in row-major order.
void read_nested(const Json& value, std::size_t axis, Shape& shape, std::vector<float>& out, const std::string& where,
                 const char* key) {
  if (axis == shape.size()) {
    if (value.kind != Json::Kind::number && value.kind != Json::Kind::boolean)
      fail(where, std::string("expected ") + key + " to be a number, a list of numbers or a numeric array");
    out.push_back(value.kind == Json::Kind::boolean ? (value.boolean ? 1.0f : 0.0f)
                                                    : static_cast<float>(value.number));
    return;
  }
  if (value.kind != Json::Kind::array || static_cast<std::int64_t>(value.array.size()) != shape[axis])
    fail(where, std::string(key) + " is a ragged list (its nested lists differ in length)");
  for (const Json& item : value.array) read_nested(item, axis + 1, shape, out, where, key);
}

Factor factor_from_json(const Json& json, const std::string& where, const char* key) {
  Factor factor;
  const Json* value = &json;
  if (const Json* class_name = json.find("class_name"); class_name != nullptr) {
    const Json* config = json.find("config");
    const Json* dtype = config ? config->find("dtype") : nullptr;
    value = config ? config->find("value") : nullptr;
    if (class_name->kind != Json::Kind::string || class_name->string != "__numpy__" || value == nullptr)
      fail(where, std::string(key) + " must be a number, a list or a {\"class_name\": \"__numpy__\"} array");
    const std::string type = dtype && dtype->kind == Json::Kind::string ? dtype->string : "float32";
    const bool numeric = type.rfind("float", 0) == 0 || type.rfind("int", 0) == 0 || type.rfind("uint", 0) == 0 ||
                         type == "bool";
    if (!numeric) fail(where, std::string(key) + " has dtype " + type + ", not a numeric one");
    factor.numpy = true;
  }
  Shape shape;
  for (const Json* level = value; level->kind == Json::Kind::array; level = &level->array[0]) {
    shape.push_back(static_cast<std::int64_t>(level->array.size()));
    if (level->array.empty()) break;
  }
  std::vector<float> values;
  read_nested(*value, 0, shape, values, where, key);
  factor.value = Tensor(std::move(shape), std::move(values));
  return factor;
}

}  // namespace

std::unique_ptr<Layer> rescaling_from_config(const ConfigReader& c) {
  const Json* scale = c.get("scale");
  if (scale == nullptr) fail(c.where(), "needs a scale");
  const Json* offset = c.get("offset");
  Factor offset_factor{Tensor(Shape{}), false};
  if (offset != nullptr) offset_factor = factor_from_json(*offset, c.where(), "offset");
  return std::make_unique<RescalingLayer>(c.name(), factor_from_json(*scale, c.where(), "scale"),
                                          std::move(offset_factor));
}

}  // namespace model_detail

namespace layers {
std::unique_ptr<Layer> Rescaling(Tensor scale, Tensor offset, const std::string& name) {
  return std::make_unique<model_detail::RescalingLayer>(name.empty() ? model_detail::auto_name("rescaling") : name,
                                                        model_detail::Factor{std::move(scale), false},
                                                        model_detail::Factor{std::move(offset), false});
}
std::unique_ptr<Layer> Rescaling(float scale, float offset, const std::string& name) {
  return Rescaling(Tensor(Shape{}, {scale}), Tensor(Shape{}, {offset}), name);
}
}  // namespace layers

}  // namespace rnnkit
