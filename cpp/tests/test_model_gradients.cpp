// Every C++ layer's backward against central finite differences of its own forward (an independent reference:
// it only uses forward). Loss = sum(y * r) for a fixed random r, so dL/dy = r.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "check.hpp"
#include "rnnkit/layers.hpp"
#include "rnnkit/model.hpp"

namespace {

using rnnkit::Layer;
using rnnkit::Shape;
using rnnkit::Tensor;

Tensor random_tensor(Shape shape, std::mt19937_64& rng, float scale = 1.0f) {
  Tensor t(std::move(shape));
  std::normal_distribution<float> normal(0.0f, scale);
  for (float& v : t.values) v = normal(rng);
  return t;
}

double weighted_sum(const Layer& layer, const Tensor& x, const rnnkit::StepMask& mask, const Tensor& r,
                    bool training) {
  rnnkit::StepMask m = mask;
  std::mt19937_64 rng(0);
  rnnkit::TrainingStep step{rng, nullptr};
  const Tensor y = layer.forward(x, m, training ? &step : nullptr);
  double total = 0;
  for (std::size_t i = 0; i < y.values.size(); ++i) total += static_cast<double>(y.values[i]) * r.values[i];
  return total;
}

// Max |analytic - numeric| / (1 + |numeric|) over every input (unless ids) and weight entry. The probes run
// inference forwards, or with training_probes training forwards, for layers whose training output is another
// function (BatchNormalization's, of the batch's statistics; a dropout layer's, of its masks).
double gradient_error(Layer& layer, const Shape& example_shape, std::int64_t batch, const rnnkit::StepMask& mask,
                      bool differentiable_input, const Tensor* given_x = nullptr, bool training_probes = false) {
  std::mt19937_64 rng(7);
  const Shape out = layer.build(example_shape, &rng);
  Shape x_shape{batch};
  x_shape.insert(x_shape.end(), example_shape.begin(), example_shape.end());
  Tensor x = given_x ? *given_x : random_tensor(x_shape, rng);
  Shape y_shape{batch};
  y_shape.insert(y_shape.end(), out.begin(), out.end());
  const Tensor r = random_tensor(y_shape, rng);

  rnnkit::StepMask m = mask;
  // With training probes, the forward draws what each probe's draws (weighted_sum's fresh rng): the same dropout
  // masks, for a layer that has them.
  std::mt19937_64 probe_rng(0);
  rnnkit::TrainingStep step{training_probes ? probe_rng : rng, nullptr};
  const Tensor y = layer.forward(x, m, &step);
  CHECK(y.shape == y_shape);
  const rnnkit::LayerGradients g = layer.backward(*step.cache, r);
  CHECK(g.d_x.shape == x.shape);
  const auto weights = layer.weights();
  CHECK(g.d_weights.size() == weights.size());

  const float eps = 1e-2f;
  double worst = 0;
  auto probe = [&](float& value, float analytic) {
    const float saved = value;
    value = saved + eps;
    const double plus = weighted_sum(layer, x, mask, r, training_probes);
    value = saved - eps;
    const double minus = weighted_sum(layer, x, mask, r, training_probes);
    value = saved;
    const double numeric = (plus - minus) / (2.0 * eps);
    worst = std::max(worst, std::fabs(analytic - numeric) / (1.0 + std::fabs(numeric)));
  };
  if (differentiable_input)
    for (std::size_t i = 0; i < x.values.size(); ++i) probe(x.values[i], g.d_x.values[i]);
  for (std::size_t k = 0; k < weights.size(); ++k) {
    CHECK(g.d_weights[k].shape == weights[k]->value.shape);
    if (!weights[k]->trainable) continue;  // state or frozen: no gradient to check
    for (std::size_t i = 0; i < weights[k]->value.values.size(); ++i)
      probe(weights[k]->value.values[i], g.d_weights[k].values[i]);
  }
  return worst;
}

void expect_close(const char* what, double error) {
  std::printf("%-40s max relative error %.2e\n", what, error);
  CHECK(error < 2e-3 && what);  // observed <= 3e-4 with eps = 1e-2 in float32
}

void test_dense_and_activations() {
  using namespace rnnkit::layers;
  expect_close("Dense(tanh)", gradient_error(*Dense(4, "tanh"), {3}, 5, {}, true));
  expect_close("Dense(softmax) over (time, features)", gradient_error(*Dense(4, "softmax"), {2, 3}, 3, {}, true));
  expect_close("Dense(no bias, linear)", gradient_error(*Dense(2, "linear", false), {3}, 2, {}, true));
  expect_close("Activation(sigmoid)", gradient_error(*Activation("sigmoid"), {6}, 3, {}, true));
  // Derivatives that read the pre-activation the layer keeps (not a function of the output).
  expect_close("Dense(gelu)", gradient_error(*Dense(4, "gelu"), {3}, 5, {}, true));
  expect_close("Dense(silu) over (time, features)", gradient_error(*Dense(3, "silu"), {2, 3}, 3, {}, true));
  expect_close("Activation(mish)", gradient_error(*Activation("mish"), {6}, 3, {}, true));
  expect_close("Activation(tanh_shrink)", gradient_error(*Activation("tanh_shrink"), {6}, 3, {}, true));
  expect_close("Dense(log_softmax)", gradient_error(*Dense(4, "log_softmax"), {3}, 5, {}, true));
  expect_close("Activation(sparsemax)", gradient_error(*Activation("sparsemax"), {2, 5}, 3, {}, true));
  expect_close("Dense(leaky_relu)", gradient_error(*Dense(4, "leaky_relu"), {3}, 5, {}, true));
  expect_close("Flatten", gradient_error(*Flatten(), {2, 3}, 2, {}, true));
  expect_close("RepeatVector", gradient_error(*RepeatVector(3), {4}, 2, {}, true));
  expect_close("GlobalAveragePooling1D", gradient_error(*GlobalAveragePooling1D(), {5, 3}, 2, {}, true));
  expect_close("GlobalAveragePooling1D masked",
               gradient_error(*GlobalAveragePooling1D(), {3, 2}, 2, {1, 1, 0, 1, 0, 0}, true));
  expect_close("GlobalMaxPooling1D", gradient_error(*GlobalMaxPooling1D(), {5, 3}, 2, {}, true));
  expect_close("TimeDistributed(Dense(sigmoid))", gradient_error(*TimeDistributed(Dense(3, "sigmoid")), {4, 2}, 2, {}, true));
}

// ReLU, LeakyReLU and ELU on values 0.1 apart that stay 0.05 from every kink (0, and ReLU's threshold 0.2 and
// max_value 1.5), so each probe stays on one side of it.
void test_activation_layers() {
  using namespace rnnkit::layers;
  Tensor x({3, 4, 4});
  for (std::size_t i = 0; i < x.values.size(); ++i) x.values[i] = 0.1f * static_cast<float>(i) - 2.35f;
  expect_close("ReLU(1.5, 0.1, 0.2)", gradient_error(*ReLU(1.5f, 0.1f, 0.2f), {4, 4}, 3, {}, true, &x));
  expect_close("ReLU()", gradient_error(*ReLU(), {4, 4}, 3, {}, true, &x));
  expect_close("LeakyReLU()", gradient_error(*LeakyReLU(), {4, 4}, 3, {}, true, &x));
  expect_close("ELU(0.7)", gradient_error(*ELU(0.7f), {4, 4}, 3, {}, true, &x));
  expect_close("Softmax over (time, features)", gradient_error(*Softmax(), {4, 3}, 2, {}, true));
}

// Distinct values 0.1 apart in a random order: no max pooling window holds two within the 1e-2 probe step, so every
// probe stays on one side of the max's kink.
Tensor spaced_values(Shape shape, std::mt19937_64& rng) {
  Tensor t(std::move(shape));
  for (std::size_t i = 0; i < t.values.size(); ++i) t.values[i] = 0.1f * static_cast<float>(i) - 1.0f;
  std::shuffle(t.values.begin(), t.values.end(), rng);
  return t;
}

void test_conv_and_pooling() {
  using namespace rnnkit::layers;
  Conv1DOptions same_stride_2;
  same_stride_2.padding = "same";
  same_stride_2.strides = 2;
  Conv1DOptions causal_dilated;
  causal_dilated.padding = "causal";
  causal_dilated.dilation_rate = 2;
  Conv1DOptions tanh_no_bias;
  tanh_no_bias.activation = "tanh";
  tanh_no_bias.use_bias = false;
  Conv1DOptions gelu_same;
  gelu_same.activation = "gelu";
  gelu_same.padding = "same";
  expect_close("Conv1D valid", gradient_error(*Conv1D(3, 2), {5, 2}, 2, {}, true));
  // 6 steps: the padding step goes on the right, as Keras splits it.
  expect_close("Conv1D same strides=2", gradient_error(*Conv1D(3, 3, same_stride_2), {6, 2}, 2, {}, true));
  expect_close("Conv1D causal dilation_rate=2", gradient_error(*Conv1D(2, 3, causal_dilated), {6, 2}, 2, {}, true));
  expect_close("Conv1D(tanh, no bias)", gradient_error(*Conv1D(3, 2, tanh_no_bias), {5, 3}, 2, {}, true));
  expect_close("Conv1D(gelu) same", gradient_error(*Conv1D(2, 4, gelu_same), {5, 2}, 2, {}, true));
  Conv1DTransposeOptions transpose_same_stride_2;
  transpose_same_stride_2.padding = "same";
  transpose_same_stride_2.strides = 2;
  transpose_same_stride_2.activation = "tanh";
  Conv1DTransposeOptions transpose_padded;
  transpose_padded.strides = 3;
  transpose_padded.output_padding = 2;
  transpose_padded.use_bias = false;
  Conv1DTransposeOptions transpose_dilated_same;
  transpose_dilated_same.padding = "same";
  transpose_dilated_same.dilation_rate = 2;
  transpose_dilated_same.output_padding = 0;
  expect_close("Conv1DTranspose(tanh) same strides=2",
               gradient_error(*Conv1DTranspose(3, 3, transpose_same_stride_2), {4, 2}, 2, {}, true));
  expect_close("Conv1DTranspose valid strides=3 output_padding=2",
               gradient_error(*Conv1DTranspose(2, 4, transpose_padded), {3, 3}, 2, {}, true));
  expect_close("Conv1DTranspose same dilation_rate=2 output_padding=0",
               gradient_error(*Conv1DTranspose(2, 2, transpose_dilated_same), {5, 2}, 2, {}, true));

  std::mt19937_64 rng(11);
  const Tensor x_valid = spaced_values({2, 6, 3}, rng);
  const Tensor x_same = spaced_values({2, 7, 2}, rng);
  expect_close("MaxPooling1D valid", gradient_error(*MaxPooling1D(2), {6, 3}, 2, {}, true, &x_valid));
  expect_close("MaxPooling1D same pool=3 strides=2",
               gradient_error(*MaxPooling1D(3, 2, "same"), {7, 2}, 2, {}, true, &x_same));
  expect_close("AveragePooling1D valid", gradient_error(*AveragePooling1D(2), {7, 3}, 2, {}, true));
  expect_close("AveragePooling1D same pool=3 strides=1",
               gradient_error(*AveragePooling1D(3, 1, "same"), {5, 2}, 2, {}, true));

  // The layers drop a mask, as Keras 3's do.
  rnnkit::StepMask mask{1, 1, 0, 0};
  std::mt19937_64 build_rng(1);
  const auto conv = Conv1D(2, 1);
  conv->build({2, 1}, &build_rng);
  conv->forward(Tensor({2, 2, 1}), mask, nullptr);
  CHECK(mask.empty());
}

// DepthwiseConv1D and SeparableConv1D over the window variants of Keras (valid, same with strides, dilated), with
// activations whose backward reads the output (tanh) or the pre-activation (gelu); both drop a mask, as Keras 3's.
void test_depthwise_and_separable_conv() {
  using namespace rnnkit::layers;
  DepthwiseConv1DOptions doubled;
  doubled.depth_multiplier = 2;
  DepthwiseConv1DOptions same_stride_2;
  same_stride_2.padding = "same";
  same_stride_2.strides = 2;
  same_stride_2.activation = "tanh";
  DepthwiseConv1DOptions dilated_no_bias;
  dilated_no_bias.dilation_rate = 2;
  dilated_no_bias.depth_multiplier = 3;
  dilated_no_bias.use_bias = false;
  DepthwiseConv1DOptions gelu_same;
  gelu_same.activation = "gelu";
  gelu_same.padding = "same";
  gelu_same.depth_multiplier = 2;
  gelu_same.dilation_rate = 2;
  expect_close("DepthwiseConv1D valid multiplier=2", gradient_error(*DepthwiseConv1D(2, doubled), {5, 3}, 2, {}, true));
  // 6 steps: the padding step goes on the right, as Keras splits it.
  expect_close("DepthwiseConv1D same strides=2 tanh",
               gradient_error(*DepthwiseConv1D(3, same_stride_2), {6, 2}, 2, {}, true));
  expect_close("DepthwiseConv1D dilated, no bias",
               gradient_error(*DepthwiseConv1D(3, dilated_no_bias), {7, 2}, 2, {}, true));
  expect_close("SeparableConv1D valid multiplier=2", gradient_error(*SeparableConv1D(3, 2, doubled), {5, 3}, 2, {},
                                                                     true));
  expect_close("SeparableConv1D same strides=2 tanh",
               gradient_error(*SeparableConv1D(2, 3, same_stride_2), {6, 2}, 2, {}, true));
  expect_close("SeparableConv1D dilated, no bias",
               gradient_error(*SeparableConv1D(4, 3, dilated_no_bias), {7, 2}, 2, {}, true));
  expect_close("SeparableConv1D(gelu) same dilated", gradient_error(*SeparableConv1D(3, 2, gelu_same), {5, 2}, 3, {},
                                                                     true));
  std::mt19937_64 build_rng(1);
  for (const auto& layer : {DepthwiseConv1D(1), SeparableConv1D(2, 1)}) {
    layer->build({2, 1}, &build_rng);
    rnnkit::StepMask mask{1, 1, 0, 0};
    layer->forward(Tensor({2, 2, 1}), mask, nullptr);
    CHECK(mask.empty());
  }
}

// The statistics are functions of x in training and at inference alike (no moving state); gamma and beta with
// either missing, several positions per channel, one position (a (batch, channels) input), one group a channel.
// The mask passes through, as in Keras (which leaves it out of the statistics).
void test_group_normalization_gradients() {
  using rnnkit::layers::GroupNormalization;
  expect_close("GroupNormalization(2) over steps", gradient_error(*GroupNormalization(2), {4, 6}, 3, {}, true));
  expect_close("GroupNormalization(1) (batch, channels)", gradient_error(*GroupNormalization(1), {5}, 3, {}, true));
  expect_close("GroupNormalization(-1) over (steps, width)",
               gradient_error(*GroupNormalization(-1), {3, 2, 4}, 2, {}, true));
  expect_close("GroupNormalization scale only",
               gradient_error(*GroupNormalization(3, 1e-2f, false, true), {4, 6}, 2, {}, true));
  expect_close("GroupNormalization center only",
               gradient_error(*GroupNormalization(2, 1e-3f, true, false), {4, 4}, 2, {}, true));
  expect_close("GroupNormalization neither", gradient_error(*GroupNormalization(2, 1e-3f, false, false), {4, 4}, 2,
                                                            {}, true));
  const auto norm = GroupNormalization(2);
  std::mt19937_64 rng(2);
  norm->build({3, 4}, &rng);
  rnnkit::StepMask mask{1, 1, 0, 1, 0, 0};
  const rnnkit::StepMask given = mask;
  norm->forward(random_tensor({2, 3, 4}, rng), mask, nullptr);
  CHECK(mask == given);
}

void test_layer_normalization_gradients() {
  using rnnkit::layers::LayerNormalization;
  expect_close("LayerNormalization over steps", gradient_error(*LayerNormalization(), {4, 6}, 3, {}, true));
  expect_close("LayerNormalization (batch, features)", gradient_error(*LayerNormalization(1e-2f), {5}, 3, {}, true));
  expect_close("LayerNormalization scale only",
               gradient_error(*LayerNormalization(1e-3f, false, true), {3, 4}, 2, {}, true));
  expect_close("LayerNormalization center only",
               gradient_error(*LayerNormalization(1e-3f, true, false), {3, 4}, 2, {}, true));
  const auto norm = LayerNormalization();
  std::mt19937_64 rng(2);
  norm->build({3, 4}, &rng);
  rnnkit::StepMask mask{1, 1, 0, 1, 0, 0};
  const rnnkit::StepMask given = mask;
  norm->forward(random_tensor({2, 3, 4}, rng), mask, nullptr);
  CHECK(mask == given);
}

// Rescaling by numbers and by arrays broadcast over the trailing axes; AlphaDropout in training, whose probes draw the
// same masks (noise_shape too); the adaptive poolings with overlapping bins (7 steps to 3) and with more output steps
// than input steps (3 to 5), the max over values 0.1 apart so each probe stays on one side of its kink.
void test_rescaling_alpha_dropout_adaptive_pooling() {
  using namespace rnnkit::layers;
  expect_close("Rescaling(1.5, -0.25)", gradient_error(*Rescaling(1.5f, -0.25f), {4, 3}, 2, {}, true));
  expect_close("Rescaling(scale {3}, offset {4, 1})",
               gradient_error(*Rescaling(Tensor({3}, {0.5f, -2.0f, 3.0f}), Tensor({4, 1}, {1, 2, 3, 4})), {4, 3}, 2,
                              {}, true));
  expect_close("AlphaDropout(0.3) training",
               gradient_error(*AlphaDropout(0.3f), {5, 4}, 3, {}, true, nullptr, true));
  expect_close("AlphaDropout(0.4, noise_shape {-1, 1, 4}) training",
               gradient_error(*AlphaDropout(0.4f, "", {-1, 1, 4}), {5, 4}, 3, {}, true, nullptr, true));
  expect_close("AdaptiveAveragePooling1D(3) of 7 steps",
               gradient_error(*AdaptiveAveragePooling1D(3), {7, 2}, 2, {}, true));
  expect_close("AdaptiveAveragePooling1D(5) of 3 steps",
               gradient_error(*AdaptiveAveragePooling1D(5), {3, 2}, 2, {}, true));
  std::mt19937_64 rng(13);
  const Tensor x_long = spaced_values({2, 7, 2}, rng);
  const Tensor x_short = spaced_values({2, 3, 2}, rng);
  expect_close("AdaptiveMaxPooling1D(3) of 7 steps",
               gradient_error(*AdaptiveMaxPooling1D(3), {7, 2}, 2, {}, true, &x_long));
  expect_close("AdaptiveMaxPooling1D(5) of 3 steps",
               gradient_error(*AdaptiveMaxPooling1D(5), {3, 2}, 2, {}, true, &x_short));
}

void test_position_layers_gradients() {
  using rnnkit::layers::PositionEmbedding;
  using rnnkit::layers::SinePositionEncoding;
  expect_close("PositionEmbedding(6) over 4 steps", gradient_error(*PositionEmbedding(6), {4, 3}, 2, {}, true));
  expect_close("SinePositionEncoding (no input gradient)",
               gradient_error(*SinePositionEncoding(), {4, 6}, 2, {}, true));
  const auto sine = SinePositionEncoding(100.0);
  std::mt19937_64 rng(2);
  sine->build({3, 4}, &rng);
  rnnkit::StepMask mask{1, 0, 0};
  const Tensor y = sine->forward(random_tensor({1, 3, 4}, rng), mask, nullptr);
  // position 2: sin(2), cos(2), sin(2 / 10), cos(2 / 10)
  const double expected[4] = {std::sin(2.0), std::cos(2.0), std::sin(0.2), std::cos(0.2)};
  for (int i = 0; i < 4; ++i) CHECK(std::fabs(y.values[8 + i] - expected[i]) < 1e-6);
  CHECK((mask == rnnkit::StepMask{1, 0, 0}));
  CHECK_THROWS(PositionEmbedding(3)->build({4, 2}, &rng));
}

void test_reshape_and_permute() {
  using namespace rnnkit::layers;
  expect_close("Reshape({-1, 2})", gradient_error(*Reshape({-1, 2}), {2, 3}, 2, {}, true));
  expect_close("Permute({3, 1, 2})", gradient_error(*Permute({3, 1, 2}), {2, 3, 4}, 2, {}, true));

  // Where each value goes: y[b, i, j, k] = x[b, j, k, i], and both drop a mask, as Keras 3's do.
  std::mt19937_64 rng(5);
  const auto permute = Permute({3, 1, 2});
  CHECK((permute->build({2, 3, 4}, &rng) == Shape{4, 2, 3}));
  const Tensor x = random_tensor({2, 2, 3, 4}, rng);
  rnnkit::StepMask mask{1, 0};
  const Tensor y = permute->forward(x, mask, nullptr);
  CHECK(mask.empty());
  CHECK((y.shape == Shape{2, 4, 2, 3}));
  bool moved = true;
  for (std::size_t b = 0; b < 2; ++b)
    for (std::size_t i = 0; i < 4; ++i)
      for (std::size_t j = 0; j < 2; ++j)
        for (std::size_t k = 0; k < 3; ++k)
          moved = moved && y.values[((b * 4 + i) * 2 + j) * 3 + k] == x.values[((b * 2 + j) * 3 + k) * 4 + i];
  CHECK(moved);
  const auto reshape = Reshape({3, -1});
  CHECK((reshape->build({2, 3, 4}, &rng) == Shape{3, 8}));
  CHECK((reshape->build({-1, 4}, &rng) == Shape{3, -1}));  // inferred when called
  mask = {1, 0};
  const Tensor r = reshape->forward(x, mask, nullptr);
  CHECK(mask.empty());
  CHECK((r.shape == Shape{2, 3, 8} && r.values == x.values));
  CHECK_THROWS(reshape->forward(Tensor({1, 5, 1}), mask, nullptr));  // 5 values do not split into 3 rows
  CHECK_THROWS(Reshape({4, 5})->build({2, 3}, &rng));
  CHECK_THROWS(Reshape({-1, -1}));
  CHECK_THROWS(Reshape({0, 2}));
  CHECK_THROWS(Reshape({-1, std::int64_t{1} << 32, std::int64_t{1} << 32}));  // sizes whose product overflows
  CHECK_THROWS(Permute({1, 3}));
  CHECK_THROWS(Permute({2, 2}));
  CHECK_THROWS(Permute({2, 1})->build({2, 3, 4}, &rng));
}

// ZeroPadding1D, Cropping1D and UpSampling1D move whole steps (zeros where padded), each drops the mask, and their
// backward adds each copy's gradient into its source; Identity keeps values and mask.
void test_steps_resizing() {
  using namespace rnnkit::layers;
  expect_close("ZeroPadding1D(1, 2)", gradient_error(*ZeroPadding1D(1, 2), {3, 2}, 2, {}, true));
  expect_close("Cropping1D(1, 1)", gradient_error(*Cropping1D(1, 1), {4, 2}, 2, {}, true));
  expect_close("UpSampling1D(3)", gradient_error(*UpSampling1D(3), {3, 2}, 2, {}, true));
  expect_close("Identity", gradient_error(*Identity(), {3, 2}, 2, {}, true));
  std::mt19937_64 rng(6);
  const Tensor x = random_tensor({2, 3, 2}, rng);  // batch 2, steps 3, features 2
  const auto at = [](const Tensor& t, std::int64_t b, std::int64_t s, std::int64_t f) {
    return t.values[static_cast<std::size_t>((b * t.shape[1] + s) * t.shape[2] + f)];
  };
  struct Case {
    std::unique_ptr<Layer> layer;
    std::int64_t steps;
    std::function<std::int64_t(std::int64_t)> source;  // the input step an output step copies, -1 for zeros
  };
  Case cases[] = {{ZeroPadding1D(1, 2), 6, [](std::int64_t s) { return s >= 1 && s < 4 ? s - 1 : -1; }},
                  {Cropping1D(1, 1), 1, [](std::int64_t s) { return s + 1; }},
                  {UpSampling1D(2), 6, [](std::int64_t s) { return s / 2; }}};
  for (Case& c : cases) {
    CHECK((c.layer->build({3, 2}, &rng) == Shape{c.steps, 2}));
    rnnkit::StepMask mask{1, 1, 0, 1, 0, 0};
    const Tensor y = c.layer->forward(x, mask, nullptr);
    CHECK(mask.empty());
    CHECK((y.shape == Shape{2, c.steps, 2}));
    bool placed = true;
    for (std::int64_t b = 0; b < 2; ++b)
      for (std::int64_t s = 0; s < c.steps; ++s)
        for (std::int64_t f = 0; f < 2; ++f)
          placed = placed && at(y, b, s, f) == (c.source(s) < 0 ? 0.0f : at(x, b, c.source(s), f));
    CHECK(placed);
  }
  rnnkit::StepMask kept{1, 0, 1, 1, 1, 0};
  const rnnkit::StepMask given = kept;
  CHECK(Identity()->forward(x, kept, nullptr).values == x.values);
  CHECK(kept == given);
  CHECK_THROWS(Cropping1D(2, 1)->build({3, 2}, &rng));  // nothing left
  CHECK_THROWS(ZeroPadding1D(-1, 1));
  CHECK_THROWS(UpSampling1D(0));
  CHECK_THROWS(UpSampling1D(2)->build({3}, &rng));
}

void test_embedding() {
  Tensor ids({2, 4}, {1, 2, 0, 3, 4, 4, 1, 0});
  expect_close("Embedding", gradient_error(*rnnkit::layers::Embedding(5, 3), {4}, 2, {}, false, &ids));
  // Untied, the lookup leaves reverse_embeddings alone: its gradient is zero, as the probes find.
  expect_close("ReversibleEmbedding tied",
               gradient_error(*rnnkit::layers::ReversibleEmbedding(5, 3), {4}, 2, {}, false, &ids));
  expect_close("ReversibleEmbedding untied",
               gradient_error(*rnnkit::layers::ReversibleEmbedding(5, 3, false), {4}, 2, {}, false, &ids));
}

void test_recurrent() {
  using namespace rnnkit::layers;
  RecurrentOptions seq;
  seq.return_sequences = true;
  RecurrentOptions back = seq;
  back.go_backwards = true;
  RecurrentOptions no_reset;
  no_reset.reset_after = false;
  RecurrentOptions zero;
  zero.return_sequences = zero.zero_output_for_mask = true;
  const rnnkit::StepMask mask{1, 1, 1, 0, 1, 1, 0, 0};  // (batch 2, time 4)
  expect_close("SimpleRNN", gradient_error(*SimpleRNN(3), {4, 2}, 2, {}, true));
  expect_close("LSTM return_sequences", gradient_error(*LSTM(3, seq), {4, 2}, 2, {}, true));
  expect_close("LSTM go_backwards masked", gradient_error(*LSTM(3, back), {4, 2}, 2, mask, true));
  expect_close("PeepholeLSTM", gradient_error(*PeepholeLSTM(3, seq), {4, 2}, 2, {}, true));
  expect_close("GRU reset_after", gradient_error(*GRU(3, seq), {4, 2}, 2, {}, true));
  expect_close("GRU reset_after=false", gradient_error(*GRU(3, no_reset), {4, 2}, 2, {}, true));
  expect_close("GRU zero_output_for_mask", gradient_error(*GRU(3, zero), {4, 2}, 2, mask, true));
  for (const char* merge : {"concat", "sum", "mul", "ave"})
    expect_close((std::string("Bidirectional(LSTM) ") + merge).c_str(),
                 gradient_error(*Bidirectional(LSTM(3, seq), merge), {4, 2}, 2, mask, true));
  expect_close("Bidirectional(GRU) last output", gradient_error(*Bidirectional(GRU(2)), {3, 2}, 2, {}, true));
  RecurrentOptions zero_last;
  zero_last.zero_output_for_mask = true;
  const rnnkit::StepMask last_masked{1, 0, 1, 1, 1, 1, 0, 0};  // the second row's last output is zero
  expect_close("LSTM zero_output_for_mask last output",
               gradient_error(*LSTM(3, zero_last), {4, 2}, 2, last_masked, true));
}

void test_conv_lstm() {
  using namespace rnnkit::layers;
  ConvLstmOptions sequences;
  sequences.return_sequences = true;
  sequences.padding = "same";
  ConvLstmOptions strided;
  strided.strides = {2};
  strided.go_backwards = true;
  expect_close("ConvLSTM1D same sequences", gradient_error(*ConvLSTM(2, {3}, sequences), {3, 5, 2}, 2, {}, true));
  expect_close("ConvLSTM1D strided backwards", gradient_error(*ConvLSTM(2, {2}, strided), {3, 6, 2}, 2, {}, true));
  expect_close("ConvLSTM2D", gradient_error(*ConvLSTM(2, {2, 2}), {2, 3, 4, 1}, 2, {}, true));
  ConvLstmOptions dropped;  // the probes' training forwards draw the same masks (a fresh rng each)
  dropped.dropout = 0.3f, dropped.recurrent_dropout = 0.4f, dropped.padding = "same";
  expect_close("ConvLSTM1D dropout, recurrent_dropout",
               gradient_error(*ConvLSTM(2, {3}, dropped), {3, 5, 2}, 2, {}, true, nullptr, true));
}

void test_stacked_cells() {
  using namespace rnnkit::layers;
  const std::vector<RecurrentCell> cells{{CellType::lstm, 3}, {CellType::gru, 2}, {CellType::simple_rnn, 2}};
  const rnnkit::StepMask mask{1, 1, 1, 0, 1, 1, 0, 0};  // (batch 2, time 4)
  RecurrentOptions back;
  back.go_backwards = back.return_sequences = back.zero_output_for_mask = true;
  expect_close("RNN(stacked cells) last output", gradient_error(*RNN(cells), {4, 2}, 2, {}, true));
  expect_close("RNN(stacked cells) go_backwards masked", gradient_error(*RNN(cells, back), {4, 2}, 2, mask, true));
  expect_close("Bidirectional(RNN(stacked cells))",
               gradient_error(*Bidirectional(RNN({{CellType::peephole_lstm, 2}, {CellType::gru, 3}}, back)), {4, 2},
                              2, mask, true));
}

void test_masking_and_dropout() {
  // Masking is not differentiable where a step flips between masked and kept, so it is checked directly: kept
  // steps pass values and gradients through, masked steps give zeros.
  const Tensor x({2, 3, 2}, {1, 2, 7, 7, 3, 4, 7, 7, 7, 7, 5, 7});
  rnnkit::StepMask mask;
  const auto masking = rnnkit::layers::Masking(7.0f);
  std::mt19937_64 masking_rng(3);
  rnnkit::TrainingStep masking_step{masking_rng, nullptr};
  const Tensor masked = masking->forward(x, mask, &masking_step);
  CHECK((mask == rnnkit::StepMask{1, 0, 1, 0, 0, 1}));
  CHECK((masked.values == std::vector<float>{1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 5, 7}));
  const Tensor d_y({2, 3, 2}, std::vector<float>(12, 1.0f));
  CHECK((masking->backward(*masking_step.cache, d_y).d_x.values ==
         std::vector<float>{1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1}));

  // Dropout: identity at inference; in training, kept entries are scaled by 1/(1-rate) and the rest are zero.
  const auto dropout = rnnkit::layers::Dropout(0.5f);
  std::mt19937_64 rng(1);
  Tensor ones({1, 1000}, std::vector<float>(1000, 1.0f));
  rnnkit::StepMask none;
  CHECK(dropout->forward(ones, none, nullptr).values == ones.values);
  rnnkit::TrainingStep step{rng, nullptr};
  const Tensor y = dropout->forward(ones, none, &step);
  int kept = 0;
  for (float v : y.values) {
    CHECK(v == 0.0f || v == 2.0f);
    kept += v != 0.0f;
  }
  CHECK(kept > 400 && kept < 600);
  const Tensor d = dropout->backward(*step.cache, ones).d_x;
  CHECK(d.values == y.values);
}

// SpatialDropout1D: a channel of a sample is dropped or kept (scaled by 1/(1-rate)) at every step together; the
// backward scales by that same mask; the identity at inference; the mask passes through.
void test_spatial_dropout() {
  const float rate = 0.3f, scale = 1.0f / (1.0f - rate);
  const std::int64_t batch = 4, steps = 5, channels = 50;
  const auto spatial = rnnkit::layers::SpatialDropout1D(rate);
  CHECK((spatial->build({steps, channels}, nullptr) == Shape{steps, channels}));
  CHECK_THROWS(rnnkit::layers::SpatialDropout1D(rate)->build({channels}, nullptr));
  CHECK_THROWS(rnnkit::layers::SpatialDropout1D(1.0f));
  const Tensor x({batch, steps, channels}, std::vector<float>(batch * steps * channels, 1.0f));
  rnnkit::StepMask steps_mask(batch * steps, 1);
  steps_mask[3] = 0;
  const rnnkit::StepMask given = steps_mask;
  CHECK(spatial->forward(x, steps_mask, nullptr).values == x.values);
  std::mt19937_64 rng(2);
  rnnkit::TrainingStep step{rng, nullptr};
  const Tensor z = spatial->forward(x, steps_mask, &step);
  CHECK(steps_mask == given);
  Tensor d_z({batch, steps, channels});
  for (std::size_t i = 0; i < d_z.values.size(); ++i) d_z.values[i] = 0.01f * static_cast<float>(i);
  const Tensor d_x = spatial->backward(*step.cache, d_z).d_x;
  int kept_channels = 0;
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t c = 0; c < channels; ++c) {
      const auto at = [&](std::int64_t t) { return static_cast<std::size_t>((b * steps + t) * channels + c); };
      const float first = z.values[at(0)];
      CHECK(first == 0.0f || first == scale);
      kept_channels += first != 0.0f;
      for (std::int64_t t = 0; t < steps; ++t) {
        CHECK(z.values[at(t)] == first);
        CHECK(d_x.values[at(t)] == d_z.values[at(t)] * first);
      }
    }
  CHECK(kept_channels > 100 && kept_channels < 180);  // 140 expected of 200
}

