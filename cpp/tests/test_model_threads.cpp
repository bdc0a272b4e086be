// Model::predict is const: several threads may predict on one model at once (a service sharing one loaded
// model) and each gets exactly the serial result. Also for an Embedding -> LSTM model, whose LSTM keeps its
// embeddings·kernel table between calls (KeptTokenTable): the threads share that table.
#include <thread>
#include <vector>

#include "check.hpp"
#include "rnnkit/layers.hpp"
#include "rnnkit/model.hpp"

namespace {

// Four inputs of shape (3 + k, *example), each predicted serially, then by four threads twenty times each.
void check_concurrent_predicts(const rnnkit::Model& model, const rnnkit::Shape& example, int value_range) {
  std::vector<rnnkit::Tensor> inputs;
  std::vector<rnnkit::Tensor> serial;
  for (int k = 0; k < 4; ++k) {
    rnnkit::Shape shape{3 + k};
    shape.insert(shape.end(), example.begin(), example.end());
    rnnkit::Tensor x(shape);
    for (std::size_t i = 0; i < x.values.size(); ++i)
      x.values[i] = value_range > 0 ? static_cast<float>((i * 7 + k) % value_range)
                                    : static_cast<float>((i * 7 + k) % 11) / 5.0f - 1.0f;
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
}

}  // namespace

int main() {
  std::vector<std::unique_ptr<rnnkit::Layer>> stack;
  rnnkit::layers::RecurrentOptions seq;
  seq.return_sequences = true;
  stack.push_back(rnnkit::layers::Bidirectional(rnnkit::layers::LSTM(16, seq)));
  stack.push_back(rnnkit::layers::GRU(8));
  stack.push_back(rnnkit::layers::Dense(3, "softmax"));
  check_concurrent_predicts(rnnkit::Model({12, 5}, std::move(stack), 4), {12, 5}, 0);

  std::vector<std::unique_ptr<rnnkit::Layer>> tokens;  // 20 ids a vocabulary of 9: the table pays from the start
  tokens.push_back(rnnkit::layers::Embedding(9, 6));
  tokens.push_back(rnnkit::layers::LSTM(32));
  tokens.push_back(rnnkit::layers::Dense(2));
  check_concurrent_predicts(rnnkit::Model({20}, std::move(tokens), 5), {20}, 9);
  return rnnkit_test::failures();
}
