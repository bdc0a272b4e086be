// Tensor and Layer basics, Keras' default initializers and the config reader the from_config functions share.
#include "model/support.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <stdexcept>

#include "rnnkit/checked.hpp"
#include "rnnkit/layer_activations.hpp"

namespace rnnkit {

Tensor::Tensor(Shape s) : shape(std::move(s)) {
  values.assign(static_cast<std::size_t>(model_detail::element_count(shape)), 0.0f);
}

Tensor::Tensor(Shape s, std::vector<float> v) : shape(std::move(s)), values(std::move(v)) {
  if (static_cast<std::size_t>(model_detail::element_count(shape)) != values.size())
    throw std::invalid_argument("rnnkit::Tensor: shape " + model_detail::shape_text(shape) + " holds " +
                                std::to_string(model_detail::element_count(shape)) + " values, received " +
                                std::to_string(values.size()));
}

std::vector<Weight*> Layer::weights() {
  std::vector<Weight*> out;
  collect_weights(out);
  return out;
}

void Layer::set_trainable(bool trainable) {
  trainable_ = trainable;
  apply_trainable(trainable);
}

void Layer::apply_trainable(bool trainable) {
  for (Weight* w : weights()) w->trainable = trainable;
}

std::vector<const Weight*> Layer::weights() const {
  // collect_weights only takes addresses; nothing is modified through them here.
  std::vector<Weight*> mutable_view;
  const_cast<Layer*>(this)->collect_weights(mutable_view);
  return {mutable_view.begin(), mutable_view.end()};
}

namespace model_detail {

void fail(const std::string& where, const std::string& what) { throw std::invalid_argument(where + ": " + what); }

std::string who(const Layer& layer) { return "layer " + layer.name() + " (" + layer.class_name() + ")"; }

void fail_layer(const Layer& layer, const std::string& what) { throw std::invalid_argument(who(layer) + " " + what); }

std::int64_t element_count(const Shape& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    if (d < 0) throw std::invalid_argument("rnnkit: tensor shape " + shape_text(shape) + " has a negative size");
    n = checked_mul(n, d, "rnnkit tensor size");
  }
  return n;
}

std::string auto_name(const std::string& base) {
  static std::mutex mutex;
  static std::map<std::string, int> used;
  const std::lock_guard<std::mutex> lock(mutex);
  const int n = used[base]++;
  return n == 0 ? base : base + "_" + std::to_string(n);
}

std::string json_quote(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
      out += escaped;
    } else {
      out += c;  // UTF-8 bytes pass through unchanged
    }
  }
  return out + "\"";
}

std::string json_number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", value);  // round-trips a float32
  std::string out = text;
  return out.find_first_of(".eEn") == std::string::npos ? out + ".0" : out;
}

std::string json_list(const std::vector<std::int64_t>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + std::to_string(values[i]);
  return out + "]";
}

std::string config_object(const Layer& layer, const std::string& fields) {
  return "{\"name\": " + json_quote(layer.name()) + ", \"trainable\": " + (layer.trainable() ? "true" : "false") +
         ", \"dtype\": \"float32\"" +
         (fields.empty() ? "" : ", " + fields) + "}";
}

std::string layer_entry(const Layer& layer) {
  return std::string("{\"module\": \"keras.layers\", \"class_name\": ") + json_quote(layer.class_name()) +
         ", \"config\": " + layer.config_json() + ", \"registered_name\": null}";
}

std::string shape_text(const Shape& shape) {
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + (shape[i] < 0 ? std::string("None") : std::to_string(shape[i]));
  return text + (shape.size() == 1 ? ",)" : ")");
}

Shape with_batch(std::int64_t batch, const Shape& per_example) {
  Shape shape{batch};
  shape.insert(shape.end(), per_example.begin(), per_example.end());
  return shape;
}