// Dropout's noise_shape: one keep factor per entry of the noise shape (None: the input's size), the same along
// every axis where it is 1, forward and backward alike; shapes that do not broadcast are refused.
// GaussianNoise adds N(0, stddev) and GaussianDropout multiplies by N(1, sqrt(rate / (1 - rate))) while training,
// each entry its own draw (sample mean and deviation within 4 standard errors of 20,000 draws); GaussianNoise's
// gradient passes unchanged, GaussianDropout's is scaled by the same factors; both are the identity at inference
// and keep the mask.
void test_gaussian_noise() {
  const std::int64_t n = 20000;
  const Tensor ones({2, n / 2}, std::vector<float>(n, 1.0f));
  const auto moments = [&](const std::vector<float>& v, double shift) {
    double sum = 0, squares = 0;
    for (float x : v) sum += x - shift, squares += (x - shift) * (x - shift);
    const double mean = sum / double(n);
    return std::pair<double, double>{mean, std::sqrt(squares / double(n) - mean * mean)};
  };
  struct Case {
    std::unique_ptr<Layer> layer;
    double mean, deviation;  // of y - x for the additive layer, of y / x for the multiplicative one
    bool additive;
  };
  Case cases[] = {{rnnkit::layers::GaussianNoise(0.5f), 0.0, 0.5, true},
                  {rnnkit::layers::GaussianDropout(0.2f), 1.0, 0.5, false}};  // sqrt(0.2 / 0.8)
  for (Case& c : cases) {
    CHECK((c.layer->build({n / 2}, nullptr) == Shape{n / 2}));
    rnnkit::StepMask mask{1, 0};
    const rnnkit::StepMask given = mask;
    CHECK(c.layer->forward(ones, mask, nullptr).values == ones.values);
    std::mt19937_64 rng(3);
    rnnkit::TrainingStep step{rng, nullptr};
    const Tensor y = c.layer->forward(ones, mask, &step);
    CHECK(mask == given);
    const auto [mean, deviation] = moments(y.values, c.additive ? 1.0 : 0.0);
    CHECK(std::fabs(mean - c.mean) < 4 * c.deviation / std::sqrt(double(n)));
    CHECK(std::fabs(deviation - c.deviation) < 4 * c.deviation / std::sqrt(2.0 * double(n)));
    Tensor d_y({2, n / 2});
    for (std::int64_t i = 0; i < n; ++i) d_y.values[i] = 0.001f * static_cast<float>(i % 97);
    const Tensor d_x = c.layer->backward(*step.cache, d_y).d_x;
    for (std::int64_t i = 0; i < n; ++i)
      CHECK(d_x.values[i] == (c.additive ? d_y.values[i] : d_y.values[i] * y.values[i]));
  }
  CHECK_THROWS(rnnkit::layers::GaussianNoise(1.5f));
  CHECK_THROWS(rnnkit::layers::GaussianNoise(-0.1f));
  CHECK_THROWS(rnnkit::layers::GaussianDropout(1.0f));
  // stddev 0: training leaves the input as it is
  const auto silent = rnnkit::layers::GaussianNoise(0.0f);
  std::mt19937_64 rng(4);
  rnnkit::TrainingStep step{rng, nullptr};
  rnnkit::StepMask none;
  CHECK(silent->forward(ones, none, &step).values == ones.values);
}

