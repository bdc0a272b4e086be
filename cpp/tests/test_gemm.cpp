// sgemm / pack_b / sgemm_packed through the C++ API on every supported ISA: strided sub-blocks
// (leading dimensions larger than the logical width) against a double-precision reference.
#include <cmath>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "check.hpp"
#include "rnnkit/gemm.hpp"
#include "rnnkit/runtime.hpp"

using rnnkit::Trans;
using std::int64_t;

namespace {

// The calling thread's number in its OpenMP team and the team's size (0 and 1 without OpenMP).
struct TeamSeat {
  int thread = 0, team = 1;
};
TeamSeat team_seat() {
#ifdef _OPENMP
  return {omp_get_thread_num(), omp_get_num_threads()};
#else
  return {};
#endif
}

struct Strided {
  std::vector<float> data;
  int64_t ld;
};

// rows x cols stored with a leading dimension 7 wider than needed; the padding holds NaN so a read
// outside the logical block poisons the result.
// ld 0: cols + 7, so rows never lie a power of two apart.
Strided random_strided(int64_t rows, int64_t cols, std::mt19937& rng, int64_t ld = 0) {
  std::normal_distribution<float> normal;
  if (ld == 0) ld = cols + 7;
  Strided m{std::vector<float>(rows * ld, NAN), ld};
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) m.data[r * m.ld + c] = normal(rng);
  return m;
}

float at(const Strided& m, bool transposed, int64_t r, int64_t c) {
  return transposed ? m.data[c * m.ld + r] : m.data[r * m.ld + c];
}

// Checks C[:, n_begin:n_end] against alpha*op(A)op(B) + beta*C0 (+ bias[j]) with a sqrt(K)-scaled float32
// bound, and that everything else in C (other columns, the padding) is untouched.
bool matches(const Strided& a, bool ta, const Strided& b, bool tb, const Strided& c0, const Strided& c, int64_t M,
             int64_t N, int64_t K, float alpha, float beta, int64_t n_begin, int64_t n_end,
             const float* bias = nullptr) {
  const double eps = std::ldexp(1.0, -23), bound = (4 * std::sqrt(double(K)) + 8) * eps;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < c.ld; ++j) {
      const float got = c.data[i * c.ld + j], old = c0.data[i * c.ld + j];
      if (j < n_begin || j >= n_end) {
        if (!(got == old || (std::isnan(got) && std::isnan(old)))) return false;
        continue;
      }
      double exact = 0, magnitude = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double term = double(at(a, ta, i, k)) * at(b, tb, k, j);
        exact += term;
        magnitude += std::fabs(term);
      }
      const double added = bias ? bias[j] : 0.0;
      exact = alpha * exact + (beta == 0.f ? 0.0 : beta * double(old)) + added;
      const double prior = beta == 0.f ? 0.0 : std::fabs(beta) * std::fabs(double(old));
      magnitude = std::fabs(alpha) * magnitude + prior + std::fabs(added) + 1e-30;
      if (!(std::fabs(got - exact) <= bound * magnitude)) return false;
    }
  return true;
}

// Twice: beta 2 without a bias, then beta 0 (C's prior contents NaN: never read) with a column bias.
void check_sgemm(int64_t M, int64_t N, int64_t K, bool ta, bool tb, std::mt19937& rng) {
  const auto a = ta ? random_strided(K, M, rng) : random_strided(M, K, rng);
  const auto b = tb ? random_strided(N, K, rng) : random_strided(K, N, rng);
  const auto bias = random_strided(1, N, rng);
  for (const float* column_bias : {static_cast<const float*>(nullptr), bias.data.data()}) {
    const float beta = column_bias ? 0.f : 2.f;
    auto c0 = random_strided(M, N, rng);
    if (beta == 0.f)
      for (int64_t i = 0; i < M; ++i) std::fill_n(c0.data.begin() + i * c0.ld, N, NAN);
    auto c = c0;
    rnnkit::sgemm(Trans(ta), Trans(tb), M, N, K, 0.5f, a.data.data(), a.ld, b.data.data(), b.ld, beta,
                  c.data.data(), c.ld, column_bias);
    CHECK(matches(a, ta, b, tb, c0, c, M, N, K, 0.5f, beta, 0, N, column_bias));
  }
}

