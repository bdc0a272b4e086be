// Portable microkernel (no intrinsics): a 4 x 16 tile of scalar accumulators the compiler may vectorize
// with the baseline ISA.
#include <cstdint>
#include <utility>

#include "kernels/gemm_microkernel.hpp"

namespace rnnkit::generic {
namespace {
constexpr int kMr = 4, kNr = 16;

// A element (i, k) at a[i * a_row + k * a_col]: a packed panel (1, MR) or A where it lies (lda, 1).
template <int ROWS>
void gemm_tile_any(std::int64_t kc, const float* a, std::int64_t a_row, std::int64_t a_col, const float* b,
                   std::int64_t b_stride, float* c, std::int64_t ldc, float alpha, float beta, const float* bias) {
  float acc[ROWS][kNr] = {};
  for (std::int64_t k = 0; k < kc; ++k, a += a_col, b += b_stride)
    for (int i = 0; i < ROWS; ++i)
      for (int j = 0; j < kNr; ++j) acc[i][j] += a[i * a_row] * b[j];
  for (int i = 0; i < ROWS; ++i)
    for (int j = 0; j < kNr; ++j) {
      float& cij = c[i * ldc + j];
      cij = (beta == 0.f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * cij) + (bias ? bias[j] : 0.f);
    }
}

template <int ROWS, int MR>
void gemm_tile(std::int64_t kc, const float* a, const float* b, std::int64_t b_stride, float* c, std::int64_t ldc,
               float alpha, float beta, const float* bias) {
  gemm_tile_any<ROWS>(kc, a, 1, MR, b, b_stride, c, ldc, alpha, beta, bias);
}

template <int ROWS>
void gemm_tile_direct(std::int64_t kc, const float* a, std::int64_t a_ld, const float* b, std::int64_t b_stride,
                      float* c, std::int64_t ldc, float alpha, float beta, const float* bias) {
  gemm_tile_any<ROWS>(kc, a, a_ld, 1, b, b_stride, c, ldc, alpha, beta, bias);
}

// PackFn gather and copy without intrinsics: contiguous stores along each panel row.
void pack_gather(std::int64_t n, std::int64_t kc, const float* src, std::int64_t ld, int width, float* out) {
  for (std::int64_t k = 0; k < kc; ++k)
    for (int i = 0; i < width; ++i) out[k * width + i] = i < n ? src[i * ld + k] : 0.f;
}

void pack_copy(std::int64_t n, std::int64_t kc, const float* src, std::int64_t ld, int width, float* out) {
  for (std::int64_t k = 0; k < kc; ++k)
    for (int i = 0; i < width; ++i) out[k * width + i] = i < n ? src[k * ld + i] : 0.f;
}

void row_stream(std::int64_t K, std::int64_t n, const float* x, const float* B, std::int64_t ldb, float* y,
                float alpha, float beta, const float* bias) {
  for (std::int64_t c = 0; c < n; ++c) y[c] = (beta == 0.f ? 0.f : beta * y[c]) + (bias ? bias[c] : 0.f);
  for (std::int64_t k = 0; k < K; ++k)
    for (std::int64_t c = 0; c < n; ++c) y[c] += alpha * x[k] * B[k * ldb + c];
}

void row_panels(std::int64_t kc, const float* x, const float* panels, std::int64_t panel_stride, std::int64_t count,
                float* c, float alpha, float beta) {
  for (std::int64_t q = 0; q < count; ++q)
    gemm_tile<1, 1>(kc, x, panels + q * panel_stride, kNr, c + q * kNr, kNr, alpha, beta, nullptr);
}

template <std::size_t... R>
gemm_detail::MicroKernel make_microkernel(std::index_sequence<R...>) {
  gemm_detail::MicroKernel k{kMr, kNr, {}, {}, {}, &gemm_tile<1, 1>, &row_panels, &pack_gather, &pack_copy, &row_stream};
  ((k.by_rows[R + 1] = &gemm_tile<R + 1, kMr>), ...);
  ((k.direct[R + 1] = &gemm_tile_direct<R + 1>), ...);
  ((k.strip[R + 1] = {kNr, &gemm_tile<R + 1, kMr>}), ...);
  return k;
}
}  // namespace

const gemm_detail::MicroKernel& gemm_microkernel() {
  static const auto kernel = make_microkernel(std::make_index_sequence<kMr>{});
  return kernel;
}

}  // namespace rnnkit::generic
