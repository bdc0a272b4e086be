// train_lstm: trains an LSTM entirely in C++ on the adding problem (Hochreiter & Schmidhuber, 1997) and prints
// its loss falling. Each step of a sequence holds (value, marker); the target is the sum of the two marked values.
//
//   train_lstm [--steps N] [--length T] [--seed S] [--report-every K] [--save MODEL.rnnkit]
//
// --save writes the trained model in the format Python's rnnkit.saving.load_model reads.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <rnnkit/layers.hpp>
#include <rnnkit/training.hpp>

namespace {

void adding_batch(std::mt19937_64& rng, std::int64_t batch, std::int64_t length, rnnkit::Tensor& x,
                  rnnkit::Tensor& y) {
  std::uniform_real_distribution<float> value(0.0f, 1.0f);
  std::uniform_int_distribution<std::int64_t> position(0, length - 1);
  x = rnnkit::Tensor({batch, length, 2});
  y = rnnkit::Tensor({batch, 1});
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::int64_t first = position(rng);
    std::int64_t second = position(rng);
    while (second == first) second = position(rng);
    for (std::int64_t t = 0; t < length; ++t) {
      float* step = x.values.data() + (b * length + t) * 2;
      step[0] = value(rng);
      step[1] = t == first || t == second ? 1.0f : 0.0f;
      if (step[1] != 0.0f) y.values[static_cast<std::size_t>(b)] += step[0];
    }
  }
}

int run(int argc, char** argv) {
  int steps = 400, report_every = 50;
  std::int64_t length = 10;
  std::uint64_t seed = 1;
  std::string save_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--steps") steps = std::atoi(argv[i + 1]);
    else if (flag == "--length") length = std::atoll(argv[i + 1]);
    else if (flag == "--seed") seed = std::strtoull(argv[i + 1], nullptr, 10);
    else if (flag == "--report-every") report_every = std::atoi(argv[i + 1]);
    else if (flag == "--save") save_path = argv[i + 1];
    else throw std::invalid_argument("unknown option " + flag);
  }
  if (steps <= 0 || length < 2 || report_every <= 0) throw std::invalid_argument("need steps > 0, length >= 2");

  std::vector<std::unique_ptr<rnnkit::Layer>> layers;
  layers.push_back(rnnkit::layers::LSTM(16));
  layers.push_back(rnnkit::layers::Dense(1));
  rnnkit::Model model({length, 2}, std::move(layers), seed);
  rnnkit::Optimizer optimizer(rnnkit::AdamConfig{0.01f});
  const rnnkit::LossConfig mse;  // mean squared error

  std::mt19937_64 rng(seed);
  rnnkit::Tensor x_eval, y_eval, x, y;
  adding_batch(rng, 512, length, x_eval, y_eval);  // held out, to show the loss the model reaches on new data
  std::printf("step %d loss %.6f\n", 0, rnnkit::evaluate(model, x_eval, y_eval, mse));
  for (int step = 1; step <= steps; ++step) {
    adding_batch(rng, 32, length, x, y);
    rnnkit::train_on_batch(model, x, y, mse, optimizer);
    if (step % report_every == 0 || step == steps)
      std::printf("step %d loss %.6f\n", step, rnnkit::evaluate(model, x_eval, y_eval, mse));
  }
  if (!save_path.empty()) {
    rnnkit::save_model(model, save_path);
    std::printf("saved %s\n", save_path.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "train_lstm: %s\n", error.what());
    return 1;
  }
}
