// sgemm driver: operand packing into microkernel panels, cache blocking, OpenMP over tiles, ISA dispatch.
#include "rnnkit/gemm.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "kernels/aligned_buffers.hpp"
#include "kernels/flush_denormals.hpp"
#include "kernels/gemm_microkernel.hpp"
#include "rnnkit/checked.hpp"
#include "rnnkit/runtime.hpp"
#include "runtime/cache_sizes.hpp"

#ifdef RNNKIT_HAVE_OPENMP
#include <omp.h>
#define RNNKIT_OMP(directive) _Pragma(#directive)
#else
#define RNNKIT_OMP(directive)
#endif

namespace rnnkit {
namespace {

using gemm_detail::MicroKernel;
using std::int64_t;

// Columns of B per block: on Zen 4 a kc x nc block of B (512 KiB at kc = 256) stays in the 1 MiB L2 and is swept
// once per A micro-panel; 1024 on a 2 MiB L2 (Intel Xeon) was level (1.00-1.02x).
constexpr int64_t kNc = 512;

// K per block (kc). 256 with a 32 KiB L1d (Zen 3, Zen 4): an A micro-panel (kc x mr) stays in L1d. 512 with 48 KiB
// or more (Intel Xeon, AVX-512): C is loaded and stored half as often, and a packed B panel of K <= 512 is read in
// one run, which the prefetchers follow from L3 (an LSTM's U at H = 512): 1024^3 1.03x, 2048^3 1.04x, 512 x 2048
// x 3200 1.03x, 3200 x 2048 x 512 1.02x; LSTM (64,50,256,512) forward 1.03x (2 threads 1.03x), training 1.02x,
// GRU forward 1.02x, SimpleRNN training 1.02x (alternating builds, medians of 5-9).
int64_t k_block() {
  static const int64_t kc = l1d_cache_bytes() >= 48 * 1024 ? 512 : 256;
  return kc;
}
// Up to this many rows (a batch of an RNN), sgemm splits columns between threads and packs B a block per
// thread as it goes; taller products split row panels, each thread packing its own blocks of A and B.
constexpr int64_t kSmallM = 128;
// Longest K for which several row panels read row-major B in place instead of packing it.
constexpr int64_t kInPlaceMaxK = 64;
// ... but not beyond kInPlaceLongRowsMaxM rows of A when B's rows lie kLongRowFloats or more apart: on Zen 3 a
// strip reading rows 2 KiB or more apart ran ~1.3x slower than over packed B (100 x 512 x 64, the input
// projection of a batch-1 LSTM at H = 128: 131-142 us in place against 87-114 packed, 9 us to pack; 32 x 512 x 64
// 34 / 27 + 9; 12 x 512 x 64 15.5 / 11.7 + 9; 100 x 384 x 64 level; one binary timing both alternately, medians
// of 41).
constexpr int64_t kLongRowFloats = 512, kInPlaceLongRowsMaxM = 48;
// Row strides (in floats) of A at which the row panels' reads of A in place crowd L1's sets, so A is packed:
// rows a multiple of 1 KiB apart share a few sets (32 x 2048 x 512 ran 5% slower read in place, 32 x 512 x 128 1%
// faster, 8 x 384 x 128 10%). Rows of at most kInPlaceMaxK floats (four lines) crowd them only a multiple of
// 4 KiB apart: 2 KiB apart, a panel's 12 rows put six lines in a set of L1's eight ways. SimpleRNN (16,200,64,64)
// forward, whose x rows of a step lie 50 KiB apart, read them in place 1.06x faster on 1 thread, 1.11x on 2.
constexpr int64_t kDirectAliasFloats = 256, kShortRowAliasFloats = 1024;

bool a_rows_crowd_l1(int64_t lda, int64_t K) {
  return lda % kDirectAliasFloats == 0 && (K > kInPlaceMaxK || lda % kShortRowAliasFloats == 0);
}
// A single row against a row-major B of more bytes than this (about one core's L2) streams B's rows front to
// back (RowStreamFn): 1 x 2048 x 512 on 1 thread 11.3 -> 14 GFLOP/s, numpy 13.9 (2026-11-26). Below it B comes
// from cache and the strip kernel, which keeps C in registers, is faster.
constexpr double kRowStreamMinBytes = 1024.0 * 1024.0;
// Per-step products against a packed B of more than this many L2s (an LSTM's or GRU's U at H = 512 on a
// 512 KiB L2) read each panel's kc x nr block from L3 on its first use, and the first row panel's tile waited for
// it; so the next panel is prefetched into L2 a share per tile while the current one is used: Zen 3 (512 KiB L2),
// 1 thread, 64 x 2048 x 512 1.11-1.17x, 32 x 2048 x 512 1.05-1.22x, 64 x 1536 x 512 1.08-1.11x; at 4 L2s and
// below 0.94-1.01x (alternating, medians of 100-200). On an Intel Xeon with 2 MiB of L2 the prefetch bursts
// stalled the tiles at 2 L2s (U of 4 MiB): without them LSTM / GRU (64,50,256,512) forward 1.03-1.04x on 1 thread,
// 1.04x / GRU training 1.07x on 2 (alternating call by call, medians of 9-21).
constexpr int64_t kPrefetchNextPanelMinL2s = 4;
// Below this many flops per thread (~40 us), forking costs more than it saves when idle OpenMP threads sleep
// (OMP_WAIT_POLICY=passive): waking one, or waiting for one the OS has descheduled on a busy machine, takes
// tens of microseconds. Under the default policy they spin for a while after each region and join the next
// within a microsecond or two, so a quarter of that work (~10 us) already pays for a second thread.
constexpr int64_t kFlopsPerSleepingThread = int64_t{1} << 22;
constexpr int64_t kFlopsPerSpinningThread = int64_t{1} << 20;

bool idle_threads_sleep() {
  static const bool passive = [] {
    const char* policy = std::getenv("OMP_WAIT_POLICY");
    if (!policy) return false;
    std::string lower(policy);
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return lower == "passive";
  }();
  return passive;
}

const MicroKernel& microkernel_for(Isa isa) {
  switch (isa) {
    case Isa::avx512: return avx512::gemm_microkernel();
    case Isa::avx2: return avx2::gemm_microkernel();
    default: return generic::gemm_microkernel();
  }
}

// The packing buffers' thread_scratch slots.
constexpr ScratchSlot kPackedA = ScratchSlot::gemm_packed_a, kPackedB = ScratchSlot::gemm_packed_b;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int threads_for(int64_t M, int64_t N, int64_t K) {
#ifdef RNNKIT_HAVE_OPENMP
  if (omp_in_parallel()) return 1;
#endif
  // A product of a few rows streams B from memory at far fewer flops per byte than the cores can do, so B's
  // size counts as if there were at least 8 rows: a batch-1 product with a 4 MiB B splits over two cores,
  // whose L2s and memory bandwidth add up (1 x 2048 x 512 on 2 threads: numpy 16.9 GFLOP/s, rnnkit on one
  // thread 9.1, on two 23.8 alternating in one process). Under OMP_WAIT_POLICY=passive waking the second
  // thread costs more than it saves at these sizes on this VM (10.2 -> 8.6 GFLOP/s).
  const double flops = 2.0 * double(std::max<int64_t>(M, 8)) * double(N) * double(K);
  const double per_thread = double(idle_threads_sleep() ? kFlopsPerSleepingThread : kFlopsPerSpinningThread);
  const double by_work = std::max(1.0, flops / per_thread);
  return static_cast<int>(std::min<double>(num_threads(), by_work));
}

// Runs body on a team of `threads` or, when one thread will do and no parallel region is active, directly: a
// team of one still allocates and frees a team and makes a futex call (a 1 x 1 x 1 product took 0.8-1.0 us
// with it, 0.3-0.4 us without). Inside an active region body's worksharing loops need a team of their own,
// or they would be shared out among the caller's team.
template <typename Body>
void run_team(int threads, Body&& body) {
#ifdef RNNKIT_HAVE_OPENMP
  if (threads > 1 || omp_in_parallel()) {
    RNNKIT_OMP(omp parallel num_threads(threads)) {
      const FlushDenormals flush;
      body();
    }
    return;
  }
#else
  (void)threads;  // without OpenMP everything runs on the calling thread
#endif
  const FlushDenormals flush;
  body();
}

// op(X) as a read-only strided view: element (r, c) of the logical matrix.
struct OperandView {
  const float* data;
  int64_t ld;
  bool transposed;
};

// op(X) from row r0 on.
OperandView rows_from(const OperandView& x, int64_t r0) {
  return {x.transposed ? x.data + r0 : x.data + r0 * x.ld, x.ld, x.transposed};
}

// dst[0:n) = src[0:n) for the short runs of packing (n <= 64): fixed-size copies the compiler inlines as
// vector moves, where a memcpy call per 12..32-float run costs more than the copy itself.
inline void copy_short(float* dst, const float* src, int64_t n) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) std::memcpy(dst + j, src + j, 8 * sizeof(float));
  if (j + 4 <= n) std::memcpy(dst + j, src + j, 4 * sizeof(float)), j += 4;
  for (; j < n; ++j) dst[j] = src[j];
}

