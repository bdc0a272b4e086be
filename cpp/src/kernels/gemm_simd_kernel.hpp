// Microkernel template shared by the SIMD ISA files. Each includes it inside its own namespace after
// defining `struct Simd { using Vec; static constexpr int width, registers (the ISA's vector registers); load,
// store, broadcast, fma, load_first, store_first (the first n lanes), transpose (a width x width block in
// registers), prefetch }`, so every instantiation is compiled with that file's ISA flags (no ODR collisions).
// Needs <cstdint>, <utility> and kernels/gemm_microkernel.hpp included first (this file sits in a namespace).
// PREFETCH > 0 (strips reading B in place): prefetch B that many rows ahead. Its rows lie 4*ldb bytes apart,
// beyond the reach of the hardware stride prefetcher for ldb >= 512, and when 4*ldb is a multiple of 4 KiB
// every row of a strip maps to the same L1 sets, so only a short distance keeps prefetched rows resident.
// The last rows prefetch past the end of B, which cannot fault.
// DIRECT_A false: `a` is a packed panel [kc][MR] (a_ld unused); true: A is read where it lies, row i at
// a + i * a_ld (DirectKernelFn).
template <int ROWS, int MR, int NVEC, int PREFETCH, bool DIRECT_A>
void gemm_simd_tile_any(std::int64_t kc, const float* a, std::int64_t a_ld, const float* b, std::int64_t b_stride,
                        float* c, std::int64_t ldc, float alpha, float beta, const float* bias) {
  using Vec = typename Simd::Vec;
  constexpr int W = Simd::width;
  // Few rows leave too few independent FMA chains to hide FMA latency (batch-1 GEMV): split k over
  // several accumulator sets and add them at the end.
  constexpr int SPLIT = ROWS * NVEC >= 8 ? 1 : (ROWS * NVEC >= 4 ? 2 : 4);
  Vec acc[SPLIT][ROWS][NVEC];
  for (int s = 0; s < SPLIT; ++s)
    for (int i = 0; i < ROWS; ++i)
      for (int v = 0; v < NVEC; ++v) acc[s][i][v] = Simd::zero();
  // B's vectors loaded first, then each A element broadcast once, when the accumulators, those vectors and a
  // broadcast fit in the registers (the 12 x 32 tile); else, for wide strips of few rows, A's elements first and
  // one B vector at a time, which needs only ROWS registers more than the accumulators (the other order spilled
  // accumulators to the stack in every step: 2 / 3 x 1024 x 256 1.08-1.16x / 1.05-1.12x faster without, one
  // binary timing both, medians of 15-21).
  constexpr bool kVectorsFirst = ROWS * NVEC + NVEC + 1 <= Simd::registers;
  auto step = [&](Vec(&sum)[ROWS][NVEC], const float* ak, const float* bk) {
    if constexpr (kVectorsFirst) {
      Vec bv[NVEC];
      for (int v = 0; v < NVEC; ++v) bv[v] = Simd::load(bk + v * W);
      for (int i = 0; i < ROWS; ++i) {
        const Vec ai = Simd::broadcast(DIRECT_A ? ak[i * a_ld] : ak[i]);
        for (int v = 0; v < NVEC; ++v) sum[i][v] = Simd::fma(ai, bv[v], sum[i][v]);
      }
    } else {
      Vec ai[ROWS];
      for (int i = 0; i < ROWS; ++i) ai[i] = Simd::broadcast(DIRECT_A ? ak[i * a_ld] : ak[i]);
      for (int v = 0; v < NVEC; ++v) {
        const Vec bv = Simd::load(bk + v * W);
        for (int i = 0; i < ROWS; ++i) sum[i][v] = Simd::fma(ai[i], bv, sum[i][v]);
      }
    }
  };
  std::int64_t k = 0;
  // Unrolled 4x: with B streaming from L2, 12 / 8 / 4-row tiles run 12% / 25% / 32% faster (AVX-512, one
  // binary timing both forms alternately, medians of 40); in L1 3-8%. 8x gains nothing more.
#pragma GCC unroll 4
  for (; k + SPLIT <= kc; k += SPLIT)
    for (int s = 0; s < SPLIT; ++s) {
      if constexpr (PREFETCH > 0)
        for (int v = 0; v < NVEC * W; v += 64 / sizeof(float)) Simd::prefetch(b + (k + s + PREFETCH) * b_stride + v);
      step(acc[s], a + (k + s) * (DIRECT_A ? 1 : MR), b + (k + s) * b_stride);
    }
  for (; k < kc; ++k) step(acc[0], a + k * (DIRECT_A ? 1 : MR), b + k * b_stride);
  for (int s = 1; s < SPLIT; ++s)
    for (int i = 0; i < ROWS; ++i)
      for (int v = 0; v < NVEC; ++v) acc[0][i][v] = Simd::add(acc[0][i][v], acc[s][i][v]);
  const Vec va = Simd::broadcast(alpha);
  // The stores are unrolled by hand-placed pragmas: left to GCC 12's own limits, the 24-iteration row loop
  // stays a loop, acc is then indexed at run time and lives on the stack for the whole kernel (zeroed there,
  // stored back after the k loop and reloaded here: 72 zmm moves per tile, ~5% of a K = 128 tile).
  if (beta == 0.f && !bias) {
#pragma GCC unroll 16
    for (int i = 0; i < ROWS; ++i)
#pragma GCC unroll 16
      for (int v = 0; v < NVEC; ++v) Simd::store(c + i * ldc + v * W, Simd::mul(va, acc[0][i][v]));
    return;
  }
  Vec base[NVEC];  // what is added to alpha * acc in every row
  for (int v = 0; v < NVEC; ++v) base[v] = bias ? Simd::load(bias + v * W) : Simd::zero();
  const Vec vb = Simd::broadcast(beta);
#pragma GCC unroll 16
  for (int i = 0; i < ROWS; ++i)
#pragma GCC unroll 16
    for (int v = 0; v < NVEC; ++v) {
      float* ci = c + i * ldc + v * W;
      const Vec prior = beta == 0.f ? base[v] : Simd::fma(vb, Simd::load(ci), base[v]);
      Simd::store(ci, Simd::fma(va, acc[0][i][v], prior));
    }
}

