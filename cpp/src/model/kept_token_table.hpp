// A recurrent layer's embeddings · kernel table (RecurrentLayerBase::forward_ids), kept between predict calls.
//
// Computing the table of an Embedding(10000, 128) -> LSTM(128) model is 1.3 GFLOP, as much as the layer's
// forward on a batch of 64 x 100 ids; made at every call, it doubled a C++ predict loop's time. The table is
// kept with copies of the embeddings and kernel it came from, and reused while both have the same bytes: they
// are compared, not their addresses, because training updates weights in place. The price is the table and the
// copies kept in memory (22 + 5 MB for that model), as Python's rnnkit.layers.rnn.token_table keeps its table.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "kernels/aligned_buffers.hpp"
#include "rnnkit/model.hpp"

namespace rnnkit::model_detail {

class KeptTokenTable {
 public:
  // Whether a call on `ids` ids should take a table of `rows` rows and `width` columns (none of more than 2^25
  // floats), counting them as seen: a call with as many ids as rows (the table costs no more than the projections
  // it replaces), or once the ids seen reach that many, a call with enough ids that comparing the weights costs
  // less than projecting them.
  bool pays(std::int64_t ids, std::int64_t rows, std::int64_t width) const;

  // embeddings (rows x input) times kernel (input x width), row-major: the kept table when both are unchanged
  // since it was made, else a new one, kept. Safe to call from several threads; a table handed out stays valid
  // while its holder keeps it, whatever later calls do.
  std::shared_ptr<const AlignedFloats> table(const Tensor& embeddings, const Tensor& kernel) const;

 private:
  mutable std::mutex lock_;
  mutable std::vector<float> embeddings_, kernel_;
  mutable std::shared_ptr<const AlignedFloats> table_;
  mutable std::atomic<std::int64_t> seen_ids_{0};
};

}  // namespace rnnkit::model_detail