// A rows [r0, r0 + rows) x k [k0, k0 + kc) -> one panel [kc][mr], rows past `rows` zeroed.
void pack_a_panel(const MicroKernel& mk, const OperandView& a, int64_t r0, int64_t rows, int64_t k0, int64_t kc,
                  float* out) {
  if (a.transposed)  // stored [K][M]: a k-row of the panel is contiguous
    mk.copy(rows, kc, a.data + k0 * a.ld + r0, a.ld, mk.mr, out);
  else
    mk.gather(rows, kc, a.data + r0 * a.ld + k0, a.ld, mk.mr, out);
}

// Stored row k of an operand whose k-rows are contiguous (row-major B, transposed A), elements [c0, c0 + cols)
// -> row k of consecutive panels [kc][width] (panel_stride apart), the last one zero-padded. Packing row by row
// reads the operand in long contiguous runs the hardware prefetchers follow; a panel at a time would read only
// `width` floats per row, a full ld apart, and wait on each.
void pack_row_into_panels(const OperandView& x, int64_t k, int64_t c0, int64_t cols, int width, float* dst_row,
                          int64_t panel_stride) {
  const float* src = x.data + k * x.ld + c0;
  int64_t q = 0;
  for (; (q + 1) * width <= cols; ++q) copy_short(dst_row + q * panel_stride, src + q * width, width);
  if (q * width < cols) {
    float* out = dst_row + q * panel_stride;
    copy_short(out, src + q * width, cols - q * width);
    std::fill(out + (cols - q * width), out + width, 0.f);
  }
}

// A rows [0, M) x k [k0, k0 + kc) -> consecutive panels of mr rows, each [kc][mr], on the calling thread.
// Transposed A (stored [K][M]) is packed a stored row at a time into every panel (panel by panel it was read mr
// floats of every row per sweep, one sweep per panel: BPTT's dW = X^T·dG over B*T rows spent as long packing X as
// multiplying it when G*H is small).
void pack_a_block(const MicroKernel& mk, const OperandView& a, int64_t M, int64_t k0, int64_t kc, float* dst) {
  if (a.transposed) {
    for (int64_t k = 0; k < kc; ++k) pack_row_into_panels(a, k0 + k, 0, M, mk.mr, dst + k * mk.mr, kc * mk.mr);
    return;
  }
  for (int64_t p = 0; p * mk.mr < M; ++p)
    pack_a_panel(mk, a, p * mk.mr, std::min<int64_t>(mk.mr, M - p * mk.mr), k0, kc, dst + p * kc * mk.mr);
}

