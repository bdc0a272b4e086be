// Reader of the .rnnkit file: every declared size and offset is checked against the bytes actually present
// before it is used, so a hostile file yields std::invalid_argument and never a crash or a huge allocation.
#include "rnnkit/model_file.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string_view>

#include "rnnkit/checked.hpp"

namespace rnnkit {

namespace {

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw std::invalid_argument(source + ": " + what);
}

const Json& require(const Json& object, const char* key, Json::Kind kind, const std::string& source,
                    const std::string& where) {
  const Json* value = object.find(key);
  if (value == nullptr) fail(source, where + " has no \"" + key + "\"");
  if (value->kind != kind) fail(source, where + " field \"" + key + "\" has the wrong JSON type");
  return *value;
}

std::int64_t require_nonnegative_integer(const Json& value, const std::string& source, const std::string& what) {
  if (value.kind != Json::Kind::number || !value.is_integer || value.integer < 0)
    fail(source, what + " must be a non-negative integer that fits in 64 bits");
  return value.integer;
}

std::vector<std::string> string_list(const Json& header, const char* key, const std::string& source) {
  std::vector<std::string> names;
  for (const Json& item : require(header, key, Json::Kind::array, source, "header").array) {
    if (item.kind != Json::Kind::string) fail(source, std::string("\"") + key + "\" must list tensor names");
    names.push_back(item.string);
  }
  return names;
}

DType parse_dtype(const std::string& name, const std::string& source, const std::string& tensor) {
  if (name == "float32") return DType::float32;
  if (name == "int64") return DType::int64;
  fail(source, "tensor \"" + tensor + "\" has unknown dtype \"" + name + "\" (expected float32 or int64)");
}

TensorInfo parse_tensor(const std::string& name, const Json& entry, std::int64_t data_size, const std::string& source) {
  const std::string where = "tensor \"" + name + "\"";
  if (entry.kind != Json::Kind::object) fail(source, where + " must be a JSON object");
  TensorInfo info;
  info.name = name;
  info.dtype = parse_dtype(require(entry, "dtype", Json::Kind::string, source, where).string, source, name);
  std::int64_t elements = 1;
  // The byte size with 0 dimensions counted as 1 must fit too: numpy (and so the Python reader) refuses a
  // shape like [0, 2^62, 2^62] although it holds no element, and both readers must accept the same files.
  std::int64_t extent_bytes = dtype_itemsize(info.dtype);
  try {
    for (const Json& dim : require(entry, "shape", Json::Kind::array, source, where).array) {
      info.shape.push_back(require_nonnegative_integer(dim, source, where + " shape entry"));
      elements = checked_mul(elements, info.shape.back(), "tensor shape");
      extent_bytes = checked_mul(extent_bytes, std::max<std::int64_t>(info.shape.back(), 1), "tensor shape");
    }
    const std::int64_t expected_bytes = checked_mul(elements, dtype_itemsize(info.dtype), "tensor byte size");
    const auto& offsets = require(entry, "offsets", Json::Kind::array, source, where).array;
    if (offsets.size() != 2) fail(source, where + " offsets must be [begin, end]");
    info.begin = require_nonnegative_integer(offsets[0], source, where + " begin offset");
    info.end = require_nonnegative_integer(offsets[1], source, where + " end offset");
    if (info.begin > info.end || info.end > data_size)
      fail(source, where + " offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) +
                       ") lie outside the data section of " + std::to_string(data_size) + " bytes");
    if (info.begin % kModelFileAlignment != 0)
      fail(source, where + " begin offset is not a multiple of " + std::to_string(kModelFileAlignment));
    if (info.end - info.begin != expected_bytes)
      fail(source, where + " occupies " + std::to_string(info.end - info.begin) +
                       " bytes but its shape and dtype need " + std::to_string(expected_bytes));
  } catch (const std::length_error& overflow) {
    fail(source, where + ": " + overflow.what());
  }
  return info;
}

void check_no_overlap(std::vector<TensorInfo> tensors, const std::string& source) {
  std::sort(tensors.begin(), tensors.end(), [](const TensorInfo& a, const TensorInfo& b) { return a.begin < b.begin; });
  for (std::size_t i = 1; i < tensors.size(); ++i)
    if (tensors[i].begin < tensors[i - 1].end)
      fail(source, "tensors \"" + tensors[i - 1].name + "\" and \"" + tensors[i].name + "\" overlap");
}

void check_names_exist(const std::set<std::string_view>& known, const std::vector<std::string>& names,
                       const char* list, const std::string& source) {
  for (const std::string& name : names)
    if (known.count(name) == 0)
      fail(source, std::string("\"") + list + "\" names tensor \"" + name + "\" which is not in \"tensors\"");
}

std::uint64_t read_u64_le(const std::uint8_t* p) {
  std::uint64_t value = 0;
  for (int k = 7; k >= 0; --k) value = (value << 8) | p[k];
  return value;
}

}  // namespace

