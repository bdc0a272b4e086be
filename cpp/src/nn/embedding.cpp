// Embedding: bounds-checked row gather forward, scatter-add backward.
#include <cstring>
#include <stdexcept>
#include <string>

#include "rnnkit/checked.hpp"
#include "rnnkit/layer_ops.hpp"
#include "rnnkit/runtime.hpp"

namespace rnnkit {

namespace {
// Checked up front, serially: a throw inside an OpenMP region would terminate the process.
void check_ids(const char* fn, const std::int64_t* ids, std::int64_t n, std::int64_t vocab, std::int64_t dim) {
  if (n < 0 || vocab < 0 || dim < 0)
    throw std::invalid_argument(std::string(fn) + ": sizes must be >= 0");
  checked_mul(n, dim, fn);
  checked_mul(vocab, dim, fn);
  for (std::int64_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= vocab)
      throw std::invalid_argument(std::string(fn) + ": expected ids in [0, " + std::to_string(vocab) +
                                  "), received id " + std::to_string(ids[i]) + " at flat position " +
                                  std::to_string(i));
}
}  // namespace

void embedding_forward(const std::int64_t* ids, std::int64_t n, const float* table, std::int64_t vocab,
                       std::int64_t dim, float* out) {
  check_ids("embedding_forward", ids, n, vocab, dim);
  if (dim == 0) return;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n * dim > (1 << 16))
  for (std::int64_t i = 0; i < n; ++i)
    std::memcpy(out + i * dim, table + ids[i] * dim, static_cast<std::size_t>(dim) * sizeof(float));
}

void embedding_backward(const std::int64_t* ids, std::int64_t n, const float* d_out, std::int64_t vocab,
                        std::int64_t dim, float* d_table) {
  check_ids("embedding_backward", ids, n, vocab, dim);
  if (dim == 0) return;
  std::memset(d_table, 0, static_cast<std::size_t>(vocab * dim) * sizeof(float));
  // Serial over ids: repeated ids would race; the work is one add per output element.
  for (std::int64_t i = 0; i < n; ++i) {
    float* row = d_table + ids[i] * dim;
    const float* src = d_out + i * dim;
    for (std::int64_t d = 0; d < dim; ++d) row[d] += src[d];
  }
}

}  // namespace rnnkit
