// Training from C++: train_on_batch applies exactly the optimizer's update to Model::backward's gradients, and an
// LSTM model learns a small sequence task (its loss falls by an order of magnitude).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <random>

#include "check.hpp"
#include "rnnkit/layers.hpp"
#include "rnnkit/training.hpp"

namespace {

using rnnkit::Tensor;

// Sequences of uniform values in [-1, 1]; the target is each sequence's mean.
void mean_task(std::mt19937_64& rng, std::int64_t batch, std::int64_t steps, Tensor& x, Tensor& y) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  x = Tensor({batch, steps, 1});
  y = Tensor({batch, 1});
  for (std::int64_t b = 0; b < batch; ++b) {
    float total = 0;
    for (std::int64_t t = 0; t < steps; ++t) total += (x.values[static_cast<std::size_t>(b * steps + t)] = uniform(rng));
    y.values[static_cast<std::size_t>(b)] = total / static_cast<float>(steps);
  }
}

std::vector<std::unique_ptr<rnnkit::Layer>> lstm_stack() {
  std::vector<std::unique_ptr<rnnkit::Layer>> layers;
  layers.push_back(rnnkit::layers::LSTM(8));
  layers.push_back(rnnkit::layers::Dense(1));
  return layers;
}

void test_sgd_step_is_minus_learning_rate_times_gradient() {
  rnnkit::Model model({6, 1}, lstm_stack(), 11);
  std::mt19937_64 rng(5);
  Tensor x, y;
  mean_task(rng, 4, 6, x, y);
  std::vector<std::vector<float>> before;
  for (const rnnkit::Weight* w : model.weights()) before.push_back(w->value.values);
  rnnkit::Model::Trace trace;
  const Tensor pred = model.forward_train(x, trace);
  // MSE over 4 rows of 1 value: dL/dpred = 2 (pred - y) / 4.
  Tensor d_pred(pred.shape);
  for (std::size_t i = 0; i < pred.values.size(); ++i) d_pred.values[i] = 0.5f * (pred.values[i] - y.values[i]);
  const std::vector<Tensor> grads = model.backward(trace, d_pred);

  rnnkit::Optimizer sgd(rnnkit::SGDConfig{0.1f});
  rnnkit::train_on_batch(model, x, y, rnnkit::LossConfig{}, sgd);
  const auto after = model.weights();
  CHECK(after.size() == 5);  // LSTM kernel, recurrent_kernel, bias; Dense kernel, bias
  for (std::size_t k = 0; k < after.size(); ++k)
    for (std::size_t i = 0; i < before[k].size(); ++i)
      CHECK(std::fabs(after[k]->value.values[i] - (before[k][i] - 0.1f * grads[k].values[i])) < 1e-6f);
}

void test_lstm_learns_the_mean() {
  rnnkit::Model model({10, 1}, lstm_stack(), 3);
  rnnkit::Optimizer adam(rnnkit::AdamConfig{0.01f});
  std::mt19937_64 rng(42);
  Tensor x_eval, y_eval, x, y;
  mean_task(rng, 256, 10, x_eval, y_eval);
  const double initial = rnnkit::evaluate(model, x_eval, y_eval, rnnkit::LossConfig{});
  for (int step = 0; step < 300; ++step) {
    mean_task(rng, 32, 10, x, y);
    rnnkit::train_on_batch(model, x, y, rnnkit::LossConfig{}, adam);
  }
  const double final_loss = rnnkit::evaluate(model, x_eval, y_eval, rnnkit::LossConfig{});
  std::printf("mean task: loss %.5f -> %.5f\n", initial, final_loss);
  CHECK(final_loss < 0.1 * initial);
  CHECK(adam.iterations() == 300);
  Tensor wrong({256, 2});
  CHECK_THROWS(rnnkit::evaluate(model, x_eval, wrong, rnnkit::LossConfig{}));
}

