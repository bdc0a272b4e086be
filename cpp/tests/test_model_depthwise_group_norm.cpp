// DepthwiseConv1D, SeparableConv1D and GroupNormalization in the C++ model API: outputs against float64 references
// written from Keras' definitions, save_model + load_model round trips, and the arguments and configs refused.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"
#include "rnnkit/layers.hpp"
#include "rnnkit/model.hpp"
#include "rnnkit/model_file.hpp"
#include "rnnkit/training.hpp"

namespace {

using rnnkit::Shape;
using rnnkit::Tensor;

Tensor random_tensor(Shape shape, std::mt19937_64& rng) {
  Tensor t(std::move(shape));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : t.values) v = normal(rng);
  return t;
}

void randomize_weights(rnnkit::Model& model, std::mt19937_64& rng) {
  std::normal_distribution<float> normal(0.0f, 0.5f);
  for (rnnkit::Weight* w : model.weights())
    for (float& v : w->value.values) v = normal(rng);
}

double max_difference(const std::vector<float>& got, const std::vector<double>& expected) {
  double worst = got.size() == expected.size() ? 0.0 : INFINITY;
  for (std::size_t i = 0; i < got.size() && i < expected.size(); ++i)
    worst = std::fmax(worst, std::fabs(got[i] - expected[i]));
  return worst;
}

// Keras' depthwise convolution of x (batch, steps, channels) with kernel (size, channels, multiplier), straight from
// its definition: output channel c * multiplier + j at step t sums x[t * stride - pad_left + k * dilation, c] *
// kernel[k, c, j] over the taps inside the input, where "same" pads max(0, (steps_out - 1) * stride + span - steps)
// steps, the odd one on the right. Then bias (when given) and no activation.
std::vector<double> depthwise_reference(const Tensor& x, const std::vector<float>& kernel, const float* bias,
                                        std::int64_t size, std::int64_t multiplier, std::int64_t stride,
                                        std::int64_t dilation, bool same, std::int64_t& steps_out) {
  const std::int64_t batch = x.shape[0], steps = x.shape[1], channels = x.shape[2];
  const std::int64_t span = dilation * (size - 1) + 1;
  steps_out = same ? (steps + stride - 1) / stride : (steps - span) / stride + 1;
  const std::int64_t pad_left = same ? std::max<std::int64_t>(0, (steps_out - 1) * stride + span - steps) / 2 : 0;
  std::vector<double> y(static_cast<std::size_t>(batch * steps_out * channels * multiplier));
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t t = 0; t < steps_out; ++t)
      for (std::int64_t c = 0; c < channels; ++c)
        for (std::int64_t j = 0; j < multiplier; ++j) {
          double sum = bias ? bias[c * multiplier + j] : 0.0;
          for (std::int64_t k = 0; k < size; ++k) {
            const std::int64_t s = t * stride - pad_left + k * dilation;
            if (s >= 0 && s < steps)
              sum += double(x.values[(b * steps + s) * channels + c]) * kernel[(k * channels + c) * multiplier + j];
          }
          y[((b * steps_out + t) * channels + c) * multiplier + j] = sum;
        }
  return y;
}

