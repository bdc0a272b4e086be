// The lookup of Embedding and of ReversibleEmbedding's forward call: float-valued token ids to rows of a table.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/support.hpp"

namespace rnnkit::model_detail {

struct EmbeddingCache final : LayerCache {
  std::vector<std::int64_t> ids;
  Shape x_shape;
};

// The ids of x (std::invalid_argument naming `layer` for a value that is not a whole id in [0, vocab)) and, with
// mask_zero, the mask of the non-zero ids (cleared otherwise).
std::vector<std::int64_t> embedding_ids(const std::string& layer, const Tensor& x, std::int64_t vocab,
                                        bool mask_zero, StepMask& mask);
// table[ids] of shape (*x.shape, dim); in training, an EmbeddingCache goes to `training`.
Tensor embedding_lookup(const std::string& layer, const Tensor& x, const Tensor& table, bool mask_zero,
                        StepMask& mask, TrainingStep* training);
// dL/d(table): the rows the ids read gather their steps' dL/dy.
Tensor embedding_table_gradient(const EmbeddingCache& cache, const Tensor& d_y, const Shape& table_shape);

}  // namespace rnnkit::model_detail