// Transposed B (stored [N][K]), k [k0, k0 + kc) x columns [c0, c0 + width) -> one panel [kc][nr], columns
// past `width` zero-filled.
void pack_bt_panel(const MicroKernel& mk, const OperandView& b, int64_t k0, int64_t kc, int64_t c0, int64_t width,
                   float* out) {
  mk.gather(width, kc, b.data + c0 * b.ld + k0, b.ld, mk.nr, out);
}


// B k [k0, k0 + kc) x columns [n0, n0 + cols) -> panels of nr columns, each [kc][nr], columns past the
// end zero-filled. Panel q starts at dst + q * panel_stride. Shares the work with the current team.
void pack_b_panels(const MicroKernel& mk, const OperandView& b, int64_t k0, int64_t kc, int64_t n0, int64_t cols,
                   float* dst, int64_t panel_stride) {
  const int nr = mk.nr;
  if (b.transposed) {
    const int64_t panels = ceil_div(cols, nr);
    RNNKIT_OMP(omp for schedule(static))
    for (int64_t q = 0; q < panels; ++q)
      pack_bt_panel(mk, b, k0, kc, n0 + q * nr, std::min<int64_t>(nr, cols - q * nr), dst + q * panel_stride);
  } else {
    RNNKIT_OMP(omp for schedule(static))
    for (int64_t k = 0; k < kc; ++k) pack_row_into_panels(b, k0 + k, n0, cols, nr, dst + k * nr, panel_stride);
  }
}

// Packed B panels: panel q (columns [q*nr, q*nr + nr) of c_origin) starts at base + q * panel_stride.
struct PanelsView {
  const float* base;
  int64_t panel_stride;
};

// A kc-deep block of op(A): packed panels (panel p at packed + p*panel_stride), or with packed null row-major
// op(A) read where it lies (row r at rows + r*ld, the block's first column).
struct ABlock {
  const float* packed;
  int64_t panel_stride;
  const float* rows;
  int64_t ld;
};

ABlock packed_a(const float* panels, int64_t panel_stride) { return {panels, panel_stride, nullptr, 0}; }
ABlock a_in_place_at(const float* rows, int64_t ld) { return {nullptr, 0, rows, ld}; }

// Row panel p of `a` (rows <= mr rows) times one B panel (nr columns, rows nr floats apart), all nr columns into
// c (ldc apart).
inline void whole_tile(const MicroKernel& mk, int rows, int64_t kc, const ABlock& a, int64_t p, const float* b_panel,
                       float* c, int64_t ldc, float alpha, float beta, const float* bias) {
  if (a.packed)
    mk.by_rows[rows](kc, a.packed + p * a.panel_stride, b_panel, mk.nr, c, ldc, alpha, beta, bias);
  else
    mk.direct[rows](kc, a.rows + p * mk.mr * a.ld, a.ld, b_panel, mk.nr, c, ldc, alpha, beta, bias);
}

// whole_tile's columns [lo, hi) only, through a tile of its own. Not inlined: its 4 KiB, 64-byte aligned buffer
// in run_tile's frame cost every whole tile a realigned stack frame (2.3% of a GRU (32,100,128,256) forward's
// samples sat in that prologue; without it, forward and training 1.02-1.04x at H = 64..256, alternating in one
// process, medians of 41-201).
[[gnu::noinline]] void partial_tile(const MicroKernel& mk, int rows, int64_t kc, const ABlock& a, int64_t p,
                                    const float* b_panel, float* c, int64_t ldc, int64_t lo, int64_t hi, float alpha,
                                    float beta, const float* bias) {
  alignas(64) float tile[gemm_detail::kMaxPanelRows * 64];
  whole_tile(mk, rows, kc, a, p, b_panel, tile, mk.nr, 1.f, 0.f, nullptr);
  for (int i = 0; i < rows; ++i)
    for (int64_t j = lo; j < hi; ++j) {
      float& cij = c[i * ldc + j];
      const float t = alpha * tile[i * mk.nr + j];
      cij = (beta == 0.f ? t : t + beta * cij) + (bias ? bias[j] : 0.f);
    }
}

// The tile's columns [lo, hi) of the panel land in C (c and bias, or null, point at panel column 0).
void run_tile(const MicroKernel& mk, int rows, int64_t kc, const ABlock& a, int64_t p, const float* b_panel,
              float* c, int64_t ldc, int64_t lo, int64_t hi, float alpha, float beta, const float* bias) {
  if (lo == 0 && hi == mk.nr) return whole_tile(mk, rows, kc, a, p, b_panel, c, ldc, alpha, beta, bias);
  partial_tile(mk, rows, kc, a, p, b_panel, c, ldc, lo, hi, alpha, beta, bias);
}

// The bias for columns from c0 on, or null.
const float* bias_from(const float* bias, int64_t c0) { return bias ? bias + c0 : nullptr; }

// C[0:M, col_begin:col_end] (+)= A block x panels on the calling thread; c_origin is column 0 of panel 0. Each A
// panel stays in L1 while the panels stream from L2.
void multiply_panels(const MicroKernel& mk, int64_t M, int64_t kc, const ABlock& a, const PanelsView& b,
                     float* c_origin, int64_t ldc, int64_t col_begin, int64_t col_end, float alpha, float beta,
                     const float* bias) {
  const int64_t row_panels = ceil_div(M, mk.mr);
  const int64_t q_begin = col_begin / mk.nr, q_end = ceil_div(col_end, mk.nr);
  for (int64_t p = 0; p < row_panels; ++p)
    for (int64_t q = q_begin; q < q_end; ++q) {
      const int rows = static_cast<int>(std::min<int64_t>(mk.mr, M - p * mk.mr));
      const int64_t c0 = q * mk.nr;
      const int64_t lo = std::max(col_begin, c0) - c0, hi = std::min(col_end, c0 + mk.nr) - c0;
      run_tile(mk, rows, kc, a, p, b.base + q * b.panel_stride, c_origin + p * mk.mr * ldc + c0, ldc, lo, hi, alpha,
               beta, bias_from(bias, c0));
    }
}