// DepthwiseConv1D(same, strides 2, multiplier 2) and SeparableConv1D(valid, dilation 2, multiplier 3) against the
// reference (SeparableConv1D's: the depthwise result times the pointwise kernel, plus bias). Tolerance 1e-5: float32
// sums of at most 3 * 6 products of values below about 3.
void test_outputs_match_the_definitions() {
  std::mt19937_64 rng(3);
  const Tensor x = random_tensor({2, 7, 3}, rng);
  rnnkit::layers::DepthwiseConv1DOptions same;
  same.padding = "same", same.strides = 2, same.depth_multiplier = 2;
  std::vector<std::unique_ptr<rnnkit::Layer>> depthwise;
  depthwise.push_back(rnnkit::layers::DepthwiseConv1D(3, same));
  rnnkit::Model depthwise_model({7, 3}, std::move(depthwise), 1);
  randomize_weights(depthwise_model, rng);
  const auto dw = depthwise_model.weights();
  std::int64_t steps_out = 0;
  const std::vector<double> expected =
      depthwise_reference(x, dw[0]->value.values, dw[1]->value.values.data(), 3, 2, 2, 1, true, steps_out);
  const Tensor y = depthwise_model.predict(x);
  CHECK((y.shape == Shape{2, steps_out, 6} && steps_out == 4));
  CHECK(max_difference(y.values, expected) < 1e-5);

  rnnkit::layers::DepthwiseConv1DOptions dilated;
  dilated.dilation_rate = 2, dilated.depth_multiplier = 3;
  std::vector<std::unique_ptr<rnnkit::Layer>> separable;
  separable.push_back(rnnkit::layers::SeparableConv1D(4, 2, dilated));
  rnnkit::Model separable_model({7, 3}, std::move(separable), 2);
  randomize_weights(separable_model, rng);
  const auto sw = separable_model.weights();
  CHECK(sw.size() == 3 && sw[0]->name == "depthwise_kernel" && sw[1]->name == "pointwise_kernel" &&
        sw[2]->name == "bias");
  CHECK((sw[0]->value.shape == Shape{2, 3, 3} && sw[1]->value.shape == Shape{1, 9, 4} &&
         sw[2]->value.shape == Shape{4}));
  const std::vector<double> middle =
      depthwise_reference(x, sw[0]->value.values, nullptr, 2, 3, 1, 2, false, steps_out);
  std::vector<double> mixed(static_cast<std::size_t>(2 * steps_out * 4));
  for (std::int64_t r = 0; r < 2 * steps_out; ++r)
    for (std::int64_t f = 0; f < 4; ++f) {
      double sum = sw[2]->value.values[f];
      for (std::int64_t m = 0; m < 9; ++m) sum += middle[r * 9 + m] * sw[1]->value.values[m * 4 + f];
      mixed[r * 4 + f] = sum;
    }
  const Tensor z = separable_model.predict(x);
  CHECK((z.shape == Shape{2, steps_out, 4} && steps_out == 5));
  CHECK(max_difference(z.values, mixed) < 1e-5);
}

// GroupNormalization(2) of (2, 3, 4): channels {0, 1} and {2, 3} of each sample, each normalised over its 6 values
// (biased variance) with epsilon 0.01, then gamma and beta per channel. Tolerance 1e-5 on outputs of order 1.
void test_group_normalization_matches_the_definition() {
  std::mt19937_64 rng(4);
  const Tensor x = random_tensor({2, 3, 4}, rng);
  std::vector<std::unique_ptr<rnnkit::Layer>> stack;
  stack.push_back(rnnkit::layers::GroupNormalization(2, 0.01f));
  rnnkit::Model model({3, 4}, std::move(stack), 1);
  const auto weights = model.weights();
  CHECK(weights.size() == 2 && weights[0]->name == "gamma" && weights[1]->name == "beta");
  CHECK(weights[0]->value.values == std::vector<float>(4, 1.0f));  // Keras' initializers: ones, zeros
  CHECK(weights[1]->value.values == std::vector<float>(4, 0.0f));
  randomize_weights(model, rng);
  std::vector<double> expected(x.values.size());
  for (std::int64_t b = 0; b < 2; ++b)
    for (std::int64_t g = 0; g < 2; ++g) {
      double sum = 0, squares = 0;
      for (std::int64_t t = 0; t < 3; ++t)
        for (std::int64_t c = 2 * g; c < 2 * g + 2; ++c) sum += x.values[(b * 3 + t) * 4 + c];
      const double mean = sum / 6;
      for (std::int64_t t = 0; t < 3; ++t)
        for (std::int64_t c = 2 * g; c < 2 * g + 2; ++c)
          squares += (x.values[(b * 3 + t) * 4 + c] - mean) * (x.values[(b * 3 + t) * 4 + c] - mean);
      const double deviation = std::sqrt(squares / 6 + 0.01);
      for (std::int64_t t = 0; t < 3; ++t)
        for (std::int64_t c = 2 * g; c < 2 * g + 2; ++c) {
          const std::size_t i = static_cast<std::size_t>((b * 3 + t) * 4 + c);
          expected[i] = (x.values[i] - mean) / deviation * weights[0]->value.values[c] + weights[1]->value.values[c];
        }
    }
  CHECK(max_difference(model.predict(x).values, expected) < 1e-5);
}

