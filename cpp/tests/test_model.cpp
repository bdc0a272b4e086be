// rnnkit::load_model + Model::predict on small Sequential and functional models written byte by byte, and the
// public Model API (views over caller memory, weights, rejections, save_model round trips).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "check.hpp"
#include "rnnkit/layers.hpp"
#include "rnnkit/model.hpp"
#include "rnnkit/model_file.hpp"

namespace {

void write_file(const std::string& path, const std::string& header, const std::vector<float>& data) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  std::fwrite(rnnkit::kModelFileMagic, 1, 7, f);
  std::fputc(rnnkit::kModelFileVersion, f);
  for (int k = 0; k < 8; ++k) std::fputc(static_cast<int>((header.size() >> (8 * k)) & 0xFF), f);
  std::fwrite(header.data(), 1, header.size(), f);
  if (!data.empty()) std::fwrite(data.data(), sizeof(float), data.size(), f);  // data() may be null when empty
  std::fclose(f);
}

// `model` written by save_model to `path` and read back by load_model (the file removed), its layers' configs
// checked equal to the original's.
rnnkit::Model saved_and_loaded(const rnnkit::Model& model, const std::string& path) {
  rnnkit::save_model(model, path);
  rnnkit::Model loaded = rnnkit::load_model(path);
  std::remove(path.c_str());
  CHECK(loaded.layer_count() == model.layer_count());
  for (std::size_t i = 0; i < model.layer_count() && i < loaded.layer_count(); ++i)
    CHECK(loaded.layer(i).config_json() == model.layer(i).config_json());
  return loaded;
}

// One config text edit: `from` replaced by `to`; `refusal` a part of the message load_model must refuse it with
// ("" for any message), or nullptr when the edited file loads.
struct ConfigEdit {
  const char* from;
  const char* to;
  const char* refusal;
};

