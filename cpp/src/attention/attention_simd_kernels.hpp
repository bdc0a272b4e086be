// The attention tile kernels on one ISA's vectors. Included inside `namespace rnnkit::<isa>` after
// kernels/simd_<isa>.hpp and kernels/simd_math_vec.hpp by attention_tiles_<isa>.cpp, which defines
// attention_tile_kernels() from these.
//
// Every tile product of the forward and backward has the shape C[M,N] (+)= alpha * A[M,K] B[K,N] with B's rows
// contiguous (a key-transposed tile, V, K, Q or d_out rows) and A read one element at a time through strides
// (so P and P^T cost the same). Broadcasting A's element against vectors of B's row keeps an MR x NV block of C in
// registers with no packing: the tiles are small (64 x 64 x head_dim) and reused only a few times, so sgemm's
// packing of both operands per tile cost more than the product.
namespace attention_simd {

using Vec = Simd::Vec;
constexpr int W = Simd::width;
// Accumulators + B's vectors + one broadcast must fit the register file: 24+4+1 of 32 zmm, 12+2+1 of 16 ymm.
constexpr int kAccumulators = W == 16 ? 24 : 12;
constexpr int kMaxVecs = W == 16 ? 4 : 2;

template <int MR, int NV>
inline void block(std::int64_t K, float alpha, const float* A, std::int64_t a_rs, std::int64_t a_cs, const float* B,
                  std::int64_t ldb, bool accumulate, float* C, std::int64_t ldc) {
  Vec c[MR][NV];
#pragma GCC unroll 24
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) c[r][v] = Simd::set1(0.0f);
#pragma GCC unroll 4
  for (std::int64_t k = 0; k < K; ++k) {
    Vec b[NV];
    for (int v = 0; v < NV; ++v) b[v] = Simd::load(B + k * ldb + v * W);
    for (int r = 0; r < MR; ++r) {
      const Vec a = Simd::set1(A[r * a_rs + k * a_cs]);
      for (int v = 0; v < NV; ++v) c[r][v] = Simd::fma(a, b[v], c[r][v]);
    }
  }
  const Vec al = Simd::set1(alpha);
#pragma GCC unroll 24
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      float* out = C + r * ldc + v * W;
      Vec x = Simd::mul(c[r][v], al);
      if (accumulate) x = Simd::add(x, Simd::load(out));
      Simd::store(out, x);
    }
}

// The rows of one column block: MR-row blocks, then one block of the remaining rows (R counts down to find it).
template <int NV, int R>
inline void row_remainder(std::int64_t rows, std::int64_t K, float alpha, const float* A, std::int64_t a_rs,
                          std::int64_t a_cs, const float* B, std::int64_t ldb, bool accumulate, float* C,
                          std::int64_t ldc) {
  if constexpr (R > 0) {
    if (rows == R)
      block<R, NV>(K, alpha, A, a_rs, a_cs, B, ldb, accumulate, C, ldc);
    else
      row_remainder<NV, R - 1>(rows, K, alpha, A, a_rs, a_cs, B, ldb, accumulate, C, ldc);
  }
}

template <int NV>
inline void column_block(std::int64_t M, std::int64_t K, float alpha, const float* A, std::int64_t a_rs,
                         std::int64_t a_cs, const float* B, std::int64_t ldb, bool accumulate, float* C,
                         std::int64_t ldc) {
  // Narrow blocks (P V with a value_dim of one or two vectors) take more rows, so each loaded vector of B still
  // feeds kAccumulators FMAs.
  constexpr int MR = kAccumulators / NV;
  std::int64_t i = 0;
  for (; i + MR <= M; i += MR)
    block<MR, NV>(K, alpha, A + i * a_rs, a_rs, a_cs, B, ldb, accumulate, C + i * ldc, ldc);
  row_remainder<NV, MR - 1>(M - i, K, alpha, A + i * a_rs, a_rs, a_cs, B, ldb, accumulate, C + i * ldc, ldc);
}

inline void tile_product(std::int64_t M, std::int64_t N, std::int64_t K, float alpha, const float* A,
                         std::int64_t a_rs, std::int64_t a_cs, const float* B, std::int64_t ldb, bool accumulate,
                         float* C, std::int64_t ldc) {
  std::int64_t n = 0;
  for (; n + kMaxVecs * W <= N; n += kMaxVecs * W)
    column_block<kMaxVecs>(M, K, alpha, A, a_rs, a_cs, B + n, ldb, accumulate, C + n, ldc);
  if (kMaxVecs > 2 && N - n >= 2 * W) {
    column_block<2>(M, K, alpha, A, a_rs, a_cs, B + n, ldb, accumulate, C + n, ldc);
    n += 2 * W;
  }
  if (N - n >= W) {
    column_block<1>(M, K, alpha, A, a_rs, a_cs, B + n, ldb, accumulate, C + n, ldc);
    n += W;
  }
  for (; n < N; ++n)  // scalar columns
    for (std::int64_t i = 0; i < M; ++i) {
      float sum = 0.0f;
      for (std::int64_t k = 0; k < K; ++k) sum += A[i * a_rs + k * a_cs] * B[k * ldb + n];
      float* out = C + i * ldc + n;
      *out = accumulate ? *out + alpha * sum : alpha * sum;
    }
}

// Lane-wise reductions in a tree: the one-lane-at-a-time chain of W dependent adds cost as much as a short row's
// exps.
template <typename Op>
inline float reduce_lanes(Vec x, Op op) {
  alignas(64) float lanes[W];
  Simd::store(lanes, x);
  for (int half = W / 2; half > 0; half /= 2)
    for (int e = 0; e < half; ++e) lanes[e] = op(lanes[e], lanes[e + half]);
  return lanes[0];
}

