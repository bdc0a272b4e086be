// MultiHeadAttention and GroupedQueryAttention through the merge-layer interface (model/support.hpp), as load_model
// builds them: gradients (inputs and every weight) against central finite differences of the layers' own forward,
// with masks, causal, sliding windows, gates, grouped heads and dropout; the zero weights of a query that sees no
// key; configs and refusals.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>
#include <random>
#include <string>
#include <vector>

#include "check.hpp"
#include "model/graph.hpp"
#include "model/support.hpp"
#include "rnnkit/layers.hpp"
#include "rnnkit/model_file.hpp"

namespace {

using rnnkit::Layer;
using rnnkit::Shape;
using rnnkit::StepMask;
using rnnkit::Tensor;
using rnnkit::model_detail::MergeLayer;

Tensor random_tensor(Shape shape, std::mt19937_64& rng) {
  Tensor t(std::move(shape));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : t.values) v = normal(rng);
  return t;
}

// Loss = sum(y * r) for a fixed random r; a fresh rng each call so that training forwards draw the same dropout.
double weighted_sum(const MergeLayer& layer, const std::vector<Tensor>& xs, const std::vector<StepMask>& masks,
                    const Tensor& r, bool training) {
  std::vector<const Tensor*> inputs;
  std::vector<const StepMask*> input_masks;
  for (std::size_t i = 0; i < xs.size(); ++i) inputs.push_back(&xs[i]), input_masks.push_back(&masks[i]);
  std::mt19937_64 rng(0);
  rnnkit::TrainingStep step{rng, nullptr};
  StepMask out_mask;
  const Tensor y = layer.merge(inputs, input_masks, out_mask, training ? &step : nullptr);
  double total = 0;
  for (std::size_t i = 0; i < y.values.size(); ++i) total += static_cast<double>(y.values[i]) * r.values[i];
  return total;
}

// The layer built for inputs of (batch, steps, features) shapes with random weights (a merge layer draws none);
// max |analytic - numeric| / (1 + |numeric|) over every input and weight entry.
double gradient_error(Layer& base, const std::vector<Shape>& shapes, const std::vector<StepMask>& masks,
                      bool training = false) {
  auto& layer = dynamic_cast<MergeLayer&>(base);
  std::vector<Shape> per_example;
  for (const Shape& s : shapes) per_example.push_back(Shape(s.begin() + 1, s.end()));
  const Shape out = layer.build_merge(per_example);
  std::mt19937_64 rng(7);
  for (rnnkit::Weight* w : layer.weights()) w->value = random_tensor(w->value.shape, rng);
  std::vector<Tensor> xs;
  for (const Shape& s : shapes) xs.push_back(random_tensor(s, rng));
  const Tensor r = random_tensor({shapes[0][0], shapes[0][1], out.back()}, rng);

  std::vector<const Tensor*> inputs;
  std::vector<const StepMask*> input_masks;
  for (std::size_t i = 0; i < xs.size(); ++i) inputs.push_back(&xs[i]), input_masks.push_back(&masks[i]);
  std::mt19937_64 step_rng(0);
  rnnkit::TrainingStep step{step_rng, nullptr};
  StepMask out_mask;
  const Tensor y = layer.merge(inputs, input_masks, out_mask, &step);
  CHECK(y.shape == r.shape);
  CHECK(out_mask == masks[0]);  // Keras: the query's mask
  std::vector<Tensor> d_weights;
  const std::vector<Tensor> d_xs = layer.unmerge_with_weights(*step.cache, r, d_weights);
  const auto weights = layer.weights();
  CHECK(d_xs.size() == xs.size() && d_weights.size() == weights.size());

  const float eps = 1e-2f;
  double worst = 0;
  auto probe = [&](float& value, float analytic) {
    const float saved = value;
    value = saved + eps;
    const double plus = weighted_sum(layer, xs, masks, r, training);
    value = saved - eps;
    const double minus = weighted_sum(layer, xs, masks, r, training);
    value = saved;
    const double numeric = (plus - minus) / (2.0 * eps);
    worst = std::max(worst, std::fabs(analytic - numeric) / (1.0 + std::fabs(numeric)));
  };
  for (std::size_t i = 0; i < xs.size(); ++i)
    for (std::size_t k = 0; k < xs[i].values.size(); ++k) probe(xs[i].values[k], d_xs[i].values[k]);
  for (std::size_t w = 0; w < weights.size(); ++w) {
    CHECK(d_weights[w].shape == weights[w]->value.shape);
    for (std::size_t k = 0; k < weights[w]->value.values.size(); ++k)
      probe(weights[w]->value.values[k], d_weights[w].values[k]);
  }
  return worst;
}

