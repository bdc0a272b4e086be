// The .rnnkit model file (docs/file_format.md): a bounds-checked reader that never trusts a declared size.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rnnkit {

// A parsed JSON value. Integers that fit int64 keep their exact value (shapes, offsets).
struct Json {
  enum class Kind { null, boolean, number, string, array, object };
  Kind kind = Kind::null;
  bool boolean = false;
  double number = 0.0;
  bool is_integer = false;
  std::int64_t integer = 0;
  std::string string;
  std::vector<Json> array;
  std::vector<std::pair<std::string, Json>> object;  // file order; duplicate keys are rejected

  const Json* find(std::string_view key) const;  // nullptr when absent or not an object
};

constexpr int kJsonMaxDepth = 64;
// Strict RFC 8259 JSON over validated UTF-8; throws std::invalid_argument naming `source` and the offset.
Json parse_json(std::string_view text, const std::string& source, int max_depth = kJsonMaxDepth);

enum class DType { float32, int64 };
std::int64_t dtype_itemsize(DType dtype);

struct TensorInfo {
  std::string name;
  DType dtype = DType::float32;
  std::vector<std::int64_t> shape;
  std::int64_t begin = 0;  // byte offsets relative to the data section, end exclusive
  std::int64_t end = 0;
};

constexpr char kModelFileMagic[7] = {'R', 'N', 'N', 'K', 'I', 'T', '\0'};
constexpr std::uint8_t kModelFileVersion = 1;
constexpr std::int64_t kModelFilePreambleBytes = 16;           // magic(7) + version(1) + header length(8)
constexpr std::int64_t kModelFileMaxHeaderBytes = 100 << 20;   // checked before anything is allocated
constexpr std::int64_t kModelFileAlignment = 8;                // every tensor begin is a multiple of this

class ModelFile {
 public:
  std::string header_text;  // the validated UTF-8 JSON header
  Json header;
  std::int64_t format_version = 0;
  std::vector<TensorInfo> tensors;  // header order
  std::vector<std::string> weights;
  std::vector<std::string> optimizer_variables;
  std::vector<std::uint8_t> data;   // the data section; every tensor lies inside it

  const TensorInfo& tensor(const std::string& name) const;  // std::invalid_argument when absent
  std::vector<float> float32_values(const std::string& name) const;
  std::vector<std::int64_t> int64_values(const std::string& name) const;
};

// `source` names the file in error messages. Both throw std::invalid_argument for any malformed input.
ModelFile parse_model_file(const std::uint8_t* bytes, std::size_t size, const std::string& source);
ModelFile read_model_file(const std::string& path);

}  // namespace rnnkit
