// sgemm / sgemm_packed throughput (GFLOPS counter) on square and RNN-shaped products, 1 and 2 threads.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "rnnkit/gemm.hpp"
#include "rnnkit/runtime.hpp"

namespace {

std::vector<float> random_matrix(std::int64_t count) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(-1.f, 1.f);
  std::vector<float> m(count);
  for (auto& x : m) x = uniform(rng);
  return m;
}

void set_flops_counter(benchmark::State& state, std::int64_t M, std::int64_t N, std::int64_t K) {
  state.counters["GFLOPS"] =
      benchmark::Counter(2e-9 * double(M) * double(N) * double(K) * double(state.iterations()),
                         benchmark::Counter::kIsRate);
}

// Args: M, N, K, threads.
void BM_sgemm(benchmark::State& state) {
  const std::int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  rnnkit::set_num_threads(static_cast<int>(state.range(3)));
  const auto a = random_matrix(M * K), b = random_matrix(K * N);
  std::vector<float> c(M * N);
  for (auto _ : state) {
    rnnkit::sgemm(rnnkit::Trans::no, rnnkit::Trans::no, M, N, K, 1.f, a.data(), K, b.data(), N, 0.f, c.data(), N);
    benchmark::DoNotOptimize(c.data());
  }
  set_flops_counter(state, M, N, K);
}

// The recurrent step: h[batch, H] x U[H, gates*H] with U packed once.
void BM_sgemm_packed(benchmark::State& state) {
  const std::int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  rnnkit::set_num_threads(static_cast<int>(state.range(3)));
  const auto a = random_matrix(M * K), b = random_matrix(K * N);
  const auto packed = rnnkit::pack_b(rnnkit::Trans::no, K, N, b.data(), N);
  std::vector<float> c(M * N);
  for (auto _ : state) {
    rnnkit::sgemm_packed(rnnkit::Trans::no, M, 1.f, a.data(), K, packed, 0.f, c.data(), N);
    benchmark::DoNotOptimize(c.data());
  }
  set_flops_counter(state, M, N, K);
}

void square_sizes(benchmark::internal::Benchmark* b) {
  for (int threads : {1, 2})
    for (int n : {256, 512, 1024, 2048}) b->Args({n, n, n, threads});
}

void rnn_shapes(benchmark::internal::Benchmark* b) {
  for (int threads : {1, 2})
    for (int hidden : {64, 128, 256, 512})
      for (int gates : {3, 4})
        for (int batch : {1, 8, 32, 128}) b->Args({batch, gates * hidden, hidden, threads});
}

}  // namespace

BENCHMARK(BM_sgemm)->Apply(square_sizes)->UseRealTime();
BENCHMARK(BM_sgemm)->Apply(rnn_shapes)->UseRealTime();
BENCHMARK(BM_sgemm_packed)->Apply(rnn_shapes)->UseRealTime();
BENCHMARK_MAIN();