void test_dropout_noise_shape() {
  const float rate = 0.5f;
  const std::int64_t batch = 3, steps = 4, features = 60;
  const Tensor x({batch, steps, features}, std::vector<float>(batch * steps * features, 1.0f));
  Tensor d_y(x.shape);
  for (std::size_t i = 0; i < d_y.values.size(); ++i) d_y.values[i] = 0.5f + static_cast<float>(i);
  std::mt19937_64 rng(9);
  for (const Shape& noise : {Shape{-1, 1, -1}, Shape{-1, steps, 1}, Shape{1, 1, features}}) {
    const auto dropout = rnnkit::layers::Dropout(rate, "", noise);
    CHECK((dropout->build({steps, features}, nullptr) == Shape{steps, features}));
    rnnkit::StepMask none;
    rnnkit::TrainingStep step{rng, nullptr};
    const Tensor y = dropout->forward(x, none, &step);
    const Tensor d_x = dropout->backward(*step.cache, d_y).d_x;
    int kept = 0, factors = 0;
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t t = 0; t < steps; ++t)
        for (std::int64_t f = 0; f < features; ++f) {
          // The entry of the noise tensor this element reads: index 0 along the axes where the noise has size 1.
          const std::int64_t nb = noise[0] == 1 ? 0 : b, nt = noise[1] == 1 ? 0 : t, nf = noise[2] == 1 ? 0 : f;
          const auto at = [&](std::int64_t i, std::int64_t j, std::int64_t k) {
            return static_cast<std::size_t>((i * steps + j) * features + k);
          };
          const float factor = y.values[at(nb, nt, nf)];
          CHECK(factor == 0.0f || factor == 2.0f);
          CHECK(y.values[at(b, t, f)] == factor);
          CHECK(d_x.values[at(b, t, f)] == d_y.values[at(b, t, f)] * factor);
          if (nb == b && nt == t && nf == f) kept += factor != 0.0f, ++factors;
        }
    CHECK(kept > factors / 4 && kept < factors * 3 / 4);
  }
  CHECK_THROWS(rnnkit::layers::Dropout(rate, "", {-1, 1})->build({steps, features}, nullptr));  // rank
  CHECK_THROWS(rnnkit::layers::Dropout(rate, "", {-1, 0, -1}));
  const auto mismatched = rnnkit::layers::Dropout(rate, "", {-1, 3, -1});
  mismatched->build({steps, features}, nullptr);
  rnnkit::StepMask none;
  rnnkit::TrainingStep step{rng, nullptr};
  CHECK_THROWS(mismatched->forward(x, none, &step));
}

