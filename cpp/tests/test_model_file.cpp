// The C++ reader's public API: JSON parsing, a valid file, and rejection of malformed files.
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"
#include "rnnkit/model_file.hpp"

namespace {

using rnnkit::Json;

std::vector<std::uint8_t> make_file(const std::string& header, const std::vector<std::uint8_t>& data) {
  std::vector<std::uint8_t> bytes(rnnkit::kModelFileMagic, rnnkit::kModelFileMagic + 7);
  bytes.push_back(rnnkit::kModelFileVersion);
  for (int k = 0; k < 8; ++k) bytes.push_back(static_cast<std::uint8_t>(header.size() >> (8 * k)));
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

std::vector<std::uint8_t> float_bytes(const std::vector<float>& values) {
  std::vector<std::uint8_t> bytes(values.size() * sizeof(float));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

const std::string kTwoTensorHeader =
    R"({"format_version": 1, "model_config": {"class_name": "Sequential"}, "compile_config": null,)"
    R"( "tensors": {"w": {"dtype": "float32", "shape": [2, 2], "offsets": [0, 16]},)"
    R"( "step": {"dtype": "int64", "shape": [], "offsets": [16, 24]}},)"
    R"( "weights": ["w"], "optimizer_variables": ["step"]})";

std::vector<std::uint8_t> two_tensor_data() {
  std::vector<std::uint8_t> data = float_bytes({1.f, -2.f, 3.5f, 0.25f});
  const std::int64_t step = 42;
  const auto* p = reinterpret_cast<const std::uint8_t*>(&step);
  data.insert(data.end(), p, p + 8);
  return data;
}

bool rejects(const std::string& header, const std::vector<std::uint8_t>& data, const std::string& expected) {
  const auto bytes = make_file(header, data);
  try {
    rnnkit::parse_model_file(bytes.data(), bytes.size(), "test.rnnkit");
  } catch (const std::invalid_argument& error) {
    const std::string message = error.what();
    if (message.find("test.rnnkit") != std::string::npos && message.find(expected) != std::string::npos) return true;
    std::fprintf(stderr, "unexpected message: %s\n", error.what());
  }
  return false;
}

void test_json_values() {
  const Json v = rnnkit::parse_json(
      R"({"a": [1, -2.5e3, true, null], "s": "x\n\u00e9\ud83d\ude00", "big": 9223372036854775807, "huge": 1e400})",
      "json");
  CHECK(v.kind == Json::Kind::object);
  const Json* a = v.find("a");
  CHECK(a != nullptr && a->array.size() == 4);
  CHECK(a->array[0].is_integer && a->array[0].integer == 1);
  CHECK(!a->array[1].is_integer && a->array[1].number == -2500.0);
  CHECK(a->array[2].boolean && a->array[3].kind == Json::Kind::null);
  CHECK(v.find("s")->string == "x\n\xc3\xa9\xf0\x9f\x98\x80");
  CHECK(v.find("big")->integer == INT64_MAX);
  CHECK(v.find("missing") == nullptr);
}

void test_json_rejections() {
  for (const char* bad : {"", "{", "[1,]", "01", "1.", "\"\\x\"", "\"\x01\"", "{\"a\":1,\"a\":2}", "nul",
                          "[1] 2", "\"\\udc00\"", "\"\xff\""})
    CHECK_THROWS(rnnkit::parse_json(bad, "json"));
  CHECK_THROWS(rnnkit::parse_json(std::string(65, '[') + std::string(65, ']'), "json"));
  CHECK(rnnkit::parse_json(std::string(64, '[') + std::string(64, ']'), "json").kind == Json::Kind::array);
}

void test_valid_file() {
  const auto bytes = make_file(kTwoTensorHeader, two_tensor_data());
  const rnnkit::ModelFile file = rnnkit::parse_model_file(bytes.data(), bytes.size(), "test.rnnkit");
  CHECK(file.format_version == 1);
  CHECK(file.tensors.size() == 2 && file.tensors[0].name == "w");
  CHECK((file.tensor("w").shape == std::vector<std::int64_t>{2, 2}));
  CHECK((file.float32_values("w") == std::vector<float>{1.f, -2.f, 3.5f, 0.25f}));
  CHECK(file.int64_values("step") == std::vector<std::int64_t>{42});
  CHECK(file.weights == std::vector<std::string>{"w"});
  CHECK(file.optimizer_variables == std::vector<std::string>{"step"});
  CHECK(file.header.find("model_config")->find("class_name")->string == "Sequential");
  CHECK_THROWS(file.tensor("absent"));
  CHECK_THROWS(file.int64_values("w"));
}

void test_file_on_disk() {
  const std::string path = "test_model_file_tmp.rnnkit";
  const auto bytes = make_file(kTwoTensorHeader, two_tensor_data());
  std::FILE* f = std::fopen(path.c_str(), "wb");
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  CHECK(rnnkit::read_model_file(path).int64_values("step")[0] == 42);
  std::remove(path.c_str());
  CHECK_THROWS(rnnkit::read_model_file(path));
}

void test_malformed_files() {
  const auto data = two_tensor_data();
  const std::string one = R"({"format_version": 1, "weights": [], "optimizer_variables": [], "tensors": {"t": )";
  CHECK(rejects(one + R"({"dtype": "bfloat16", "shape": [1], "offsets": [0, 4]}}})", data, "unknown dtype"));
  CHECK(rejects(one + R"({"dtype": "float32", "shape": [1], "offsets": [0, 400]}}})", data, "outside the data"));
  CHECK(rejects(one + R"({"dtype": "float32", "shape": [4294967296, 4294967296], "offsets": [0, 4]}}})", data,
                "overflows"));
  CHECK(rejects(one + R"({"dtype": "float32", "shape": [3], "offsets": [0, 4]}}})", data, "need 12"));
  CHECK(rejects(R"({"format_version": 2})", data, "format_version 2"));
  CHECK(rejects(R"({"format_version": 1, "tensors": {"a": {"dtype": "float32", "shape": [2], "offsets": [0, 8]},)"
                R"( "b": {"dtype": "float32", "shape": [2], "offsets": [0, 8]}}, "weights": [],)"
                R"( "optimizer_variables": []})",
                data, "overlap"));
  const auto good = make_file(kTwoTensorHeader, data);
  for (std::size_t cut : {std::size_t{0}, std::size_t{7}, std::size_t{15}, std::size_t{20}, good.size() - 1})
    CHECK_THROWS(rnnkit::parse_model_file(good.data(), cut, "cut.rnnkit"));
}

}  // namespace

int main() {
  test_json_values();
  test_json_rejections();
  test_valid_file();
  test_file_on_disk();
  test_malformed_files();
  return rnnkit_test::failures();
}
