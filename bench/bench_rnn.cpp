// Recurrent layers through the C++ API: forward (inference) and training step (forward + BPTT to every
// weight, the input and the initial state) for each cell on the grid of issue 13, at 1 and 2 threads.
// GFLOPS counts forward = 2*T*B*G*H*(I+H) (G gates) and a training step as 3 forwards.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "rnnkit/rnn.hpp"
#include "rnnkit/runtime.hpp"

namespace {

using rnnkit::CellKind;

struct CellVariant {
  const char* name;
  CellKind kind;
  bool reset_after, peephole;
};
const CellVariant kCells[] = {{"simple_rnn", CellKind::simple_rnn, true, false},
                              {"gru", CellKind::gru, true, false},
                              {"gru_reset_before", CellKind::gru, false, false},
                              {"lstm", CellKind::lstm, true, false},
                              {"lstm_peephole", CellKind::lstm, true, true}};

std::vector<float> random_vector(std::int64_t count, float scale) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.f, scale);
  std::vector<float> v(count);
  for (auto& x : v) x = normal(rng);
  return v;
}

// Weights, input and output buffers of one problem, owned here and lent to the API structs.
struct Problem {
  rnnkit::RnnConfig cfg;
  std::vector<float> x, kernel, recurrent, bias, peephole, outputs, last, h, c, d_out, dx, dk, drk, db, dp, dh0, dc0;
  rnnkit::RnnInputs in;
  rnnkit::RnnOutputs out;
  rnnkit::RnnGradInputs grad_in;
  rnnkit::RnnGradients grads;

  Problem(const CellVariant& cell, std::int64_t B, std::int64_t T, std::int64_t I, std::int64_t H) {
    cfg.cell = cell.kind, cfg.batch = B, cfg.time = T, cfg.input = I, cfg.units = H, cfg.reset_after = cell.reset_after;
    const std::int64_t GH = rnnkit::gate_count(cell.kind) * H;
    const std::int64_t bias_size = cell.kind == CellKind::gru && cell.reset_after ? 2 * GH : GH;
    x = random_vector(B * T * I, 1.f), kernel = random_vector(I * GH, 0.05f), recurrent = random_vector(H * GH, 0.05f);
    bias = random_vector(bias_size, 0.1f), peephole = random_vector(3 * H, 0.1f), d_out = random_vector(B * T * H, 1.f);
    outputs.resize(B * T * H), last.resize(B * H), h.resize(B * H), c.resize(B * H);
    dx.resize(B * T * I), dk.resize(I * GH), drk.resize(H * GH), db.resize(bias_size), dp.resize(3 * H);
    dh0.resize(B * H), dc0.resize(B * H);
    in.x = x.data(), in.kernel = kernel.data(), in.recurrent_kernel = recurrent.data(), in.bias = bias.data();
    in.peephole = cell.peephole ? peephole.data() : nullptr;
    out = {outputs.data(), last.data(), h.data(), c.data()};
    grad_in.d_outputs = d_out.data();
    grads.d_x = dx.data(), grads.d_kernel = dk.data(), grads.d_recurrent_kernel = drk.data(), grads.d_bias = db.data();
    grads.d_peephole = cell.peephole ? dp.data() : nullptr, grads.d_h0 = dh0.data();
    grads.d_c0 = cell.kind == CellKind::lstm ? dc0.data() : nullptr;
  }

  double forward_flops() const {
    return 2.0 * double(cfg.time) * double(cfg.batch) * double(rnnkit::gate_count(cfg.cell) * cfg.units) *
           double(cfg.input + cfg.units);
  }
};

// Args: cell index, B, T, I, H, threads.
void run(benchmark::State& state, bool training) {
  const CellVariant& cell = kCells[state.range(0)];
  Problem p(cell, state.range(1), state.range(2), state.range(3), state.range(4));
  rnnkit::set_num_threads(static_cast<int>(state.range(5)));
  state.SetLabel(cell.name);
  for (auto _ : state) {
    auto cache = rnnkit::rnn_forward(p.cfg, p.in, p.out, training);
    if (training) rnnkit::rnn_backward(*cache, p.grad_in, p.grads);
    benchmark::DoNotOptimize(p.outputs.data());
  }
  state.counters["GFLOPS"] = benchmark::Counter(p.forward_flops() * (training ? 3.0 : 1.0) * 1e-9 *
                                                    double(state.iterations()),
                                                benchmark::Counter::kIsRate);
}

void BM_forward(benchmark::State& state) { run(state, false); }
void BM_train(benchmark::State& state) { run(state, true); }

void grid(benchmark::internal::Benchmark* b) {
  // The last shape is the recurrent layer of the fit-epoch model (Embedding(10000, 128) -> LSTM(128), batch 64).
  const std::int64_t shapes[][4] = {{1, 100, 64, 128}, {32, 100, 128, 256}, {64, 50, 256, 512}, {128, 20, 32, 64},
                                    {16, 200, 64, 64},  {64, 100, 128, 128}};
  b->ArgNames({"cell", "B", "T", "I", "H", "threads"});
  for (int threads : {1, 2})
    for (std::int64_t cell = 0; cell < std::int64_t(std::size(kCells)); ++cell)
      for (const auto& s : shapes) b->Args({cell, s[0], s[1], s[2], s[3], threads});
}

}  // namespace

BENCHMARK(BM_forward)->Apply(grid)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_train)->Apply(grid)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