// In training the statistics are the batch's (over the steps a mask keeps), functions of x; the moving statistics'
// gradients are zero, as the training output does not read them.
void test_batch_normalization_gradients() {
  using rnnkit::layers::BatchNormalization;
  auto error = [](std::unique_ptr<Layer> layer, const Shape& example_shape, std::int64_t batch,
                  const rnnkit::StepMask& mask) {
    return gradient_error(*layer, example_shape, batch, mask, true, nullptr, true);
  };
  const rnnkit::StepMask mask{1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 0, 1};  // (batch 3, steps 4)
  expect_close("BatchNormalization (batch, channels)", error(BatchNormalization(), {4}, 6, {}));
  expect_close("BatchNormalization over steps", error(BatchNormalization(), {4, 3}, 3, {}));
  expect_close("BatchNormalization masked", error(BatchNormalization(), {4, 3}, 3, mask));
  expect_close("BatchNormalization center=false scale=false masked",
               error(BatchNormalization(0.9f, 1e-2f, false, false), {4, 3}, 3, mask));
  expect_close("BatchNormalization scale only", error(BatchNormalization(0.99f, 1e-3f, false, true), {4, 3}, 3, {}));
  expect_close("BatchNormalization center only masked",
               error(BatchNormalization(0.99f, 1e-3f, true, false), {4, 3}, 3, mask));
}