namespace {

// Keras' orthogonal: QR of a normal matrix made unique by the signs of R's diagonal; Gram-Schmidt gives the same Q.
void orthogonal(Tensor& t, std::mt19937_64& rng) {
  const std::int64_t rows = t.shape[0], cols = element_count(t.shape) / std::max<std::int64_t>(rows, 1);
  const std::int64_t tall = std::max(rows, cols), narrow = std::min(rows, cols);
  std::normal_distribution<double> normal;
  std::vector<double> q(static_cast<std::size_t>(checked_mul(tall, narrow, "orthogonal initializer")));
  for (double& v : q) v = normal(rng);
  for (std::int64_t j = 0; j < narrow; ++j) {  // columns of the (tall, narrow) matrix, stored column-major
    double* col = q.data() + j * tall;
    for (std::int64_t k = 0; k < j; ++k) {
      const double* prev = q.data() + k * tall;
      double dot = 0;
      for (std::int64_t i = 0; i < tall; ++i) dot += prev[i] * col[i];
      for (std::int64_t i = 0; i < tall; ++i) col[i] -= dot * prev[i];
    }
    double norm = 0;
    for (std::int64_t i = 0; i < tall; ++i) norm += col[i] * col[i];
    norm = std::sqrt(norm);
    for (std::int64_t i = 0; i < tall; ++i) col[i] = norm > 0 ? col[i] / norm : 0.0;
  }
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c)
      t.values[static_cast<std::size_t>(r * cols + c)] =
          static_cast<float>(rows >= cols ? q[static_cast<std::size_t>(c * tall + r)]
                                          : q[static_cast<std::size_t>(r * tall + c)]);
}

}  // namespace

std::vector<float> keep_mask(std::mt19937_64& rng, std::int64_t n, float rate) {
  std::vector<float> keep(static_cast<std::size_t>(n));
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  for (float& k : keep) k = uniform(rng) >= rate ? 1.0f / (1.0f - rate) : 0.0f;
  return keep;
}

Tensor initial_value(Shape shape, Init init, std::mt19937_64* rng) {
  if (rng == nullptr) {
    // No rng: load_model fills the values from the file once their shape matches. Allocating here would let a
    // few bytes of hostile model_config (units=30000) demand gigabytes before the weights are checked.
    model_detail::element_count(shape);  // still refuses shapes whose size overflows
    Tensor t;
    t.shape = std::move(shape);
    return t;
  }
  Tensor t(std::move(shape));
  if (init == Init::zeros) return t;
  if (init == Init::ones) {
    std::fill(t.values.begin(), t.values.end(), 1.0f);
    return t;
  }
  if (init == Init::orthogonal && t.shape.size() >= 2) {
    orthogonal(t, *rng);
    return t;
  }
  double limit = 0.05;  // Keras' Embedding default: uniform(-0.05, 0.05)
  if (init != Init::embedding_uniform) {
    // Keras' compute_fans: a kernel (k..., in, out), e.g. Conv1D's, has fans in and out times prod(k...).
    double fan_in = static_cast<double>(t.size()), fan_out = fan_in;
    if (const std::size_t rank = t.shape.size(); rank >= 2) {
      double receptive_field = 1;
      for (std::size_t i = 0; i + 2 < rank; ++i) receptive_field *= static_cast<double>(t.shape[i]);
      fan_in = static_cast<double>(t.shape[rank - 2]) * receptive_field;
      fan_out = static_cast<double>(t.shape[rank - 1]) * receptive_field;
    }
    limit = std::sqrt(6.0 / std::max(1.0, fan_in + fan_out));
  }
  std::uniform_real_distribution<float> uniform(static_cast<float>(-limit), static_cast<float>(limit));
  for (float& v : t.values) v = uniform(*rng);
  return t;
}

void ensure_weight(std::vector<Weight>& weights, std::size_t index, const Layer& layer, const char* name,
                   const Shape& shape, Init init, std::mt19937_64* rng, bool trainable) {
  if (index < weights.size()) {
    if (weights[index].value.shape != shape)
      fail_layer(layer, std::string("has a weight ") + name + " of shape " + shape_text(weights[index].value.shape) +
                      " but this input needs " + shape_text(shape));
    return;
  }
  weights.push_back(Weight{name, initial_value(shape, init, rng), trainable && layer.trainable()});
}

Tensor ActivatedProductLayer::forward(const Tensor& x, StepMask& mask, TrainingStep* training) const {
  Tensor y = product(x);
  activate_and_cache(activation_, x, y, training);
  if (!keeps_mask()) mask.clear();
  return y;
}