// With Embedding(mask_zero) and a sequence output, the loss averages over the kept steps only (Keras 3), in
// evaluate and in train_on_batch alike.
void test_loss_of_a_masked_sequence_output() {
  std::vector<std::unique_ptr<rnnkit::Layer>> layers;
  layers.push_back(rnnkit::layers::Embedding(5, 3, true));
  rnnkit::layers::RecurrentOptions seq;
  seq.return_sequences = true;
  layers.push_back(rnnkit::layers::GRU(4, seq));
  layers.push_back(rnnkit::layers::TimeDistributed(rnnkit::layers::Dense(1)));
  rnnkit::Model model({4}, std::move(layers), 9);
  const Tensor ids({2, 4}, {1, 2, 0, 0, 3, 4, 1, 0});
  const Tensor y({2, 4, 1}, {0.5f, -0.5f, 9.f, 9.f, 1.f, 0.f, -1.f, 9.f});  // 9s sit on masked steps
  rnnkit::StepMask mask;
  const Tensor pred = model.predict(ids, mask);
  CHECK((mask == rnnkit::StepMask{1, 1, 0, 0, 1, 1, 1, 0}));
  double total = 0;
  int kept = 0;
  for (std::size_t i = 0; i < mask.size(); ++i)
    if (mask[i]) {
      total += (pred.values[i] - y.values[i]) * (pred.values[i] - y.values[i]);
      ++kept;
    }
  const double expected = total / kept;
  CHECK(std::fabs(rnnkit::evaluate(model, ids, y, rnnkit::LossConfig{}) - expected) < 1e-6 * (1 + expected));
  rnnkit::Optimizer sgd(rnnkit::SGDConfig{0.0f});
  CHECK(std::fabs(rnnkit::train_on_batch(model, ids, y, rnnkit::LossConfig{}, sgd) - expected) < 1e-6 * (1 + expected));
}

// A model trained in C++ survives save_model + load_model exactly: same weights, same predictions.
void test_trained_model_round_trips_through_a_file() {
  std::vector<std::unique_ptr<rnnkit::Layer>> layers;
  layers.push_back(rnnkit::layers::Masking(0.0f));
  layers.push_back(rnnkit::layers::Bidirectional(rnnkit::layers::GRU(3)));
  layers.push_back(rnnkit::layers::Dropout(0.25f));
  layers.push_back(rnnkit::layers::RepeatVector(2));
  layers.push_back(rnnkit::layers::TimeDistributed(rnnkit::layers::Dense(2, "softmax")));
  rnnkit::Model model({6, 1}, std::move(layers), 21);
  rnnkit::Optimizer adam(rnnkit::AdamConfig{});
  std::mt19937_64 rng(8);
  Tensor x, y;
  mean_task(rng, 8, 6, x, y);
  Tensor target({8, 2, 2}, std::vector<float>(32, 0.5f));
  for (int step = 0; step < 3; ++step) rnnkit::train_on_batch(model, x, target, rnnkit::LossConfig{}, adam);

  const std::string path = "test_model_round_trip.rnnkit";
  rnnkit::save_model(model, path);
  const rnnkit::Model loaded = rnnkit::load_model(path);
  CHECK(loaded.layer_count() == model.layer_count());
  CHECK(loaded.predict(x).values == model.predict(x).values);
  const auto a = model.weights();
  const auto b = loaded.weights();
  CHECK(a.size() == b.size());
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) CHECK(a[i]->value.values == b[i]->value.values);
  std::remove(path.c_str());
}

// With BatchNormalization after Masking, train_on_batch moves the moving statistics by momentum toward the kept
// steps' statistics and nothing else: the optimizer has slots for the trainable weights only, and their gradients
// are zero.
void test_batch_normalization_statistics_are_not_optimized() {
  const float momentum = 0.9f;
  std::vector<std::unique_ptr<rnnkit::Layer>> layers;
  layers.push_back(rnnkit::layers::Masking(0.0f));
  layers.push_back(rnnkit::layers::BatchNormalization(momentum));
  layers.push_back(rnnkit::layers::LSTM(3));
  layers.push_back(rnnkit::layers::Dense(1));
  rnnkit::Model model({5, 2}, std::move(layers), 13);
  std::mt19937_64 rng(6);
  Tensor x, y;
  mean_task(rng, 4, 10, x, y);
  x.shape = {4, 5, 2};
  std::fill_n(x.values.begin() + 6, 4, 0.0f);  // steps 3 and 4 of the first sequence are masked
  const std::size_t masked_first = 3, masked_last = 4;

  rnnkit::Model::Trace trace;
  model.forward_train(x, trace);
  const std::vector<Tensor> grads = model.backward(trace, Tensor({4, 1}, std::vector<float>(4, 1.0f)));
  const auto weights = model.weights();
  CHECK(weights.size() == 9);  // gamma, beta, moving_mean, moving_variance, LSTM's 3, Dense's 2
  for (std::size_t k = 0; k < weights.size(); ++k) CHECK(weights[k]->trainable == (k < 2 || k > 3));
  for (std::size_t k : {2, 3})
    for (float g : grads[k].values) CHECK(g == 0.0f);

  const std::vector<float> old_mean = {0.25f, -0.5f}, old_variance = {0.5f, 2.0f};
  weights[2]->value.values = old_mean;
  weights[3]->value.values = old_variance;
  const std::vector<float> gamma = weights[0]->value.values;
  rnnkit::Optimizer adam(rnnkit::AdamConfig{0.01f});
  rnnkit::train_on_batch(model, x, y, rnnkit::LossConfig{}, adam);
  CHECK(adam.slots().size() == 2 * 7);  // momentum and velocity of the 7 trainable weights
  CHECK(weights[0]->value.values != gamma);
  for (std::size_t c = 0; c < 2; ++c) {
    double sum = 0, squares = 0, kept = 0;
    for (std::size_t r = 0; r < 20; ++r)
      if (r < masked_first || r > masked_last) sum += x.values[r * 2 + c], ++kept;
    const double mean = sum / kept;
    for (std::size_t r = 0; r < 20; ++r)
      if (r < masked_first || r > masked_last) squares += (x.values[r * 2 + c] - mean) * (x.values[r * 2 + c] - mean);
    CHECK(std::fabs(weights[2]->value.values[c] - (momentum * old_mean[c] + (1 - momentum) * mean)) < 1e-6);
    CHECK(std::fabs(weights[3]->value.values[c] - (momentum * old_variance[c] + (1 - momentum) * squares / kept)) <
          1e-6);
  }
}