// Each edit applied alone to `header`, written with `data` to `path` and loaded: refused naming the file (and
// `refusal`) or loaded, as the edit says.
template <std::size_t N>
void expect_config_edits(const std::string& path, const std::string& header, const std::vector<float>& data,
                         const ConfigEdit (&edits)[N]) {
  for (const ConfigEdit& edit : edits) {
    std::string edited = header;
    edited.replace(edited.find(edit.from), std::strlen(edit.from), edit.to);
    write_file(path, edited, data);
    std::string message;
    try {
      rnnkit::load_model(path);
    } catch (const std::invalid_argument& error) {
      message = error.what();
    }
    CHECK((edit.refusal ? message.find(path) != std::string::npos && message.find(edit.refusal) != std::string::npos
                        : message.empty()) &&
          edit.to);
  }
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

// in -> a = Dense(2), b = Dense(2, no bias), then `merges` (layer entries reading a and b), the last named "cat"
// the output. Weights: a's kernel and bias, b's kernel.
std::string functional_header(const std::string& merges) {
  const std::string ref_in = R"([["__keras_tensor__", "in", 0, 0]])";
  return R"({"format_version": 1, "compile_config": null, "optimizer_variables": [],)"
         R"( "model_config": {"class_name": "Functional", "config": {"name": "f", "layers": [)"
         R"({"class_name": "InputLayer", "config": {"batch_shape": [null, 2], "name": "in"}, "name": "in",)"
         R"( "inbound_nodes": []},)"
         R"({"class_name": "Dense", "config": {"name": "a", "units": 2}, "name": "a",)"
         R"( "inbound_nodes": [{"args": )" + ref_in + R"(, "kwargs": {}}]},)"
         R"({"class_name": "Dense", "config": {"name": "b", "units": 2, "use_bias": false}, "name": "b",)"
         R"( "inbound_nodes": [{"args": )" + ref_in + R"(, "kwargs": {}}]},)" +
         merges +
         R"(], "input_layers": [["in", 0, 0]], "output_layers": [["cat", 0, 0]]}},)"
         R"( "tensors": {"ak": {"dtype": "float32", "shape": [2, 2], "offsets": [0, 16]},)"
         R"( "ab": {"dtype": "float32", "shape": [2], "offsets": [16, 24]},)"
         R"( "bk": {"dtype": "float32", "shape": [2, 2], "offsets": [24, 40]}}, "weights": ["ak", "ab", "bk"]})";
}

// add = a + b; cat = Concatenate([add, a]).
std::string functional_header() {
  return functional_header(
      R"({"class_name": "Add", "config": {"name": "add"}, "name": "add", "inbound_nodes": [{"args":)"
      R"( [[["__keras_tensor__", "a", 0, 0], ["__keras_tensor__", "b", 0, 0]]], "kwargs": {}}]},)"
      R"({"class_name": "Concatenate", "config": {"name": "cat", "axis": -1}, "name": "cat", "inbound_nodes":)"
      R"( [{"args": [[["__keras_tensor__", "add", 0, 0], ["__keras_tensor__", "a", 0, 0]]], "kwargs": {}}]})");
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

// sub = a - b; avg = Average([sub, a, b]); cat = Concatenate([sub, avg]).
std::string subtract_average_header() {
  return functional_header(
      R"({"class_name": "Subtract", "config": {"name": "sub", "trainable": true, "dtype": "float32"},)"
      R"( "name": "sub", "inbound_nodes": [{"args":)"
      R"( [[["__keras_tensor__", "a", 0, 0], ["__keras_tensor__", "b", 0, 0]]], "kwargs": {}}]},)"
      R"({"class_name": "Average", "config": {"name": "avg", "trainable": true, "dtype": "float32"},)"
      R"( "name": "avg", "inbound_nodes": [{"args": [[["__keras_tensor__", "sub", 0, 0],)"
      R"( ["__keras_tensor__", "a", 0, 0], ["__keras_tensor__", "b", 0, 0]]], "kwargs": {}}]},)"
      R"({"class_name": "Concatenate", "config": {"name": "cat", "axis": -1}, "name": "cat", "inbound_nodes":)"
      R"( [{"args": [[["__keras_tensor__", "sub", 0, 0], ["__keras_tensor__", "avg", 0, 0]]], "kwargs": {}}]})");
}

void test_functional_subtract_average() {
  const std::string path = "test_model_subtract_average.rnnkit";
  const std::vector<float> data = {1.f, 2.f, 3.f, 4.f, 0.5f, -0.5f, 1.f, 0.f, 0.f, 1.f};
  write_file(path, subtract_average_header(), data);
  rnnkit::Model model = rnnkit::load_model(path);
  CHECK(model.layer_count() == 5);
  CHECK((model.output_shape() == rnnkit::Shape{4}));
  // For x = [1, 1]: a = [4.5, 5.5], b = [1, 1], sub = [3.5, 4.5], avg = (sub + a + b) / 3 = 2a / 3 = [3, 11 / 3].
  const std::vector<float> x = {1.f, 1.f, 0.f, 2.f};
  const rnnkit::Tensor y = model.predict({{2, 2}, x});
  CHECK((y.shape == std::vector<std::int64_t>{2, 4}));
  const std::vector<float> expected = {3.5f, 4.5f, 3.f, 11.f / 3.f, 6.5f, 5.5f, 13.f / 3.f, 5.f};
  for (std::size_t i = 0; i < expected.size(); ++i) CHECK(std::fabs(y.values[i] - expected[i]) < 1e-6f);

  // With dL/dy = 1: dL/da = 1 (from sub) + 2/3 (avg via sub and directly), dL/db = -1 (sub) + 0 (avg's -1/3 + 1/3),
  // so the kernels' gradients are x column sums times 5/3 and -1, the bias's 2 * 5/3.
  rnnkit::Model::Trace trace;
  CHECK(model.forward_train({{2, 2}, x}, trace).values == y.values);
  const std::vector<rnnkit::Tensor> g = model.backward(trace, {{2, 4}, std::vector<float>(8, 1.0f)});
  CHECK(g.size() == 3);
  const std::vector<std::vector<float>> expected_g = {
      {5.f / 3.f, 5.f / 3.f, 5.f, 5.f}, {10.f / 3.f, 10.f / 3.f}, {-1.f, -1.f, -3.f, -3.f}};
  for (std::size_t k = 0; k < expected_g.size(); ++k) {
    CHECK(g[k].values.size() == expected_g[k].size());
    for (std::size_t i = 0; i < expected_g[k].size(); ++i) CHECK(std::fabs(g[k].values[i] - expected_g[k][i]) < 1e-5f);
  }

  const ConfigEdit edits[] = {
      {R"([[["__keras_tensor__", "a", 0, 0], ["__keras_tensor__", "b", 0, 0]]])",
       R"([[["__keras_tensor__", "a", 0, 0], ["__keras_tensor__", "b", 0, 0], ["__keras_tensor__", "a", 0, 0]]])",
       "layer sub (Subtract) expects exactly 2 inputs, received 3"},
      {R"([[["__keras_tensor__", "sub", 0, 0], ["__keras_tensor__", "a", 0, 0], ["__keras_tensor__", "b", 0, 0]]])",
       R"([[["__keras_tensor__", "sub", 0, 0]]])", "layer avg (Average) expects at least 2 inputs, received 1"},
  };
  expect_config_edits(path, subtract_average_header(), data, edits);
  std::remove(path.c_str());
}

// in -> a = Dense(2), b = Dense(2, no bias); mul = Multiply([a, b]); max = Maximum([a, b, mul]);
// dot = Dot([max, a]) (cosine similarity along the features); cat = Concatenate([mul, max, dot]). The three merges'
// configs are given.
std::string product_merges_header(const std::string& mul, const std::string& max, const std::string& dot) {
  const std::string node = R"(, "inbound_nodes": [{"args": [[)";
  const std::string end = R"(]], "kwargs": {}}]},)";
  return functional_header(
      R"({"class_name": "Multiply", "config": )" + mul + R"(, "name": "mul")" + node +
      R"(["__keras_tensor__", "a", 0, 0], ["__keras_tensor__", "b", 0, 0])" + end +
      R"({"class_name": "Maximum", "config": )" + max + R"(, "name": "max")" + node +
      R"(["__keras_tensor__", "a", 0, 0], ["__keras_tensor__", "b", 0, 0], ["__keras_tensor__", "mul", 0, 0])" + end +
      R"({"class_name": "Dot", "config": )" + dot + R"(, "name": "dot")" + node +
      R"(["__keras_tensor__", "max", 0, 0], ["__keras_tensor__", "a", 0, 0])" + end +
      R"({"class_name": "Concatenate", "config": {"name": "cat", "axis": -1}, "name": "cat", "inbound_nodes":)"
      R"( [{"args": [[["__keras_tensor__", "mul", 0, 0], ["__keras_tensor__", "max", 0, 0],)"
      R"( ["__keras_tensor__", "dot", 0, 0]]], "kwargs": {}}]})");
}

std::string product_merges_header() {
  return product_merges_header(R"({"name": "mul"})", R"({"name": "max", "trainable": true, "dtype": "float32"})",
                               R"({"name": "dot", "axes": [1, -1], "normalize": true})");
}

// The model of product_merges_header in float64, for a's kernel [[1, 2], [3, 4]] and bias [0.5, -0.5] and b's
// kernel `bk` (row-major [in, out]).
std::vector<double> product_merges_reference(const std::vector<float>& x, const std::vector<float>& bk) {
  std::vector<double> y;
  for (std::size_t row = 0; row < x.size() / 2; ++row) {
    const double x0 = x[2 * row], x1 = x[2 * row + 1];
    const double a[2] = {x0 + 3 * x1 + 0.5, 2 * x0 + 4 * x1 - 0.5};
    const double b[2] = {x0 * bk[0] + x1 * bk[2], x0 * bk[1] + x1 * bk[3]};
    const double mul[2] = {a[0] * b[0], a[1] * b[1]};
    const double max[2] = {std::max({a[0], b[0], mul[0]}), std::max({a[1], b[1], mul[1]})};
    const double cosine = (max[0] * a[0] + max[1] * a[1]) / std::hypot(max[0], max[1]) / std::hypot(a[0], a[1]);
    y.insert(y.end(), {mul[0], mul[1], max[0], max[1], cosine});
  }
  return y;
}

void test_functional_multiply_maximum_dot() {
  const std::string path = "test_model_product_merges.rnnkit";
  std::vector<float> data = {1.f, 2.f, 3.f, 4.f, 0.5f, -0.5f, 0.5f, 0.f, 0.f, -1.f};
  write_file(path, product_merges_header(), data);
  rnnkit::Model model = rnnkit::load_model(path);
  CHECK(model.layer_count() == 6);
  CHECK((model.output_shape() == rnnkit::Shape{5}));
  // Rows whose a, b and mul stay 0.1 apart in every feature, so the probes below never cross a tie of the maximum.
  const std::vector<float> x = {1.f, 1.f, -1.f, 0.25f, -2.f, 1.f};
  const rnnkit::Tensor y = model.predict({{3, 2}, x});
  CHECK((y.shape == rnnkit::Shape{3, 5}));
  const std::vector<double> expected = product_merges_reference(x, {0.5f, 0.f, 0.f, -1.f});
  for (std::size_t i = 0; i < expected.size(); ++i) CHECK(std::fabs(y.values[i] - expected[i]) < 1e-5);

  // Keras' configs as the layers write them, and a model written from them predicts the same.
  CHECK(model.layer(2).config_json() == R"({"name": "mul", "trainable": true, "dtype": "float32"})");
  CHECK(model.layer(3).config_json() == R"({"name": "max", "trainable": true, "dtype": "float32"})");
  CHECK(model.layer(4).config_json() ==
        R"({"name": "dot", "trainable": true, "dtype": "float32", "axes": [1, -1], "normalize": true})");
  const std::string rewritten = product_merges_header(model.layer(2).config_json(), model.layer(3).config_json(),
                                                      model.layer(4).config_json());
  write_file(path, rewritten, data);
  const rnnkit::Model reloaded = rnnkit::load_model(path);
  for (std::size_t i = 2; i < 5; ++i) CHECK(reloaded.layer(i).config_json() == model.layer(i).config_json());
  CHECK(reloaded.predict({{3, 2}, x}).values == y.values);

  // The graph's backward through the three merges: weight gradients against central differences of predict.
  std::vector<float> r(y.values.size());
  for (std::size_t i = 0; i < r.size(); ++i) r[i] = std::cos(0.7f * static_cast<float>(i));
  rnnkit::Model::Trace trace;
  CHECK(model.forward_train({{3, 2}, x}, trace).values == y.values);
  const std::vector<rnnkit::Tensor> g = model.backward(trace, {y.shape, r});
  const std::vector<rnnkit::Weight*> weights = model.weights();
  CHECK(g.size() == weights.size());
  double worst = 0;
  for (std::size_t w = 0; w < weights.size() && w < g.size(); ++w)
    for (std::size_t i = 0; i < weights[w]->value.values.size(); ++i) {
      float& value = weights[w]->value.values[i];
      const float saved = value;
      double sums[2];
      for (int side = 0; side < 2; ++side) {
        value = saved + (side ? -1e-2f : 1e-2f);
        const rnnkit::Tensor probe = model.predict({{3, 2}, x});
        sums[side] = 0;
        for (std::size_t k = 0; k < r.size(); ++k) sums[side] += static_cast<double>(probe.values[k]) * r[k];
      }
      value = saved;
      const double numeric = (sums[0] - sums[1]) / 2e-2;
      worst = std::max(worst, std::fabs(g[w].values[i] - numeric) / (1.0 + std::fabs(numeric)));
    }
  CHECK(worst < 2e-3);

  const ConfigEdit edits[] = {
      {R"(["__keras_tensor__", "a", 0, 0], ["__keras_tensor__", "b", 0, 0]]])", R"(["__keras_tensor__", "a", 0, 0]]])",
       "layer mul (Multiply) expects at least 2 inputs, received 1"},
      {R"(["__keras_tensor__", "max", 0, 0], ["__keras_tensor__", "a", 0, 0]]])",
       R"(["__keras_tensor__", "max", 0, 0], ["__keras_tensor__", "a", 0, 0], ["__keras_tensor__", "b", 0, 0]]])",
       "layer dot (Dot) expects exactly 2 inputs, received 3"},
      {R"("axes": [1, -1])", R"("axes": [0, 1])", "layer dot (Dot) cannot take the dot product over the batch axis"},
      {R"("axes": [1, -1])", R"("axes": 2)", "layer dot (Dot) axis 2 is out of range for an input of shape (None, 2)"},
      {R"("axes": [1, -1])", R"("axes": [1, 1, 1])", "layer dot (Dot): axes must be an integer or a list of two"},
      {R"("axes": [1, -1])", R"("axes": null)", "axes must be an integer or a list of two integers"},
      {R"("normalize": true)", R"("normalize": 1)", "normalize must be true or false"},
      {R"("axes": [1, -1], "normalize": true)", R"("axes": -1)", nullptr},
  };
  expect_config_edits(path, product_merges_header(), data, edits);
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

// Conv1D(causal, relu) -> MaxPooling1D(same, strides null) -> AveragePooling1D(strides 1) as Keras 3 saves them,
// with sizes both as ints and as one-element lists.
std::string conv_model_header() {
  return R"({"format_version": 1, "compile_config": null, "optimizer_variables": [],)"
         R"( "model_config": {"class_name": "Sequential", "config": {"name": "s", "layers": [)"
         R"({"class_name": "InputLayer", "config": {"batch_shape": [null, null, 1]}},)"
         R"({"class_name": "Conv1D", "config": {"name": "conv", "filters": 1, "kernel_size": [2], "strides": 1,)"
         R"( "padding": "causal", "data_format": "channels_last", "dilation_rate": [1], "groups": 1,)"
         R"( "activation": "relu", "use_bias": true, "lora_rank": null}},)"
         R"({"class_name": "MaxPooling1D", "config": {"name": "max", "pool_size": [2], "padding": "same",)"
         R"( "strides": null, "data_format": "channels_last"}},)"
         R"({"class_name": "AveragePooling1D", "config": {"name": "avg", "pool_size": 2, "padding": "valid",)"
         R"( "strides": [1], "data_format": "channels_last"}}]}},)"
         R"( "tensors": {"k": {"dtype": "float32", "shape": [2, 1, 1], "offsets": [0, 8]},)"
         R"( "b": {"dtype": "float32", "shape": [1], "offsets": [8, 12]}}, "weights": ["k", "b"]})";
}

void test_conv_and_pooling_config() {
  const std::string path = "test_model_conv.rnnkit";
  // kernel taps [2, 1], bias -1.5: y[t] = relu(2 x[t-1] + x[t] - 1.5) with x[-1] = 0 (causal padding).
  write_file(path, conv_model_header(), {2.f, 1.f, -1.5f});
  const rnnkit::Model model = rnnkit::load_model(path);
  CHECK((model.output_shape() == rnnkit::Shape{-1, 1}));
  // conv: [0, 2.5, 5.5, 8.5, 11.5]; max over [0, 1], [2, 3], [4]: [2.5, 8.5, 11.5]; average of pairs: [5.5, 10].
  const rnnkit::Tensor y = model.predict({{1, 5, 1}, {1.f, 2.f, 3.f, 4.f, 5.f}});
  CHECK((y.shape == rnnkit::Shape{1, 2, 1}));
  CHECK((y.values == std::vector<float>{5.5f, 10.f}));

  const ConfigEdit edits[] = {
      {R"("data_format": "channels_last", "dilation_rate")", R"("data_format": "channels_first", "dilation_rate")",
       ""},
      {R"("groups": 1)", R"("groups": 2)", ""},
      {R"("lora_rank": null)", R"("lora_rank": 4)", ""},
      {R"("kernel_size": [2])", R"("kernel_size": [2, 2])", ""},
      {R"("padding": "causal")", R"("padding": "full")", ""},
      {R"("padding": "same")", R"("padding": "causal")", ""},  // MaxPooling1D's: pooling has no causal padding
      {R"("pool_size": [2])", R"("pool_size": 0)", ""},
      {R"("strides": 1,)", R"("strides": 2,)", nullptr},
      {R"("dilation_rate": [1])", R"("dilation_rate": [2])", nullptr},
      {R"("strides": 1, "padding": "causal", "data_format": "channels_last", "dilation_rate": [1])",
       R"("strides": 2, "padding": "causal", "data_format": "channels_last", "dilation_rate": [2])", ""},
  };
  expect_config_edits(path, conv_model_header(), {2.f, 1.f, -1.5f}, edits);
  std::remove(path.c_str());
}

// A "valid" window longer than the input is refused when building for a known length and (here) when called.
void test_valid_window_longer_than_the_input() {
  std::vector<std::unique_ptr<rnnkit::Layer>> layers;
  layers.push_back(rnnkit::layers::AveragePooling1D(3, 1));
  const rnnkit::Model model({-1, 1}, std::move(layers));
  CHECK((model.predict({{1, 3, 1}, {1.f, 2.f, 3.f}}).shape == rnnkit::Shape{1, 1, 1}));
  CHECK_THROWS(model.predict({{1, 2, 1}, {1.f, 2.f}}));
  std::vector<std::unique_ptr<rnnkit::Layer>> short_input;
  short_input.push_back(rnnkit::layers::Conv1D(1, 3));
  CHECK_THROWS(rnnkit::Model({1, 1}, std::move(short_input)));
}

// A model of these layers built in C++ survives save_model + load_model: same configs, weights and predictions.
void test_conv_and_pooling_round_trip() {
  rnnkit::layers::Conv1DOptions same;
  same.padding = "same";
  same.strides = 2;
  same.activation = "tanh";
  rnnkit::layers::Conv1DOptions causal;
  causal.padding = "causal";
  causal.dilation_rate = 2;
  causal.use_bias = false;
  std::vector<std::unique_ptr<rnnkit::Layer>> layers;
  layers.push_back(rnnkit::layers::Conv1D(4, 3, same));
  layers.push_back(rnnkit::layers::MaxPooling1D(2, 1, "same"));
  layers.push_back(rnnkit::layers::Conv1D(2, 2, causal));
  layers.push_back(rnnkit::layers::AveragePooling1D(2));
  const rnnkit::Model model({7, 3}, std::move(layers), 5);
  // steps 7 -> 4 (same, strides 2) -> 4 (same, strides 1) -> 4 (causal) -> 2 (valid, strides = pool_size)
  CHECK((model.output_shape() == rnnkit::Shape{2, 2}));
  const auto weights = model.weights();
  CHECK(weights.size() == 3);
  CHECK((weights[0]->name == "kernel" && weights[0]->value.shape == rnnkit::Shape{3, 3, 4}));
  CHECK((weights[1]->name == "bias" && weights[1]->value.shape == rnnkit::Shape{4}));
  CHECK((weights[2]->value.shape == rnnkit::Shape{2, 4, 2}));
  // glorot_uniform's fans count every kernel tap: limit sqrt(6 / (3 * 3 + 3 * 4)).
  for (float v : weights[0]->value.values) CHECK(std::fabs(v) <= std::sqrt(6.0f / 21.0f));
  CHECK(model.layer(0).config_json().find(R"("kernel_size": [3], "strides": [2], "padding": "same")") !=
        std::string::npos);
  CHECK(model.layer(3).config_json().find(R"("pool_size": [2], "padding": "valid", "strides": [2])") !=
        std::string::npos);

  const rnnkit::Model loaded = saved_and_loaded(model, "test_model_conv_round_trip.rnnkit");
  std::vector<float> x(2 * 7 * 3);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.7f * static_cast<float>(i));
  const rnnkit::Tensor y = model.predict({{2, 7, 3}, x});
  CHECK((y.shape == rnnkit::Shape{2, 2, 2}));
  CHECK(loaded.predict({{2, 7, 3}, x}).values == y.values);
}

// Reshape([-1, 2]) -> Permute([2, 1]) -> SpatialDropout1D as Keras 3 saves them (SpatialDropout1D's config has no
// "trainable").
std::string reshaping_model_header() {
  return R"({"format_version": 1, "compile_config": null, "optimizer_variables": [],)"
         R"( "model_config": {"class_name": "Sequential", "config": {"name": "s", "layers": [)"
         R"({"class_name": "InputLayer", "config": {"batch_shape": [null, 2, 3]}},)"
         R"({"class_name": "Reshape", "config": {"name": "reshape", "trainable": true, "dtype": "float32",)"
         R"( "target_shape": [-1, 2]}},)"
         R"({"class_name": "Permute", "config": {"name": "permute", "trainable": true, "dtype": "float32",)"
         R"( "dims": [2, 1]}},)"
         R"({"class_name": "SpatialDropout1D", "config": {"rate": 0.5, "seed": null, "name": "drop",)"
         R"( "dtype": "float32"}}]}},)"
         R"( "tensors": {}, "weights": []})";
}

void test_reshaping_config() {
  const std::string path = "test_model_reshaping.rnnkit";
  write_file(path, reshaping_model_header(), {});
  const rnnkit::Model model = rnnkit::load_model(path);
  CHECK((model.output_shape() == rnnkit::Shape{2, 3}));
  // Each example [0..5] becomes rows [[0, 1], [2, 3], [4, 5]], then their transpose; dropout is off in predict.
  const rnnkit::Tensor y = model.predict({{2, 2, 3}, {0.f, 1.f, 2.f, 3.f, 4.f, 5.f, 6.f, 7.f, 8.f, 9.f, 10.f, 11.f}});
  CHECK((y.shape == rnnkit::Shape{2, 2, 3}));
  CHECK((y.values == std::vector<float>{0.f, 2.f, 4.f, 1.f, 3.f, 5.f, 6.f, 8.f, 10.f, 7.f, 9.f, 11.f}));

  const ConfigEdit edits[] = {
      {R"("target_shape": [-1, 2])", R"("target_shape": [-1, -1])", "at most one -1"},
      {R"("target_shape": [-1, 2])", R"("target_shape": [0, -1])", "at most one -1"},
      {R"("target_shape": [-1, 2])", R"("target_shape": [4, 2])", "layer reshape (Reshape) cannot reshape"},
      {R"("target_shape": [-1, 2])", R"("target_shape": [-1, 4])", "layer reshape (Reshape) cannot reshape"},
      {R"("target_shape": [-1, 2])", R"("target_shape": 6)", "needs a list target_shape"},
      {R"("dims": [2, 1])", R"("dims": [1, 1])", "permutation of 1..2"},
      {R"("dims": [2, 1])", R"("dims": [2, 3])", "permutation of 1..2"},
      {R"("dims": [2, 1])", R"("dims": [2, 1.5])", "must be a list of integers"},
      {R"("dims": [2, 1])", R"("dims": [2, 3, 1])", "needs an input of 3 axes"},
      {R"("rate": 0.5)", R"("rate": 1.0)", "rate must be in [0, 1)"},
      {R"("rate": 0.5)", R"("rate": -0.1)", "rate must be in [0, 1)"},
      {R"("seed": null)", R"("seed": 7)", nullptr},
      {R"("target_shape": [-1, 2])", R"("target_shape": [3, 2])", nullptr},
  };
  expect_config_edits(path, reshaping_model_header(), {}, edits);
  std::remove(path.c_str());
}

// Reshape, Permute and SpatialDropout1D built in C++ survive save_model + load_model, and the loaded model trains.
void test_reshaping_round_trip() {
  std::vector<std::unique_ptr<rnnkit::Layer>> layers;
  layers.push_back(rnnkit::layers::Reshape({-1, 3}));
  layers.push_back(rnnkit::layers::Permute({2, 1}));
  layers.push_back(rnnkit::layers::SpatialDropout1D(0.3f));
  layers.push_back(rnnkit::layers::Dense(2));
  const rnnkit::Model model({4, 6}, std::move(layers), 3);
  CHECK((model.output_shape() == rnnkit::Shape{3, 2}));  // (4, 6) -> (8, 3) -> (3, 8) -> (3, 8) -> (3, 2)
  CHECK(model.layer(0).config_json().find(R"("target_shape": [-1, 3])") != std::string::npos);
  CHECK(model.layer(1).config_json().find(R"("dims": [2, 1])") != std::string::npos);
  CHECK(model.layer(2).config_json().find(R"("rate": 0.300000012, "seed": null)") != std::string::npos);

  rnnkit::Model loaded = saved_and_loaded(model, "test_model_reshaping_round_trip.rnnkit");
  std::vector<float> x(2 * 4 * 6);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.3f * static_cast<float>(i));
  const rnnkit::Tensor y = model.predict({{2, 4, 6}, x});
  CHECK((y.shape == rnnkit::Shape{2, 3, 2}));
  CHECK(loaded.predict({{2, 4, 6}, x}).values == y.values);

  rnnkit::Model::Trace trace;
  const rnnkit::Tensor y_train = loaded.forward_train({{2, 4, 6}, x}, trace);
  CHECK(y_train.shape == y.shape);
  const std::vector<rnnkit::Tensor> g = loaded.backward(trace, {{2, 3, 2}, std::vector<float>(12, 1.0f)});
  const auto weights = loaded.weights();
  CHECK(g.size() == weights.size());
  for (std::size_t k = 0; k < g.size() && k < weights.size(); ++k) {
    CHECK(g[k].shape == weights[k]->value.shape);
    for (float v : g[k].values) CHECK(std::isfinite(v));
  }
}

// BatchNormalization over a (3, 2) input as Keras 3 saves it: gamma [2, 1], beta [0.5, -1], moving_mean [1, -2],
// moving_variance [0.999, 3.999], so that with epsilon 0.001 the deviations are [1, 2].
std::string batch_normalization_model_header() {
  const std::string initializer = R"({"module": "keras.initializers", "class_name": "Ones", "config": {},)"
                                  R"( "registered_name": null})";
  return R"({"format_version": 1, "compile_config": null, "optimizer_variables": [],)"
         R"( "model_config": {"class_name": "Sequential", "config": {"name": "s", "layers": [)"
         R"({"class_name": "InputLayer", "config": {"batch_shape": [null, 3, 2]}},)"
         R"({"class_name": "BatchNormalization", "config": {"name": "bn", "trainable": true, "dtype": "float32",)"
         R"( "axis": -1, "momentum": 0.99, "epsilon": 0.001, "center": true, "scale": true,)"
         R"( "beta_initializer": )" + initializer + R"(, "gamma_initializer": )" + initializer +
         R"(, "moving_mean_initializer": )" + initializer + R"(, "moving_variance_initializer": )" + initializer +
         R"(, "beta_regularizer": null, "gamma_regularizer": null, "beta_constraint": null,)"
         R"( "gamma_constraint": null, "synchronized": false, "renorm": false, "renorm_clipping": null,)"
         R"( "renorm_momentum": 0.99}}]}},)"
         R"( "tensors": {"g": {"dtype": "float32", "shape": [2], "offsets": [0, 8]},)"
         R"( "b": {"dtype": "float32", "shape": [2], "offsets": [8, 16]},)"
         R"( "m": {"dtype": "float32", "shape": [2], "offsets": [16, 24]},)"
         R"( "v": {"dtype": "float32", "shape": [2], "offsets": [24, 32]}}, "weights": ["g", "b", "m", "v"]})";
}

void test_batch_normalization_config() {
  const std::string path = "test_model_batch_normalization.rnnkit";
  const std::vector<float> data = {2.f, 1.f, 0.5f, -1.f, 1.f, -2.f, 0.999f, 3.999f};
  write_file(path, batch_normalization_model_header(), data);
  const rnnkit::Model model = rnnkit::load_model(path);
  const auto weights = model.weights();
  CHECK(weights.size() == 4);
  for (std::size_t k = 0; k < weights.size(); ++k) CHECK(weights[k]->trainable == (k < 2));
  // Inference: gamma (x - moving_mean) / sqrt(moving_variance + epsilon) + beta.
  const rnnkit::Tensor y = model.predict({{1, 3, 2}, {1.f, 0.f, 3.f, -2.f, 0.f, 4.f}});
  const std::vector<float> expected = {0.5f, 0.f, 4.5f, -1.f, -1.5f, 2.f};
  CHECK((y.shape == rnnkit::Shape{1, 3, 2}));
  for (std::size_t i = 0; i < expected.size() && i < y.values.size(); ++i)
    CHECK(std::fabs(y.values[i] - expected[i]) < 1e-5f);

  const ConfigEdit edits[] = {
      {R"("axis": -1)", R"("axis": 2)", nullptr},  // the last axis, counting the batch
      {R"("axis": -1)", R"("axis": [2])", nullptr},
      {R"("axis": -1)", R"("axis": [-1])", nullptr},
      {R"("axis": -1)", R"("axis": 1)", "normalises over the last axis only, received axis=1"},
      {R"("axis": -1)", R"("axis": 0)", "normalises over the last axis only, received axis=0"},
      {R"("axis": -1)", R"("axis": -2)", "normalises over the last axis only"},
      {R"("axis": -1)", R"("axis": [1, 2])", "axis must be an integer or a list of one integer"},
      {R"("axis": -1)", R"("axis": 2.5)", "axis must be an integer"},
      {R"("synchronized": false)", R"("synchronized": true)", "synchronized=true is not supported"},
      {R"("renorm": false)", R"("renorm": true)", "renorm=true is not supported"},
      {R"("momentum": 0.99,)", R"("momentum": "fast",)", "momentum must be a number"},
      {R"("center": true)", R"("center": false)", "holds 4 weights but the model's layers use 3"},
      {R"("scale": true)", R"("scale": 1)", "scale must be true or false"},
      {R"("gamma_regularizer": null)", R"("gamma_regularizer": {"class_name": "L2", "config": {"l2": 0.01}})",
       "gamma_regularizer is not supported by the C++ model API"},  // refused rather than trained without
      {R"("trainable": true)", R"("trainable": false)", nullptr},  // a frozen layer (test_model_training)
  };
  expect_config_edits(path, batch_normalization_model_header(), data, edits);
  std::remove(path.c_str());
}

// BatchNormalization built in C++ (after an LSTM's sequences and after a Dense, one without gamma and beta)
// survives save_model + load_model with the moving statistics a training forward moved.
void test_batch_normalization_round_trip() {
  rnnkit::layers::RecurrentOptions sequences;
  sequences.return_sequences = true;
  std::vector<std::unique_ptr<rnnkit::Layer>> layers;
  layers.push_back(rnnkit::layers::LSTM(3, sequences));
  layers.push_back(rnnkit::layers::BatchNormalization(0.9f, 1e-2f));
  layers.push_back(rnnkit::layers::Dense(2));
  layers.push_back(rnnkit::layers::BatchNormalization(0.5f, 1e-3f, false, false));
  rnnkit::Model model({4, 2}, std::move(layers), 6);
  CHECK(model.layer(1).config_json() ==
        R"({"name": "batch_normalization", "trainable": true, "dtype": "float32", "axis": -1,)"
        R"( "momentum": 0.899999976, "epsilon": 0.00999999978, "center": true, "scale": true})");
  std::vector<float> x(2 * 4 * 2);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.9f * static_cast<float>(i));
  rnnkit::Model::Trace trace;
  model.forward_train({{2, 4, 2}, x}, trace);
  const auto weights = model.weights();
  CHECK(weights.size() == 3 + 4 + 2 + 2);  // LSTM, gamma beta and moving statistics, Dense, moving statistics
  CHECK(weights.back()->name == "moving_variance" && weights.back()->value.values != std::vector<float>(2, 1.0f));

  const rnnkit::Model loaded = saved_and_loaded(model, "test_model_batch_normalization_round_trip.rnnkit");
  const auto read = loaded.weights();
  CHECK(read.size() == weights.size());
  for (std::size_t k = 0; k < read.size() && k < weights.size(); ++k)
    CHECK(read[k]->name == weights[k]->name && read[k]->trainable == weights[k]->trainable &&
          read[k]->value.values == weights[k]->value.values);
  CHECK(loaded.predict({{2, 4, 2}, x}).values == model.predict({{2, 4, 2}, x}).values);
}

