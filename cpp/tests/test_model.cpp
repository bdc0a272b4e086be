// rnnkit::load_model + Model::predict on small Sequential and functional models written byte by byte, and the
// public Model API (views over caller memory, weights, rejections).
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
  write_file(path, dense_model_header("gelu_new"), kDenseData);
  bool named = false;
  try {
    rnnkit::load_model(path);
  } catch (const std::invalid_argument& error) {
    named = std::string(error.what()).find(path) != std::string::npos;
  }
  CHECK(named);
  std::remove(path.c_str());
}

// in -> a = Dense(2), b = Dense(2, no bias); add = a + b; cat = Concatenate([add, a]).
std::string functional_header() {
  const std::string ref_in = R"([["__keras_tensor__", "in", 0, 0]])";
  return R"({"format_version": 1, "compile_config": null, "optimizer_variables": [],)"
         R"( "model_config": {"class_name": "Functional", "config": {"name": "f", "layers": [)"
         R"({"class_name": "InputLayer", "config": {"batch_shape": [null, 2], "name": "in"}, "name": "in",)"
         R"( "inbound_nodes": []},)"
         R"({"class_name": "Dense", "config": {"name": "a", "units": 2}, "name": "a",)"
         R"( "inbound_nodes": [{"args": )" + ref_in + R"(, "kwargs": {}}]},)"
         R"({"class_name": "Dense", "config": {"name": "b", "units": 2, "use_bias": false}, "name": "b",)"
         R"( "inbound_nodes": [{"args": )" + ref_in + R"(, "kwargs": {}}]},)"
         R"({"class_name": "Add", "config": {"name": "add"}, "name": "add", "inbound_nodes": [{"args":)"
         R"( [[["__keras_tensor__", "a", 0, 0], ["__keras_tensor__", "b", 0, 0]]], "kwargs": {}}]},)"
         R"({"class_name": "Concatenate", "config": {"name": "cat", "axis": -1}, "name": "cat", "inbound_nodes":)"
         R"( [{"args": [[["__keras_tensor__", "add", 0, 0], ["__keras_tensor__", "a", 0, 0]]], "kwargs": {}}]}],)"
         R"( "input_layers": [["in", 0, 0]], "output_layers": [["cat", 0, 0]]}},)"
         R"( "tensors": {"ak": {"dtype": "float32", "shape": [2, 2], "offsets": [0, 16]},)"
         R"( "ab": {"dtype": "float32", "shape": [2], "offsets": [16, 24]},)"
         R"( "bk": {"dtype": "float32", "shape": [2, 2], "offsets": [24, 40]}}, "weights": ["ak", "ab", "bk"]})";
}

void test_functional_add_concatenate() {
  const std::string path = "test_model_functional.rnnkit";
  write_file(path, functional_header(), {1.f, 2.f, 3.f, 4.f, 0.5f, -0.5f, 1.f, 0.f, 0.f, 1.f});
  rnnkit::Model model = rnnkit::load_model(path);
  CHECK(model.layer_count() == 4);
  CHECK(model.weights().size() == 3);
  CHECK((model.output_shape() == rnnkit::Shape{4}));
  // a = [4.5, 5.5], b = [1, 1], add = [5.5, 6.5] for x = [1, 1]
  const std::vector<float> x = {1.f, 1.f, 0.f, 2.f};
  const rnnkit::Tensor y = model.predict(rnnkit::TensorView{{2, 2}, x.data()});
  CHECK((y.shape == std::vector<std::int64_t>{2, 4}));
  const std::vector<float> expected = {5.5f, 6.5f, 4.5f, 5.5f, 6.5f, 9.5f, 6.5f, 7.5f};
  for (std::size_t i = 0; i < expected.size(); ++i) CHECK(std::fabs(y.values[i] - expected[i]) < 1e-6f);

  // The graph's backward: y = [a + b, a], so with dL/dy = 1 every output, dL/da_kernel = 2 * x column sums,
  // dL/da_bias = 2 per row, dL/db_kernel = x column sums.
  rnnkit::Model::Trace trace;
  const rnnkit::Tensor y_train = model.forward_train({{2, 2}, x}, trace);
  CHECK(y_train.values == y.values);
  const std::vector<rnnkit::Tensor> g = model.backward(trace, {{2, 4}, std::vector<float>(8, 1.0f)});
  CHECK(g.size() == 3);
  CHECK((g[0].values == std::vector<float>{2.f, 2.f, 6.f, 6.f}));
  CHECK((g[1].values == std::vector<float>{4.f, 4.f}));
  CHECK((g[2].values == std::vector<float>{1.f, 1.f, 3.f, 3.f}));
  std::remove(path.c_str());
}

void test_tensor_and_view_checks() {
  CHECK_THROWS(rnnkit::Tensor({2, 3}, std::vector<float>(5)));
  CHECK(rnnkit::Tensor({2, 3}).values.size() == 6);
  const std::string path = "test_model_view.rnnkit";
  write_file(path, dense_model_header("linear"), kDenseData);
  const rnnkit::Model model = rnnkit::load_model(path);
  CHECK_THROWS(model.predict(rnnkit::TensorView{{1, 2}, nullptr}));
  std::remove(path.c_str());
}

void test_unsupported_model_class() {
  const std::string path = "test_model_class.rnnkit";
  std::string header = dense_model_header("linear");
  header.replace(header.find("\"Sequential\""), 12, "\"Subclassed\"");
  write_file(path, header, kDenseData);
  bool named = false;
  try {
    rnnkit::load_model(path);
  } catch (const std::invalid_argument& error) {
    named = std::string(error.what()).find("Subclassed") != std::string::npos;
  }
  CHECK(named);
  std::remove(path.c_str());
}

// A config declaring a huge layer must be refused by the shape check against the file, before any allocation.
void test_huge_declared_layer_is_refused_without_allocating() {
  const std::string path = "test_model_huge.rnnkit";
  std::string header = dense_model_header("linear");
  header.replace(header.find("\"units\": 2"), 10, "\"units\": 1099511627776");
  write_file(path, header, kDenseData);
  bool refused = false;
  try {
    rnnkit::load_model(path);
  } catch (const std::invalid_argument& error) {
    refused = std::string(error.what()).find("does not have the shape") != std::string::npos;
  }
  CHECK(refused);
  std::remove(path.c_str());
}

}  // namespace

int main() {
  test_huge_declared_layer_is_refused_without_allocating();
  test_dense_linear_and_softmax();
  test_rejections_name_the_file();
  test_functional_add_concatenate();
  test_tensor_and_view_checks();
  test_unsupported_model_class();
  return rnnkit_test::failures();
}