LayerGradients ActivatedProductLayer::backward(const LayerCache& base, const Tensor& d_y) const {
  const auto& cache = static_cast<const ActivatedCache&>(base);
  const Tensor d_product = pre_activation_gradient(activation_, cache, d_y);
  LayerGradients g = zero_gradients(cache.x.shape, *this);
  product_backward(cache.x, d_product, g);
  return g;
}

void ActivatedProductLayer::collect_weights(std::vector<Weight*>& out) {
  for (Weight& w : weights_) out.push_back(&w);
}

std::int64_t normalized_axis_size(const Layer& layer, const Shape& input, std::int64_t axis) {
  if (input.empty() || input.back() < 0)
    fail_layer(layer, "needs an input with a known last dimension, received " + shape_text(input));
  // The last axis of a per-example (steps, features) input is Keras' axis 2.
  if (axis != -1 && axis != static_cast<std::int64_t>(input.size()))
    fail_layer(layer, "normalises over the last axis only, received axis=" + std::to_string(axis) +
                          " for an input of shape " + shape_text(with_batch(-1, input)));
  return input.back();
}

void ensure_gamma_beta(std::vector<Weight>& weights, const Layer& layer, std::int64_t size, bool scale, bool center,
                       std::mt19937_64* rng) {
  std::size_t next = 0;
  if (scale) ensure_weight(weights, next++, layer, "gamma", {size}, Init::ones, rng);
  if (center) ensure_weight(weights, next, layer, "beta", {size}, Init::zeros, rng);
}

std::string checked_activation(const std::string& name, const std::string& where) {
  if (!is_layer_activation(name))
    fail(where, "activation \"" + name + "\" is not supported by the C++ model API");
  return name;
}

void activate(const std::string& activation, Tensor& t) {
  const std::int64_t cols = t.shape.empty() ? 1 : t.shape.back();
  if (activation == "linear" || t.values.empty()) return;
  layer_activation_forward(activation, t.values.data(), t.values.data(), t.size() / cols, cols);
}

void activate_backward(const std::string& activation, const Tensor& input, const Tensor& y, Tensor& d) {
  const std::int64_t cols = y.shape.empty() ? 1 : y.shape.back();
  if (activation == "linear" || d.values.empty()) return;
  layer_activation_backward(activation, input.values.data(), y.values.data(), d.values.data(), d.values.data(),
                            y.size() / cols, cols);
}

LayerGradients zero_gradients(const Shape& x_shape, const Layer& layer) {
  LayerGradients g{Tensor(x_shape), {}};
  for (const Weight* w : layer.weights()) g.d_weights.emplace_back(w->value.shape);
  return g;
}

void activate_and_cache(const std::string& activation, const Tensor& x, Tensor& product, TrainingStep* training) {
  auto cache = training ? std::make_unique<ActivatedCache>() : nullptr;
  if (cache && layer_activation_needs_input(activation)) cache->pre_activation = product;
  activate(activation, product);
  if (!cache) return;
  cache->x = x;
  cache->y = product;
  training->cache = std::move(cache);
}

Tensor pre_activation_gradient(const std::string& activation, const ActivatedCache& cache, const Tensor& d_y) {
  Tensor d_product = d_y;
  activate_backward(activation, cache.pre_activation, cache.y, d_product);
  return d_product;
}

ConfigReader::ConfigReader(const Json& entry, const std::string& source) : source_(source) {
  const Json* class_json = entry.find("class_name");
  config_ = entry.find("config");
  if (class_json == nullptr || class_json->kind != Json::Kind::string || config_ == nullptr ||
      config_->kind != Json::Kind::object)
    fail(source, "model_config layer entries need \"class_name\" and a \"config\" object");
  class_name_ = class_json->string;
  const Json* name = config_->find("name");
  name_ = name && name->kind == Json::Kind::string ? name->string : class_name_;
  where_ = source + ": layer " + name_ + " (" + class_name_ + ")";
  // Regularizers and constraints change training: a model that has them is refused rather than trained without.
  for (const std::string suffix : {"_regularizer", "_constraint"})
    for (const auto& [key, value] : config_->object)
      if (key.size() > suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0 &&
          value.kind != Json::Kind::null)
        fail(where_, key + " is not supported by the C++ model API");
}