// [begin, end) of `count` items for the calling thread of the current team (all of it outside one).
void team_share(int64_t count, int64_t& begin, int64_t& end) {
  int64_t thread = 0, team = 1;
#ifdef RNNKIT_HAVE_OPENMP
  thread = omp_get_thread_num();
  team = omp_get_num_threads();
#endif
  begin = count * thread / team;
  end = count * (thread + 1) / team;
}

// The calling thread's share of M's row panels as rows [m0, m1) (m0 == m1 when it gets none).
void team_rows(const MicroKernel& mk, int64_t M, int64_t& m0, int64_t& m1) {
  int64_t p_begin, p_end;
  team_share(ceil_div(M, mk.mr), p_begin, p_end);
  m0 = std::min(M, p_begin * mk.mr), m1 = std::min(M, p_end * mk.mr);
}

// One row panel (M <= mr) against row-major B: each element of B is used M times, so copying it would cost
// as much as the product; the strip kernel reads it in place, whole K at once (C written once), and each
// thread owns a contiguous run of columns. The last partial panel, which the kernel would overread, comes
// from `tail` (packed, zero-padded). a_panel is all of op(A) packed [K][mr].
void multiply_strips_in_place(const MicroKernel& mk, int64_t M, int64_t N, int64_t K, const float* a_panel,
                              const float* B, int64_t ldb, const float* tail, float* C, int64_t ldc, float alpha,
                              float beta, const float* bias) {
  const int rows = static_cast<int>(M);
  const auto strip = mk.strip[rows];
  const int64_t full_cols = N / mk.nr * mk.nr;
  const int64_t strips = ceil_div(full_cols, strip.width) + (full_cols < N ? 1 : 0);
  int64_t s_begin, s_end;
  team_share(strips, s_begin, s_end);
  for (int64_t s = s_begin; s < s_end; ++s) {
    const int64_t c0 = std::min(s * strip.width, full_cols);
    if (c0 == full_cols) {
      run_tile(mk, rows, K, packed_a(a_panel, 0), 0, tail, C + c0, ldc, 0, N - c0, alpha, beta, bias_from(bias, c0));
    } else if (c0 + strip.width <= full_cols) {
      strip.fn(K, a_panel, B + c0, ldb, C + c0, ldc, alpha, beta, bias_from(bias, c0));
    } else {
      for (int64_t c = c0; c < full_cols; c += mk.nr)
        mk.by_rows[rows](K, a_panel, B + c, ldb, C + c, ldc, alpha, beta, bias_from(bias, c));
    }
  }
}

// pack_b_panels on the calling thread alone, panels consecutive.
void pack_b_block(const MicroKernel& mk, const OperandView& b, int64_t k0, int64_t kc, int64_t c0, int64_t cols,
                  float* dst) {
  const int nr = mk.nr;
  if (b.transposed) {
    for (int64_t q = 0; q * nr < cols; ++q)
      pack_bt_panel(mk, b, k0, kc, c0 + q * nr, std::min<int64_t>(nr, cols - q * nr), dst + q * kc * nr);
  } else {
    for (int64_t k = 0; k < kc; ++k) pack_row_into_panels(b, k0 + k, c0, cols, nr, dst + k * nr, kc * nr);
  }
}

// One op(A) of a column-split product and the C its rows land in.
struct RowGroup {
  OperandView a;
  int64_t M;
  float* C;
  int64_t ldc;
};

// M <= kSmallM rows (other than one row panel against row-major B): each thread owns a contiguous run of
// column panels, and per k block packs all of op(A) (M*kc floats, small against its M*kc*N/threads
// multiply-adds) and then its B panels kNc columns at a time into its own buffers, so no barrier and no
// shared buffer. Each packed B panel is multiplied by every row panel while it is in L1. Several groups of rows
// against the same B (BPTT's dW and dU, both against dG) share each packed block: packing reads B from memory.
void multiply_column_split(const MicroKernel& mk, const RowGroup* groups, int group_count, int64_t N, int64_t K,
                           const OperandView& b, float alpha, float beta, const float* bias) {
  int64_t q_begin, q_end;
  team_share(ceil_div(N, mk.nr), q_begin, q_end);
  if (q_begin == q_end) return;
  int64_t row_panels = 0;
  for (int g = 0; g < group_count; ++g) row_panels += ceil_div(groups[g].M, mk.mr);
  const int64_t kc_max = std::min(K, k_block()), block_panels = std::max<int64_t>(1, kNc / mk.nr);
  float* a_buf = thread_scratch(kPackedA, checked_mul(row_panels * mk.mr, kc_max, "sgemm"), "sgemm");
  float* b_buf = thread_scratch(kPackedB, kc_max * block_panels * mk.nr, "sgemm");
  for (int64_t k0 = 0; k0 < K; k0 += k_block()) {
    const int64_t kc = std::min(k_block(), K - k0);
    const float beta_block = k0 == 0 ? beta : 1.f;
    for (int g = 0, first = 0; g < group_count; first += ceil_div(groups[g].M, mk.mr), ++g)
      pack_a_block(mk, groups[g].a, groups[g].M, k0, kc, a_buf + first * kc * mk.mr);
    for (int64_t q0 = q_begin; q0 < q_end; q0 += block_panels) {
      const int64_t q1 = std::min(q_end, q0 + block_panels);
      pack_b_block(mk, b, k0, kc, q0 * mk.nr, std::min(N, q1 * mk.nr) - q0 * mk.nr, b_buf);
      for (int64_t q = q0; q < q1; ++q) {
        const int64_t c0 = q * mk.nr, width = std::min<int64_t>(mk.nr, N - c0);
        for (int g = 0, first = 0; g < group_count; first += ceil_div(groups[g].M, mk.mr), ++g) {
          const RowGroup& group = groups[g];
          const ABlock a = packed_a(a_buf + first * kc * mk.mr, kc * mk.mr);
          for (int64_t p = 0; p * mk.mr < group.M; ++p) {
            const int rows = static_cast<int>(std::min<int64_t>(mk.mr, group.M - p * mk.mr));
            run_tile(mk, rows, kc, a, p, b_buf + (q - q0) * kc * mk.nr, group.C + p * mk.mr * group.ldc + c0,
                     group.ldc, 0, width, alpha, beta_block, k0 == 0 ? bias_from(bias, c0) : nullptr);
          }
        }
      }
    }
  }
}