// Masking -> ReLU -> LeakyReLU -> ELU -> Softmax -> GlobalAveragePooling1D as Keras 3 saves them: the average
// of the softmaxes over the steps Masking keeps shows that each activation layer passes the mask on.
std::string activation_layers_model_header() {
  const std::string base = R"("trainable": true, "dtype": "float32", )";
  return R"({"format_version": 1, "compile_config": null, "optimizer_variables": [],)"
         R"( "model_config": {"class_name": "Sequential", "config": {"name": "s", "layers": [)"
         R"({"class_name": "InputLayer", "config": {"batch_shape": [null, 3, 2]}},)"
         R"({"class_name": "Masking", "config": {"name": "mask", )" + base + R"("mask_value": 0.0}},)"
         R"({"class_name": "ReLU", "config": {"name": "relu", )" + base +
         R"("max_value": 2.0, "negative_slope": 0.5, "threshold": 1.0}},)"
         R"({"class_name": "LeakyReLU", "config": {"name": "leaky", )" + base + R"("negative_slope": 0.2}},)"
         R"({"class_name": "ELU", "config": {"name": "elu", )" + base + R"("alpha": 0.5}},)"
         R"({"class_name": "Softmax", "config": {"name": "softmax", )" + base + R"("axis": -1}},)"
         R"({"class_name": "GlobalAveragePooling1D", "config": {"name": "avg", )" + base +
         R"("data_format": "channels_last", "keepdims": false}}]}},)"
         R"( "tensors": {}, "weights": []})";
}