template <int ROWS, int MR, int NVEC, int PREFETCH = 0>
void gemm_simd_tile(std::int64_t kc, const float* a, const float* b, std::int64_t b_stride, float* c,
                    std::int64_t ldc, float alpha, float beta, const float* bias) {
  gemm_simd_tile_any<ROWS, MR, NVEC, PREFETCH, false>(kc, a, 0, b, b_stride, c, ldc, alpha, beta, bias);
}

template <int ROWS, int NVEC>
void gemm_simd_tile_direct(std::int64_t kc, const float* a, std::int64_t a_ld, const float* b, std::int64_t b_stride,
                           float* c, std::int64_t ldc, float alpha, float beta, const float* bias) {
  gemm_simd_tile_any<ROWS, ROWS, NVEC, 0, true>(kc, a, a_ld, b, b_stride, c, ldc, alpha, beta, bias);
}

// Vectors per row of the strip kernel for `rows` rows: up to `accumulators` registers of C, at least the
// panel's NVEC, at most 16 (a 1 KiB run of each B row on AVX-512: more cache lines in flight per row).
constexpr int strip_vectors(int rows, int nvec, int accumulators) {
  const int fit = accumulators / rows;
  return fit < nvec ? nvec : (fit > 16 ? 16 : fit);
}

// The first `lanes` (< W) floats of v to a panel row at p. A masked store is microcoded on AMD before Zen 4 (~7%
// of a SimpleRNN (64,50,256,512) forward went to packing its 6-row panels of h); when the row is one vector group
// and another row follows, a whole vector is stored instead: its extra lanes fall on the next row, stored after
// it (that forward 1.07x, the GRU's 1.03x, 64 x 512 x 512 with A packed 1.06x; alternating, medians of 15-201).
inline void store_panel_row(float* p, typename Simd::Vec v, int lanes, int width, bool row_follows) {
  if (width <= Simd::width && row_follows)
    Simd::store(p, v);
  else
    Simd::store_first(p, v, lanes);
}