// C = beta * C (+ bias) on columns [n_begin, n_end), for K == 0 or alpha == 0 (beta == 0 writes zeros).
void scale_c(int64_t M, int64_t n_begin, int64_t n_end, float beta, float* C, int64_t ldc,
             const float* bias = nullptr) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = n_begin; j < n_end; ++j)
      C[i * ldc + j] = (beta == 0.f ? 0.f : beta * C[i * ldc + j]) + (bias ? bias[j] : 0.f);
}

// `what` is a callable returning the message: checks run on every call (the recurrent loop makes thousands),
// so the string is only built when one fails.
template <typename Message>
void require(bool ok, const char* fn, Message&& what) {
  if (!ok) throw std::invalid_argument(std::string(fn) + ": " + what());
}

void check_ld(const char* fn, const char* name, int64_t ld, int64_t need) {
  require(ld >= std::max<int64_t>(need, 1), fn, [&] {
    return std::string("expected ") + name + " >= " + std::to_string(std::max<int64_t>(need, 1)) + ", got " +
           std::to_string(ld);
  });
}

}  // namespace

void sgemm(Trans trans_a, Trans trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* column_bias) {
  require(M >= 0 && N >= 0 && K >= 0, "sgemm", [&] {
    return "expected non-negative sizes, got M=" + std::to_string(M) + " N=" + std::to_string(N) +
           " K=" + std::to_string(K);
  });
  if (M == 0 || N == 0) return;
  check_ld("sgemm", "ldc", ldc, N);
  if (K == 0 || alpha == 0.f) return scale_c(M, 0, N, beta, C, ldc, column_bias);
  check_ld("sgemm", "lda", lda, trans_a == Trans::yes ? M : K);
  check_ld("sgemm", "ldb", ldb, trans_b == Trans::yes ? K : N);

  const MicroKernel& mk = microkernel_for(active_isa());
  const OperandView a{A, lda, trans_a == Trans::yes}, b{B, ldb, trans_b == Trans::yes};
  const int threads = threads_for(M, N, K);
  if (M == 1 && !b.transposed && double(K) * double(N) * sizeof(float) > kRowStreamMinBytes) {
    const float* x = A;
    if (a.transposed && lda != 1) {  // a column of A: gathered into a row
      float* row = thread_scratch(kPackedA, K, "sgemm");
      for (int64_t k = 0; k < K; ++k) row[k] = A[k * lda];
      x = row;
    }
    run_team(threads, [&] {
      int64_t q0, q1;
      team_share(ceil_div(N, mk.nr), q0, q1);
      const int64_t c0 = std::min(N, q0 * mk.nr), c1 = std::min(N, q1 * mk.nr);
      if (c0 < c1) mk.row_stream(K, c1 - c0, x, B + c0, ldb, C + c0, alpha, beta, bias_from(column_bias, c0));
    });
    return;
  }
  // Row-major B read in place by the strip kernel: always for one row panel, and for a few panels when K is
  // short, where B (K rows) stays in L2 across the panels and packing it costs as much as the product; but not
  // for many panels over long rows of B (see kLongRowFloats).
  const bool short_k_in_place = K <= kInPlaceMaxK && (ldb < kLongRowFloats || M <= kInPlaceLongRowsMaxM);
  if (!b.transposed && (M <= mk.mr || (M <= kSmallM && short_k_in_place))) {
    const int64_t panels = ceil_div(M, mk.mr), panel_floats = checked_mul(mk.mr, K, "sgemm");
    float* a_panels = thread_scratch(kPackedA, checked_mul(panels, panel_floats, "sgemm"), "sgemm");
    for (int64_t p = 0; p < panels; ++p)
      pack_a_panel(mk, a, p * mk.mr, std::min<int64_t>(mk.mr, M - p * mk.mr), 0, K, a_panels + p * panel_floats);
    float* tail = nullptr;
    if (N % mk.nr) {
      tail = thread_scratch(kPackedB, checked_mul(mk.nr, K, "sgemm"), "sgemm");
      pack_b_block(mk, b, 0, K, N / mk.nr * mk.nr, N % mk.nr, tail);
    }
    run_team(threads, [&] {
      for (int64_t p = 0; p < panels; ++p)
        multiply_strips_in_place(mk, std::min<int64_t>(mk.mr, M - p * mk.mr), N, K, a_panels + p * panel_floats, B,
                                 ldb, tail, C + p * mk.mr * ldc, ldc, alpha, beta, column_bias);
    });
    return;
  }
  if (M <= kSmallM) {
    const RowGroup rows{a, M, C, ldc};
    run_team(threads, [&] { multiply_column_split(mk, &rows, 1, N, K, b, alpha, beta, column_bias); });
    return;
  }

  // Taller products: each thread owns a contiguous run of row panels and packs its own blocks of A and B, so
  // threads never wait for one another; B is packed once per thread (K*N floats against M*N*K/threads
  // multiply-adds). Sharing packed blocks instead cost two barriers per block and scaled worse: 2048^3 on 2
  // threads 134-149 -> 151-171 GFLOP/s (alternating builds, medians of 9-15 runs). With all of N in one block,
  // each k block of A is used once, so row-major A is read where it lies (the same reads without writing and
  // reading a copy: the copy of a (3200 x 256) block outweighed a product only 256 columns wide), unless its rows
  // lie a multiple of 1 KiB apart (see sgemm_packed_serial).
  const bool a_in_place = !a.transposed && N <= kNc && !a_rows_crowd_l1(lda, K);
  // With all of N in one block and A packed, each row panel is packed just before its tiles, so it is still in
  // L1 when they read it; a whole block of A packed first goes out to cache and comes back (dL/d(embedded) =
  // dG_table·Wᵀ of the fit epoch, 4740 x 128 x 512: 7.32 -> 7.09 ms, alternating builds, medians of 9). Not
  // transposed A: a panel of it is mr floats of every stored row, each row in another page, which the prefetchers
  // do not follow; the whole block packed a stored row at a time reads each row front to back (Aᵀ·B 512³ 1.07x,
  // 256 x 512 x 3200 1.13x, 200 x 100 x 5000 1.48x; a SimpleRNN (64,50,256,512) training step, whose dW and dU
  // are such products, 1.04-1.10x; alternating in one process, medians of 15-41).
  const bool a_by_panel = !a_in_place && N <= kNc && !a.transposed;
  run_team(threads, [&] {
    int64_t m0, m1;
    team_rows(mk, M, m0, m1);
    if (m0 == m1) return;
    const int64_t rows = m1 - m0;
    const int64_t kc_max = std::min(K, k_block()), nc_max = std::min(N, kNc);
    const int64_t a_rows_packed = a_by_panel ? mk.mr : ceil_div(rows, mk.mr) * mk.mr;
    float* a_buf =
        a_in_place ? nullptr : thread_scratch(kPackedA, checked_mul(a_rows_packed, kc_max, "sgemm"), "sgemm");
    float* b_buf = thread_scratch(kPackedB, ceil_div(nc_max, mk.nr) * mk.nr * kc_max, "sgemm");
    const OperandView a_rows = rows_from(a, m0);
    for (int64_t k0 = 0; k0 < K; k0 += k_block()) {
      const int64_t kc = std::min(k_block(), K - k0);
      const float beta_block = k0 == 0 ? beta : 1.f;
      if (a_by_panel) {
        pack_b_block(mk, b, k0, kc, 0, N, b_buf);
        for (int64_t r0 = 0; r0 < rows; r0 += mk.mr) {
          const int64_t panel_rows = std::min<int64_t>(mk.mr, rows - r0);
          pack_a_panel(mk, a_rows, r0, panel_rows, k0, kc, a_buf);
          multiply_panels(mk, panel_rows, kc, packed_a(a_buf, 0), {b_buf, kc * mk.nr}, C + (m0 + r0) * ldc, ldc, 0, N,
                          alpha, beta_block, k0 == 0 ? column_bias : nullptr);
        }
        continue;
      }
      if (!a_in_place) pack_a_block(mk, a_rows, rows, k0, kc, a_buf);
      const ABlock a_block = a_in_place ? a_in_place_at(a_rows.data + k0, lda) : packed_a(a_buf, kc * mk.mr);
      for (int64_t n0 = 0; n0 < N; n0 += kNc) {
        const int64_t nc = std::min(kNc, N - n0);
        pack_b_block(mk, b, k0, kc, n0, nc, b_buf);
        multiply_panels(mk, rows, kc, a_block, {b_buf, kc * mk.nr}, C + m0 * ldc + n0, ldc, 0, nc, alpha,
                        beta_block, k0 == 0 ? bias_from(column_bias, n0) : nullptr);
      }
    }
  });
}

