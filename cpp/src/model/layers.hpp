// Inference layers of rnnkit::Model. Each consumes its weights from the file in Keras' model.weights order.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rnnkit/model.hpp"
#include "rnnkit/model_file.hpp"

namespace rnnkit {

// (batch, time) keep-flags from Embedding(mask_zero=True); empty when the sequence is unmasked.
using StepMask = std::vector<std::uint8_t>;

class SequentialLayer {
 public:
  virtual ~SequentialLayer() = default;
  virtual Tensor forward(const Tensor& x, StepMask& mask) const = 0;
};

// Hands out the file's weights in order and checks each shape against what the layer expects.
class WeightCursor {
 public:
  WeightCursor(const ModelFile& file, std::string source) : file_(file), source_(std::move(source)) {}
  std::vector<float> next(const std::vector<std::int64_t>& expected_shape, const std::string& layer);
  bool exhausted() const { return index_ == file_.weights.size(); }

 private:
  const ModelFile& file_;
  std::string source_;
  std::size_t index_ = 0;
};

// Builds one layer from its Keras {"class_name", "config"} entry; `input_shape` excludes the batch and is
// updated to the layer's output shape.
std::unique_ptr<SequentialLayer> make_layer(const Json& layer, std::vector<std::int64_t>& input_shape,
                                            WeightCursor& weights, const std::string& source);

}  // namespace rnnkit
