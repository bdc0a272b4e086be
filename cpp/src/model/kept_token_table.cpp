#include "model/kept_token_table.hpp"

#include <algorithm>
#include <cstring>

#include "rnnkit/checked.hpp"
#include "rnnkit/gemm.hpp"

namespace rnnkit::model_detail {

namespace {
// Comparing the kept weights (rows x input floats of embeddings, the most) costs as much as projecting about
// K * rows / width ids (2 * input * width flops each): K = rnnkit's sgemm rate over memcmp's in floats a second.
constexpr std::int64_t kCompareIdsPerRowWidth = 32;
// Beyond this many floats (128 MiB) the table would cost more memory than it saves time (as in Python's
// rnnkit.layers.rnn.token_table.MAX_TABLE_FLOATS).
constexpr double kMaxTableFloats = double(std::int64_t{1} << 25);

// Bytes, as kept_packing compares U: a NaN weight matches itself, and -0 does not match +0.
bool same_bytes(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0;
}
}  // namespace

bool KeptTokenTable::pays(std::int64_t ids, std::int64_t rows, std::int64_t width) const {
  if (static_cast<double>(rows) * static_cast<double>(width) > kMaxTableFloats) return false;
  const std::int64_t seen = seen_ids_.fetch_add(ids) + ids;
  return ids >= rows || (seen >= rows && ids >= std::min(rows, kCompareIdsPerRowWidth * rows / width));
}

std::shared_ptr<const AlignedFloats> KeptTokenTable::table(const Tensor& embeddings, const Tensor& kernel) const {
  const std::lock_guard<std::mutex> hold(lock_);
  if (table_ && same_bytes(embeddings.values, embeddings_) && same_bytes(kernel.values, kernel_)) return table_;
  const std::int64_t rows = embeddings.shape[0], input = kernel.shape[0], width = kernel.shape[1];
  auto table = std::make_shared<AlignedFloats>(allocate_random_access(checked_mul(rows, width, "token table"),
                                                                      "token table"));
  sgemm(Trans::no, Trans::no, rows, width, input, 1.0f, embeddings.values.data(), input, kernel.values.data(), width,
        0.0f, table->get(), width);
  embeddings_ = embeddings.values, kernel_ = kernel.values;
  table_ = std::move(table);
  return table_;
}

}  // namespace rnnkit::model_detail