// Frozen (Keras' trainable = False), the layer normalises with its moving statistics in training too: constants
// of the step, so d_x is dL/dy * gamma / sqrt(moving_variance + epsilon), without the batch statistics' terms.
void test_frozen_batch_normalization_gradients() {
  auto layer = rnnkit::layers::BatchNormalization();
  std::mt19937_64 rng(3);
  layer->build({4, 3}, &rng);
  layer->set_trainable(false);
  const auto weights = layer->weights();
  for (const rnnkit::Weight* w : weights) CHECK(!w->trainable);
  weights[0]->value.values = {1.5f, -0.5f, 2.0f};
  weights[2]->value.values = {0.3f, -0.2f, 0.1f};
  weights[3]->value.values = {0.5f, 2.0f, 1.5f};
  const rnnkit::StepMask mask{1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 0, 1};
  expect_close("BatchNormalization frozen, masked", gradient_error(*layer, {4, 3}, 3, mask, true, nullptr, true));
  const std::vector<float> moving_mean = weights[2]->value.values;
  Tensor x = random_tensor({3, 4, 3}, rng);
  rnnkit::StepMask m = mask, n = mask;
  rnnkit::TrainingStep step{rng, nullptr};
  CHECK(layer->forward(x, m, &step).values == layer->forward(x, n, nullptr).values);
  CHECK(weights[2]->value.values == moving_mean);
}

