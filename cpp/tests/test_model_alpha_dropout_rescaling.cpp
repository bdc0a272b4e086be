// AlphaDropout's training statistics in a C++ model (dropped values, kept values, mean and variance of unit-normal
// inputs), Rescaling's and the adaptive poolings' values against hand-computed references, ReversibleEmbedding's
// lookup against Embedding's, and the refusals of arguments and shapes these layers cannot take.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "check.hpp"
#include "rnnkit/layers.hpp"
#include "rnnkit/model.hpp"

namespace {

using rnnkit::Shape;
using rnnkit::Tensor;

// Keras' constants: a * x + b keeps zero mean and unit variance once `rate` of the inputs are SELU's saturation.
struct Affine {
  double a, b, saturation;
};
Affine alpha_affine(double rate) {
  const double saturation = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946;
  const double a = std::pow((1.0 - rate) * (1.0 + rate * saturation * saturation), -0.5);
  return {a, -a * saturation * rate, saturation};
}

// 200,000 unit-normal inputs through a model's training forward: every output is a * x + b (kept) or
// a * saturation + b (dropped), in float32; the dropped fraction, mean and variance within 5 standard errors.
void test_alpha_dropout_training_statistics() {
  const float rate = 0.2f;  // a and b come from the float32 rate the layer holds
  const std::int64_t batch = 200, features = 1000, n = batch * features;
  std::vector<std::unique_ptr<rnnkit::Layer>> stack;
  stack.push_back(rnnkit::layers::AlphaDropout(rate));
  rnnkit::Model model({features}, std::move(stack), 5);
  Tensor x({batch, features});
  std::mt19937_64 rng(17);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : x.values) v = normal(rng);

  CHECK(model.predict(x).values == x.values);  // the identity at inference
  rnnkit::Model::Trace trace;
  const Tensor y = model.forward_train(x, trace);
  const Affine f = alpha_affine(rate);
  const float a = static_cast<float>(f.a), b = static_cast<float>(f.b);
  const float dropped_value = static_cast<float>(f.a * f.saturation + f.b);
  std::int64_t dropped = 0;
  double sum = 0, squares = 0;
  bool affine = true;
  for (std::int64_t i = 0; i < n; ++i) {
    const float v = y.values[i];
    const bool is_dropped = v == dropped_value && x.values[i] * a + b != dropped_value;
    dropped += is_dropped;
    affine = affine && (is_dropped || v == x.values[i] * a + b);
    sum += v, squares += static_cast<double>(v) * v;
  }
  CHECK(affine);
  const double mean = sum / double(n), variance = squares / double(n) - mean * mean;
  std::printf("AlphaDropout(0.2): dropped %.4f, mean %.4f, variance %.4f of %lld\n", double(dropped) / double(n),
              mean, variance, static_cast<long long>(n));
  CHECK(std::fabs(double(dropped) / double(n) - rate) < 5 * std::sqrt(rate * (1 - rate) / double(n)));
  CHECK(std::fabs(mean) < 5 / std::sqrt(double(n)));
  CHECK(std::fabs(variance - 1.0) < 5 * std::sqrt(3.0 / double(n)));  // the fourth moment of y stays below 4

  // The gradient: dL/dx = a where kept, 0 where dropped.
  const std::vector<Tensor> no_weights = model.backward(trace, Tensor(y.shape, std::vector<float>(n, 1.0f)));
  CHECK(no_weights.empty());
}

// The layer's own backward: d_y * a where kept, 0 where dropped; rate 0 passes values and gradients unchanged.
void test_alpha_dropout_layer() {
  const auto layer = rnnkit::layers::AlphaDropout(0.5f);
  CHECK((layer->build({3, 4}, nullptr) == Shape{3, 4}));
  const Tensor x({2, 3, 4}, std::vector<float>(24, 0.25f));
  std::mt19937_64 rng(3);
  rnnkit::TrainingStep step{rng, nullptr};
  rnnkit::StepMask mask{1, 0, 1, 1, 0, 1};
  const rnnkit::StepMask given = mask;
  const Tensor y = layer->forward(x, mask, &step);
  CHECK(mask == given);  // keeps the mask, as Dropout
  const Tensor d_y({2, 3, 4}, std::vector<float>(24, 2.0f));
  const Tensor d_x = layer->backward(*step.cache, d_y).d_x;
  const Affine f = alpha_affine(0.5f);
  const float dropped_value = static_cast<float>(f.a * f.saturation + f.b);
  for (std::size_t i = 0; i < y.values.size(); ++i)
    CHECK(d_x.values[i] == (y.values[i] == dropped_value ? 0.0f : 2.0f * static_cast<float>(f.a)));

  const auto silent = rnnkit::layers::AlphaDropout(0.0f);
  silent->build({3, 4}, nullptr);
  rnnkit::TrainingStep silent_step{rng, nullptr};
  CHECK(silent->forward(x, mask, &silent_step).values == x.values);
  CHECK(silent->backward(*silent_step.cache, d_y).d_x.values == d_y.values);

  CHECK_THROWS(rnnkit::layers::AlphaDropout(1.0f));
  CHECK_THROWS(rnnkit::layers::AlphaDropout(-0.1f));
  CHECK_THROWS(rnnkit::layers::AlphaDropout(0.2f, "", {-1, 0, 4}));
  CHECK_THROWS(rnnkit::layers::AlphaDropout(0.2f, "", {-1, 1})->build({3, 4}, nullptr));  // rank
}