// Keras' layer.trainable = False in C++: a frozen Embedding and a frozen BatchNormalization inside TimeDistributed
// (the wrapper passes the setting on) keep every weight through train_on_batch, the frozen BatchNormalization
// normalises with its moving statistics in training too, the optimizer has slots for the trainable weights only,
// and the flags survive save_model + load_model.
void test_frozen_layers_are_left_alone() {
  std::vector<std::unique_ptr<rnnkit::Layer>> layers;
  layers.push_back(rnnkit::layers::Embedding(9, 3));
  layers.push_back(rnnkit::layers::TimeDistributed(rnnkit::layers::BatchNormalization()));
  layers.push_back(rnnkit::layers::Bidirectional(rnnkit::layers::LSTM(2)));
  layers.push_back(rnnkit::layers::Dense(1));
  rnnkit::Model model({5}, std::move(layers), 17);
  model.layer(0).set_trainable(false);
  model.layer(1).set_trainable(false);
  const auto weights = model.weights();
  CHECK(weights.size() == 1 + 4 + 6 + 2);  // embeddings; gamma, beta, moving stats; two LSTMs; Dense
  for (std::size_t k = 0; k < weights.size(); ++k) CHECK(weights[k]->trainable == (k >= 5));
  weights[3]->value.values = {0.2f, -0.4f, 0.1f};  // moving statistics the frozen layer must use
  weights[4]->value.values = {0.5f, 2.0f, 1.5f};

  std::mt19937_64 rng(4);
  std::uniform_int_distribution<int> id(0, 8);
  Tensor x({6, 5}), y({6, 1});
  for (float& v : x.values) v = static_cast<float>(id(rng));
  for (std::size_t i = 0; i < y.values.size(); ++i) y.values[i] = 0.1f * static_cast<float>(i);
  rnnkit::Model::Trace trace;
  CHECK(model.forward_train(x, trace).values == model.predict(x).values);  // no batch statistics, no dropout

  std::vector<std::vector<float>> before;
  for (const rnnkit::Weight* w : weights) before.push_back(w->value.values);
  rnnkit::Optimizer adam(rnnkit::AdamConfig{0.05f});
  for (int step = 0; step < 2; ++step) rnnkit::train_on_batch(model, x, y, rnnkit::LossConfig{}, adam);
  CHECK(adam.slots().size() == 2 * 8);
  for (std::size_t k = 0; k < weights.size(); ++k) CHECK((weights[k]->value.values == before[k]) == (k < 5));

  const std::string path = "test_model_frozen.rnnkit";
  rnnkit::save_model(model, path);
  const rnnkit::Model loaded = rnnkit::load_model(path);
  CHECK(!loaded.layer(0).trainable() && !loaded.layer(1).trainable() && loaded.layer(2).trainable());
  const auto reloaded = loaded.weights();
  for (std::size_t k = 0; k < reloaded.size(); ++k) CHECK(reloaded[k]->trainable == (k >= 5));
  CHECK(loaded.predict(x).values == model.predict(x).values);
  std::remove(path.c_str());

  model.layer(1).set_trainable(true);  // gamma and beta train again; the moving statistics never do
  for (std::size_t k = 1; k < 5; ++k) CHECK(weights[k]->trainable == (k < 3));
}

}  // namespace

int main() {
  test_frozen_layers_are_left_alone();
  test_trained_model_round_trips_through_a_file();
  test_loss_of_a_masked_sequence_output();
  test_sgd_step_is_minus_learning_rate_times_gradient();
  test_lstm_learns_the_mean();
  test_batch_normalization_statistics_are_not_optimized();
  return rnnkit_test::failures();
}