// One training forward normalises with the batch's statistics over the kept steps and moves the moving statistics
// toward them by 1 - momentum; inference then normalises with the moving statistics and leaves them alone. Both
// keep the mask.
void test_batch_normalization_statistics() {
  const float momentum = 0.75f, epsilon = 1e-3f;
  const auto bn = rnnkit::layers::BatchNormalization(momentum, epsilon);
  std::mt19937_64 rng(4);
  CHECK((bn->build({3, 2}, &rng) == Shape{3, 2}));
  const auto weights = bn->weights();
  CHECK(weights.size() == 4);
  if (weights.size() != 4) return;
  const char* names[] = {"gamma", "beta", "moving_mean", "moving_variance"};
  for (std::size_t k = 0; k < 4; ++k) CHECK(weights[k]->name == names[k] && weights[k]->trainable == (k < 2));
  CHECK((weights[0]->value.values == std::vector<float>{1.0f, 1.0f}));  // Keras' initializers: ones, zeros, ...
  CHECK((weights[3]->value.values == std::vector<float>{1.0f, 1.0f}));
  weights[0]->value.values = {2.0f, 0.5f};
  weights[1]->value.values = {1.0f, -1.0f};
  weights[2]->value.values = {0.5f, -0.5f};
  weights[3]->value.values = {2.0f, 3.0f};
  const std::vector<float> old_mean = weights[2]->value.values, old_variance = weights[3]->value.values;

  Tensor x = random_tensor({2, 3, 2}, rng, 2.0f);
  for (std::size_t i = 1; i < x.values.size(); i += 2) x.values[i] += 5.0f;  // channel 1 far from zero
  const rnnkit::StepMask given{1, 0, 1, 1, 1, 0};
  rnnkit::StepMask mask = given;
  rnnkit::TrainingStep step{rng, nullptr};
  const Tensor y = bn->forward(x, mask, &step);
  CHECK(mask == given);

  auto normalised = [&](std::size_t i, double mean, double variance) {
    const std::size_t c = i % 2;
    return weights[0]->value.values[c] * (x.values[i] - mean) / std::sqrt(variance + epsilon) +
           weights[1]->value.values[c];
  };
  for (std::size_t c = 0; c < 2; ++c) {
    double sum = 0, squares = 0, kept = 0;
    for (std::size_t r = 0; r < given.size(); ++r)
      if (given[r]) sum += x.values[r * 2 + c], ++kept;
    const double mean = sum / kept;
    for (std::size_t r = 0; r < given.size(); ++r)
      if (given[r]) squares += (x.values[r * 2 + c] - mean) * (x.values[r * 2 + c] - mean);
    const double variance = squares / kept;
    CHECK(std::fabs(weights[2]->value.values[c] - (momentum * old_mean[c] + (1 - momentum) * mean)) < 1e-5);
    CHECK(std::fabs(weights[3]->value.values[c] - (momentum * old_variance[c] + (1 - momentum) * variance)) < 1e-5);
    for (std::size_t r = 0; r < given.size(); ++r)  // masked steps too, with the kept steps' statistics
      CHECK(std::fabs(y.values[r * 2 + c] - normalised(r * 2 + c, mean, variance)) < 1e-5);
  }

  const std::vector<float> moved_mean = weights[2]->value.values, moved_variance = weights[3]->value.values;
  const Tensor inferred = bn->forward(x, mask, nullptr);
  CHECK(mask == given);
  CHECK(weights[2]->value.values == moved_mean && weights[3]->value.values == moved_variance);
  for (std::size_t i = 0; i < x.values.size(); ++i)
    CHECK(std::fabs(inferred.values[i] - normalised(i, moved_mean[i % 2], moved_variance[i % 2])) < 1e-5);

  rnnkit::StepMask wrong{1, 0, 1};  // (batch, steps) needs 6 entries
  CHECK_THROWS(bn->forward(x, wrong, &step));
  CHECK_THROWS(bn->build({3, 4}, &rng));  // the weights are for 2 channels
  CHECK_THROWS(rnnkit::layers::BatchNormalization()->build({}, &rng));
}

}  // namespace

int main() {
  test_frozen_batch_normalization_gradients();
  test_dense_and_activations();
  test_activation_layers();
  test_conv_and_pooling();
  test_depthwise_and_separable_conv();
  test_group_normalization_gradients();
  test_layer_normalization_gradients();
  test_position_layers_gradients();
  test_rescaling_alpha_dropout_adaptive_pooling();
  test_reshape_and_permute();
  test_embedding();
  test_recurrent();
  test_conv_lstm();
  test_stacked_cells();
  test_masking_and_dropout();
  test_spatial_dropout();
  test_gaussian_noise();
  test_steps_resizing();
  test_dropout_noise_shape();
  test_batch_normalization_gradients();
  test_batch_normalization_statistics();
  return rnnkit_test::failures();
}
