// rnnkit::load_model + Model::predict on a small Dense/softmax model written byte by byte.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"
#include "rnnkit/model.hpp"
#include "rnnkit/model_file.hpp"

namespace {

void write_file(const std::string& path, const std::string& header, const std::vector<float>& data) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  std::fwrite(rnnkit::kModelFileMagic, 1, 7, f);
  std::fputc(rnnkit::kModelFileVersion, f);
  for (int k = 0; k < 8; ++k) std::fputc(static_cast<int>((header.size() >> (8 * k)) & 0xFF), f);
  std::fwrite(header.data(), 1, header.size(), f);
  std::fwrite(data.data(), sizeof(float), data.size(), f);
  std::fclose(f);
}

std::string dense_model_header(const std::string& activation) {
  return R"({"format_version": 1, "compile_config": null, "optimizer_variables": [],)"
         R"( "model_config": {"class_name": "Sequential", "config": {"name": "s", "layers": [)"
         R"({"class_name": "InputLayer", "config": {"batch_shape": [null, 2]}},)"
         R"({"class_name": "Dense", "config": {"name": "d", "units": 2, "activation": ")" + activation + R"("}}]}},)"
         R"( "tensors": {"k": {"dtype": "float32", "shape": [2, 2], "offsets": [0, 16]},)"
         R"( "b": {"dtype": "float32", "shape": [2], "offsets": [16, 24]}}, "weights": ["k", "b"]})";
}

// kernel [[1, 2], [3, 4]], bias [0.5, -0.5]; x = [1, 1] -> logits [4.5, 5.5].
const std::vector<float> kDenseData = {1.f, 2.f, 3.f, 4.f, 0.5f, -0.5f};

void test_dense_linear_and_softmax() {
  const std::string path = "test_model_dense.rnnkit";
  write_file(path, dense_model_header("linear"), kDenseData);
  const rnnkit::Model linear = rnnkit::load_model(path);
  CHECK(linear.layer_count() == 1);
  const rnnkit::Tensor y = linear.predict({{1, 2}, {1.f, 1.f}});
  CHECK((y.shape == std::vector<std::int64_t>{1, 2}));
  CHECK(std::fabs(y.values[0] - 4.5f) < 1e-6f && std::fabs(y.values[1] - 5.5f) < 1e-6f);

  write_file(path, dense_model_header("softmax"), kDenseData);
  const rnnkit::Tensor p = rnnkit::load_model(path).predict({{1, 2}, {1.f, 1.f}});
  const float expected_first = 1.f / (1.f + std::exp(1.f));
  CHECK(std::fabs(p.values[0] - expected_first) < 1e-6f && std::fabs(p.values[0] + p.values[1] - 1.f) < 1e-6f);
  CHECK_THROWS(rnnkit::load_model(path).predict({{1, 3}, {1.f, 1.f}}));
  CHECK_THROWS(rnnkit::load_model(path).predict({{1, 4}, {1.f, 1.f, 1.f, 1.f}}));
  CHECK_THROWS(rnnkit::load_model(path).predict({{2}, {1.f, 1.f}}));
  std::remove(path.c_str());
}

void test_rejections_name_the_file() {
  const std::string path = "test_model_bad.rnnkit";
  write_file(path, dense_model_header("selu"), kDenseData);
  bool named = false;
  try {
    rnnkit::load_model(path);
  } catch (const std::invalid_argument& error) {
    named = std::string(error.what()).find(path) != std::string::npos;
  }
  CHECK(named);
  std::remove(path.c_str());
}

}  // namespace

int main() {
  test_dense_linear_and_softmax();
  test_rejections_name_the_file();
  return rnnkit_test::failures();
}