void check_packed(int64_t M, int64_t N, int64_t K, bool ta, bool tb, int64_t n_begin, int64_t n_end,
                  std::mt19937& rng) {
  const auto a = ta ? random_strided(K, M, rng) : random_strided(M, K, rng);
  const auto b = tb ? random_strided(N, K, rng) : random_strided(K, N, rng);
  const auto c0 = random_strided(M, N, rng);
  auto c = c0;
  rnnkit::PackedMatrix packed = rnnkit::pack_b(Trans(tb), K, N, b.data.data(), b.ld);
  rnnkit::PackedMatrix moved = std::move(packed);
  CHECK(moved.rows() == K && moved.cols() == N && moved.isa() == rnnkit::active_isa());
  rnnkit::sgemm_packed(Trans(ta), M, -1.f, a.data.data(), a.ld, moved, 0.5f, c.data.data(), c.ld, n_begin, n_end);
  CHECK(matches(a, ta, b, tb, c0, c, M, N, K, -1.f, 0.5f, n_begin, n_end));
}

// Columns regrouped in blocks while packing (one partial block, one empty) give the same product as packing
// the regrouped matrix built by hand: the padding never reaches C, and B's NaN padding is never read.
void check_packed_column_blocks(int64_t K, std::mt19937& rng) {
  const int64_t M = 5, block = 2 * rnnkit::packed_panel_width(rnnkit::active_isa()), src_cols = 3 * block;
  const auto a = random_strided(M, K, rng), b = random_strided(K, src_cols, rng);
  const int64_t first[] = {block, 0, 2 * block + 3, 5}, count[] = {block, block - 7, 11, 0}, blocks = 4;
  std::vector<float> regrouped(K * blocks * block, 0.f);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t i = 0; i < blocks; ++i)
      for (int64_t j = 0; j < count[i]; ++j)
        regrouped[k * blocks * block + i * block + j] = b.data[k * b.ld + first[i] + j];
  const rnnkit::PackedMatrix by_blocks =
      rnnkit::pack_b_column_blocks(K, b.data.data(), b.ld, block, blocks, first, count);
  const rnnkit::PackedMatrix by_hand = rnnkit::pack_b(Trans::no, K, blocks * block, regrouped.data(), blocks * block);
  CHECK(by_blocks.rows() == K && by_blocks.cols() == blocks * block);
  std::vector<float> c1(M * blocks * block, NAN), c2(M * blocks * block, NAN);
  rnnkit::sgemm_packed(Trans::no, M, 1.f, a.data.data(), a.ld, by_blocks, 0.f, c1.data(), blocks * block);
  rnnkit::sgemm_packed(Trans::no, M, 1.f, a.data.data(), a.ld, by_hand, 0.f, c2.data(), blocks * block);
  CHECK(c1 == c2);
  CHECK_THROWS(rnnkit::pack_b_column_blocks(K, b.data.data(), b.ld, block + 1, blocks, first, count));
}

// The recurrent cells' use: threads of one OpenMP team each fill their own column range of a shared C
// (sgemm_packed must then run serially on each calling thread, touching only its columns).
void check_packed_column_split_across_team(std::mt19937& rng) {
  const int64_t M = 4, N = 4 * 75, K = 75;
  const auto a = random_strided(M, K, rng), b = random_strided(K, N, rng), c0 = random_strided(M, N, rng);
  auto c = c0;
  const rnnkit::PackedMatrix packed = rnnkit::pack_b(Trans::no, K, N, b.data.data(), b.ld);
#ifdef _OPENMP
#pragma omp parallel num_threads(3)
#endif
  {
    const auto [thread, team] = team_seat();
    rnnkit::sgemm_packed(Trans::no, M, 1.f, a.data.data(), a.ld, packed, 0.f, c.data.data(), c.ld, N * thread / team,
                         N * (thread + 1) / team);
  }
  CHECK(matches(a, false, b, false, c0, c, M, N, K, 1.f, 0.f, 0, N));
}

// sgemm called by every thread of a team, each with its own product: it must run on the calling thread alone,
// and its packing and tile loops must not be shared out among the caller's team (each thread would then
// compute only part of its own product). Covers the in-place, column-split and shared-block paths.
void check_sgemm_inside_team(std::mt19937& rng) {
  const int64_t shapes[][3] = {{1, 200, 64}, {40, 96, 50}, {20, 300, 100}, {150, 70, 40}};
  for (const auto& shape : shapes) {
    const int64_t M = shape[0], N = shape[1], K = shape[2];
    const auto a = random_strided(M, K, rng), b = random_strided(K, N, rng), c0 = random_strided(M, N, rng);
    std::vector<Strided> c(3, c0);
#ifdef _OPENMP
#pragma omp parallel num_threads(3)
#endif
    {
      const int thread = team_seat().thread;
      rnnkit::sgemm(Trans::no, Trans::no, M, N, K, 1.f, a.data.data(), a.ld, b.data.data(), b.ld, 0.f,
                    c[thread].data.data(), c[thread].ld);
    }
    int team = 1;  // without OpenMP only the calling thread runs the block above
#ifdef _OPENMP
    team = 3;
#endif
    for (int thread = 0; thread < team; ++thread)
      CHECK(matches(a, false, b, false, c0, c[thread], M, N, K, 1.f, 0.f, 0, N));
  }
}

