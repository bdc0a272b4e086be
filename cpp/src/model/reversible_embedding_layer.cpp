// ReversibleEmbedding (Keras 3's) in its forward role: an Embedding lookup whose layer also owns, when its weights are
// untied, the (output_dim, input_dim) reverse_embeddings of Python's reverse=True call. That call is an option of the
// graph node, which the C++ graph does not carry: load_model refuses the node's "reverse" argument.
#include <cmath>
#include <optional>

#include "model/embedding_layer.hpp"
#include "rnnkit/layers.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

class ReversibleEmbeddingLayer final : public EmbeddingLookupLayer {
 public:
  ReversibleEmbeddingLayer(std::string name, std::int64_t input_dim, std::int64_t output_dim, bool mask_zero,
                           bool tie_weights, std::optional<double> logit_soft_cap)
      : EmbeddingLookupLayer(std::move(name), input_dim, output_dim, mask_zero), tie_weights_(tie_weights),
        logit_soft_cap_(logit_soft_cap) {
    check_sizes();
    if (logit_soft_cap && !(std::isfinite(*logit_soft_cap) && *logit_soft_cap != 0.0))
      fail_layer(*this, "logit_soft_cap must be None or a finite non-zero number, received " +
                            json_number(*logit_soft_cap));
  }
  const char* class_name() const override { return "ReversibleEmbedding"; }
  // logit_soft_cap only acts in reverse calls; it is kept so that a saved model keeps it.
  std::string config_json() const override {
    return config_object(*this, embedding_config() + ", \"tie_weights\": " + (tie_weights_ ? "true" : "false") +
                                    ", \"reverse_dtype\": null, \"logit_soft_cap\": " +
                                    (logit_soft_cap_ ? json_number(*logit_soft_cap_) : "null"));
  }

  Shape build(const Shape& input, std::mt19937_64* rng) override {
    Shape output = EmbeddingLookupLayer::build(input, rng);
    if (!tie_weights_)
      ensure_weight(weights_, 1, *this, "reverse_embeddings", {dim_, vocab_}, Init::embedding_uniform, rng);
    return output;
  }

  // A lookup does not read reverse_embeddings, whose gradient is zero.
  LayerGradients backward(const LayerCache& base, const Tensor& d_y) const override {
    LayerGradients g = EmbeddingLookupLayer::backward(base, d_y);
    if (!tie_weights_) g.d_weights.emplace_back(Shape{dim_, vocab_});
    return g;
  }

 private:
  bool tie_weights_;
  std::optional<double> logit_soft_cap_;
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
