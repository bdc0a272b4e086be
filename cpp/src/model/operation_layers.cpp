// The operation nodes of functional configs (Keras' keras.src.ops.numpy and .nn), which Python and Keras write for
// x + y, 1.0 - x, ops.tanh(x), ... on symbolic tensors: layers over the node's tensors whose constant operands come
// from the node's arguments. The element-wise ones here, forward next to backward; indexing, reductions and shape
// changes in operation_shape_layers.cpp. Outputs carry no mask, as in Keras.
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

// ---- x + y, x / y, maximum(x, y), tanh(x), x > y, where(c, x, y), ... over tensors and numbers, broadcast as numpy -
// Comparisons and logical operations give 1 or 0 (the C++ graph's values are float32) and pass no gradient.

enum class Elementwise {
  add, subtract, multiply, divide, maximum, minimum, power,                                      // two operands
  greater, greater_equal, less, less_equal, equal, not_equal, logical_and, logical_or, logical_xor,  // two, no gradient
  negative, tanh, sigmoid, relu, exp, log, sqrt, square, absolute, logical_not,                  // one
  silu, relu6, softplus, selu, hard_sigmoid, softsign,                                           // one
  elu, leaky_relu, gelu,             // x and the config's alpha, negative_slope, approximate (1 or 0)
  clip,                                                                                          // x, x_min, x_max
  where                                                                                          // condition, x1, x2
};

// SELU constants (Klambauer et al. 2017), as Keras 3 uses them; sqrt(2 / pi) for gelu's tanh form.
constexpr double kSeluAlpha = 1.67326324235437728, kSeluScale = 1.05070098735548049;
constexpr double kSqrt2OverPi = 0.79788456080286536;