void expect_close(const char* what, double error) {
  std::printf("%-50s max relative error %.2e\n", what, error);
  CHECK(error < 2e-3 && what);
}

using rnnkit::layers::GroupedQueryAttention;
using rnnkit::layers::MultiHeadAttention;
using rnnkit::layers::MultiHeadAttentionOptions;

void test_multi_head_attention_gradients() {
  // Batch 2: the first example's last query and value steps masked.
  const StepMask q_mask{1, 1, 1, 0, 1, 1, 1, 1}, kv_mask{1, 1, 0, 1, 1, 1};
  expect_close("MHA [query, value], masks", gradient_error(*MultiHeadAttention(2, 3), {{2, 4, 5}, {2, 3, 4}},
                                                           {q_mask, kv_mask}));
  MultiHeadAttentionOptions causal;
  causal.use_causal_mask = true;
  expect_close("MHA causal, unmasked", gradient_error(*MultiHeadAttention(2, 2, causal), {{2, 4, 3}, {2, 4, 3}},
                                                      {{}, {}}));
  MultiHeadAttentionOptions projected;
  projected.value_dim = 3;
  projected.output_dim = 2;
  projected.use_bias = false;
  expect_close("MHA [query, value, key], value_dim, output_dim",
               gradient_error(*MultiHeadAttention(3, 2, projected), {{2, 4, 5}, {2, 3, 3}, {2, 3, 6}},
                              {q_mask, {}, kv_mask}));
  MultiHeadAttentionOptions dropout;
  dropout.dropout = 0.3f;
  expect_close("MHA dropout (training probes)",
               gradient_error(*MultiHeadAttention(2, 2, dropout), {{2, 4, 3}, {2, 3, 3}}, {{}, kv_mask}, true));
}

void test_grouped_query_attention_gradients() {
  const StepMask mask{1, 1, 1, 0, 1, 1, 1, 1, 1, 0};
  MultiHeadAttentionOptions gated;
  gated.use_gate = true;
  gated.sliding_window = 2;
  gated.use_causal_mask = true;
  expect_close("GQA 4/2 heads, gate, sliding window, causal",
               gradient_error(*GroupedQueryAttention(3, 4, 2, gated), {{2, 5, 6}, {2, 5, 6}}, {mask, mask}));
  MultiHeadAttentionOptions plain;
  plain.use_bias = false;
  expect_close("GQA 3/1 heads, no bias, [query, value, key]",
               gradient_error(*GroupedQueryAttention(2, 3, 1, plain), {{2, 4, 3}, {2, 5, 4}, {2, 5, 2}},
                              {{}, mask, {}}));
}

// A masked query sees no key: zero weights, so its output is the output bias alone (Python's rule, not Keras').
void test_query_that_sees_no_key() {
  auto base = MultiHeadAttention(2, 2);
  auto& layer = dynamic_cast<MergeLayer&>(*base);
  layer.build_merge({{3, 4}, {3, 4}});
  std::mt19937_64 rng(3);
  for (rnnkit::Weight* w : layer.weights()) w->value = random_tensor(w->value.shape, rng);
  const Tensor x = random_tensor({1, 3, 4}, rng);
  const StepMask mask{1, 0, 1};
  StepMask out_mask;
  const Tensor y = layer.merge({&x, &x}, {&mask, &mask}, out_mask, nullptr);
  const rnnkit::Weight& bias = *layer.weights().back();
  for (std::int64_t c = 0; c < 4; ++c) CHECK(y.values[4 + c] == bias.value.values[c]);
  CHECK(y.values[0] != bias.value.values[0]);
}