void test_activation_layers_config() {
  const std::string path = "test_model_activation_layers.rnnkit";
  write_file(path, activation_layers_model_header(), {});
  const rnnkit::Tensor x({1, 3, 2}, {3.f, 0.5f, 0.f, 0.f, -1.f, 1.5f});  // the middle step is masked
  const rnnkit::Tensor y = rnnkit::load_model(path).predict(x);
  // ReLU: [3, 0.5] -> [2, -0.25] (3 clipped to max_value, 0.5 below threshold); [-1, 1.5] -> [-1, 1.5].
  // LeakyReLU: [2, -0.05], [-0.2, 1.5]. ELU: negatives become 0.5 * (e^x - 1). Softmax of two: 1 / (1 + e^(b - a)).
  const auto first = [](float a, float b) { return 1.f / (1.f + std::exp(b - a)); };
  const float expected = 0.5f * (first(2.f, 0.5f * std::expm1(-0.05f)) + first(0.5f * std::expm1(-0.2f), 1.5f));
  CHECK((y.shape == rnnkit::Shape{1, 2}));
  CHECK(std::fabs(y.values[0] - expected) < 1e-6f && std::fabs(y.values[1] - (1.f - expected)) < 1e-6f);

  // Keras 2's alpha, read when negative_slope is absent.
  std::string legacy = activation_layers_model_header();
  legacy.replace(legacy.find(R"("negative_slope": 0.2)"), 21, R"("alpha": 0.2)");
  write_file(path, legacy, {});
  const rnnkit::Model legacy_model = rnnkit::load_model(path);
  CHECK(legacy_model.predict(x).values == y.values);
  CHECK(legacy_model.layer(2).config_json().find(R"("negative_slope": 0.200000003})") != std::string::npos);

  const ConfigEdit edits[] = {
      {R"("max_value": 2.0)", R"("max_value": -1.0)", "layer relu (ReLU) max_value must be >= 0, received -1.0"},
      {R"("negative_slope": 0.5)", R"("negative_slope": -0.5)", "negative_slope must be >= 0"},
      {R"("threshold": 1.0)", R"("threshold": -1.0)", "threshold must be >= 0"},
      {R"("negative_slope": 0.2)", R"("negative_slope": -0.2)", "layer leaky (LeakyReLU) negative_slope must be"},
      {R"("alpha": 0.5)", R"("alpha": "half")", "alpha must be a number"},
      {R"("axis": -1)", R"("axis": 1)", "acts over the last axis only, received axis=1"},
      {R"("axis": -1)", R"("axis": [1, 2])", "axis must be an integer or a list of one integer"},
      {R"("axis": -1)", R"("axis": null)", "axis must be an integer"},
      {R"("max_value": 2.0)", R"("max_value": null)", nullptr},
      {R"("axis": -1)", R"("axis": 2)", nullptr},  // the last axis, counting the batch
      {R"("axis": -1)", R"("axis": [-1])", nullptr},
  };
  expect_config_edits(path, activation_layers_model_header(), {}, edits);
  std::remove(path.c_str());
}

