// Model::predict is const: several threads may predict on one model at once (a service sharing one loaded
// model) and each gets exactly the serial result.
#include <thread>
#include <vector>

#include "check.hpp"
#include "rnnkit/layers.hpp"
#include "rnnkit/model.hpp"

int main() {
  std::vector<std::unique_ptr<rnnkit::Layer>> stack;
  rnnkit::layers::RecurrentOptions seq;
  seq.return_sequences = true;
  stack.push_back(rnnkit::layers::Bidirectional(rnnkit::layers::LSTM(16, seq)));
  stack.push_back(rnnkit::layers::GRU(8));
  stack.push_back(rnnkit::layers::Dense(3, "softmax"));
  const rnnkit::Model model({12, 5}, std::move(stack), 4);

  std::vector<rnnkit::Tensor> inputs;
  std::vector<rnnkit::Tensor> serial;
  for (int k = 0; k < 4; ++k) {
    rnnkit::Tensor x({3 + k, 12, 5});
    for (std::size_t i = 0; i < x.values.size(); ++i) x.values[i] = static_cast<float>((i * 7 + k) % 11) / 5.0f - 1.0f;
    serial.push_back(model.predict(x));
    inputs.push_back(std::move(x));
  }
  std::vector<int> mismatches(inputs.size(), 0);
  std::vector<std::thread> threads;
  for (std::size_t k = 0; k < inputs.size(); ++k)
    threads.emplace_back([&, k] {
      for (int repeat = 0; repeat < 20; ++repeat)
        mismatches[k] += model.predict(inputs[k]).values != serial[k].values;
    });
  for (std::thread& t : threads) t.join();
  for (int m : mismatches) CHECK(m == 0);
  return rnnkit_test::failures();
}