// DepthwiseConv1D -> SeparableConv1D -> GroupNormalization -> GlobalAveragePooling1D -> Dense built in C++, trained
// one forward, saved and loaded: the same configs (checked text), weights and predictions (bit for bit).
rnnkit::Model stacked_model() {
  rnnkit::layers::DepthwiseConv1DOptions depthwise;
  depthwise.depth_multiplier = 2, depthwise.padding = "same", depthwise.strides = 2, depthwise.activation = "relu";
  depthwise.name = "depthwise";
  rnnkit::layers::DepthwiseConv1DOptions separable;
  separable.dilation_rate = 2, separable.activation = "tanh", separable.use_bias = false, separable.name = "separable";
  std::vector<std::unique_ptr<rnnkit::Layer>> stack;
  stack.push_back(rnnkit::layers::DepthwiseConv1D(3, depthwise));
  stack.push_back(rnnkit::layers::SeparableConv1D(4, 2, separable));
  // Groups of 2 channels: after one group a channel the average over the steps would be beta whatever x.
  stack.push_back(rnnkit::layers::GroupNormalization(2, 1e-3f, true, true, "norm"));
  stack.push_back(rnnkit::layers::GlobalAveragePooling1D());
  stack.push_back(rnnkit::layers::Dense(2));
  return rnnkit::Model({9, 3}, std::move(stack), 5);
}

void test_round_trip() {
  rnnkit::Model model = stacked_model();
  // steps 9 -> 5 (same, strides 2) -> 3 (valid, span 3)
  CHECK((model.layer(1).config_json() ==
         R"({"name": "separable", "trainable": true, "dtype": "float32", "filters": 4, "kernel_size": [2],)"
         R"( "strides": [1], "padding": "valid", "depth_multiplier": 1, "data_format": "channels_last",)"
         R"( "dilation_rate": [2], "activation": "tanh", "use_bias": false})"));
  CHECK(model.layer(2).config_json().find(R"("groups": 2, "axis": -1)") != std::string::npos);
  const char* names[] = {"kernel", "bias", "depthwise_kernel", "pointwise_kernel", "gamma", "beta", "kernel", "bias"};
  const auto weights = model.weights();
  CHECK(weights.size() == 8);
  for (std::size_t k = 0; k < weights.size() && k < 8; ++k) CHECK(weights[k]->name == names[k]);
  std::mt19937_64 rng(6);
  randomize_weights(model, rng);
  const Tensor x = random_tensor({2, 9, 3}, rng);

  const std::string path = "test_model_depthwise_group_norm_round_trip.rnnkit";
  rnnkit::save_model(model, path);
  const rnnkit::Model loaded = rnnkit::load_model(path);
  std::remove(path.c_str());
  CHECK(loaded.layer_count() == model.layer_count());
  for (std::size_t i = 0; i < model.layer_count() && i < loaded.layer_count(); ++i)
    CHECK(loaded.layer(i).config_json() == model.layer(i).config_json());
  const auto read = loaded.weights();
  CHECK(read.size() == weights.size());
  for (std::size_t k = 0; k < read.size() && k < weights.size(); ++k)
    CHECK(read[k]->name == weights[k]->name && read[k]->value.values == weights[k]->value.values);
  const Tensor y = model.predict(x);
  CHECK((y.shape == Shape{2, 2}));
  CHECK(loaded.predict(x).values == y.values);
}

// Two-channel sequences; the target is the mean over the steps of the product of the channels, which needs the
// channels mixed (SeparableConv1D's pointwise kernel) and a non-linearity (its relu).
void correlation_task(std::mt19937_64& rng, std::int64_t batch, Tensor& x, Tensor& y) {
  const std::int64_t steps = 12;
  x = random_tensor({batch, steps, 2}, rng);
  y = Tensor({batch, 1});
  for (std::int64_t b = 0; b < batch; ++b) {
    float total = 0;
    for (std::int64_t t = 0; t < steps; ++t) total += x.values[(b * steps + t) * 2] * x.values[(b * steps + t) * 2 + 1];
    y.values[b] = total / steps;
  }
}

