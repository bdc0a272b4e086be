// Model::predict folds an Embedding into the recurrent layer it alone feeds (the input projection looked up in
// embeddings · kernel). Reference: the same layers called one by one through Layer::forward, which multiplies
// the embedded inputs by the kernel. Tolerance 1e-5 (the two paths sum the same products in a different order).
// The table is kept between calls while the weights keep their bytes: the tests change weights in place between
// predicts, as training does, and expect the new weights' results.
#include <cmath>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"
#include "rnnkit/layers.hpp"

namespace {

using rnnkit::Tensor;
constexpr std::int64_t kVocab = 20, kSteps = 6;

Tensor token_ids(std::int64_t batch, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> id(0, kVocab - 1);
  Tensor x({batch, kSteps});
  for (float& v : x.values) v = static_cast<float>(id(rng));
  return x;
}

Tensor layer_by_layer(const rnnkit::Model& model, const Tensor& x) {
  Tensor value = x;
  rnnkit::StepMask mask;
  for (std::size_t i = 0; i < model.layer_count(); ++i) value = model.layer(i).forward(value, mask, nullptr);
  return value;
}

float max_difference(const Tensor& a, const Tensor& b) {
  if (a.shape != b.shape) return INFINITY;
  float worst = 0.0f;
  for (std::size_t i = 0; i < a.values.size(); ++i) worst = std::fmax(worst, std::fabs(a.values[i] - b.values[i]));
  return worst;
}

rnnkit::Model embedding_model(std::unique_ptr<rnnkit::Layer> recurrent) {
  std::vector<std::unique_ptr<rnnkit::Layer>> layers;
  layers.push_back(rnnkit::layers::Embedding(kVocab, 5, /*mask_zero=*/true));
  layers.push_back(std::move(recurrent));
  layers.push_back(rnnkit::layers::Dense(3));
  return rnnkit::Model({kSteps}, std::move(layers), 7);
}

void test_folded_predict_equals_layer_by_layer() {
  rnnkit::layers::RecurrentOptions backwards_sequences;
  backwards_sequences.go_backwards = true;
  backwards_sequences.return_sequences = true;
  backwards_sequences.zero_output_for_mask = true;
  std::vector<std::unique_ptr<rnnkit::Layer>> recurrent;
  recurrent.push_back(rnnkit::layers::LSTM(4));
  recurrent.push_back(rnnkit::layers::GRU(4, backwards_sequences));
  recurrent.push_back(rnnkit::layers::SimpleRNN(4));
  recurrent.push_back(rnnkit::layers::PeepholeLSTM(4));
  for (auto& layer : recurrent) {
    const rnnkit::Model model = embedding_model(std::move(layer));
    for (std::int64_t batch : {2, 8}) {  // 12 ids (< 20 rows: not folded) and 48 ids (folded)
      const Tensor x = token_ids(batch, 3);
      CHECK(max_difference(model.predict(x), layer_by_layer(model, x)) < 1e-5f);
    }
  }
}

// LSTM(64): 256 columns, so once 20 ids are seen a call of 32 * 20 / 256 = 2 or more ids takes the kept table.
void test_kept_table_follows_weights_changed_in_place() {
  rnnkit::Model model = embedding_model(rnnkit::layers::LSTM(64));
  const Tensor many = token_ids(8, 5), few = token_ids(1, 6);  // 48 ids (>= 20 rows) and 6
  for (int call = 0; call < 3; ++call) {
    CHECK(max_difference(model.predict(many), layer_by_layer(model, many)) < 1e-5f);
    CHECK(max_difference(model.predict(few), layer_by_layer(model, few)) < 1e-5f);
    // Change one embedding row the ids read and one kernel entry, in place.
    const std::int64_t id = static_cast<std::int64_t>(few.values[call]);
    model.layer(0).weights()[0]->value.values[id * 5 + call] += 0.5f;
    model.layer(1).weights()[0]->value.values[call] -= 0.25f;
  }
  CHECK(max_difference(model.predict(few), layer_by_layer(model, few)) < 1e-5f);
  CHECK(max_difference(model.predict(many), layer_by_layer(model, many)) < 1e-5f);
}

// The kept table's result must be the one the layer computes now, not the one it computed before: a kernel
// change large enough to move every output.
void test_kept_table_is_not_stale() {
  rnnkit::Model model = embedding_model(rnnkit::layers::GRU(64));
  const Tensor x = token_ids(8, 8);
  const Tensor before = model.predict(x);
  model.predict(x);
  for (float& w : model.layer(1).weights()[0]->value.values) w *= -1.0f;
  const Tensor after = model.predict(x);
  CHECK(max_difference(after, before) > 1e-3f);
  CHECK(max_difference(after, layer_by_layer(model, x)) < 1e-5f);
}

void test_folded_predict_reports_bad_ids_as_the_embedding() {
  const rnnkit::Model model = embedding_model(rnnkit::layers::LSTM(4));
  Tensor x = token_ids(8, 4);
  x.values[17] = static_cast<float>(kVocab);
  bool named = false;
  try {
    model.predict(x);
  } catch (const std::invalid_argument& error) {
    named = std::string(error.what()).find("embedding") != std::string::npos;
  }
  CHECK(named);
}

}  // namespace

int main() {
  test_folded_predict_equals_layer_by_layer();
  test_kept_table_follows_weights_changed_in_place();
  test_kept_table_is_not_stale();
  test_folded_predict_reports_bad_ids_as_the_embedding();
  return rnnkit_test::failures();
}
