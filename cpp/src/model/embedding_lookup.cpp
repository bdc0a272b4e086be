// The token-id lookup Embedding and ReversibleEmbedding share, forward next to backward.
#include "model/embedding_lookup.hpp"

#include <stdexcept>

#include "rnnkit/layer_ops.hpp"

namespace rnnkit::model_detail {

std::vector<std::int64_t> embedding_ids(const std::string& layer, const Tensor& x, std::int64_t vocab,
                                        bool mask_zero, StepMask& mask) {
  std::vector<std::int64_t> ids(x.values.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const float id = x.values[i];
    // Keras casts ids to int; anything that is not a whole id in range is an error, not a silent truncation.
    if (!(id >= 0.0f && id < static_cast<float>(vocab)) || static_cast<float>(static_cast<std::int64_t>(id)) != id)
      throw std::invalid_argument(layer + ": token id " + std::to_string(id) + " is not an integer in [0, " +
                                  std::to_string(vocab) + ")");
    ids[i] = static_cast<std::int64_t>(id);
  }
  mask.clear();
  if (mask_zero)
    for (std::int64_t id : ids) mask.push_back(id != 0);
  return ids;
}

Tensor embedding_lookup(const std::string& layer, const Tensor& x, const Tensor& table, bool mask_zero,
                        StepMask& mask, TrainingStep* training) {
  const std::int64_t vocab = table.shape[0], dim = table.shape[1];
  std::vector<std::int64_t> ids = embedding_ids(layer, x, vocab, mask_zero, mask);
  Shape shape = x.shape;
  shape.push_back(dim);
  Tensor y(shape);
  embedding_forward(ids.data(), static_cast<std::int64_t>(ids.size()), table.values.data(), vocab, dim,
                    y.values.data());
  if (training) {
    auto cache = std::make_unique<EmbeddingCache>();
    cache->ids = std::move(ids);
    cache->x_shape = x.shape;
    training->cache = std::move(cache);
  }
  return y;
}

Tensor embedding_table_gradient(const EmbeddingCache& cache, const Tensor& d_y, const Shape& table_shape) {
  Tensor d_table(table_shape);
  embedding_backward(cache.ids.data(), static_cast<std::int64_t>(cache.ids.size()), d_y.values.data(),
                     table_shape[0], table_shape[1], d_table.values.data());
  return d_table;
}

}  // namespace rnnkit::model_detail