// Training a graph model reaches an attention node's weight gradients: a self-attention model (query and value the
// model's input), Model::backward against finite differences of Model::predict.
void test_model_backward_reaches_attention_weights() {
  auto impl = std::make_unique<rnnkit::Model::Impl>();
  impl->input_shape = {4, 3};
  MultiHeadAttentionOptions gated;
  gated.use_gate = true;
  gated.use_causal_mask = true;
  impl->layers.push_back(GroupedQueryAttention(2, 2, 1, gated));
  impl->nodes.push_back(rnnkit::GraphNode{0, {0, 0}});
  impl->output_slot = 1;
  impl->build(nullptr);
  rnnkit::Model model(std::move(impl));
  std::mt19937_64 rng(5);
  for (rnnkit::Weight* w : model.weights()) w->value = random_tensor(w->value.shape, rng);
  const Tensor x = random_tensor({2, 4, 3}, rng), r = random_tensor({2, 4, 3}, rng);
  rnnkit::Model::Trace trace;
  model.forward_train(x, trace);
  const std::vector<Tensor> grads = model.backward(trace, r);
  auto loss = [&] {
    const Tensor y = model.predict(x);
    double total = 0;
    for (std::size_t i = 0; i < y.values.size(); ++i) total += static_cast<double>(y.values[i]) * r.values[i];
    return total;
  };
  const float eps = 1e-2f;
  double worst = 0;
  const auto weights = model.weights();
  for (std::size_t w = 0; w < weights.size(); ++w)
    for (std::size_t k = 0; k < weights[w]->value.values.size(); ++k) {
      float& value = weights[w]->value.values[k];
      const float saved = value;
      value = saved + eps;
      const double plus = loss();
      value = saved - eps;
      const double minus = loss();
      value = saved;
      const double numeric = (plus - minus) / (2.0 * eps);
      worst = std::max(worst, std::fabs(grads[w].values[k] - numeric) / (1.0 + std::fabs(numeric)));
    }
  expect_close("Model::backward through a GQA node", worst);
}

std::unique_ptr<Layer> from_config(const std::string& class_name, const std::string& fields) {
  const std::string entry = R"({"class_name": ")" + class_name + R"(", "config": {"name": "att", )" + fields + "}}";
  return rnnkit::model_detail::layer_from_entry(rnnkit::parse_json(entry, "test"), "test");
}

bool throws_with(const std::function<void()>& f, const std::string& text) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return std::string(e.what()).find(text) != std::string::npos;
  }
  return false;
}

void test_configs_and_refusals() {
  const auto mha = from_config("MultiHeadAttention", R"("num_heads": 2, "key_dim": 3, "value_dim": null,
      "output_shape": [4], "attention_axes": [1], "use_gate": true, "sliding_window": 3)");
  CHECK(mha->config_json().find("\"value_dim\": 3") != std::string::npos);
  CHECK(mha->config_json().find("\"output_shape\": [4]") != std::string::npos);
  const auto gqa = from_config("GroupedQueryAttention", R"("head_dim": 2, "num_query_heads": 4,
      "num_key_value_heads": 2)");
  CHECK(gqa->config_json().find("\"num_key_value_heads\": 2") != std::string::npos);
  CHECK(std::string(gqa->class_name()) == "GroupedQueryAttention");
  CHECK(throws_with([] { from_config("MultiHeadAttention", R"("num_heads": 2, "key_dim": 3, "attention_axes": [2])"); },
                    "test: layer att (MultiHeadAttention): attends over the sequence axis only"));
  CHECK(throws_with([] { from_config("GroupedQueryAttention", R"("head_dim": 2, "num_query_heads": 3,
                                     "num_key_value_heads": 2)"); }, "divisible"));
  CHECK(throws_with([] { from_config("LayerNormalization", R"("rms_scaling": true)"); },
                    "test: layer att (LayerNormalization): rms_scaling=true is not supported"));
  CHECK(throws_with([] { MultiHeadAttention(2, 2)->build({3, 4}, nullptr); }, "takes a list of inputs"));
  CHECK(throws_with([&] { dynamic_cast<MergeLayer&>(*MultiHeadAttention(2, 2)).build_merge({{3, 4}}); },
                    "expects [query, value]"));
}

}  // namespace

int main() {
  test_multi_head_attention_gradients();
  test_grouped_query_attention_gradients();
  test_query_that_sees_no_key();
  test_model_backward_reaches_attention_weights();
  test_configs_and_refusals();
  return rnnkit_test::failures();
}
