// Dense: one GEMM forward (a few-row product for one to a few rows), two GEMMs and a column sum backward.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "attention/attention_tiles.hpp"
#include "rnnkit/checked.hpp"
#include "rnnkit/gemm.hpp"
#include "rnnkit/layer_ops.hpp"
#include "rnnkit/runtime.hpp"

namespace rnnkit {

namespace {
void check_dense_sizes(const char* fn, std::int64_t rows, std::int64_t in, std::int64_t units) {
  if (rows < 0 || in < 0 || units < 0)
    throw std::invalid_argument(std::string(fn) + ": sizes must be >= 0, received rows=" + std::to_string(rows) +
                                " in=" + std::to_string(in) + " units=" + std::to_string(units));
  checked_mul(rows, in, fn);
  checked_mul(rows, units, fn);
  checked_mul(in, units, fn);
}

// Up to this many rows (decoding a token or a few, a small batch) the kernel is streamed where it lies: each
// weight is used at most this often, so sgemm's packing and setup per call cost more than the product.
constexpr std::int64_t kFewRows = 9;

// y = x kernel through the attention's unpacked broadcast-FMA product (per ISA): one pass over the kernel's rows
// per column block, every row of x kept in registers. Large kernels split their columns over the threads in chunks
// of 256, whole column blocks, so no thread computes a partial vector.
void few_row_product(const float* x, const float* kernel, std::int64_t rows, std::int64_t in, std::int64_t units,
                     float* y) {
  const auto& product = attention_detail::tile_kernels(active_isa()).product;
  constexpr std::int64_t kChunk = 256;
  const std::int64_t chunks = (units + kChunk - 1) / kChunk;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (chunks > 1 && in * units >= (1 << 20))
  for (std::int64_t c = 0; c < chunks; ++c) {
    const std::int64_t n0 = c * kChunk, n = std::min(kChunk, units - n0);
    product(rows, n, in, 1.0f, x, in, 1, kernel + n0, units, false, y + n0, units);
  }
}
}  // namespace

void dense_forward(const float* x, const float* kernel, const float* bias, std::int64_t rows, std::int64_t in,
                   std::int64_t units, float* y) {
  check_dense_sizes("dense_forward", rows, in, units);
  if (rows == 0 || units == 0) return;
  if (rows > kFewRows)  // the bias is added as each tile of y is stored: no second pass over y
    return sgemm(Trans::no, Trans::no, rows, units, in, 1.f, x, in, kernel, units, 0.f, y, units, bias);
  few_row_product(x, kernel, rows, in, units, y);
  if (bias == nullptr) return;
  for (std::int64_t r = 0; r < rows; ++r) {
    float* row = y + r * units;
    for (std::int64_t u = 0; u < units; ++u) row[u] += bias[u];
  }
}

void dense_backward(const float* x, const float* kernel, const float* d_y, std::int64_t rows, std::int64_t in,
                    std::int64_t units, float* d_x, float* d_kernel, float* d_bias) {
  check_dense_sizes("dense_backward", rows, in, units);
  if (d_x != nullptr && rows > 0 && in > 0)
    sgemm(Trans::no, Trans::yes, rows, in, units, 1.f, d_y, units, kernel, units, 0.f, d_x, in);
  if (in > 0 && units > 0)
    sgemm(Trans::yes, Trans::no, in, units, rows, 1.f, x, in, d_y, units, 0.f, d_kernel, units);
  if (d_bias == nullptr) return;
  for (std::int64_t u = 0; u < units; ++u) d_bias[u] = 0.f;
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = d_y + r * units;
    for (std::int64_t u = 0; u < units; ++u) d_bias[u] += row[u];
  }
}

}  // namespace rnnkit