void sgemm_shared_right(Trans trans_a, const GemmLeft& first, const GemmLeft& second, int64_t N, int64_t K,
                        const float* B, int64_t ldb) {
  const auto separately = [&](const GemmLeft& x) {
    sgemm(trans_a, Trans::no, x.M, N, K, 1.f, x.A, x.lda, B, ldb, 0.f, x.C, x.ldc);
  };
  // Beyond kSmallM rows each product splits its rows among the threads and packs B per thread anyway.
  const bool shared = first.M > 0 && second.M > 0 && first.M <= kSmallM && second.M <= kSmallM && N > 0 &&
                      K > kInPlaceMaxK;
  if (!shared) return separately(first), separately(second);
  check_ld("sgemm_shared_right", "ldb", ldb, N);
  const bool ta = trans_a == Trans::yes;
  RowGroup groups[2];
  int index = 0;
  for (const GemmLeft* x : {&first, &second}) {
    check_ld("sgemm_shared_right", "ldc", x->ldc, N);
    check_ld("sgemm_shared_right", "lda", x->lda, ta ? x->M : K);
    groups[index++] = RowGroup{OperandView{x->A, x->lda, ta}, x->M, x->C, x->ldc};
  }
  const MicroKernel& mk = microkernel_for(active_isa());
  const OperandView b{B, ldb, false};
  run_team(threads_for(first.M + second.M, N, K),
           [&] { multiply_column_split(mk, groups, 2, N, K, b, 1.f, 0.f, nullptr); });
}

