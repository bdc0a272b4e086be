// Embedding: rows of a table looked up by (float-valued) token ids; mask_zero masks the id-0 steps.
#include <stdexcept>

#include "model/support.hpp"
#include "rnnkit/layer_ops.hpp"
#include "rnnkit/layers.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

class EmbeddingLayer final : public EmbeddingLayerBase {
 public:
  EmbeddingLayer(std::string name, std::int64_t input_dim, std::int64_t output_dim, bool mask_zero)
      : EmbeddingLayerBase(std::move(name)), vocab_(input_dim), dim_(output_dim), mask_zero_(mask_zero) {
    if (input_dim <= 0 || output_dim <= 0)
      fail_layer(*this, "input_dim and output_dim must be positive, received " + std::to_string(input_dim) +
                             " and " + std::to_string(output_dim));
  }
  const char* class_name() const override { return "Embedding"; }
  std::string config_json() const override {
    return config_object(*this, "\"input_dim\": " + std::to_string(vocab_) + ", \"output_dim\": " +
                                    std::to_string(dim_) + ", \"mask_zero\": " + (mask_zero_ ? "true" : "false"));
  }

  Shape build(const Shape& input, std::mt19937_64* rng) override {
    if (mask_zero_ && input.size() != 1)
      fail_layer(*this, "mask_zero needs a (time,) input of token ids, received " + shape_text(input));
    ensure_weight(weights_, 0, *this, "embeddings", {vocab_, dim_}, Init::embedding_uniform, rng);
    Shape output = input;
    output.push_back(dim_);
    return output;
  }

  struct Cache final : LayerCache {
    std::vector<std::int64_t> ids;
    Shape x_shape;
  };

  std::vector<std::int64_t> token_ids(const Tensor& x, StepMask& mask) const override {
    std::vector<std::int64_t> ids(x.values.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const float id = x.values[i];
      // Keras casts ids to int; anything that is not a whole id in range is an error, not a silent truncation.
      if (!(id >= 0.0f && id < static_cast<float>(vocab_)) || static_cast<float>(static_cast<std::int64_t>(id)) != id)
        throw std::invalid_argument(name() + ": token id " + std::to_string(id) + " is not an integer in [0, " +
                                    std::to_string(vocab_) + ")");
      ids[i] = static_cast<std::int64_t>(id);
    }
    mask.clear();
    if (mask_zero_)
      for (std::int64_t id : ids) mask.push_back(id != 0);
    return ids;
  }
  const Tensor& embeddings() const override { return weights_[0].value; }

  Tensor forward(const Tensor& x, StepMask& mask, TrainingStep* training) const override {
    std::vector<std::int64_t> ids = token_ids(x, mask);
    Shape shape = x.shape;
    shape.push_back(dim_);
    Tensor y(shape);
    embedding_forward(ids.data(), static_cast<std::int64_t>(ids.size()), weights_[0].value.values.data(), vocab_,
                      dim_, y.values.data());
    if (training) {
      auto cache = std::make_unique<Cache>();
      cache->ids = std::move(ids);
      cache->x_shape = x.shape;
      training->cache = std::move(cache);
    }
    return y;
  }

  // Token ids carry no gradient: d_x is zeros, as Keras' integer inputs get none.
  LayerGradients backward(const LayerCache& base, const Tensor& d_y) const override {
    const auto& cache = static_cast<const Cache&>(base);
    LayerGradients g{Tensor(cache.x_shape), {Tensor({vocab_, dim_})}};
    embedding_backward(cache.ids.data(), static_cast<std::int64_t>(cache.ids.size()), d_y.values.data(), vocab_,
                       dim_, g.d_weights[0].values.data());
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>& out) override {
    for (Weight& w : weights_) out.push_back(&w);
  }

 private:
  std::int64_t vocab_, dim_;
  bool mask_zero_;
  std::vector<Weight> weights_;
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
  return std::make_unique<model_detail::EmbeddingLayer>(name.empty() ? model_detail::auto_name("embedding") : name, input_dim, output_dim,
                                                        mask_zero);
}
}  // namespace layers

}  // namespace rnnkit
