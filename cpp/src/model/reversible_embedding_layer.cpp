// ReversibleEmbedding (Keras 3's) in its forward role: an Embedding lookup whose layer also owns, when its weights are
// untied, the (output_dim, input_dim) reverse_embeddings of Python's reverse=True call. That call is an option of the
// graph node, which the C++ graph does not carry: load_model refuses the node's "reverse" argument.
#include <cmath>
#include <optional>

#include "model/embedding_lookup.hpp"
#include "model/support.hpp"
#include "rnnkit/layers.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

class ReversibleEmbeddingLayer final : public EmbeddingLayerBase {
 public:
  ReversibleEmbeddingLayer(std::string name, std::int64_t input_dim, std::int64_t output_dim, bool mask_zero,
                           bool tie_weights, std::optional<double> logit_soft_cap)
      : EmbeddingLayerBase(std::move(name)), vocab_(input_dim), dim_(output_dim), mask_zero_(mask_zero),
        tie_weights_(tie_weights), logit_soft_cap_(logit_soft_cap) {
    if (input_dim <= 0 || output_dim <= 0)
      fail_layer(*this, "input_dim and output_dim must be positive, received " + std::to_string(input_dim) +
                            " and " + std::to_string(output_dim));
    if (logit_soft_cap && !(std::isfinite(*logit_soft_cap) && *logit_soft_cap != 0.0))
      fail_layer(*this, "logit_soft_cap must be None or a finite non-zero number, received " +
                            json_number(*logit_soft_cap));
  }
  const char* class_name() const override { return "ReversibleEmbedding"; }
  // logit_soft_cap only acts in reverse calls; it is kept so that a saved model keeps it.
  std::string config_json() const override {
    return config_object(*this, "\"input_dim\": " + std::to_string(vocab_) + ", \"output_dim\": " +
                                    std::to_string(dim_) + ", \"mask_zero\": " + (mask_zero_ ? "true" : "false") +
                                    ", \"tie_weights\": " + (tie_weights_ ? "true" : "false") +
                                    ", \"reverse_dtype\": null, \"logit_soft_cap\": " +
                                    (logit_soft_cap_ ? json_number(*logit_soft_cap_) : "null"));
  }

  Shape build(const Shape& input, std::mt19937_64* rng) override {
    if (mask_zero_ && input.size() != 1)
      fail_layer(*this, "mask_zero needs a (time,) input of token ids, received " + shape_text(input));
    ensure_weight(weights_, 0, *this, "embeddings", {vocab_, dim_}, Init::embedding_uniform, rng);
    if (!tie_weights_)
      ensure_weight(weights_, 1, *this, "reverse_embeddings", {dim_, vocab_}, Init::embedding_uniform, rng);
    Shape output = input;
    output.push_back(dim_);
    return output;
  }

  std::vector<std::int64_t> token_ids(const Tensor& x, StepMask& mask) const override {
    return embedding_ids(name(), x, vocab_, mask_zero_, mask);
  }
  const Tensor& embeddings() const override { return weights_[0].value; }

  Tensor forward(const Tensor& x, StepMask& mask, TrainingStep* training) const override {
    return embedding_lookup(name(), x, weights_[0].value, mask_zero_, mask, training);
  }

  // Token ids carry no gradient; a lookup does not read reverse_embeddings, whose gradient is zero.
  LayerGradients backward(const LayerCache& base, const Tensor& d_y) const override {
    const auto& cache = static_cast<const EmbeddingCache&>(base);
    LayerGradients g{Tensor(cache.x_shape), {embedding_table_gradient(cache, d_y, {vocab_, dim_})}};
    if (!tie_weights_) g.d_weights.emplace_back(Shape{dim_, vocab_});
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>& out) override {
    for (Weight& w : weights_) out.push_back(&w);
  }

 private:
  std::int64_t vocab_, dim_;
  bool mask_zero_, tie_weights_;
  std::optional<double> logit_soft_cap_;
  std::vector<Weight> weights_;
};

}  // namespace

std::unique_ptr<Layer> reversible_embedding_from_config(const ConfigReader& c) {
  const std::string reverse_dtype = c.text("reverse_dtype", "float32");
  if (reverse_dtype != "float32")
    fail(c.where(), "rnnkit computes in float32, received reverse_dtype=" + reverse_dtype);
  std::optional<double> cap;
  if (const Json* v = c.get("logit_soft_cap"); v != nullptr && v->kind != Json::Kind::null)
    cap = c.number("logit_soft_cap", 0.0);
  return std::make_unique<ReversibleEmbeddingLayer>(c.name(), c.positive_integer("input_dim"),
                                                    c.positive_integer("output_dim"), c.flag("mask_zero", false),
                                                    c.flag("tie_weights", true), cap);
}

}  // namespace model_detail

namespace layers {
std::unique_ptr<Layer> ReversibleEmbedding(std::int64_t input_dim, std::int64_t output_dim, bool tie_weights,
                                           bool mask_zero, std::optional<float> logit_soft_cap,
                                           const std::string& name) {
  std::optional<double> cap;
  if (logit_soft_cap) cap = *logit_soft_cap;
  return std::make_unique<model_detail::ReversibleEmbeddingLayer>(
      name.empty() ? model_detail::auto_name("reversible_embedding") : name, input_dim, output_dim, mask_zero,
      tie_weights, cap);
}
}  // namespace layers

}  // namespace rnnkit