PackedMatrix pack_b(Trans tb, int64_t K, int64_t N, const float* B, int64_t ldb) {
  require(K >= 0 && N >= 0, "pack_b",
          [&] { return "expected non-negative sizes, got K=" + std::to_string(K) + " N=" + std::to_string(N); });
  PackedMatrix packed;
  packed.isa_ = active_isa();
  packed.rows_ = K;
  packed.cols_ = N;
  if (K == 0 || N == 0) return packed;
  check_ld("pack_b", "ldb", ldb, tb == Trans::yes ? K : N);
  const MicroKernel& mk = microkernel_for(packed.isa_);
  const int64_t padded_cols = ceil_div(N, mk.nr) * mk.nr;
  packed.panels_.reset(allocate_aligned(checked_mul(padded_cols, K, "pack_b"), "pack_b").release());
  run_team(threads_for(1, N, K),
           [&] { pack_b_panels(mk, {B, ldb, tb == Trans::yes}, 0, K, 0, N, packed.panels_.get(), K * mk.nr); });
  return packed;
}

PackedMatrix pack_b_column_blocks(int64_t K, const float* B, int64_t ldb, int64_t block, int64_t blocks,
                                  const int64_t* first, const int64_t* count) {
  PackedMatrix packed;
  packed.isa_ = active_isa();
  const MicroKernel& mk = microkernel_for(packed.isa_);
  require(K >= 0 && blocks >= 0 && block > 0 && block % mk.nr == 0, "pack_b_column_blocks", [&] {
    return "expected K, blocks >= 0 and block a positive multiple of " + std::to_string(mk.nr) + ", got K=" +
           std::to_string(K) + " blocks=" + std::to_string(blocks) + " block=" + std::to_string(block);
  });
  packed.rows_ = K;
  packed.cols_ = checked_mul(blocks, block, "pack_b_column_blocks");
  if (K == 0 || packed.cols_ == 0) return packed;
  packed.panels_.reset(allocate_aligned(checked_mul(packed.cols_, K, "pack_b_column_blocks"), "pack_b_column_blocks")
                           .release());
  const int64_t panel_floats = K * mk.nr;
  for (int64_t i = 0; i < blocks; ++i)
    require(0 <= count[i] && count[i] <= block && first[i] >= 0, "pack_b_column_blocks", [&] {
      return "expected 0 <= count <= block and first >= 0, got first=" + std::to_string(first[i]) +
             " count=" + std::to_string(count[i]) + " for block " + std::to_string(i);
    });
  // Shared like pack_b: packed serially, a recurrent forward's U (4 MiB at H = 512) held the second thread idle
  // for ~2% of an LSTM (64,50,256,512) forward.
  run_team(threads_for(1, packed.cols_, K), [&] {
    for (int64_t i = 0; i < blocks; ++i) {
      float* dst = packed.panels_.get() + i * (block / mk.nr) * panel_floats;
      const int64_t filled = ceil_div(count[i], mk.nr);
      if (count[i] > 0) pack_b_panels(mk, {B, ldb, false}, 0, K, first[i], count[i], dst, panel_floats);
      RNNKIT_OMP(omp single nowait)
      std::fill(dst + filled * panel_floats, dst + (block / mk.nr) * panel_floats, 0.0f);
    }
  });
  return packed;
}

namespace {
// Shared argument checks of sgemm_packed and sgemm_packed_serial; false when there is nothing to multiply
// (C already scaled by beta then).
bool check_packed_args(const char* fn, Trans ta, int64_t M, float alpha, int64_t lda, const PackedMatrix& B,
                       float beta, float* C, int64_t ldc, int64_t n_begin, int64_t& n_end) {
  const int64_t K = B.rows(), N = B.cols();
  if (n_end == -1) n_end = N;
  require(M >= 0, fn, [&] { return "expected M >= 0, got " + std::to_string(M); });
  require(0 <= n_begin && n_begin <= n_end && n_end <= N, fn, [&] {
    return "expected 0 <= n_begin <= n_end <= " + std::to_string(N) + ", got [" + std::to_string(n_begin) + ", " +
           std::to_string(n_end) + ")";
  });
  if (M == 0 || n_begin == n_end) return false;
  check_ld(fn, "ldc", ldc, N);
  if (K == 0 || alpha == 0.f) {
    scale_c(M, n_begin, n_end, beta, C, ldc);
    return false;
  }
  check_ld(fn, "lda", lda, ta == Trans::yes ? M : K);
  return true;
}
}  // namespace

void sgemm_packed(Trans ta, int64_t M, float alpha, const float* A, int64_t lda, const PackedMatrix& B, float beta,
                  float* C, int64_t ldc, int64_t n_begin, int64_t n_end) {
  if (!check_packed_args("sgemm_packed", ta, M, alpha, lda, B, beta, C, ldc, n_begin, n_end)) return;
  const int64_t K = B.rows();

  const MicroKernel& mk = microkernel_for(B.isa());
  const OperandView a{A, lda, ta == Trans::yes};
  const float* panels = B.panels_.get();
  // Threads never wait for one another: a tall product splits its row panels, a short one (a batch) its column
  // panels, and each thread packs the rows of A it needs into its own buffer.
  run_team(threads_for(M, n_end - n_begin, K), [&] {
    int64_t m0 = 0, m1 = M, c_begin = n_begin, c_end = n_end;
    if (M > kSmallM) {
      team_rows(mk, M, m0, m1);
    } else {
      const int64_t q_first = n_begin / mk.nr;
      int64_t q_begin, q_end;
      team_share(ceil_div(n_end, mk.nr) - q_first, q_begin, q_end);
      c_begin = std::max(n_begin, (q_first + q_begin) * mk.nr), c_end = std::min(n_end, (q_first + q_end) * mk.nr);
    }
    if (m0 >= m1 || c_begin >= c_end) return;
    const int64_t rows = m1 - m0, kc_max = std::min(K, k_block());
    float* a_buf =
        thread_scratch(kPackedA, checked_mul(ceil_div(rows, mk.mr) * mk.mr, kc_max, "sgemm_packed"), "sgemm_packed");
    const OperandView a_rows = rows_from(a, m0);
    for (int64_t k0 = 0; k0 < K; k0 += k_block()) {
      const int64_t kc = std::min(k_block(), K - k0);
      const float beta_block = k0 == 0 ? beta : 1.f;
      pack_a_block(mk, a_rows, rows, k0, kc, a_buf);
      // Column chunks start on multiples of kNc (a multiple of nr) so no panel is split between chunks.
      for (int64_t n0 = c_begin - c_begin % kNc; n0 < c_end; n0 += kNc) {
        const PanelsView b{panels + k0 * mk.nr, K * mk.nr};
        multiply_panels(mk, rows, kc, packed_a(a_buf, kc * mk.mr), b, C + m0 * ldc, ldc, std::max(c_begin, n0),
                        std::min(c_end, n0 + kNc), alpha, beta_block, nullptr);
      }
    }
  });
}