// PackFn gather: W x W blocks (W source rows, W k's) transposed in registers, so both sides move whole
// vectors; element-wise packing reads one float per load and scatters it a panel row apart.
void gemm_pack_gather(std::int64_t n, std::int64_t kc, const float* src, std::int64_t ld, int width, float* out) {
  using Vec = typename Simd::Vec;
  constexpr int W = Simd::width;
  for (int g = 0; g < width; g += W) {
    const int lanes = width - g < W ? width - g : W;
    const std::int64_t valid = n - g < 0 ? 0 : (n - g < W ? n - g : W);
    const float* s = src + g * ld;
    float* o = out + g;
    for (std::int64_t k = 0; k < kc; k += W) {
      const int depth = kc - k < W ? static_cast<int>(kc - k) : W;
      Vec t[W];
      for (int i = 0; i < W; ++i) {
        const float* row = s + i * ld + k;
        t[i] = i >= valid ? Simd::zero() : depth == W ? Simd::load(row) : Simd::load_first(row, depth);
      }
      Simd::transpose(t);
      if (lanes == W)
        for (int d = 0; d < depth; ++d) Simd::store(o + (k + d) * width, t[d]);
      else
        for (int d = 0; d < depth; ++d) store_panel_row(o + (k + d) * width, t[d], lanes, width, k + d + 1 < kc);
    }
  }
}

// PackFn copy: each panel row is a contiguous run of the source, moved a vector (masked at the ends) at a time.
void gemm_pack_copy(std::int64_t n, std::int64_t kc, const float* src, std::int64_t ld, int width, float* out) {
  using Vec = typename Simd::Vec;
  constexpr int W = Simd::width;
  for (std::int64_t k = 0; k < kc; ++k)
    for (int g = 0; g < width; g += W) {
      const int lanes = width - g < W ? width - g : W;
      const std::int64_t valid = n - g < 0 ? 0 : (n - g < W ? n - g : W);
      const float* s = src + k * ld + g;
      const Vec v =
          valid == W ? Simd::load(s) : valid > 0 ? Simd::load_first(s, static_cast<int>(valid)) : Simd::zero();
      if (lanes == W)
        Simd::store(out + k * width + g, v);
      else
        store_panel_row(out + k * width + g, v, lanes, width, k + 1 < kc);
    }
}

// y starts as beta * y + bias; then every kRows rows of B add to it in one pass, so y (L1) is read and written
// once per kRows rows of B.
inline void gemm_row_stream(std::int64_t K, std::int64_t n, const float* x, const float* B, std::int64_t ldb,
                            float* y, float alpha, float beta, const float* bias) {
  using Vec = typename Simd::Vec;
  constexpr int W = Simd::width;
  auto load = [](const float* p, std::int64_t lanes) {
    return lanes >= W ? Simd::load(p) : Simd::load_first(p, static_cast<int>(lanes));
  };
  auto store = [](float* p, Vec v, std::int64_t lanes) {
    lanes >= W ? Simd::store(p, v) : Simd::store_first(p, v, static_cast<int>(lanes));
  };
  const Vec vb = Simd::broadcast(beta);
  for (std::int64_t c = 0; c < n; c += W) {
    const Vec base = bias ? load(bias + c, n - c) : Simd::zero();
    store(y + c, beta == 0.f ? base : Simd::fma(vb, load(y + c, n - c), base), n - c);
  }
  constexpr int kRows = 8;  // rows of B per pass over y: 4 and 8 measured level, 8 halves y's traffic
  std::int64_t k = 0;
  for (; k + kRows <= K; k += kRows) {
    Vec xs[kRows];
    for (int r = 0; r < kRows; ++r) xs[r] = Simd::broadcast(alpha * x[k + r]);
    const float* bk = B + k * ldb;
    for (std::int64_t c = 0; c < n; c += W) {
      const std::int64_t lanes = n - c;
      Vec acc = load(y + c, lanes);
      for (int r = 0; r < kRows; ++r) acc = Simd::fma(xs[r], load(bk + r * ldb + c, lanes), acc);
      store(y + c, acc, lanes);
    }
  }
  for (; k < K; ++k) {
    const Vec xk = Simd::broadcast(alpha * x[k]);
    for (std::int64_t c = 0; c < n; c += W)
      store(y + c, Simd::fma(xk, load(B + k * ldb + c, n - c), load(y + c, n - c)), n - c);
  }
}

