// Embedding: rows of a table looked up by (float-valued) token ids; mask_zero masks the id-0 steps.
#include "model/embedding_layer.hpp"

#include "model/embedding_lookup.hpp"
#include "rnnkit/layers.hpp"

namespace rnnkit {
namespace model_detail {

void EmbeddingLookupLayer::check_sizes() const {
  if (vocab_ <= 0 || dim_ <= 0)
    fail_layer(*this, "input_dim and output_dim must be positive, received " + std::to_string(vocab_) + " and " +
                          std::to_string(dim_));
}

std::string EmbeddingLookupLayer::embedding_config() const {
  return "\"input_dim\": " + std::to_string(vocab_) + ", \"output_dim\": " + std::to_string(dim_) +
         ", \"mask_zero\": " + (mask_zero_ ? "true" : "false");
}

Shape EmbeddingLookupLayer::build(const Shape& input, std::mt19937_64* rng) {
  if (mask_zero_ && input.size() != 1)
    fail_layer(*this, "mask_zero needs a (time,) input of token ids, received " + shape_text(input));
  ensure_weight(weights_, 0, *this, "embeddings", {vocab_, dim_}, Init::embedding_uniform, rng);
  Shape output = input;
  output.push_back(dim_);
  return output;
}

std::vector<std::int64_t> EmbeddingLookupLayer::token_ids(const Tensor& x, StepMask& mask) const {
  return embedding_ids(name(), x, vocab_, mask_zero_, mask);
}

Tensor EmbeddingLookupLayer::forward(const Tensor& x, StepMask& mask, TrainingStep* training) const {
  return embedding_lookup(name(), x, weights_[0].value, mask_zero_, mask, training);
}

// Token ids carry no gradient: d_x is zeros, as Keras' integer inputs get none.
LayerGradients EmbeddingLookupLayer::backward(const LayerCache& base, const Tensor& d_y) const {
  const auto& cache = static_cast<const EmbeddingCache&>(base);
  return {Tensor(cache.x_shape), {embedding_table_gradient(cache, d_y, {vocab_, dim_})}};
}

void EmbeddingLookupLayer::collect_weights(std::vector<Weight*>& out) {
  for (Weight& w : weights_) out.push_back(&w);
}

namespace {

class EmbeddingLayer final : public EmbeddingLookupLayer {
 public:
  EmbeddingLayer(std::string name, std::int64_t input_dim, std::int64_t output_dim, bool mask_zero)
      : EmbeddingLookupLayer(std::move(name), input_dim, output_dim, mask_zero) {
    check_sizes();
  }
  const char* class_name() const override { return "Embedding"; }
  std::string config_json() const override { return config_object(*this, embedding_config()); }
};

}  // namespace

std::unique_ptr<Layer> embedding_from_config(const ConfigReader& c) {
  return std::make_unique<EmbeddingLayer>(c.name(), c.positive_integer("input_dim"), c.positive_integer("output_dim"),
                                          c.flag("mask_zero", false));
}

}  // namespace model_detail

namespace layers {
std::unique_ptr<Layer> Embedding(std::int64_t input_dim, std::int64_t output_dim, bool mask_zero,
                                 const std::string& name) {
  return std::make_unique<model_detail::EmbeddingLayer>(name.empty() ? model_detail::auto_name("embedding") : name,
                                                        input_dim, output_dim, mask_zero);
}
}  // namespace layers

}  // namespace rnnkit