// sgemm_packed_serial with the caller's workspace: the same contract as sgemm_packed on one thread, for
// several row panels and K blocks (K > 256), inside a team whose threads own panel-aligned column ranges.
void check_packed_serial(int64_t M, int64_t N, int64_t K, bool ta, bool tb, std::mt19937& rng, int64_t lda = 0) {
  const auto a = ta ? random_strided(K, M, rng, lda) : random_strided(M, K, rng, lda);
  const auto b = tb ? random_strided(N, K, rng) : random_strided(K, N, rng);
  const auto c0 = random_strided(M, N, rng);
  auto c = c0;
  const rnnkit::PackedMatrix packed = rnnkit::pack_b(Trans(tb), K, N, b.data.data(), b.ld);
  const int64_t width = rnnkit::packed_panel_width(packed.isa());
  const int64_t panels = (N + width - 1) / width;
  const int64_t workspace_size = rnnkit::packed_serial_workspace(packed.isa(), M, K);
  std::vector<float> workspace(3 * workspace_size);
#ifdef _OPENMP
#pragma omp parallel num_threads(3)
#endif
  {
    const auto [thread, team] = team_seat();
    const int64_t begin = std::min(N, panels * thread / team * width);
    const int64_t end = std::min(N, panels * (thread + 1) / team * width);
    rnnkit::sgemm_packed_serial(Trans(ta), M, 0.75f, a.data.data(), a.ld, packed, -2.f, c.data.data(), c.ld, begin,
                                end, workspace.data() + thread * workspace_size);
  }
  CHECK(matches(a, ta, b, tb, c0, c, M, N, K, 0.75f, -2.f, 0, N));
  // An unaligned range in the middle of a panel touches only its columns.
  auto d = c0;
  rnnkit::sgemm_packed_serial(Trans(ta), M, 1.f, a.data.data(), a.ld, packed, 0.f, d.data.data(), d.ld, 3,
                              std::min<int64_t>(N, 3 + width), workspace.data());
  CHECK(matches(a, ta, b, tb, c0, d, M, N, K, 1.f, 0.f, 3, std::min<int64_t>(N, 3 + width)));
  // A range from inside the first panel to inside the last: partial panels at both ends, whole ones between.
  if (N > 2 * width + 2) {
    auto e = c0;
    rnnkit::sgemm_packed_serial(Trans(ta), M, -1.5f, a.data.data(), a.ld, packed, 0.5f, e.data.data(), e.ld, 3, N - 2,
                                workspace.data());
    CHECK(matches(a, ta, b, tb, c0, e, M, N, K, -1.5f, 0.5f, 3, N - 2));
  }
}

// Two left operands against one B: each product against the reference, C's padding untouched, and the two
// results equal to two sgemm calls (the shared packing changes which B is read, not the arithmetic).
void check_shared_right(int64_t M1, int64_t M2, int64_t N, int64_t K, bool ta, std::mt19937& rng) {
  const auto a1 = ta ? random_strided(K, M1, rng) : random_strided(M1, K, rng);
  const auto a2 = ta ? random_strided(K, M2, rng) : random_strided(M2, K, rng);
  const auto b = random_strided(K, N, rng);
  const auto c1_0 = random_strided(M1, N, rng), c2_0 = random_strided(M2, N, rng);
  auto c1 = c1_0, c2 = c2_0, s1 = c1_0, s2 = c2_0;
  rnnkit::sgemm_shared_right(Trans(ta), {a1.data.data(), a1.ld, M1, c1.data.data(), c1.ld},
                             {a2.data.data(), a2.ld, M2, c2.data.data(), c2.ld}, N, K, b.data.data(), b.ld);
  CHECK(matches(a1, ta, b, false, c1_0, c1, M1, N, K, 1.f, 0.f, 0, N));
  CHECK(matches(a2, ta, b, false, c2_0, c2, M2, N, K, 1.f, 0.f, 0, N));
  rnnkit::sgemm(Trans(ta), Trans::no, M1, N, K, 1.f, a1.data.data(), a1.ld, b.data.data(), b.ld, 0.f,
                s1.data.data(), s1.ld);
  rnnkit::sgemm(Trans(ta), Trans::no, M2, N, K, 1.f, a2.data.data(), a2.ld, b.data.data(), b.ld, 0.f,
                s2.data.data(), s2.ld);
  // Bitwise (the padding is NaN); a product of one row panel is summed differently by sgemm (B read in place).
  const auto same_bits = [](const Strided& x, const Strided& y) {
    return std::memcmp(x.data.data(), y.data.data(), x.data.size() * sizeof(float)) == 0;
  };
  CHECK(same_bits(c1, s1) || M1 <= 16);
  CHECK(same_bits(c2, s2) || M2 <= 16);
}

}  // namespace