std::int64_t dtype_itemsize(DType dtype) { return dtype == DType::float32 ? 4 : 8; }

ModelFile parse_model_file(const std::uint8_t* bytes, std::size_t size, const std::string& source) {
  if (size < static_cast<std::size_t>(kModelFilePreambleBytes))
    fail(source, "file is " + std::to_string(size) + " bytes, too short for the 16-byte rnnkit preamble");
  if (std::memcmp(bytes, kModelFileMagic, sizeof kModelFileMagic) != 0)
    fail(source, "not an rnnkit model file (magic bytes differ)");
  if (bytes[7] != kModelFileVersion)
    fail(source, "unsupported file version " + std::to_string(bytes[7]) + " (this reader knows version " +
                     std::to_string(kModelFileVersion) + ")");
  const std::uint64_t header_length = read_u64_le(bytes + 8);
  if (header_length > static_cast<std::uint64_t>(kModelFileMaxHeaderBytes))
    fail(source, "declared header length " + std::to_string(header_length) + " exceeds the limit of " +
                     std::to_string(kModelFileMaxHeaderBytes) + " bytes");
  if (header_length > size - kModelFilePreambleBytes)
    fail(source, "declared header length " + std::to_string(header_length) + " runs past the end of the file (" +
                     std::to_string(size) + " bytes)");

  ModelFile file;
  file.header_text.assign(reinterpret_cast<const char*>(bytes) + kModelFilePreambleBytes, header_length);
  file.header = parse_json(file.header_text, source);
  if (file.header.kind != Json::Kind::object) fail(source, "header must be a JSON object");
  file.format_version = require_nonnegative_integer(
      require(file.header, "format_version", Json::Kind::number, source, "header"), source, "format_version");
  if (file.format_version != kModelFileVersion)
    fail(source, "header format_version " + std::to_string(file.format_version) + " is not supported");

  const std::size_t data_start = kModelFilePreambleBytes + header_length;
  const auto data_size = static_cast<std::int64_t>(size - data_start);
  for (const auto& [name, entry] : require(file.header, "tensors", Json::Kind::object, source, "header").object)
    file.tensors.push_back(parse_tensor(name, entry, data_size, source));
  check_no_overlap(file.tensors, source);
  file.weights = string_list(file.header, "weights", source);
  file.optimizer_variables = string_list(file.header, "optimizer_variables", source);
  std::set<std::string_view> known;  // a set keeps the checks n log n for headers listing many tensors
  for (const TensorInfo& t : file.tensors) known.insert(t.name);
  check_names_exist(known, file.weights, "weights", source);
  check_names_exist(known, file.optimizer_variables, "optimizer_variables", source);
  file.data.assign(bytes + data_start, bytes + size);
  return file;
}

ModelFile read_model_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail(path, "cannot open the file for reading");
  const std::streamoff size = in.tellg();
  if (size < 0) fail(path, "cannot determine the file size");
  // The buffer is as large as the file on disk, never as large as anything the file declares.
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), size)) fail(path, "read error");
  return parse_model_file(bytes.data(), bytes.size(), path);
}

const TensorInfo& ModelFile::tensor(const std::string& name) const {
  for (const TensorInfo& t : tensors)
    if (t.name == name) return t;
  throw std::invalid_argument("ModelFile::tensor: no tensor named \"" + name + "\"");
}

namespace {
template <typename T>
std::vector<T> copy_values(const ModelFile& file, const std::string& name, DType expected) {
  const TensorInfo& t = file.tensor(name);
  if (t.dtype != expected) throw std::invalid_argument("ModelFile: tensor \"" + name + "\" has a different dtype");
  std::vector<T> values(static_cast<std::size_t>((t.end - t.begin) / sizeof(T)));
  if (!values.empty())  // an empty data section may have no buffer at all, and memcpy forbids null
    std::memcpy(values.data(), file.data.data() + t.begin, values.size() * sizeof(T));
  return values;
}
}  // namespace

std::vector<float> ModelFile::float32_values(const std::string& name) const {
  return copy_values<float>(*this, name, DType::float32);
}

std::vector<std::int64_t> ModelFile::int64_values(const std::string& name) const {
  return copy_values<std::int64_t>(*this, name, DType::int64);
}

}  // namespace rnnkit
