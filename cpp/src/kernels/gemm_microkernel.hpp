// The per-ISA register-blocked microkernels behind sgemm, and the panel layout they read.
#pragma once
#include <array>
#include <cstdint>

namespace rnnkit::gemm_detail {

// Computes rows x nr of C = alpha * A_panel * B_panel + beta * C + bias (beta == 0: C is not read; bias: nr
// floats added to every row, or null), where A_panel is [kc][mr] contiguous (only the first `rows` of each mr
// used) and B_panel is kc rows of nr contiguous floats, b_stride apart (nr when packed, ldb when read straight
// from a row-major B).
using MicroKernelFn = void (*)(std::int64_t kc, const float* a_panel, const float* b_panel, std::int64_t b_stride,
                               float* c, std::int64_t ldc, float alpha, float beta, const float* bias);

// MicroKernelFn with A read in place: row i of the rows x kc block at a + i * a_ld (row-major A, unpacked).
using DirectKernelFn = void (*)(std::int64_t kc, const float* a, std::int64_t a_ld, const float* b_panel,
                                std::int64_t b_stride, float* c, std::int64_t ldc, float alpha, float beta,
                                const float* bias);

// Packs a panel [kc][width] from n <= width source vectors of kc floats: gather reads vector i as a row
// (out[k*width + i] = src[i*ld + k]: row-major A, transposed B), copy as a column (out[k*width + i] =
// src[k*ld + i]: transposed A). Lanes [n, width) of every panel row are zeroed.
using PackFn = void (*)(std::int64_t n, std::int64_t kc, const float* src, std::int64_t ld, int width, float* out);

// y[0, n) = alpha * x[0, K) . B[K, n] + beta * y (beta == 0: y is not read) + bias (n floats or null), B read
// in place, rows ldb apart, front to back: one row vector against a B too large for cache, whose rows then
// stream in the order the hardware prefetchers follow (a strip reading a few lines of every row does not).
using RowStreamFn = void (*)(std::int64_t K, std::int64_t n, const float* x, const float* B, std::int64_t ldb,
                             float* y, float alpha, float beta, const float* bias);

// c[0, count * nr) = alpha * x[0, kc) . (count consecutive packed panels [kc][nr], panel_stride floats apart) +
// beta * c (beta == 0: c is not read): a row vector against packed B (batch 1), several panels per pass so each
// broadcast of x[k] feeds several panels' FMAs and their streams from L2 overlap.
using RowPanelsFn = void (*)(std::int64_t kc, const float* x, const float* panels, std::int64_t panel_stride,
                             std::int64_t count, float* c, float alpha, float beta);

constexpr int kMaxPanelRows = 16;

// A kernel as wide as the register file allows for its row count: with B read where it lies and each of
// its elements used only `rows` times, a wider tile reads longer contiguous runs of every B row per k.
struct StripKernel {
  int width;  // columns per call, a multiple of nr
  MicroKernelFn fn;  // same contract as MicroKernelFn, A panel [kc][mr]
};

struct MicroKernel {
  int mr;  // rows per A panel
  int nr;  // columns per B panel (a multiple of the vector width)
  std::array<MicroKernelFn, kMaxPanelRows + 1> by_rows;  // by_rows[r] handles r = 1..mr rows
  std::array<DirectKernelFn, kMaxPanelRows + 1> direct;  // the same with A unpacked
  std::array<StripKernel, kMaxPanelRows + 1> strip;      // strip[r]: r = 1..mr rows, `width` columns
  MicroKernelFn row;  // one row whose A "panel" is kc contiguous floats: a row vector needs no packing
  RowPanelsFn row_panels;
  PackFn gather;
  PackFn copy;
  RowStreamFn row_stream;
};

}  // namespace rnnkit::gemm_detail

namespace rnnkit::generic { const gemm_detail::MicroKernel& gemm_microkernel(); }
namespace rnnkit::avx2 { const gemm_detail::MicroKernel& gemm_microkernel(); }
namespace rnnkit::avx512 { const gemm_detail::MicroKernel& gemm_microkernel(); }