int main() {
  std::mt19937 rng(42);
  for (const auto isa : {rnnkit::Isa::generic, rnnkit::Isa::avx2, rnnkit::Isa::avx512}) {
    if (static_cast<int>(isa) > static_cast<int>(rnnkit::detected_isa())) {
      std::printf("skip %s: not supported by this CPU\n", rnnkit::isa_name(isa));
      continue;
    }
    rnnkit::set_active_isa(isa);
    for (const bool ta : {false, true})
      for (const bool tb : {false, true}) {
        check_sgemm(1, 1, 1, ta, tb, rng);
        check_sgemm(13, 35, 300, ta, tb, rng);
        check_sgemm(70, 520, 9, ta, tb, rng);
        // Shared-block path (M > 128) with a partial last row panel and K off the vector width: the
        // in-register transposes of packing mask their last k block and row group.
        check_sgemm(150, 37, 37, ta, tb, rng);
        // Batch-sized rows (one row panel read in place; column-split packing up to 128 rows), N off the
        // panel and strip widths, K past one block.
        for (const int64_t m : {1, 2, 3, 7, 8, 9, 12, 17, 128}) check_sgemm(m, 3 * 67, 260, ta, tb, rng);
        check_sgemm(5, 1000, 31, ta, tb, rng);
        check_sgemm(9, 1500, 300, ta, tb, rng);  // enough work for two threads
        check_sgemm(131, 520, 260, ta, tb, rng);  // tall on two threads: two k blocks, two column blocks
        // Tall with N in one block: op(A) transposed is packed a row panel at a time, over three k blocks.
        check_sgemm(301, 100, 600, ta, tb, rng);
        check_sgemm(1, 1100, 301, ta, tb, rng);   // one row against a B over 1 MiB: B's rows streamed
        check_sgemm(4, 5, 0, ta, tb, rng);        // K == 0: C = beta * C + bias
        check_packed(1, 200, 64, ta, tb, 0, 200, rng);
        check_packed(7, 300, 270, ta, tb, 33, 161, rng);
        check_packed(30, 96, 17, ta, tb, 32, 64, rng);
      }
    for (const bool ta : {false, true}) {
      check_shared_right(128, 128, 512, 700, ta, rng);  // BPTT's dW and dU: three k blocks, 16 column panels
      check_shared_right(13, 70, 3 * 67, 260, ta, rng);  // partial row and column panels
      check_shared_right(5, 30, 1500, 300, ta, rng);    // enough columns for two threads
      check_shared_right(200, 9, 37, 300, ta, rng);     // beyond 128 rows: two separate products
      check_shared_right(20, 20, 40, 30, ta, rng);      // short K: two separate products
    }
    check_packed_column_split_across_team(rng);
    check_packed_column_blocks(37, rng);
    check_packed_column_blocks(1500, rng);  // enough rows for the packing to be shared by two threads
    check_sgemm_inside_team(rng);
    for (const bool ta : {false, true})
      for (const bool tb : {false, true}) {
        check_packed_serial(1, 128, 128, ta, tb, rng);
        check_packed_serial(1, 16 * 13 + 5, 300, ta, tb, rng);  // a row: several panels per pass, then single ones
        check_packed_serial(29, 200, 300, ta, tb, rng);
        check_packed_serial(13, 96 + 17, 600, ta, tb, rng);
        check_packed_serial(29, 200, 249, ta, tb, rng);  // rows 256 floats apart: row-major A packed
        check_packed_serial(29, 200, 57, ta, tb, rng, 256);   // short rows 1 KiB apart: read in place
        check_packed_serial(29, 200, 57, ta, tb, rng, 1024);  // short rows 4 KiB apart: packed
        check_packed_serial(13, 1100, 520, ta, tb, rng);  // B beyond 2 MiB: the next panel prefetched per tile
      }
    float c = NAN;
    const float one = 1.f;
    rnnkit::sgemm(Trans::no, Trans::no, 1, 1, 1, 1.f, &one, 1, &one, 1, 0.f, &c, 1);
    CHECK(c == 1.f);  // beta == 0 ignores the NaN already in C
  }
  CHECK_THROWS(rnnkit::sgemm(Trans::no, Trans::no, 2, 2, 3, 1.f, nullptr, 2, nullptr, 2, 0.f, nullptr, 2));
  CHECK_THROWS(rnnkit::pack_b(Trans::no, -1, 2, nullptr, 2));
  return rnnkit_test::failures();
}