// RowPanelsFn: PANELS panels at a time, one accumulator per vector (PANELS * NVEC independent FMA chains, enough
// to hide the FMA latency without splitting k), then one panel at a time through the row tile (PANELS = 1: only
// that).
template <int NVEC, int PANELS>
void gemm_row_panels(std::int64_t kc, const float* x, const float* panels, std::int64_t panel_stride,
                     std::int64_t count, float* c, float alpha, float beta) {
  using Vec = typename Simd::Vec;
  constexpr int W = Simd::width, NR = NVEC * W;
  std::int64_t q = 0;
  for (; PANELS > 1 && q + PANELS <= count; q += PANELS) {
    const float* b = panels + q * panel_stride;
    Vec acc[PANELS][NVEC];
    for (int p = 0; p < PANELS; ++p)
      for (int v = 0; v < NVEC; ++v) acc[p][v] = Simd::zero();
#pragma GCC unroll 2
    for (std::int64_t k = 0; k < kc; ++k) {
      const Vec xk = Simd::broadcast(x[k]);
      for (int p = 0; p < PANELS; ++p)
        for (int v = 0; v < NVEC; ++v)
          acc[p][v] = Simd::fma(xk, Simd::load(b + p * panel_stride + k * NR + v * W), acc[p][v]);
    }
    const Vec va = Simd::broadcast(alpha), vb = Simd::broadcast(beta);
#pragma GCC unroll 16
    for (int p = 0; p < PANELS; ++p)
#pragma GCC unroll 16
      for (int v = 0; v < NVEC; ++v) {
        float* cp = c + (q + p) * NR + v * W;
        Simd::store(cp, beta == 0.f ? Simd::mul(va, acc[p][v]) : Simd::fma(va, acc[p][v], Simd::mul(vb, Simd::load(cp))));
      }
  }
  for (; q < count; ++q)
    gemm_simd_tile<1, 1, NVEC>(kc, x, panels + q * panel_stride, NR, c + q * NR, NR, alpha, beta, nullptr);
}

// ACC: accumulator registers a strip tile may use (the rest hold B vectors and broadcast A elements).
// PF: the strips' PREFETCH distance. ROW_PANELS: panels per pass of a row vector (gemm_row_panels).
template <int MR, int NVEC, int ACC, int PF, int ROW_PANELS, std::size_t... R>
gemm_detail::MicroKernel make_gemm_microkernel(std::index_sequence<R...>) {
  gemm_detail::MicroKernel k{MR, NVEC * Simd::width, {}, {}, {}, &gemm_simd_tile<1, 1, NVEC>,
                             &gemm_row_panels<NVEC, ROW_PANELS>, &gemm_pack_gather, &gemm_pack_copy, &gemm_row_stream};
  ((k.by_rows[R + 1] = &gemm_simd_tile<R + 1, MR, NVEC>), ...);
  ((k.direct[R + 1] = &gemm_simd_tile_direct<R + 1, NVEC>), ...);
  ((k.strip[R + 1] = {strip_vectors(R + 1, NVEC, ACC) / NVEC * NVEC * Simd::width,
                      &gemm_simd_tile<R + 1, MR, strip_vectors(R + 1, NVEC, ACC) / NVEC * NVEC, PF>}),
   ...);
  return k;
}