double sigmoid_of(double x) { return 1.0 / (1.0 + std::exp(-x)); }

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
  std::string config_json() const override { return operation_config(*this); }

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
      y.values[i] = apply(value(0, xs, at), value(1, xs, at), value(2, xs, at));
    });
    out_mask.clear();
    keep_tensors(training, xs);
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
      const float a = value(0, xs, at), b = value(1, xs, at), c = value(2, xs, at), g = d_y.values[i];
      for (std::size_t p = 0; p < operands_.size(); ++p)
        if (operands_[p].tensor) d[tensor_slot_[p]].values[at[tensor_slot_[p]]] += partial(p, a, b, c, g);
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

  // Operand p's value at the walk's offsets `at` (one per tensor, in order); 0 past the operation's operands.
  float value(std::size_t p, const std::vector<const Tensor*>& xs, const std::vector<std::int64_t>& at) const {
    if (p >= operands_.size()) return 0.0f;
    if (!operands_[p].tensor) return operands_[p].number;
    const std::size_t k = tensor_slot_[p];
    return xs[k]->values[at[k]];
  }

  float apply(float a, float b, float c) const {
    switch (op_) {
      case Elementwise::add: return a + b;
      case Elementwise::subtract: return a - b;
      case Elementwise::multiply: return a * b;
      case Elementwise::divide: return a / b;
      case Elementwise::maximum: return a > b || std::isnan(a) ? a : b;  // NaN wins, as numpy's maximum
      case Elementwise::minimum: return a < b || std::isnan(a) ? a : b;
      case Elementwise::power: return std::pow(a, b);
      case Elementwise::greater: return a > b;
      case Elementwise::greater_equal: return a >= b;
      case Elementwise::less: return a < b;
      case Elementwise::less_equal: return a <= b;
      case Elementwise::equal: return a == b;
      case Elementwise::not_equal: return a != b;
      case Elementwise::logical_and: return a != 0.0f && b != 0.0f;
      case Elementwise::logical_or: return a != 0.0f || b != 0.0f;
      case Elementwise::logical_xor: return (a != 0.0f) != (b != 0.0f);
      case Elementwise::negative: return -a;
      case Elementwise::tanh: return std::tanh(a);
      case Elementwise::sigmoid: return static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(a))));
      case Elementwise::relu: return a > 0.0f ? a : 0.0f;
      case Elementwise::exp: return std::exp(a);
      case Elementwise::log: return std::log(a);
      case Elementwise::sqrt: return std::sqrt(a);
      case Elementwise::square: return a * a;
      case Elementwise::absolute: return std::fabs(a);
      case Elementwise::logical_not: return a == 0.0f;
      case Elementwise::silu: return static_cast<float>(a * sigmoid_of(a));
      case Elementwise::relu6: return std::min(std::max(a, 0.0f), 6.0f);
      case Elementwise::softplus: return static_cast<float>(std::log1p(std::exp(-std::fabs(double(a)))) +
                                                            std::max(double(a), 0.0));
      case Elementwise::selu: return static_cast<float>(kSeluScale * (a > 0.0f ? a : kSeluAlpha * std::expm1(a)));
      case Elementwise::hard_sigmoid: return static_cast<float>(std::clamp((a + 3.0) / 6.0, 0.0, 1.0));
      case Elementwise::softsign: return a / (1.0f + std::fabs(a));
      case Elementwise::elu: return a > 0.0f ? a : static_cast<float>(b * std::expm1(double(a)));
      case Elementwise::leaky_relu: return a > 0.0f ? a : b * a;
      case Elementwise::gelu: {
        const double x = a;
        return static_cast<float>(b != 0.0f ? 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x)))
                                            : 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))));
      }
      case Elementwise::clip: return std::min(std::max(a, b), c);  // numpy's clip: the bounds in that order
      default: return a != 0.0f ? b : c;
    }
  }

  // d(op)/d(operand p) times g, in the order Python's float32 numpy computes it (ties of maximum and minimum
  // share g half and half, PyTorch's rule; relu and |x| have slope 0 at 0; power's masks are PyTorch's: nothing
  // to the base where the exponent is 0, nothing to the exponent where the base is 0 and the exponent not
  // negative; clip passes g on between its bounds, bounds included).
  float partial(std::size_t p, float a, float b, float c, float g) const {
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
      case Elementwise::power:
        if (p == 0) return b == 0.0f ? 0.0f : g * b * std::pow(a, b - 1.0f);
        return a == 0.0f && b >= 0.0f ? 0.0f : g * apply(a, b, c) * std::log(a);
      case Elementwise::negative: return -g;
      case Elementwise::tanh: {
        const float y = apply(a, b, c);
        return g * (1.0f - y * y);
      }
      case Elementwise::sigmoid: {
        const float y = apply(a, b, c);
        return g * y * (1.0f - y);
      }
      case Elementwise::relu: return a > 0.0f ? g : 0.0f;
      case Elementwise::exp: return g * apply(a, b, c);
      case Elementwise::log: return g / a;
      case Elementwise::sqrt: return g / (2.0f * apply(a, b, c));
      case Elementwise::square: return 2.0f * g * a;
      case Elementwise::absolute: return a > 0.0f ? g : (a < 0.0f ? -g : 0.0f);
      case Elementwise::silu: {
        const double s = sigmoid_of(a);
        return static_cast<float>(g * s * (1.0 + a * (1.0 - s)));
      }
      case Elementwise::relu6: return a > 0.0f && a < 6.0f ? g : 0.0f;
      case Elementwise::softplus: return static_cast<float>(g * sigmoid_of(a));
      case Elementwise::selu: return static_cast<float>(g * kSeluScale * (a > 0.0f ? 1.0 : kSeluAlpha * std::exp(a)));
      case Elementwise::hard_sigmoid: return a > -3.0f && a < 3.0f ? g / 6.0f : 0.0f;
      case Elementwise::softsign: return g / ((1.0f + std::fabs(a)) * (1.0f + std::fabs(a)));
      case Elementwise::elu: return a > 0.0f ? g : static_cast<float>(g * b * std::exp(double(a)));
      case Elementwise::leaky_relu: return a > 0.0f ? g : g * b;
      case Elementwise::gelu: {
        const double x = a;
        if (b == 0.0f)
          return static_cast<float>(g * (0.5 * (1.0 + std::erf(x / std::sqrt(2.0))) +
                                         x * std::exp(-0.5 * x * x) / std::sqrt(2.0 * 3.14159265358979324)));
        const double t = std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x));
        return static_cast<float>(g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * kSqrt2OverPi *
                                                             (1.0 + 3.0 * 0.044715 * x * x)));
      }
      case Elementwise::clip: return p == 0 && a >= b && a <= c ? g : 0.0f;
      case Elementwise::where:
        if (p == 0) return 0.0f;
        return (a != 0.0f) == (p == 1) ? g : 0.0f;
      default: return 0.0f;  // comparisons and logical operations
    }
  }

  const char* class_name_;
  Elementwise op_;
  std::vector<Operand> operands_;
  std::vector<std::size_t> tensor_slot_;  // per operand: its position among the node's tensors
  std::size_t tensors_ = 0;
};

}  // namespace

