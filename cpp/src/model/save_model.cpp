// rnnkit::save_model: a Sequential model as a .rnnkit file (docs/file_format.md) that Python's load_model reads.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "model/support.hpp"
#include "rnnkit/model_file.hpp"

namespace rnnkit {

namespace {

constexpr std::int64_t kTensorAlignment = 64;  // the writer's choice; the reader needs a multiple of 8

std::int64_t round_up(std::int64_t n, std::int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }

std::string model_config(const Model& model) {
  std::string batch_shape = "[null";
  for (std::int64_t d : model.input_shape()) batch_shape += d < 0 ? ", null" : ", " + std::to_string(d);
  batch_shape += "]";
  std::string layers = R"({"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": )" +
                       batch_shape + R"(, "dtype": "float32", "sparse": false, "name": "input_layer"},)" +
                       R"( "registered_name": null})";
  for (std::size_t i = 0; i < model.layer_count(); ++i) layers += ", " + model_detail::layer_entry(model.layer(i));
  return R"({"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "trainable": true,)"
         R"( "dtype": "float32", "layers": [)" + layers + R"(]}, "registered_name": null})";
}

// float32 values as little-endian bytes whatever the host's byte order.
void append_le(std::vector<char>& out, const std::vector<float>& values) {
  for (float v : values) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    for (int k = 0; k < 4; ++k) out.push_back(static_cast<char>((bits >> (8 * k)) & 0xFF));
  }
}

}  // namespace

void save_model(const Model& model, const std::string& path) {
  if (!model.is_sequential())
    throw std::invalid_argument("rnnkit::save_model: " + path +
                                ": only Sequential models without operations (or Lambda layers) can be saved from C++");
  std::string tensors, names;
  std::vector<char> data;
  const std::vector<const Weight*> weights = model.weights();
  for (std::size_t i = 0; i < weights.size(); ++i) {
    char index[24];
    std::snprintf(index, sizeof index, "%04zu", i);
    const std::string name = "weights/" + std::string(index) + "/" + weights[i]->name;
    const std::int64_t begin = static_cast<std::int64_t>(data.size());
    append_le(data, weights[i]->value.values);
    const std::int64_t end = static_cast<std::int64_t>(data.size());
    data.resize(static_cast<std::size_t>(round_up(end, kTensorAlignment)), '\0');
    tensors += (i ? ", " : "") + model_detail::json_quote(name) + R"(: {"dtype": "float32", "shape": )" +
               model_detail::json_list(weights[i]->value.shape) + R"(, "offsets": [)" + std::to_string(begin) + ", " +
               std::to_string(end) + "]}";
    names += (i ? ", " : "") + model_detail::json_quote(name);
  }
  std::string header = R"({"format_version": 1, "model_config": )" + model_config(model) +
                       R"(, "compile_config": null, "tensors": {)" + tensors + R"(}, "weights": [)" + names +
                       R"(], "optimizer_variables": []})";
  // Spaces pad the header so the data section starts on a multiple of 64 bytes.
  header.resize(static_cast<std::size_t>(round_up(kModelFilePreambleBytes + static_cast<std::int64_t>(header.size()),
                                                  kTensorAlignment) - kModelFilePreambleBytes), ' ');

  // Written beside the target and renamed over it, so a failure never leaves a half-written model at `path`.
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(kModelFileMagic, sizeof kModelFileMagic);
    out.put(static_cast<char>(kModelFileVersion));
    const std::uint64_t length = header.size();
    for (int k = 0; k < 8; ++k) out.put(static_cast<char>((length >> (8 * k)) & 0xFF));
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.flush();
    if (!out) {
      std::remove(temporary.c_str());
      throw std::runtime_error("rnnkit::save_model: cannot write " + path);
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    throw std::runtime_error("rnnkit::save_model: cannot replace " + path);
  }
}

}  // namespace rnnkit
