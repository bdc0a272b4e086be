// Scaled dot-product attention forward and forward+backward at the (B, T, heads, head_dim) shapes,
// causal and not, on 1 and 2 threads; GFLOPS counts the work actually needed (half the scores when causal).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "rnnkit/attention.hpp"
#include "rnnkit/runtime.hpp"

namespace {

std::vector<float> random_values(std::int64_t count) {
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  std::vector<float> v(count);
  for (auto& x : v) x = normal(rng);
  return v;
}

struct Setup {
  rnnkit::AttentionDims dims;
  rnnkit::AttentionOptions options;
  std::vector<float> q, k, v, out, lse, d_out, d_q, d_k, d_v;

  // Args: batch, T, heads, head_dim, causal, threads.
  explicit Setup(benchmark::State& state) {
    dims.batch = state.range(0), dims.q_len = dims.kv_len = state.range(1), dims.heads = state.range(2);
    dims.head_dim = dims.value_dim = state.range(3);
    options.mask.causal = state.range(4) != 0;
    rnnkit::set_num_threads(static_cast<int>(state.range(5)));
    const std::int64_t n = dims.batch * dims.heads * dims.q_len * dims.head_dim;
    q = random_values(n), k = random_values(n), v = random_values(n), d_out = random_values(n);
    out.resize(n), lse.resize(dims.batch * dims.heads * dims.q_len), d_q.resize(n), d_k.resize(n), d_v.resize(n);
  }

  double forward_flops() const {
    const double pairs = double(dims.q_len) * double(dims.kv_len) * (options.mask.causal ? 0.5 : 1.0);
    return 4.0 * double(dims.batch * dims.heads) * pairs * double(dims.head_dim);  // q k^T and p v
  }
};

void BM_attention_forward(benchmark::State& state) {
  Setup s(state);
  for (auto _ : state) {
    rnnkit::attention_forward(s.dims, s.q.data(), s.k.data(), s.v.data(), s.options, s.out.data(), s.lse.data());
    benchmark::DoNotOptimize(s.out.data());
  }
  state.counters["GFLOPS"] = benchmark::Counter(1e-9 * s.forward_flops() * double(state.iterations()),
                                                benchmark::Counter::kIsRate);
}

void BM_attention_forward_backward(benchmark::State& state) {
  Setup s(state);
  for (auto _ : state) {
    rnnkit::attention_forward(s.dims, s.q.data(), s.k.data(), s.v.data(), s.options, s.out.data(), s.lse.data());
    rnnkit::attention_backward(s.dims, s.q.data(), s.k.data(), s.v.data(), s.out.data(), s.lse.data(),
                               s.d_out.data(), s.options, s.d_q.data(), s.d_k.data(), s.d_v.data());
    benchmark::DoNotOptimize(s.d_q.data());
  }
  // The backward recomputes the scores and does four more products: 3.5x the forward's work in total.
  state.counters["GFLOPS"] = benchmark::Counter(3.5e-9 * s.forward_flops() * double(state.iterations()),
                                                benchmark::Counter::kIsRate);
}

// (B, T, heads, head_dim = d_model / heads) from the issue, plus T = 1024 both ways for the causal speed-up.
void shapes(benchmark::internal::Benchmark* b) {
  for (int threads : {1, 2}) {
    b->Args({32, 128, 8, 32, 0, threads});
    b->Args({8, 512, 8, 32, 1, threads});
    b->Args({1, 1024, 8, 64, 1, threads});
    b->Args({1, 1024, 8, 64, 0, threads});
    b->Args({64, 32, 4, 32, 0, threads});
  }
  b->ArgNames({"B", "T", "heads", "dim", "causal", "threads"})->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK(BM_attention_forward)->Apply(shapes);
BENCHMARK(BM_attention_forward_backward)->Apply(shapes);
BENCHMARK_MAIN();