// Trained in C++ with Adam on fresh batches, the model's loss on held-out sequences falls by an order of magnitude
// (observed 0.232 -> 0.0135).
void test_the_layers_train() {
  rnnkit::layers::DepthwiseConv1DOptions doubled;
  doubled.depth_multiplier = 4, doubled.padding = "same";
  rnnkit::layers::DepthwiseConv1DOptions mixed;
  mixed.activation = "relu";
  std::vector<std::unique_ptr<rnnkit::Layer>> stack;
  stack.push_back(rnnkit::layers::DepthwiseConv1D(1, doubled));
  stack.push_back(rnnkit::layers::SeparableConv1D(8, 1, mixed));
  stack.push_back(rnnkit::layers::GroupNormalization(4));
  stack.push_back(rnnkit::layers::GlobalAveragePooling1D());
  stack.push_back(rnnkit::layers::Dense(1));
  rnnkit::Model model({12, 2}, std::move(stack), 7);
  rnnkit::Optimizer adam(rnnkit::AdamConfig{0.01f});
  std::mt19937_64 rng(8);
  Tensor x_eval, y_eval, x, y;
  correlation_task(rng, 256, x_eval, y_eval);
  const double initial = rnnkit::evaluate(model, x_eval, y_eval, rnnkit::LossConfig{});
  for (int step = 0; step < 300; ++step) {
    correlation_task(rng, 32, x, y);
    rnnkit::train_on_batch(model, x, y, rnnkit::LossConfig{}, adam);
  }
  const double trained = rnnkit::evaluate(model, x_eval, y_eval, rnnkit::LossConfig{});
  std::printf("correlation task: loss %.5f -> %.5f\n", initial, trained);
  CHECK(trained < initial / 10);
}

// The file `model` saves, with `from` replaced by `to` in its header, loaded: the message load_model throws, or ""
// when it loads.
std::string load_error_after_edit(const rnnkit::Model& model, const std::string& from, const std::string& to) {
  const std::string path = "test_model_depthwise_group_norm_edit.rnnkit";
  rnnkit::save_model(model, path);
  const rnnkit::ModelFile file = rnnkit::read_model_file(path);
  std::string header = file.header_text;
  const std::size_t at = header.find(from);
  CHECK(at != std::string::npos && "the edit's text is in the header");
  if (at != std::string::npos) header.replace(at, from.size(), to);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  std::fwrite(rnnkit::kModelFileMagic, 1, sizeof rnnkit::kModelFileMagic, f);
  std::fputc(rnnkit::kModelFileVersion, f);
  for (int k = 0; k < 8; ++k) std::fputc(static_cast<int>((header.size() >> (8 * k)) & 0xFF), f);
  std::fwrite(header.data(), 1, header.size(), f);
  std::fwrite(file.data.data(), 1, file.data.size(), f);
  std::fclose(f);
  std::string message;
  try {
    rnnkit::load_model(path);
  } catch (const std::invalid_argument& error) {
    message = error.what();
  }
  std::remove(path.c_str());
  return message;
}

void test_configs_refused_with_clear_errors() {
  const rnnkit::Model model = stacked_model();
  struct Edit {
    const char* from;
    const char* to;
    const char* refusal;  // a part of the message, which also names the file and the layer; nullptr: it loads
  };
  const Edit edits[] = {
      {R"("name": "depthwise", "trainable": true, "dtype": "float32", "kernel_size": [3], "strides": [2],)"
       R"( "padding": "same", "depth_multiplier": 2, "data_format": "channels_last")",
       R"("name": "depthwise", "trainable": true, "dtype": "float32", "kernel_size": [3], "strides": [2],)"
       R"( "padding": "same", "depth_multiplier": 2, "data_format": "channels_first")",
       "layer depthwise (DepthwiseConv1D): only data_format=channels_last is supported"},
      {R"("filters": 4, "kernel_size": [2], "strides": [1], "padding": "valid", "depth_multiplier": 1,)"
       R"( "data_format": "channels_last")",
       R"("filters": 4, "kernel_size": [2], "strides": [1], "padding": "valid", "depth_multiplier": 1,)"
       R"( "data_format": "channels_first")",
       "layer separable (SeparableConv1D): only data_format=channels_last is supported"},
      {R"("padding": "same")", R"("padding": "causal")", R"(padding must be "valid" or "same", received "causal")"},
      {R"("depth_multiplier": 2)", R"("depth_multiplier": 0)", "depth_multiplier, received 3, 2, 1, 0"},
      {R"("kernel_size": [3])", R"("kernel_size": [3, 3])", "kernel_size must be a positive integer or a list of one"},
      {R"("dilation_rate": [2])", R"("dilation_rate": [2, 2])", "dilation_rate must be a positive integer"},
      {R"("strides": [1], "padding": "valid")", R"("strides": [2], "padding": "valid")",
       "layer separable (SeparableConv1D) cannot combine strides > 1 with dilation_rate > 1"},
      {R"("filters": 4)", R"("filters": 0)", "separable (SeparableConv1D) needs a positive integer filters"},
      {R"("activation": "tanh")", R"("activation": "no_such_activation")", "no_such_activation"},
      {R"("use_bias": false)", R"("use_bias": false, "pointwise_regularizer": {"class_name": "L2"})",
       "pointwise_regularizer is not supported by the C++ model API"},
      {R"("groups": 2)", R"("groups": 3)", "layer norm (GroupNormalization) 4 channels do not split into 3 groups"},
      {R"("groups": 2)", R"("groups": 0)", "groups must be positive or -1 (one group a channel), received 0"},
      {R"("groups": 2)", R"("groups": -1)", nullptr},  // one group a channel
      {R"("groups": 2)", R"("groups": 4)", nullptr},   // gamma and beta are per channel, whatever the groups
      {R"("axis": -1)", R"("axis": 1)", "layer norm (GroupNormalization) normalises over the last axis only"},
      {R"("axis": -1)", R"("axis": 2)", nullptr},  // the last axis, counting the batch
      {R"("epsilon": 0.00100000005)", R"("epsilon": "small")", "epsilon must be a number"},
  };
  for (const Edit& edit : edits) {
    const std::string message = load_error_after_edit(model, edit.from, edit.to);
    const bool as_expected = edit.refusal == nullptr
                                 ? message.empty()
                                 : message.find("test_model_depthwise_group_norm_edit.rnnkit") != std::string::npos &&
                                       message.find(edit.refusal) != std::string::npos;
    if (!as_expected) std::fprintf(stderr, "edit to %s: message \"%s\"\n", edit.to, message.c_str());
    CHECK(as_expected);
  }
}

