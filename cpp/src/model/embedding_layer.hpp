// What Embedding and ReversibleEmbedding share: rows of a table looked up by (float-valued) token ids; mask_zero
// masks the id-0 steps. ReversibleEmbedding adds the weights of its reverse call.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/support.hpp"

namespace rnnkit::model_detail {

class EmbeddingLookupLayer : public EmbeddingLayerBase {
 public:
  Shape build(const Shape& input, std::mt19937_64* rng) override;
  std::vector<std::int64_t> token_ids(const Tensor& x, StepMask& mask) const override;
  const Tensor& embeddings() const override { return weights_[0].value; }
  Tensor forward(const Tensor& x, StepMask& mask, TrainingStep* training) const override;
  LayerGradients backward(const LayerCache& base, const Tensor& d_y) const override;

 protected:
  EmbeddingLookupLayer(std::string name, std::int64_t input_dim, std::int64_t output_dim, bool mask_zero)
      : EmbeddingLayerBase(std::move(name)), vocab_(input_dim), dim_(output_dim), mask_zero_(mask_zero) {}
  // Called by the subclasses' constructors: only there does class_name() name the layer in the message.
  void check_sizes() const;
  // Keras' input_dim, output_dim and mask_zero keys.
  std::string embedding_config() const;
  void collect_weights(std::vector<Weight*>& out) override;

  std::int64_t vocab_, dim_;
  bool mask_zero_;
  std::vector<Weight> weights_;  // embeddings first
};

}  // namespace rnnkit::model_detail