std::int64_t ConfigReader::positive_integer(const char* key) const {
  const Json* v = get(key);
  if (v == nullptr || !v->is_integer || v->integer <= 0)
    throw std::invalid_argument(where_ + " needs a positive integer " + key);
  return v->integer;
}

std::int64_t ConfigReader::size_1d(const Json& value, const char* key) const {
  const Json* v = &value;
  if (v->kind == Json::Kind::array && v->array.size() == 1) v = &v->array[0];
  if (!v->is_integer || v->integer <= 0)
    throw std::invalid_argument(where_ + ": " + key + " must be a positive integer or a list of one");
  return v->integer;
}

std::int64_t ConfigReader::size_1d(const char* key) const {
  const Json* v = get(key);
  if (v == nullptr) throw std::invalid_argument(where_ + " needs a positive integer " + key);
  return size_1d(*v, key);
}

std::int64_t ConfigReader::size_1d(const char* key, std::int64_t fallback) const {
  const Json* v = get(key);
  return v == nullptr || v->kind == Json::Kind::null ? fallback : size_1d(*v, key);
}

std::int64_t ConfigReader::integer(const char* key, std::int64_t fallback) const {
  const Json* v = get(key);
  if (v == nullptr || v->kind == Json::Kind::null) return fallback;
  if (!v->is_integer) throw std::invalid_argument(where_ + ": " + key + " must be an integer");
  return v->integer;
}

std::vector<std::int64_t> ConfigReader::integers(const char* key) const {
  const Json* v = get(key);
  if (v == nullptr || v->kind != Json::Kind::array) throw std::invalid_argument(where_ + " needs a list " + key);
  std::vector<std::int64_t> out;
  for (const Json& item : v->array) {
    if (!item.is_integer) throw std::invalid_argument(where_ + ": " + key + " must be a list of integers");
    out.push_back(item.integer);
  }
  return out;
}

std::int64_t ConfigReader::axis() const {
  const Json* v = get("axis");
  if (v == nullptr) return -1;
  if (v->kind == Json::Kind::array && v->array.size() == 1) v = &v->array[0];
  if (!v->is_integer) throw std::invalid_argument(where_ + ": axis must be an integer or a list of one integer");
  return v->integer;
}

double ConfigReader::number(const char* key, double fallback) const {
  const Json* v = get(key);
  if (v == nullptr || v->kind == Json::Kind::null) return fallback;
  if (v->kind != Json::Kind::number) throw std::invalid_argument(where_ + ": " + key + " must be a number");
  return v->number;
}

bool ConfigReader::flag(const char* key, bool fallback) const {
  const Json* v = get(key);
  if (v == nullptr || v->kind == Json::Kind::null) return fallback;
  if (v->kind != Json::Kind::boolean) throw std::invalid_argument(where_ + ": " + key + " must be true or false");
  return v->boolean;
}

std::string ConfigReader::text(const char* key, const std::string& fallback) const {
  const Json* v = get(key);
  if (v == nullptr || v->kind == Json::Kind::null) return fallback;
  if (v->kind != Json::Kind::string) throw std::invalid_argument(where_ + ": " + key + " must be a string");
  return v->string;
}

const Json& ConfigReader::object(const char* key) const {
  const Json* v = get(key);
  if (v == nullptr || v->kind != Json::Kind::object) throw std::invalid_argument(where_ + " has no \"" + key + "\"");
  return *v;
}

void ConfigReader::require_default(const char* key, bool expected) const {
  if (flag(key, expected) != expected)
    throw std::invalid_argument(where_ + ": " + key + "=" + (expected ? "false" : "true") +
                                " is not supported by the C++ model API");
}

Shape MergeLayer::build(const Shape&, std::mt19937_64*) {
  fail_layer(*this, "takes a list of inputs; use it in a functional model");
}
Tensor MergeLayer::forward(const Tensor&, StepMask&, TrainingStep*) const {
  fail_layer(*this, "takes a list of inputs; use it in a functional model");
}
LayerGradients MergeLayer::backward(const LayerCache&, const Tensor&) const {
  fail_layer(*this, "takes a list of inputs; use it in a functional model");
}

}  // namespace model_detail
}  // namespace rnnkit