std::int64_t packed_panel_width(Isa isa) { return microkernel_for(isa).nr; }

std::int64_t packed_serial_workspace(Isa isa, std::int64_t M, std::int64_t K) {
  const MicroKernel& mk = microkernel_for(isa);
  return checked_mul(ceil_div(std::max<int64_t>(M, 1), mk.mr) * mk.mr, std::max<int64_t>(K, 1),
                     "packed_serial_workspace");
}

void sgemm_packed_serial(Trans ta, int64_t M, float alpha, const float* A, int64_t lda, const PackedMatrix& B,
                         float beta, float* C, int64_t ldc, int64_t n_begin, int64_t n_end, float* workspace) {
  if (!check_packed_args("sgemm_packed_serial", ta, M, alpha, lda, B, beta, C, ldc, n_begin, n_end)) return;
  const int64_t K = B.rows();
  const MicroKernel& mk = microkernel_for(B.isa());
  const OperandView a{A, lda, ta == Trans::yes};
  const float* panels = B.panels_.get();
  // A single contiguous row (batch 1: a matrix-vector product) is its own panel. Whole panels go straight to C;
  // the partial ones at either end through a tile.
  if (M == 1 && (ta == Trans::no || lda == 1)) {
    const int64_t q_begin = n_begin / mk.nr, q_end = ceil_div(n_end, mk.nr);
    const int64_t full_begin = ceil_div(n_begin, mk.nr), full_end = n_end / mk.nr;
    if (full_begin < full_end)
      mk.row_panels(K, A, panels + full_begin * K * mk.nr, K * mk.nr, full_end - full_begin, C + full_begin * mk.nr,
                    alpha, beta);
    for (int64_t q = q_begin; q < q_end; ++q) {
      if (q >= full_begin && q < full_end) continue;
      const int64_t c0 = q * mk.nr;
      const int64_t lo = std::max(n_begin, c0) - c0, hi = std::min(n_end, c0 + mk.nr) - c0;
      float* c = C + c0;
      alignas(64) float tile[64];
      mk.row(K, A, panels + q * K * mk.nr, mk.nr, tile, mk.nr, 1.f, 0.f, nullptr);
      for (int64_t j = lo; j < hi; ++j) c[j] = beta == 0.f ? alpha * tile[j] : alpha * tile[j] + beta * c[j];
    }
    return;
  }
  const int64_t row_panels = ceil_div(M, mk.mr);
  // Row-major A is read where it lies (its rows are the batch's states, already in cache): packing it cost as much
  // as a tenth of the product per step, and every thread of a step packed the same rows. Not when its rows crowd
  // L1's sets (a_rows_crowd_l1): then A is packed over all of K once (panel p at workspace + p*K*mr). Either way
  // A is swept once per column panel: each kc x nr block of B is loaded into L1 once and reused by every row panel.
  const bool in_place = ta == Trans::no && !a_rows_crowd_l1(lda, K);
  if (!in_place)
    for (int64_t p = 0; p < row_panels; ++p)
      pack_a_panel(mk, a, p * mk.mr, std::min<int64_t>(mk.mr, M - p * mk.mr), 0, K, workspace + p * K * mk.mr);
  const int64_t q_end = ceil_div(n_end, mk.nr);
  const bool prefetch_next_panel =
      static_cast<double>(K) * static_cast<double>(B.cols()) * sizeof(float) >
      static_cast<double>(kPrefetchNextPanelMinL2s * l2_cache_bytes());
  for (int64_t k0 = 0; k0 < K; k0 += k_block()) {
    const int64_t kc = std::min(k_block(), K - k0);
    const float beta_block = k0 == 0 ? beta : 1.f;
    const ABlock a_block = in_place ? a_in_place_at(A + k0, lda) : packed_a(workspace + k0 * mk.mr, K * mk.mr);
    // Floats of the next panel's kc x nr block each tile prefetches: a whole number of 64-byte lines.
    const int64_t block_floats = kc * mk.nr, share = ceil_div(ceil_div(block_floats, 16), row_panels) * 16;
    for (int64_t q = n_begin / mk.nr; q < q_end; ++q) {
      const int64_t c0 = q * mk.nr;
      const int64_t lo = std::max(n_begin, c0) - c0, hi = std::min(n_end, c0 + mk.nr) - c0;
      const float* b_panel = panels + q * K * mk.nr + k0 * mk.nr;
      const float* next_panel = prefetch_next_panel && q + 1 < q_end ? b_panel + K * mk.nr : nullptr;
      for (int64_t p = 0; p < row_panels; ++p) {
        if (next_panel)
          for (int64_t f = p * share; f < std::min(block_floats, (p + 1) * share); f += 16)
            __builtin_prefetch(next_panel + f, 0, 2);
        const int rows = static_cast<int>(std::min<int64_t>(mk.mr, M - p * mk.mr));
        run_tile(mk, rows, kc, a_block, p, b_panel, C + p * mk.mr * ldc + c0, ldc, lo, hi, alpha, beta_block, nullptr);
      }
    }
  }
}

}  // namespace rnnkit