// The activation layers built in C++: hand-computed outputs, Keras 3's configs, refused arguments, and a
// save_model + load_model round trip whose loaded model trains.
void test_activation_layers_round_trip() {
  using rnnkit::layers::ELU;
  using rnnkit::layers::LeakyReLU;
  using rnnkit::layers::ReLU;
  using rnnkit::layers::Softmax;
  const std::vector<float> x = {-1.f, 0.1f, 0.5f, 2.f};
  const auto expect_outputs = [&x](std::unique_ptr<rnnkit::Layer> layer, const std::vector<float>& expected) {
    std::vector<std::unique_ptr<rnnkit::Layer>> layers;
    layers.push_back(std::move(layer));
    const rnnkit::Tensor y = rnnkit::Model({4}, std::move(layers)).predict({{1, 4}, x});
    for (std::size_t i = 0; i < expected.size(); ++i) CHECK(std::fabs(y.values[i] - expected[i]) < 1e-6f);
  };
  expect_outputs(ReLU(), {0.f, 0.1f, 0.5f, 2.f});
  // Below threshold 0.2: -0.1 * (0.2 - x); above: x, clipped to 1.5.
  expect_outputs(ReLU(1.5f, 0.1f, 0.2f), {-0.12f, -0.01f, 0.5f, 1.5f});
  expect_outputs(ReLU(std::nullopt, 0.f, 0.2f), {0.f, 0.f, 0.5f, 2.f});
  expect_outputs(LeakyReLU(), {-0.3f, 0.1f, 0.5f, 2.f});
  expect_outputs(ELU(2.f), {2.f * std::expm1(-1.f), 0.1f, 0.5f, 2.f});
  float total = 0;
  for (float v : x) total += std::exp(v);
  expect_outputs(Softmax(), {std::exp(-1.f) / total, std::exp(0.1f) / total, std::exp(0.5f) / total,
                             std::exp(2.f) / total});

  CHECK(ReLU(1.5f, 0.1f, 0.2f, "r")->config_json() ==
        R"({"name": "r", "trainable": true, "dtype": "float32", "max_value": 1.5, "negative_slope": 0.100000001,)"
        R"( "threshold": 0.200000003})");
  CHECK(ReLU(std::nullopt, 0.f, 0.f, "r")->config_json().find(R"("max_value": null, "negative_slope": 0.0,)") !=
        std::string::npos);
  CHECK(LeakyReLU(0.5f, "l")->config_json() ==
        R"({"name": "l", "trainable": true, "dtype": "float32", "negative_slope": 0.5})");
  CHECK(ELU(1.f, "e")->config_json() == R"({"name": "e", "trainable": true, "dtype": "float32", "alpha": 1.0})");
  CHECK(Softmax("s")->config_json() == R"({"name": "s", "trainable": true, "dtype": "float32", "axis": -1})");
  CHECK_THROWS(ReLU(-1.f));
  CHECK_THROWS(ReLU(std::nullopt, -0.1f));
  CHECK_THROWS(ReLU(std::nullopt, 0.f, -0.2f));
  CHECK_THROWS(LeakyReLU(-0.1f));

  std::vector<std::unique_ptr<rnnkit::Layer>> layers;
  layers.push_back(rnnkit::layers::Dense(4));
  layers.push_back(ReLU(1.5f, 0.1f, 0.2f));
  layers.push_back(LeakyReLU());
  layers.push_back(ELU(0.7f));
  layers.push_back(Softmax());
  const rnnkit::Model model({3, 2}, std::move(layers), 4);
  rnnkit::Model loaded = saved_and_loaded(model, "test_model_activation_layers_round_trip.rnnkit");
  std::vector<float> inputs(2 * 3 * 2);
  for (std::size_t i = 0; i < inputs.size(); ++i) inputs[i] = 2.f * std::sin(0.8f * static_cast<float>(i));
  const rnnkit::Tensor y = model.predict({{2, 3, 2}, inputs});
  CHECK((y.shape == rnnkit::Shape{2, 3, 4}));
  CHECK(loaded.predict({{2, 3, 2}, inputs}).values == y.values);

  rnnkit::Model::Trace trace;
  CHECK(loaded.forward_train({{2, 3, 2}, inputs}, trace).values == y.values);
  std::vector<float> d_y(y.values.size());
  for (std::size_t i = 0; i < d_y.size(); ++i) d_y[i] = std::cos(0.5f * static_cast<float>(i));
  const std::vector<rnnkit::Tensor> g = loaded.backward(trace, {y.shape, d_y});
  CHECK(g.size() == 2);
  for (const rnnkit::Tensor& t : g)
    for (float v : t.values) CHECK(std::isfinite(v));
}

}  // namespace

int main() {
  test_huge_declared_layer_is_refused_without_allocating();
  test_dense_linear_and_softmax();
  test_rejections_name_the_file();
  test_functional_add_concatenate();
  test_functional_subtract_average();
  test_functional_multiply_maximum_dot();
  test_tensor_and_view_checks();
  test_unsupported_model_class();
  test_conv_and_pooling_config();
  test_valid_window_longer_than_the_input();
  test_conv_and_pooling_round_trip();
  test_reshaping_config();
  test_reshaping_round_trip();
  test_batch_normalization_config();
  test_batch_normalization_round_trip();
  test_activation_layers_config();
  test_activation_layers_round_trip();
  return rnnkit_test::failures();
}