// x * scale + offset with scale (4,) over the features and offset (3, 1) over the steps; the mask passes on.
void test_rescaling() {
  const auto layer = rnnkit::layers::Rescaling(Tensor({4}, {1, 2, 3, 4}), Tensor({3, 1}, {10, 20, 30}));
  CHECK((layer->build({3, 4}, nullptr) == Shape{3, 4}));
  Tensor x({2, 3, 4});
  for (std::size_t i = 0; i < x.values.size(); ++i) x.values[i] = 0.5f * static_cast<float>(i);
  rnnkit::StepMask mask{1, 0, 1, 1, 1, 0};
  const rnnkit::StepMask given = mask;
  const Tensor y = layer->forward(x, mask, nullptr);
  CHECK(mask == given);
  bool matches = true;
  for (std::int64_t b = 0; b < 2; ++b)
    for (std::int64_t t = 0; t < 3; ++t)
      for (std::int64_t f = 0; f < 4; ++f) {
        const std::size_t i = static_cast<std::size_t>((b * 3 + t) * 4 + f);
        matches = matches && y.values[i] == x.values[i] * static_cast<float>(f + 1) + 10.0f * static_cast<float>(t + 1);
      }
  CHECK(matches);
  // A factor that fits no trailing axis, or that would stretch the batch axis, is refused when built.
  CHECK_THROWS(rnnkit::layers::Rescaling(Tensor({3}, {1, 2, 3}))->build({3, 4}, nullptr));
  CHECK_THROWS(rnnkit::layers::Rescaling(Tensor({2, 3, 4}))->build({3, 4}, nullptr));
  CHECK_THROWS(rnnkit::layers::Rescaling(Tensor({1, 1, 3, 4}))->build({3, 4}, nullptr));
  // A size known only when called is checked then.
  const auto open = rnnkit::layers::Rescaling(Tensor({3, 1}, {1, 2, 3}));
  open->build({-1, 4}, nullptr);
  rnnkit::StepMask none;
  CHECK_THROWS(open->forward(Tensor({1, 5, 4}), none, nullptr));
}

// 5 steps to 3 bins [0, 2), [1, 4), [3, 5) and 2 steps to 3 bins [0, 1), [0, 2), [1, 2); the mask is dropped.
void test_adaptive_pooling() {
  const Tensor x({1, 5, 1}, {1, 5, 2, 4, 3});
  const auto average = rnnkit::layers::AdaptiveAveragePooling1D(3);
  const auto max = rnnkit::layers::AdaptiveMaxPooling1D(3);
  CHECK((average->build({5, 1}, nullptr) == Shape{3, 1}));
  CHECK((max->build({-1, 1}, nullptr) == Shape{3, 1}));
  rnnkit::StepMask mask{1, 1, 1, 0, 0};
  CHECK((average->forward(x, mask, nullptr).values == std::vector<float>{3.0f, 11.0f / 3.0f, 3.5f}));
  CHECK(mask.empty());
  CHECK((max->forward(x, mask, nullptr).values == std::vector<float>{5, 5, 4}));
  const Tensor short_x({1, 2, 1}, {7, 9});
  CHECK((max->forward(short_x, mask, nullptr).values == std::vector<float>{7, 9, 9}));
  CHECK((average->forward(short_x, mask, nullptr).values == std::vector<float>{7, 8, 9}));

  CHECK_THROWS(rnnkit::layers::AdaptiveMaxPooling1D(0));
  CHECK_THROWS(rnnkit::layers::AdaptiveAveragePooling1D(2)->build({4}, nullptr));  // not (steps, channels)
  CHECK_THROWS(rnnkit::layers::AdaptiveAveragePooling1D(2)->build({0, 3}, nullptr));
  CHECK_THROWS(max->forward(Tensor({1, 0, 1}), mask, nullptr));  // 0 steps, known only when called
}

// The forward call is Embedding's lookup; untied, the layer also owns reverse_embeddings (output_dim, input_dim).
void test_reversible_embedding() {
  const auto tied = rnnkit::layers::ReversibleEmbedding(6, 3, true, true);
  const auto untied = rnnkit::layers::ReversibleEmbedding(6, 3, false, true, 30.0f);
  std::mt19937_64 rng(4);
  CHECK((tied->build({4}, &rng) == Shape{4, 3}));
  CHECK((untied->build({4}, &rng) == Shape{4, 3}));
  CHECK(tied->weights().size() == 1);
  CHECK(untied->weights().size() == 2);
  CHECK((untied->weights()[1]->value.shape == Shape{3, 6}));
  const Tensor ids({1, 4}, {2, 0, 5, 1});
  rnnkit::StepMask mask;
  const Tensor y = untied->forward(ids, mask, nullptr);
  CHECK((mask == rnnkit::StepMask{1, 0, 1, 1}));  // mask_zero
  const Tensor& table = untied->weights()[0]->value;
  bool looked_up = true;
  for (std::size_t t = 0; t < 4; ++t)
    for (std::size_t k = 0; k < 3; ++k)
      looked_up = looked_up && y.values[t * 3 + k] == table.values[static_cast<std::size_t>(ids.values[t]) * 3 + k];
  CHECK(looked_up);
  CHECK_THROWS(untied->forward(Tensor({1, 1}, {6}), mask, nullptr));  // id out of range
  CHECK_THROWS(rnnkit::layers::ReversibleEmbedding(6, 3, true, false, 0.0f));
}

}  // namespace

int main() {
  test_alpha_dropout_training_statistics();
  test_alpha_dropout_layer();
  test_rescaling();
  test_adaptive_pooling();
  test_reversible_embedding();
  return rnnkit_test::failures() == 0 ? 0 : 1;
}
