// rnnkit::load_model: a Sequential model_config from a .rnnkit file turned into inference layers.
#include <stdexcept>

#include "model/layers.hpp"
#include "rnnkit/checked.hpp"
#include "rnnkit/model.hpp"
#include "rnnkit/model_file.hpp"

namespace rnnkit {

namespace {

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw std::invalid_argument(source + ": " + what);
}

// The per-example input shape (batch dropped, unknown sizes as -1) from an InputLayer or build_input_shape.
std::vector<std::int64_t> shape_without_batch(const Json& dims, const std::string& source) {
  if (dims.kind != Json::Kind::array || dims.array.empty()) fail(source, "input shape must be a non-empty list");
  std::vector<std::int64_t> shape;
  for (std::size_t i = 1; i < dims.array.size(); ++i) {
    const Json& d = dims.array[i];
    if (d.kind == Json::Kind::null) shape.push_back(-1);
    else if (d.is_integer && d.integer >= 0) shape.push_back(d.integer);
    else fail(source, "input shape entries must be non-negative integers or null");
  }
  return shape;
}

}  // namespace

Model::Model(std::vector<std::int64_t> input_shape, std::vector<std::unique_ptr<SequentialLayer>> layers)
    : input_shape_(std::move(input_shape)), layers_(std::move(layers)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Tensor Model::predict(const Tensor& x) const {
  // The layers trust their input's inner sizes, so they are all checked here, once.
  bool matches = x.shape.size() == input_shape_.size() + 1;
  std::int64_t n = 1;
  for (std::size_t i = 0; matches && i < x.shape.size(); ++i) {
    matches = x.shape[i] >= 0 && (i == 0 || input_shape_[i - 1] < 0 || x.shape[i] == input_shape_[i - 1]);
    n = matches ? checked_mul(n, x.shape[i], "rnnkit::Model::predict input") : n;
  }
  if (!matches || static_cast<std::size_t>(n) != x.values.size()) {
    std::string expected = "(batch";
    for (std::int64_t d : input_shape_) expected += ", " + (d < 0 ? std::string("any") : std::to_string(d));
    throw std::invalid_argument("rnnkit::Model::predict: expected an input of shape " + expected +
                                ") with as many values as its shape holds");
  }
  Tensor y = x;
  StepMask mask;
  for (const auto& layer : layers_) y = layer->forward(y, mask);
  return y;
}

Model load_model(const std::string& path) {
  const ModelFile file = read_model_file(path);
  const Json* model = file.header.find("model_config");
  if (model == nullptr || model->kind != Json::Kind::object) fail(path, "has no model_config (a weights-only file?)");
  const Json* class_name = model->find("class_name");
  if (class_name == nullptr || class_name->kind != Json::Kind::string || class_name->string != "Sequential")
    fail(path, "the C++ model API loads Sequential models only");
  const Json* config = model->find("config");
  const Json* entries = config ? config->find("layers") : nullptr;
  if (entries == nullptr || entries->kind != Json::Kind::array) fail(path, "Sequential config has no \"layers\" list");

  std::vector<std::int64_t> shape, input_shape;
  bool shape_known = false;
  if (const Json* built = config->find("build_input_shape"); built && built->kind == Json::Kind::array) {
    shape = input_shape = shape_without_batch(*built, path);
    shape_known = true;
  }
  WeightCursor weights(file, path);
  std::vector<std::unique_ptr<SequentialLayer>> layers;
  for (const Json& entry : entries->array) {
    const Json* entry_class = entry.find("class_name");
    if (entry_class && entry_class->kind == Json::Kind::string && entry_class->string == "InputLayer") {
      const Json* input_config = entry.find("config");
      const Json* batch_shape = input_config ? input_config->find("batch_shape") : nullptr;
      if (batch_shape == nullptr) fail(path, "InputLayer has no batch_shape");
      shape = input_shape = shape_without_batch(*batch_shape, path);
      shape_known = true;
      continue;
    }
    if (!shape_known) fail(path, "the model's input shape is unknown (no InputLayer and no build_input_shape)");
    layers.push_back(make_layer(entry, shape, weights, path));
  }
  if (!weights.exhausted()) fail(path, "holds more weights than the model's layers use");
  return Model(std::move(input_shape), std::move(layers));
}

}  // namespace rnnkit