inline void row_max(const float* s, std::int64_t rows, std::int64_t cols, float* out) {
  const float neg_inf = -std::numeric_limits<float>::infinity();
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = s + r * cols;
    Vec m = Simd::set1(neg_inf);
    std::int64_t c = 0;
    for (; c + W <= cols; c += W) {
      const Vec x = Simd::load(row + c);
      m = Simd::select(Simd::lt(m, x), x, m);
    }
    float mx = reduce_lanes(m, [](float a, float b) { return std::max(a, b); });
    for (; c < cols; ++c) mx = std::max(mx, row[c]);
    out[r] = mx;
  }
}

// p = exp(s - shift[r]), exactly 0 for a hidden key (s = -inf) or a row that sees none (shift = -inf); adds each
// row's sum to row_sum[r] unless it is null. Arguments below exp's -88 clamp weigh below 1e-38 and are flushed to 0,
// which is what makes hidden keys exactly 0 without a second pass over the masks.
inline void exp_rows(const float* s, const float* shift, std::int64_t rows, std::int64_t cols, float* p,
                     float* row_sum) {
  const float neg_inf = -std::numeric_limits<float>::infinity();
  const Vec floor_arg = Simd::set1(-87.0f), zero = Simd::set1(0.0f);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* in = s + r * cols;
    float* out = p + r * cols;
    if (shift[r] == neg_inf) {
      std::fill(out, out + cols, 0.0f);
      continue;
    }
    const Vec m = Simd::set1(shift[r]);
    Vec sum = zero;
    std::int64_t c = 0;
    for (; c + W <= cols; c += W) {
      const Vec x = Simd::sub(Simd::load(in + c), m);
      const Vec e = Simd::select(Simd::lt(x, floor_arg), zero, simd_math_vec_detail::exp_v(x));
      Simd::store(out + c, e);
      sum = Simd::add(sum, e);
    }
    float total = reduce_lanes(sum, [](float a, float b) { return a + b; });
    if (c < cols) {  // the tail through a padded vector, so it sees the same arithmetic
      alignas(64) float tail[W];
      for (int e = 0; e < W; ++e) tail[e] = c + e < cols ? in[c + e] : neg_inf;
      const Vec x = Simd::sub(Simd::load(tail), m);
      Simd::store(tail, Simd::select(Simd::lt(x, floor_arg), zero, simd_math_vec_detail::exp_v(x)));
      for (std::int64_t e = 0; c + e < cols; ++e) {
        out[c + e] = tail[e];
        total += tail[e];
      }
    }
    if (row_sum != nullptr) row_sum[r] += total;
  }
}

// dst[c, r] = src[r, c] in 8 x 8 blocks through ymm shuffles (both ISAs' files are compiled with AVX2): turning
// one element at a time cost a tenth of a short sequence's forward at head_dim 32.
inline void transpose_block8(const float* src, std::int64_t lds, float* dst, std::int64_t ldd) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * lds);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(dst + i * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
}

inline void transpose(const float* src, std::int64_t rows, std::int64_t cols, std::int64_t lds, float* dst,
                      std::int64_t ldd) {
  const std::int64_t rows8 = rows / 8 * 8, cols8 = cols / 8 * 8;
  for (std::int64_t r = 0; r < rows8; r += 8)
    for (std::int64_t c = 0; c < cols8; c += 8) transpose_block8(src + r * lds + c, lds, dst + c * ldd + r, ldd);
  for (std::int64_t c = cols8; c < cols; ++c)  // the columns past the last block, then the rows past it
    for (std::int64_t r = 0; r < rows; ++r) dst[c * ldd + r] = src[r * lds + c];
  for (std::int64_t c = 0; c < cols8; ++c)
    for (std::int64_t r = rows8; r < rows; ++r) dst[c * ldd + r] = src[r * lds + c];
}

// Scores of a query or two against keys as they lie: each key's dot product over head_dim in vectors, then the
// lanes summed. Four keys at a time, so the four FMA chains overlap their latencies.
inline void dot_scores(std::int64_t rows, std::int64_t cols, std::int64_t dk, float scale, const float* q,
                       std::int64_t ldq, const float* k, std::int64_t ldk, float* s, std::int64_t lds) {
  const std::int64_t vec_end = dk / W * W;
  const auto plus = [](float a, float b) { return a + b; };
  for (std::int64_t i = 0; i < rows; ++i) {
    const float* qi = q + i * ldq;
    float* out = s + i * lds;
    std::int64_t j = 0;
    for (; j + 4 <= cols; j += 4) {
      const float* kj = k + j * ldk;
      Vec acc[4] = {Simd::set1(0.0f), Simd::set1(0.0f), Simd::set1(0.0f), Simd::set1(0.0f)};
      for (std::int64_t e = 0; e < vec_end; e += W) {
        const Vec x = Simd::load(qi + e);
        for (int u = 0; u < 4; ++u) acc[u] = Simd::fma(x, Simd::load(kj + u * ldk + e), acc[u]);
      }
      for (int u = 0; u < 4; ++u) {
        float dot = reduce_lanes(acc[u], plus);
        for (std::int64_t e = vec_end; e < dk; ++e) dot += qi[e] * kj[u * ldk + e];
        out[j + u] = scale * dot;
      }
    }
    for (; j < cols; ++j) {
      const float* kj = k + j * ldk;
      Vec acc = Simd::set1(0.0f);
      for (std::int64_t e = 0; e < vec_end; e += W) acc = Simd::fma(Simd::load(qi + e), Simd::load(kj + e), acc);
      float dot = reduce_lanes(acc, plus);
      for (std::int64_t e = vec_end; e < dk; ++e) dot += qi[e] * kj[e];
      out[j] = scale * dot;
    }
  }
}

}  // namespace attention_simd