// The factories refuse bad arguments naming the layer; building refuses inputs that do not fit.
void test_factory_arguments() {
  using namespace rnnkit::layers;
  const auto message = [](auto&& make) {
    try {
      make();
    } catch (const std::invalid_argument& error) {
      return std::string(error.what());
    }
    return std::string();
  };
  DepthwiseConv1DOptions causal;
  causal.padding = "causal";
  DepthwiseConv1DOptions strided_dilated;
  strided_dilated.strides = 2, strided_dilated.dilation_rate = 2;
  DepthwiseConv1DOptions bad_activation;
  bad_activation.activation = "no_such_activation";
  DepthwiseConv1DOptions no_multiplier;
  no_multiplier.depth_multiplier = 0;
  CHECK(message([&] { DepthwiseConv1D(3, causal); }).find("(DepthwiseConv1D) padding must be \"valid\" or \"same\"") !=
        std::string::npos);
  CHECK(message([&] { SeparableConv1D(2, 3, strided_dilated); }).find("(SeparableConv1D) cannot combine") !=
        std::string::npos);
  CHECK(message([&] { DepthwiseConv1D(3, bad_activation); }).find("(DepthwiseConv1D)") != std::string::npos);
  CHECK(message([&] { DepthwiseConv1D(3, no_multiplier); }).find("depth_multiplier") != std::string::npos);
  CHECK(message([&] { DepthwiseConv1D(0); }).find("needs positive kernel_size") != std::string::npos);
  CHECK(message([&] { SeparableConv1D(0, 2); }).find("(SeparableConv1D) needs positive filters") != std::string::npos);
  CHECK(message([&] { GroupNormalization(-2); }).find("(GroupNormalization) groups must be positive or -1") !=
        std::string::npos);

  std::mt19937_64 rng(1);
  CHECK(message([&] { GroupNormalization(4)->build({5, 6}, &rng); }).find("6 channels do not split into 4") !=
        std::string::npos);
  CHECK(message([&] { GroupNormalization(8)->build({5, 4}, &rng); }).find("4 channels do not split into 8") !=
        std::string::npos);
  CHECK(message([&] { GroupNormalization(2)->build({5, -1}, &rng); }).find("known last dimension") !=
        std::string::npos);
  const auto per_channel = GroupNormalization(-1);
  per_channel->build({5, 4}, &rng);
  CHECK(per_channel->config_json().find(R"("groups": 4)") != std::string::npos);  // resolved, as Python writes it
  CHECK(message([&] { DepthwiseConv1D(2)->build({5}, &rng); }).find("(steps, channels) input") != std::string::npos);
  CHECK(message([&] { SeparableConv1D(2, 4)->build({3, 2}, &rng); }).find("shorter than the window's span 4") !=
        std::string::npos);
}

}  // namespace

int main() {
  test_outputs_match_the_definitions();
  test_group_normalization_matches_the_definition();
  test_round_trip();
  test_the_layers_train();
  test_configs_refused_with_clear_errors();
  test_factory_arguments();
  return rnnkit_test::failures();
}