bool is_operation_entry(const Json& entry) {
  const Json* module = entry.find("module");
  return module && module->kind == Json::Kind::string && module->string.rfind("keras.src.ops.", 0) == 0;
}

std::unique_ptr<Layer> operation_from_config(const ConfigReader& config, const std::vector<const Json*>& arguments) {
  const std::string& kind = config.class_name();
  if (auto layer = shape_operation_from_config(config, arguments)) return layer;
  if (auto layer = linear_operation_from_config(config, arguments)) return layer;
  static const std::pair<const char*, Elementwise> kinds[] = {
      {"Add", Elementwise::add},           {"Subtract", Elementwise::subtract},   {"Multiply", Elementwise::multiply},
      {"TrueDivide", Elementwise::divide}, {"Divide", Elementwise::divide},       {"Maximum", Elementwise::maximum},
      {"Minimum", Elementwise::minimum},   {"Power", Elementwise::power},         {"Greater", Elementwise::greater},
      {"GreaterEqual", Elementwise::greater_equal}, {"Less", Elementwise::less}, {"LessEqual", Elementwise::less_equal},
      {"Equal", Elementwise::equal},       {"NotEqual", Elementwise::not_equal},
      {"LogicalAnd", Elementwise::logical_and}, {"LogicalOr", Elementwise::logical_or},
      {"LogicalXor", Elementwise::logical_xor},
      {"Negative", Elementwise::negative}, {"Tanh", Elementwise::tanh},
      {"Sigmoid", Elementwise::sigmoid},   {"Relu", Elementwise::relu},           {"Exp", Elementwise::exp},
      {"Log", Elementwise::log},           {"Sqrt", Elementwise::sqrt},           {"Square", Elementwise::square},
      {"Absolute", Elementwise::absolute}, {"LogicalNot", Elementwise::logical_not}, {"Clip", Elementwise::clip},
      {"Where", Elementwise::where},       {"Silu", Elementwise::silu},           {"Relu6", Elementwise::relu6},
      {"Softplus", Elementwise::softplus}, {"Selu", Elementwise::selu},           {"Softsign", Elementwise::softsign},
      {"HardSigmoid", Elementwise::hard_sigmoid}, {"Elu", Elementwise::elu},     {"Gelu", Elementwise::gelu},
      {"LeakyRelu", Elementwise::leaky_relu}};
  const auto found = std::find_if(std::begin(kinds), std::end(kinds), [&](const auto& k) { return kind == k.first; });
  if (found == std::end(kinds)) {
    std::string supported = "GetItem, Mean, Sum, Max, Min, ExpandDims, Squeeze, Transpose, Concatenate, Cast, Matmul, "
                            "Softmax, Reshape, Stack";
    for (const auto& k : kinds) supported += std::string(", ") + k.first;
    fail(config.where(), "operation " + kind + " is not supported by the C++ model API (" + supported + ")");
  }
  const Elementwise op = found->second;
  const std::size_t expected = op == Elementwise::where ? 3 : op < Elementwise::negative ? 2 : 1;
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
  // elu's alpha, leaky_relu's negative_slope, gelu's approximate (as 1 or 0): the config's, operand 1 here
  if (op == Elementwise::elu) operands.push_back({false, static_cast<float>(config.number("alpha", 1.0))});
  if (op == Elementwise::leaky_relu)
    operands.push_back({false, static_cast<float>(config.number("negative_slope", 0.2))});
  if (op == Elementwise::gelu) operands.push_back({false, config.flag("approximate", true) ? 1.0f : 0.0f});
  if (op == Elementwise::clip) {  // the bounds are the config's, as in Keras: operands 1 and 2 here
    for (const char* key : {"x_min", "x_max"}) {
      const double bound = config.number(key, std::nan(""));
      if (std::isnan(bound)) fail(config.where(), std::string("expects a number as ") + key);
      operands.push_back({false, static_cast<float>(bound)});
    }
  }
  return std::make_unique<ElementwiseLayer>(config.name(), found->first, found->second, std::move(operands));
}

}  // namespace model_detail
}  // namespace rnnkit
