// Inference over a .rnnkit file saved from Python: rnnkit::load_model(path).predict(x).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rnnkit {

// A dense float32 row-major array. Token ids for Embedding are passed as floats, as Keras casts them.
struct Tensor {
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};

class SequentialLayer;  // cpp/src/model/layers.hpp

// A Sequential model of Embedding, Dense, SimpleRNN/LSTM/GRU, Bidirectional, Dropout, Flatten, Activation,
// GlobalAveragePooling1D, RepeatVector and TimeDistributed(Dense) layers.
class Model {
 public:
  // input_shape excludes the batch; -1 marks a size fixed only at predict time (e.g. sequence length).
  Model(std::vector<std::int64_t> input_shape, std::vector<std::unique_ptr<SequentialLayer>> layers);
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  Tensor predict(const Tensor& x) const;  // x: (batch, *input_shape()); std::invalid_argument otherwise
  const std::vector<std::int64_t>& input_shape() const { return input_shape_; }
  std::size_t layer_count() const { return layers_.size(); }

 private:
  std::vector<std::int64_t> input_shape_;
  std::vector<std::unique_ptr<SequentialLayer>> layers_;
};

// std::invalid_argument naming the file for malformed files and for layers or options this API lacks.
Model load_model(const std::string& path);

}  // namespace rnnkit
