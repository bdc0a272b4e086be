// The sequence driver: validation, the input projection, the time loop with masks/go_backwards/dropout,
// and BPTT with the weight gradients as GEMMs over all timesteps. Forward and backward side by side.
//
// Inside the time loop the products are h·U (forward) and dG·U^T (backward), against U packed once per call,
// and, when each thread owns whole batch rows and W is small, x·W and dG·W^T against W packed once. One
// OpenMP team lives for the whole loop; each thread owns a range of unit blocks (kMaxBlock-wide at most,
// panel-aligned) and computes, for every batch row, its columns of the product and then the gate math and
// state update of its units. The forward packs U with each block's gates side by side, so a
// thread's columns are one contiguous range. Threads only meet at one barrier per step (two for GRU
// reset_after=False), where the next product needs every unit of the new state.
#include <algorithm>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>

#ifdef RNNKIT_HAVE_OPENMP
#include <omp.h>
#endif

#include "blocks.hpp"
#include "kept_packings.hpp"
#include "kernels/aligned_buffers.hpp"
#include "kernels/flush_denormals.hpp"
#include "kernels/prefetch_row.hpp"
#include "kernels/spread_row_stride.hpp"
#include "rnnkit/checked.hpp"
#include "rnnkit/gemm.hpp"
#include "runtime/cache_sizes.hpp"
#include "sequence.hpp"
#include "step_barrier.hpp"

namespace rnnkit {

int gate_count(CellKind cell) { return cell == CellKind::simple_rnn ? 1 : (cell == CellKind::gru ? 3 : 4); }

void RnnCacheDeleter::operator()(RnnCache* c) const { delete c; }
const RnnConfig& cache_config(const RnnCache& cache) { return cache.config; }
bool cache_has_bias(const RnnCache& cache) { return cache.has_bias; }
bool cache_has_peephole(const RnnCache& cache) { return !cache.peephole.empty(); }
int64_t cache_table_rows(const RnnCache& cache) { return cache.table_rows; }

namespace {

using std::int64_t;

// A step's product must give each thread at least this many flops, or the barrier at the end of the step
// costs more than the split saves. At batch 1 the product streams U from L2, and two cores' L2s halve that:
// with 32 K instead of 256 K, H = 128 on 2 threads runs the LSTM forward / training step 1.2x / 1.3x faster and
// the GRU 1.13x / 1.19x (one binary against the other, medians of 11-25); SimpleRNN (32 K a step) stays on one.
constexpr double kMinStepFlopsPerThread = 32 * 1024;

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("rnn_forward: " + what);
}

void validate(const RnnConfig& cfg, const RnnInputs& in, const RnnOutputs& out) {
  require(cfg.batch >= 1 && cfg.time >= 1 && cfg.input >= 1 && cfg.units >= 1,
          "expected batch, time, input and units >= 1, received (" + std::to_string(cfg.batch) + ", " +
              std::to_string(cfg.time) + ", " + std::to_string(cfg.input) + ", " + std::to_string(cfg.units) + ")");
  require(in.recurrent_kernel && (in.ids ? in.input_table != nullptr : in.x && in.kernel),
          "expected x and kernel (or ids and input_table), and recurrent_kernel, received null");
  require(!in.ids || !in.input_dropout, "ids with an input_table take no input dropout");
  require(!in.peephole || cfg.cell == CellKind::lstm, "peephole weights are only defined for the LSTM cell");
  require(!in.c0 || cfg.cell == CellKind::lstm, "an initial cell state c0 is only defined for the LSTM cell");
  require(out.last_output && out.h_last && (cfg.cell != CellKind::lstm || out.c_last),
          "expected output buffers, received null");
}

void copy_or_clear(std::vector<float>& dst, const float* src, int64_t n) {
  if (src) dst.assign(src, src + n); else dst.clear();
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

void add_into(float* dst, const float* src, int64_t n) {
  for (int64_t k = 0; k < n; ++k) dst[k] += src[k];
}

// The forward prefetches the next step's x·W rows from the projection up to this many bytes a step.
constexpr double kMaxPrefetchStepBytes = 64 * 1024;

// A step's rows of the (B, T, H) output gradient sit T rows apart, a few cache lines each, which the hardware
// prefetchers do not find. When a thread's rows of a step fit kMaxPrefetchStepBytes, each row asks for its next
// step's row (a step of products and gate math ahead); otherwise for the row this many rows ahead in the step.
constexpr int64_t kPrefetchRows = 2;

// Units per kernel call and per thread's share of a unit-split step (see cells::kMaxBlock), and no more whole
// panels than H fills: every gate's block is this wide in the interleaved product, zeros past H.
int64_t block_width(Isa isa, int64_t H) {
  const int64_t panel = packed_panel_width(isa);
  const int64_t widest = std::max<int64_t>(1, cells::kMaxBlock / panel) * panel;
  return std::min(widest, std::max<int64_t>(1, ceil_div(H, panel)) * panel);
}

// p + k, or null for an absent buffer (no arithmetic on null pointers).
template <typename T>
T* offset(T* p, int64_t k) { return p ? p + k : nullptr; }

// How the time loop is shared. With enough batch rows each thread owns a range of rows for the whole sequence
// and the threads never wait for each other (the forward runs each thread's rows as a batch of its own,
// forward_row_slices, and so does the backward of its cache; a backward on more threads than its forward had
// splits the rows here); with few rows (batch 1) each thread owns a range of unit blocks (`width` units) of every
// row and the team meets at a barrier every step, where the next product needs every unit of the new state.
// `threads` is what was asked for; member() is one thread of the team OpenMP actually started, which may be
// smaller.
struct Team {
  int threads = 1;
  bool split_units = false;
  int64_t rows = 0, blocks = 0, width = 0, units = 0;
  cells::StepBarrier* barrier = nullptr;  // shared by the team; owned by the caller of plan_team

  struct Member {
    int64_t row_begin, row_end, block_begin, block_end, unit_begin, unit_end;
  };
  Member member() const {
    int64_t id = 0, size = 1;
#ifdef RNNKIT_HAVE_OPENMP
    id = omp_get_thread_num(), size = omp_get_num_threads();
#endif
    if (!split_units) return {rows * id / size, rows * (id + 1) / size, 0, blocks, 0, units};
    const int64_t b0 = blocks * id / size, b1 = blocks * (id + 1) / size;
    return {0, rows, b0, b1, std::min(b0 * width, units), std::min(b1 * width, units)};
  }
  int id() const {
#ifdef RNNKIT_HAVE_OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
  }
  // Where a unit-split team waits until every unit of the new state is written.
  void sync_units() const {
    if (!split_units) return;
#ifdef RNNKIT_HAVE_OPENMP
    barrier->wait(omp_get_num_threads());
#endif
  }
};

// Rows are split when every thread gets at least this many (fewer leave the microkernel's row panels empty).
constexpr int64_t kMinRowsPerThread = 4;
// W is read again at every step when the input projection is made step by step: beyond about one core's L2
// each step streams it from L3 and the one big GEMM wins (LSTM (64,50,256,512), W 2 MiB, on a 512 KiB L2: 14%
// slower per step).
constexpr double kMaxStepProjectionWeightBytes = 1024 * 1024;
// Up to one core's L2 of W, enough rows a thread make the step's projection pay for streaming W: the one GEMM's
// (B*T, G*H) result goes out to memory and back (LSTM (64,50,256,512), 26 MB). On a 2 MiB L2, 1 thread: LSTM /
// GRU forward 1.10x / 1.075x per step with 64 rows, 1.01x with 32; 2 threads of 32 rows 0.95-0.98x.
constexpr int64_t kMinRowsForLargeStepProjection = 64;
// A whole sequence must give each thread at least this many flops, or the fork costs more than it saves.
constexpr double kMinLoopFlopsPerThread = 4.0 * 1024 * 1024;

Team plan_team(int64_t B, int64_t T, int64_t H, int64_t GH, int64_t width, cells::StepBarrier& barrier) {
  Team team;
  team.rows = B, team.blocks = ceil_div(H, width), team.width = width, team.units = H, team.barrier = &barrier;
#ifdef RNNKIT_HAVE_OPENMP
  if (omp_in_parallel()) return team;
#endif
  const double step_flops = 2.0 * double(B) * double(H) * double(GH);
  const double by_loop = step_flops * double(T) / kMinLoopFlopsPerThread;
  const double by_rows = double(B / kMinRowsPerThread);
  if (by_rows >= 2 && by_loop >= 2) {
    team.threads = static_cast<int>(std::min({double(num_threads()), by_rows, by_loop}));
    return team;
  }
  team.split_units = true;
  const double by_step = step_flops / kMinStepFlopsPerThread;
  team.threads = static_cast<int>(std::max(1.0, std::min({double(num_threads()), double(team.blocks), by_step})));
  return team;
}

// U (H, gates*H, row stride ldu) with, per block of `width` units, the blocks of every gate side by side:
// packed column (u*gates + g)*width + jj holds U[:, g*H + u*width + jj] (zero past H).
PackedMatrix pack_interleaved(const float* U, int64_t ldu, int64_t H, int gates, int64_t width) {
  const int64_t blocks = ceil_div(H, width) * gates;
  std::vector<int64_t> first(blocks), count(blocks);
  for (int64_t i = 0; i < blocks; ++i) {
    const int64_t u = i / gates, g = i % gates;
    first[i] = g * H + u * width, count[i] = std::min(width, H - u * width);
  }
  return pack_b_column_blocks(H, U, ldu, width, blocks, first.data(), count.data());
}

// GRU with reset_after=False multiplies r ⊙ h by U_h apart from h·U_zr, so U_h is packed on its own.
bool two_phase(const RnnConfig& cfg) { return cfg.cell == CellKind::gru && !cfg.reset_after; }

// U as the forward's step products read it (the gates of each block of units interleaved; U_zr alone when
// two-phase): an inference call's U of up to kMaxKeptPackingBytes is kept between calls by the calling thread
// (kept_packing), any other packed into `own`, which the result then refers to.
const PackedMatrix& forward_u_packing(const RnnConfig& cfg, const float* U, bool training, PackedMatrix& own) {
  const int64_t H = cfg.units, GH = gate_count(cfg.cell) * H;
  const Isa isa = active_isa();
  const int64_t width = block_width(isa, H);
  const int main_gates = two_phase(cfg) ? 2 : gate_count(cfg.cell);
  const auto pack_u = [&] { return pack_interleaved(U, GH, H, main_gates, width); };
  if (!training && H * GH * int64_t(sizeof(float)) <= cells::kMaxKeptPackingBytes)
    return cells::kept_packing(U, H * GH, {isa, H, width, main_gates}, pack_u);
  return own = pack_u();
}

// Uᵀ as the backward's step products dG·Uᵀ read it (U_zrᵀ alone when two-phase).
PackedMatrix backward_u_packing(const RnnConfig& cfg, const float* U) {
  const int64_t H = cfg.units, GH = gate_count(cfg.cell) * H;
  return pack_b(Trans::yes, two_phase(cfg) ? 2 * H : GH, H, U, GH);
}

struct RowsView {
  float* data;
  int64_t ld;
  float* operator[](int64_t b) const { return offset(data, b * ld); }
};

// The operand of W and its projection, row (b, t) at b*batch_stride + t*time_stride: x itself is batch-major
// (B, T, I); a copy made for input dropout or the training cache is time-major like every cache.
struct InputRows {
  const float* x;
  int64_t batch_stride, time_stride;
  int64_t row(int64_t b, int64_t t) const { return b * batch_stride + t * time_stride; }
};

// Everything the forward time loop reads and writes; each thread runs steps() on its own unit blocks.
struct ForwardLoop {
  const RnnConfig& cfg;
  const RnnInputs& in;
  const RnnOutputs& out;
  RnnCache* cache;  // null at inference
  const cells::BlockKernels& kernels;
  Team team;
  int64_t B, T, H, GH, I;
  InputRows x_eff;              // the operand of W (x null with ids)
  const float* x_proj;          // every step's x·W in x_eff's row order; null when projected per step or with ids
  const PackedMatrix& w_packed;  // W when projected per step
  float* step_proj;             // step t's x·W, row b at b*GH, when projected per step
  const PackedMatrix& u_main;  // interleaved: all gates, or z and r for GRU reset_after=False
  int main_gates;
  const PackedMatrix& u_candidate;  // GRU reset_after=False: U_h
  float *rec, *rec_h, *h, *h_eff, *c, *h_new, *c_new, *prev_out, *gate_rows, *aux_rows, *workspace;
  int64_t workspace_size;

  bool two_phase() const { return rnnkit::two_phase(cfg); }

  // Step t of row b of x·W: a row of the projection, or with token ids the table's row (never copied).
  const float* x_row(int64_t b, int64_t t) const {
    if (in.ids) return in.input_table + in.ids[b * T + t] * GH;
    return x_proj ? x_proj + x_eff.row(b, t) * GH : step_proj + b * GH;
  }

  cells::ForwardFn first_kernel() const {
    switch (cfg.cell) {
      case CellKind::simple_rnn: return kernels.simple_rnn_forward;
      case CellKind::lstm: return kernels.lstm_forward;
      default: return cfg.reset_after ? kernels.gru_forward : kernels.gru_forward_zr;
    }
  }

  void steps() const {
    const int64_t BH = B * H, width = team.width, rec_ld = u_main.cols();
    const Team::Member me = team.member();
    const int64_t r0 = me.row_begin, r1 = me.row_end, rows = r1 - r0;
    const int64_t u0 = me.block_begin, u1 = me.block_end, j0 = me.unit_begin, j1 = me.unit_end;
    float* ws = workspace + team.id() * workspace_size;
    const cells::ForwardFn first = first_kernel();
    const float* rbias = cfg.cell == CellKind::gru && cfg.reset_after && in.bias ? in.bias + GH : nullptr;
    const float* rdrop = in.recurrent_dropout;
    const bool lstm = cfg.cell == CellKind::lstm;
    const bool chained = cache && cache->chained;
    const bool keep_gates = cache || two_phase();  // see ForwardBlock::keep_gates
    const int64_t rows_per_call = std::max<int64_t>(1, cells::kMaxUnitsPerCall / std::min(width, H));
    std::vector<cells::ForwardBlock> call_rows(std::max<int64_t>(1, std::min(rows_per_call, rows)));
    for (int64_t s = 0; s < T; ++s) {
      const int64_t t = cfg.go_backwards ? T - 1 - s : s, t_next = cfg.go_backwards ? t - 1 : t + 1;
      const float* h_cur = chained ? &cache->h_prev[t * BH] : h + (s & 1) * BH;
      float* h_next = chained && s + 1 < T ? &cache->h_prev[t_next * BH] : h + ((s + 1) & 1) * BH;
      const float* c_cur = chained && lstm ? cache->c_before(t) : c;
      const float* h_eff_cur = rdrop ? h_eff + (s & 1) * BH : h_cur;
      const RowsView gates = cache ? RowsView{&cache->gates[t * B * GH], GH} : RowsView{gate_rows, GH};
      const RowsView aux = !cache ? RowsView{aux_rows, H}
                           : RowsView{cache->aux.empty() ? nullptr : &cache->aux[t * B * H], H};
      // Where the kernels put h_t and c_t. Without a mask every row keeps its new state, so h_t goes straight
      // into the next step's operand and c_t over c_{t-1} (the kernels read each unit's c_{t-1} before writing
      // its c_t); with one, a masked row must still read its old state afterwards. A training LSTM writes c_t
      // straight into the cache.
      const RowsView h_t = in.mask ? RowsView{h_new, H} : RowsView{h_next, H};
      const RowsView c_t = !lstm    ? RowsView{nullptr, 0}
                           : cache   ? RowsView{&cache->c_new[t * B * H], H}
                           : in.mask ? RowsView{c_new, H}
                                     : RowsView{c, H};
      // The kernels ask for the next step's x·W while they compute this one (ForwardBlock::xp_next). Long
      // projection rows (a step's rows beyond kMaxPrefetchStepBytes) are left to the hardware prefetchers, which
      // follow a long run once it starts, rather than pulling a whole step into L1 ahead of its use.
      const bool prefetch_next =
          s + 1 < T && !step_proj && (in.ids || double(B * GH) * sizeof(float) <= kMaxPrefetchStepBytes);
      auto block = [&](int64_t b, int64_t u, const float* rec_block, int64_t rec_stride) {
        const int64_t j = u * width;
        return cells::ForwardBlock{std::min(width, H - j), H, cfg.activation, cfg.recurrent_activation, rec_block,
                                   rec_stride, x_row(b, t) + j, prefetch_next ? x_row(b, t_next) + j : nullptr,
                                   offset(in.bias, j), rbias ? rbias + j : nullptr,
                                   in.peephole ? in.peephole + j : nullptr, h_cur + b * H + j,
                                   h_eff_cur + b * H + j, c_cur + b * H + j, gates[b] + j, offset(aux[b], j),
                                   offset(c_t[b], j), h_t[b] + j, keep_gates};
      };
      if (step_proj && rows)
        sgemm_packed_serial(Trans::no, rows, 1.0f, x_eff.x + x_eff.row(r0, t) * I, x_eff.batch_stride * I, w_packed,
                            0.0f, step_proj + r0 * GH, GH, 0, GH, ws);
      if (rows && u0 < u1)
        sgemm_packed_serial(Trans::no, rows, 1.0f, h_eff_cur + r0 * H, H, u_main, 0.0f, rec + r0 * rec_ld, rec_ld,
                            u0 * main_gates * width, u1 * main_gates * width, ws);
      // This thread's rows, rows_per_call at a time, through each of its unit blocks, one kernel call each; the
      // product of block u, row b is at products + b * ld + u * block_ld (its gates rec_stride apart).
      auto run_kernel = [&](cells::ForwardFn kernel, const float* products, int64_t ld, int64_t block_ld,
                            int64_t rec_stride) {
        for (int64_t b = r0; b < r1; b += rows_per_call)
          for (int64_t u = u0; u < u1; ++u) {
            const int64_t count = std::min(rows_per_call, r1 - b);
            for (int64_t i = 0; i < count; ++i)
              call_rows[i] = block(b + i, u, products + (b + i) * ld + u * block_ld, rec_stride);
            kernel(call_rows.data(), count);
          }
      };
      run_kernel(first, rec, rec_ld, main_gates * width, width);
      if (two_phase()) {
        team.sync_units();
        if (rows && u0 < u1)
          sgemm_packed_serial(Trans::no, rows, 1.0f, aux[r0], aux.ld, u_candidate, 0.0f, rec_h + r0 * H, H, j0, j1, ws);
        run_kernel(kernels.gru_forward_h, rec_h, H, width, 0);
      }
      // Keras masking: a masked row carries its state and repeats its previous output.
      const int64_t n = j1 - j0;
      for (int64_t b = r0; b < r1; ++b) {
        const int64_t i = b * H + j0, row = (t * B + b) * H + j0;
        const bool keep = !in.mask || in.mask[b * T + t];
        if (cache) {
          if (!chained) std::memcpy(&cache->h_prev[row], h_cur + i, sizeof(float) * n);
          if (rdrop) std::memcpy(&cache->h_prev_eff[row], h_eff_cur + i, sizeof(float) * n);
          if (lstm && !chained) std::memcpy(&cache->c_prev[row], c + i, sizeof(float) * n);
        }
        if (keep) {
          if (in.mask) {
            std::memcpy(h_next + i, h_new + i, sizeof(float) * n);
            std::memcpy(prev_out + i, h_new + i, sizeof(float) * n);
          }
          if (lstm && c_t.data != c && !chained) std::memcpy(c + i, c_t[b] + j0, sizeof(float) * n);
        } else {
          std::memcpy(h_next + i, h_cur + i, sizeof(float) * n);
        }
        if (out.outputs)
          std::memcpy(out.outputs + (b * T + s) * H + j0, (in.mask ? prev_out : h_next) + i, sizeof(float) * n);
        if (rdrop) {
          float* h_eff_next = h_eff + ((s + 1) & 1) * BH;
          for (int64_t k = i; k < i + n; ++k) h_eff_next[k] = h_next[k] * rdrop[k];
        }
      }
      team.sync_units();
    }
  }
};

// Whether x·W (forward) and dG·W^T (backward) are made step by step inside the time loop, each thread for
// its own rows, rather than as one GEMM over all rows outside it.
bool input_products_per_step(const Team& team, int64_t I, int64_t GH) {
  const double w_bytes = double(I) * double(GH) * sizeof(float);
  if (team.split_units) return false;
  return w_bytes <= kMaxStepProjectionWeightBytes ||
         (w_bytes <= double(l2_cache_bytes()) && team.rows / team.threads >= kMinRowsForLargeStepProjection);
}

// The operand of W: x itself, or x * input_dropout in time-major order, kept in the cache when training (in
// `dropped` otherwise).
InputRows effective_inputs(const RnnInputs& in, RnnCache* cache, const RnnConfig& cfg, bool training,
                           Floats& dropped) {
  const int64_t B = cfg.batch, T = cfg.time, I = cfg.input;
  if (!in.input_dropout && !training) return {in.x, T, 1};
  Floats& dst = training ? cache->x_eff : dropped;
  dst = Floats(checked_mul(B * T, I, "rnn_forward"));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      const float* src = in.x + (b * T + t) * I;
      float* row = &dst[(t * B + b) * I];
      if (in.input_dropout)
        for (int64_t k = 0; k < I; ++k) row[k] = src[k] * in.input_dropout[b * I + k];
      else
        std::memcpy(row, src, sizeof(float) * I);
    }
  return {dst.data(), 1, B};
}

void check_ids(const RnnInputs& in, int64_t BT) {
  for (int64_t r = 0; r < BT; ++r)
    if (in.ids[r] < 0 || in.ids[r] >= in.table_rows)
      require(false, "expected ids in [0, " + std::to_string(in.table_rows) + "), received " +
                         std::to_string(in.ids[r]));
}

#ifdef RNNKIT_HAVE_OPENMP
// Rows [r0, ...) of a batch's inputs and outputs (and their gradients), as a batch of their own.
RnnInputs rows_from(const RnnInputs& in, const RnnConfig& cfg, int64_t r0) {
  const int64_t T = cfg.time, I = cfg.input, H = cfg.units;
  RnnInputs rows = in;
  rows.x = offset(in.x, r0 * T * I), rows.ids = offset(in.ids, r0 * T), rows.mask = offset(in.mask, r0 * T);
  rows.h0 = offset(in.h0, r0 * H), rows.c0 = offset(in.c0, r0 * H);
  rows.input_dropout = offset(in.input_dropout, r0 * I), rows.recurrent_dropout = offset(in.recurrent_dropout, r0 * H);
  return rows;
}

RnnOutputs rows_from(const RnnOutputs& out, const RnnConfig& cfg, int64_t r0) {
  const int64_t H = cfg.units;
  return {offset(out.outputs, r0 * cfg.time * H), offset(out.last_output, r0 * H), offset(out.h_last, r0 * H),
          offset(out.c_last, r0 * H)};
}

RnnGradInputs rows_from(const RnnGradInputs& in, const RnnConfig& cfg, int64_t r0) {
  const int64_t H = cfg.units;
  return {offset(in.d_outputs, r0 * cfg.time * H), offset(in.d_last_output, r0 * H), offset(in.d_h_last, r0 * H),
          offset(in.d_c_last, r0 * H)};
}

// The per-row gradients only: the weights' gradients stay where they are.
RnnGradients rows_from(const RnnGradients& out, const RnnConfig& cfg, int64_t r0) {
  const int64_t T = cfg.time, I = cfg.input, H = cfg.units;
  RnnGradients rows = out;
  rows.d_x = offset(out.d_x, r0 * T * I), rows.state_gradients = offset(out.state_gradients, r0 * T * H);
  rows.d_h0 = offset(out.d_h0, r0 * H), rows.d_c0 = offset(out.d_c0, r0 * H);
  return rows;
}

RnnCachePtr forward(const RnnConfig& cfg, const RnnInputs& in, const RnnOutputs& out, bool training,
                    const PackedMatrix* u_packed);

// A team that splits rows runs each thread's rows as a batch of their own: a nested forward, which plans a
// team of one inside the parallel region, so that each thread's state, products, gate rows and training cache are
// allocations of its own. In buffers shared by the team one thread's rows lay next to the other's, and SimpleRNN
// (16,200,64,64) forward on 2 threads took 1.3-1.6x as long as the same halves run as two independent batches on
// two threads (Zen 3); 4 KiB between the threads' rows in every buffer removed the difference: one core's
// hardware prefetchers pull the lines the other thread is about to write.
RnnCachePtr forward_row_slices(const RnnConfig& cfg, const RnnInputs& in, const RnnOutputs& out, int threads,
                               bool training) {
  RnnCachePtr whole;
  if (training) {
    whole.reset(new RnnCache);
    whole->config = cfg, whole->has_bias = in.bias != nullptr, whole->table_rows = in.ids ? in.table_rows : 0;
    copy_or_clear(whole->peephole, in.peephole, 3 * cfg.units);
    whole->slices.resize(threads);
    whole->slice_rows.resize(threads + 1);
  }
  std::exception_ptr failure;
  int team_size = 1;
  // U is packed once for every slice: each packing its own copy streamed two copies of a large U from L3 every
  // step (LSTM (64,50,256,512) forward on 2 threads 1.05-1.06x with one).
  PackedMatrix own;
  const PackedMatrix& u_packed = forward_u_packing(cfg, in.recurrent_kernel, training, own);
#pragma omp parallel num_threads(threads)
  {
    const int64_t B = cfg.batch, id = omp_get_thread_num(), size = omp_get_num_threads();
    const int64_t r0 = B * id / size, r1 = B * (id + 1) / size;  // plan_team gives every thread rows
    if (id == 0) team_size = static_cast<int>(size);
    RnnConfig rows = cfg;
    rows.batch = r1 - r0;
    try {
      RnnCachePtr slice = forward(rows, rows_from(in, cfg, r0), rows_from(out, cfg, r0), training, &u_packed);
      if (training) whole->slices[id] = std::move(slice), whole->slice_rows[id] = r0;
    } catch (...) {
#pragma omp critical(rnnkit_forward_row_slices)
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
  if (training) {
    whole->slices.resize(team_size);
    whole->slice_rows.resize(team_size + 1);
    whole->slice_rows[team_size] = cfg.batch;
  }
  return whole;
}
#endif

// rnn_forward with U's packing made by the caller (u_packed, from forward_u_packing) or, when null, here.
RnnCachePtr forward(const RnnConfig& cfg, const RnnInputs& in, const RnnOutputs& out, bool training,
                    const PackedMatrix* u_packed) {
  validate(cfg, in, out);
  const FlushDenormals flush;
  const int64_t B = cfg.batch, T = cfg.time, I = cfg.input, H = cfg.units;
  const int64_t GH = checked_mul(gate_count(cfg.cell), H, "rnn_forward");
  const int64_t BT = checked_mul(B, T, "rnn_forward");
  const int64_t BH = checked_mul(B, H, "rnn_forward");
  const bool lstm = cfg.cell == CellKind::lstm;

  const Isa isa = active_isa();
  const int64_t width = block_width(isa, H);
  cells::StepBarrier barrier;
  const Team team = plan_team(B, T, H, GH, width, barrier);
#ifdef RNNKIT_HAVE_OPENMP
  if (team.threads > 1 && !team.split_units)
    return forward_row_slices(cfg, in, out, team.threads, training);  // each slice checks its own ids
#endif

  RnnCachePtr cache;
  if (training) {
    cache.reset(new RnnCache);
    cache->config = cfg;
    cache->has_bias = in.bias != nullptr;
    if (in.ids) cache->ids.assign(in.ids, in.ids + BT), cache->table_rows = in.table_rows;
    else cache->kernel.assign(in.kernel, in.kernel + checked_mul(I, GH, "rnn_forward"));
    cache->recurrent_kernel.assign(in.recurrent_kernel, in.recurrent_kernel + checked_mul(H, GH, "rnn_forward"));
    copy_or_clear(cache->peephole, in.peephole, 3 * H);
    copy_or_clear(cache->input_dropout, in.input_dropout, checked_mul(B, I, "rnn_forward"));
    copy_or_clear(cache->recurrent_dropout, in.recurrent_dropout, BH);
    if (in.mask) cache->mask.assign(in.mask, in.mask + BT);
    cache->h_prev = Floats(checked_mul(BT, H, "rnn_forward"));
    if (in.recurrent_dropout) cache->h_prev_eff = Floats(BT * H);
    cache->gates = Floats(checked_mul(BT, GH, "rnn_forward"));
    if (cfg.cell != CellKind::simple_rnn) cache->aux = Floats(BT * H);
    cache->chained = !in.mask;
    if (lstm) cache->c_prev = Floats(cache->chained ? BH : BT * H), cache->c_new = Floats(BT * H);
  }

  if (in.ids) check_ids(in, BT);

  // The input projection x·W. When each thread owns whole rows it projects them step by step, just before
  // the step's product, so the gate kernels read x·W from cache; as one GEMM over all B*T rows it makes a
  // (B*T, G*H) array that goes out to memory and comes back a step at a time with a row stride of T*G*H
  // floats (LSTM (128,20,32,64) forward: 2.6 MB, its loads a third of the gate kernel's time). A unit-split
  // team (few rows) keeps the one GEMM, whose many rows run at full speed where a step's few would not.
  Floats x_dropped;
  const InputRows x_eff =
      in.ids ? InputRows{nullptr, 0, 0} : effective_inputs(in, cache.get(), cfg, training, x_dropped);
  const bool project_per_step = x_eff.x && input_products_per_step(team, I, GH);
  Floats x_proj(x_eff.x && !project_per_step ? checked_mul(BT, GH, "rnn_forward") : 0);
  if (!x_proj.empty())
    sgemm(Trans::no, Trans::no, BT, GH, I, 1.0f, x_eff.x, I, in.kernel, GH, 0.0f, x_proj.data(), GH);
  const PackedMatrix w_packed = project_per_step ? pack_b(Trans::no, I, GH, in.kernel, GH) : PackedMatrix();
  Floats step_proj(project_per_step ? checked_mul(B, GH, "rnn_forward") : 0);

  const bool two_phase = rnnkit::two_phase(cfg);
  const int main_gates = two_phase ? 2 : gate_count(cfg.cell);
  PackedMatrix u_packed_here;
  const PackedMatrix& u_main =
      u_packed ? *u_packed : forward_u_packing(cfg, in.recurrent_kernel, training, u_packed_here);
  const PackedMatrix u_candidate =
      two_phase ? pack_b(Trans::no, H, H, in.recurrent_kernel + 2 * H, GH) : PackedMatrix();

  // One workspace for the whole loop: no allocation per step.
  const int64_t workspace_size = packed_serial_workspace(isa, B, project_per_step ? std::max(H, I) : H);
  Floats rec(checked_mul(B, u_main.cols(), "rnn_forward")), rec_h(two_phase ? BH : 0);
  Floats h(2 * BH, 0.0f), h_eff(in.recurrent_dropout ? 2 * BH : 0), c(BH, 0.0f), h_new(in.mask ? BH : 0),
      c_new(lstm && !training && in.mask ? BH : 0), prev_out(in.mask ? BH : 0, 0.0f), gate_rows(training ? 0 : B * GH),
      aux_rows(training ? 0 : BH),
      workspace(checked_mul(team.threads, workspace_size, "rnn_forward"));
  if (in.h0) std::copy(in.h0, in.h0 + BH, h.data());
  if (in.c0) std::copy(in.c0, in.c0 + BH, c.data());
  if (in.recurrent_dropout)
    for (int64_t i = 0; i < BH; ++i) h_eff[i] = h[i] * in.recurrent_dropout[i];
  const int64_t t_first = cfg.go_backwards ? T - 1 : 0, t_last = T - 1 - t_first;
  if (cache && cache->chained) {
    std::copy(h.data(), h.data() + BH, &cache->h_prev[t_first * BH]);
    if (lstm) std::copy(c.data(), c.data() + BH, cache->c_prev.data());
  }

  const ForwardLoop loop{cfg, in, out, cache.get(), cells::block_kernels(isa), team, B, T, H, GH, I, x_eff,
                         x_proj.data(), w_packed, step_proj.data(), u_main, main_gates, u_candidate, rec.data(),
                         rec_h.data(), h.data(), h_eff.data(), c.data(), h_new.data(), c_new.data(), prev_out.data(),
                         gate_rows.data(), aux_rows.data(), workspace.data(), workspace_size};
#pragma omp parallel num_threads(team.threads) if (team.threads > 1)
  {
    const FlushDenormals team_flush;
    loop.steps();
  }

  const float* h_last = h.data() + (T & 1) * BH;
  std::copy(in.mask ? prev_out.data() : h_last, (in.mask ? prev_out.data() : h_last) + BH, out.last_output);
  std::copy(h_last, h_last + BH, out.h_last);
  const float* c_last = cache && cache->chained && lstm ? &cache->c_new[t_last * BH] : c.data();
  if (lstm) std::copy(c_last, c_last + BH, out.c_last);
  return cache;
}

// Everything the backward time loop reads and writes; each thread runs steps() on its own unit blocks.
struct BackwardLoop {
  const RnnCache& cache;
  const RnnGradInputs& in;
  const RnnGradients& out;
  const cells::BlockKernels& kernels;
  Team team;
  int64_t B, T, H, GH, I;
  int64_t dg_ld;  // floats between consecutive dG rows
  const PackedMatrix& w_t;  // W^T (GH, I) when dL/dx is made step by step, else empty
  const PackedMatrix& u_t;  // U^T (GH, H), or U_zr^T (2H, H) for GRU reset_after=False
  const PackedMatrix& u_candidate_t;  // GRU reset_after=False: U_h^T
  float *d_gates_x, *d_gates_r, *dh, *dc, *d_prev_out, *dh_step, *direct, *dh_eff, *d_rh, *workspace;
  int64_t workspace_size;
  // Per batch row, the column sums of its dG rows over the steps so far (bias_parts * GH floats each), or null:
  // the bias gradient, summed while a step's rows are still in cache instead of in a pass over all B*T rows
  // afterwards. Per row, not per thread, so the sum's order and result do not depend on the thread count.
  float* bias_partials;
  int bias_parts;

  const RnnConfig& cfg() const { return cache.config; }
  bool two_phase() const { return rnnkit::two_phase(cfg()); }

  cells::BackwardFn first_kernel() const {
    switch (cfg().cell) {
      case CellKind::simple_rnn: return kernels.simple_rnn_backward;
      case CellKind::lstm: return kernels.lstm_backward;
      default: return cfg().reset_after ? kernels.gru_backward : kernels.gru_backward_zh;
    }
  }

  void steps() const {
    const int64_t width = team.width;
    const Team::Member me = team.member();
    const int64_t r0 = me.row_begin, r1 = me.row_end, rows = r1 - r0;
    const int64_t u0 = me.block_begin, u1 = me.block_end, j0 = me.unit_begin, j1 = me.unit_end, n = j1 - j0;
    float* ws = workspace + team.id() * workspace_size;
    const cells::BackwardFn first = first_kernel();
    const bool lstm = cfg().cell == CellKind::lstm, gru = cfg().cell == CellKind::gru;
    const float* rdrop = cache.recurrent_dropout.empty() ? nullptr : cache.recurrent_dropout.data();
    const float* peephole = cache.peephole.empty() ? nullptr : cache.peephole.data();
    const float* h_eff_rows = cache.recurrent_operand();
    const std::uint8_t* mask = cache.mask.empty() ? nullptr : cache.mask.data();
    const bool prefetch_next_step = double(rows) * double(n) * sizeof(float) <= kMaxPrefetchStepBytes;
    for (int64_t s = T - 1; s >= 0; --s) {
      const int64_t t = cfg().go_backwards ? T - 1 - s : s;
      auto keep = [&](int64_t b) { return !mask || mask[b * T + t]; };
      // The output at step s is h_t when kept, else the previous output: route its gradient accordingly.
      for (int64_t b = r0; b < r1; ++b) {
        if (in.d_outputs && prefetch_next_step && s > 0)
          prefetch_row(in.d_outputs + (b * T + s - 1) * H + j0, n, false);
        else if (in.d_outputs && !prefetch_next_step && b + kPrefetchRows < r1)
          prefetch_row(in.d_outputs + ((b + kPrefetchRows) * T + s) * H + j0, n, false);
        // g (the gradient reaching the output) is gathered in dh_step, then dh_step = dh + g if kept.
        const int64_t i0 = b * H + j0;
        float* g = dh_step + i0;
        float* carried = d_prev_out + i0;
        std::memcpy(g, carried, sizeof(float) * n);
        if (in.d_outputs) add_into(g, in.d_outputs + (b * T + s) * H + j0, n);
        if (in.d_last_output && s == T - 1) add_into(g, in.d_last_output + i0, n);
        if (keep(b)) {
          add_into(g, dh + i0, n);
          std::memset(carried, 0, sizeof(float) * n);
        } else {
          std::memcpy(carried, g, sizeof(float) * n);
          std::memcpy(g, dh + i0, sizeof(float) * n);
        }
        if (out.state_gradients) std::memcpy(out.state_gradients + (b * T + s) * H + j0, g, sizeof(float) * n);
      }
      auto block = [&](int64_t b, int64_t u) {
        const int64_t j = u * width, r = t * B + b, i = b * H + j;
        return cells::BackwardBlock{std::min(width, H - j), H, cfg().activation, cfg().recurrent_activation,
                                    &cache.gates[r * GH + j], cache.aux.empty() ? nullptr : &cache.aux[r * H + j],
                                    lstm ? cache.c_before(t) + b * H + j : nullptr, &cache.h_prev[r * H + j],
                                    h_eff_rows + r * H + j, peephole ? peephole + j : nullptr, dh_step + i, dc + i,
                                    offset(d_rh, i), d_gates_x + r * dg_ld + j, d_gates_r + r * dg_ld + j, direct + i};
      };
      for (int64_t b = r0; b < r1; ++b)
        if (keep(b))
          for (int64_t u = u0; u < u1; ++u) first(block(b, u));
      team.sync_units();
      // Rows [r0, r1) of step t: row b at (t*B + b)*dg_ld.
      const int64_t ld = dg_ld, first_row = (t * B + r0) * dg_ld;
      if (two_phase()) {
        if (rows && n)
          sgemm_packed_serial(Trans::no, rows, 1.0f, d_gates_x + first_row + 2 * H, ld, u_candidate_t, 0.0f,
                              d_rh + r0 * H, H, j0, j1, ws);
        for (int64_t b = r0; b < r1; ++b)
          if (keep(b))
            for (int64_t u = u0; u < u1; ++u) kernels.gru_backward_r(block(b, u));
        team.sync_units();
      }
      // dL/dh_{t-1} is dG·U^T itself unless a mask carries some rows' gradients past the step, recurrent dropout
      // scales it, or GRU adds its direct path (and, reset_after=False, the path through r).
      const bool product_is_dh = !mask && !rdrop && !gru;
      if (rows && n)
        sgemm_packed_serial(Trans::no, rows, 1.0f, d_gates_r + first_row, ld, u_t, 0.0f,
                            (product_is_dh ? dh : dh_eff) + r0 * H, H, j0, j1, ws);
      if (rows && !w_t.empty())  // rows of x's batch-major layout, T*I apart
        sgemm_packed_serial(Trans::no, rows, 1.0f, d_gates_x + first_row, ld, w_t, 0.0f, out.d_x + (r0 * T + t) * I,
                            T * I, 0, I, ws);
      if (bias_partials) add_bias_gradient(t, r0, r1, j0, j1, keep);
      if (product_is_dh) continue;
      for (int64_t b = r0; b < r1; ++b) {
        if (!keep(b)) continue;  // the state was carried: its gradient passes through unchanged
        float* dh_row = dh + b * H;
        std::memcpy(dh_row + j0, dh_eff + b * H + j0, sizeof(float) * n);
        if (two_phase()) {
          const float *r_gate = &cache.gates[(t * B + b) * GH + H], *d_rh_row = d_rh + b * H;
          for (int64_t j = j0; j < j1; ++j) dh_row[j] += d_rh_row[j] * r_gate[j];
        }
        if (rdrop)
          for (int64_t j = j0; j < j1; ++j) dh_row[j] *= rdrop[b * H + j];
        if (gru) add_into(dh_row + j0, direct + b * H + j0, n);
      }
    }
  }

  // This thread's part of step t's dG rows (rows [r0, r1), units [j0, j1) of every gate) into the rows' sums.
  template <typename Keep>
  void add_bias_gradient(int64_t t, int64_t r0, int64_t r1, int64_t j0, int64_t j1, Keep keep) const {
    const int gates = gate_count(cfg().cell);
    for (int64_t b = r0; b < r1; ++b) {
      if (!keep(b)) continue;  // never written
      for (int part = 0; part < bias_parts; ++part) {
        const float* row = (part == 0 ? d_gates_x : d_gates_r) + (t * B + b) * dg_ld;
        float* sums = bias_partials + (b * bias_parts + part) * GH;
        for (int g = 0; g < gates; ++g) add_into(sums + g * H + j0, row + g * H + j0, j1 - j0);
      }
    }
  }
};

// dL/dp_i = Σ dpre_i ⊙ c_{t-1}, dL/dp_f = Σ dpre_f ⊙ c_{t-1}, dL/dp_o = Σ dpre_o ⊙ c_t over all rows; dG rows
// dg_ld floats apart.
void lstm_peephole_gradient(const RnnCache& cache, const float* d_gates, int64_t dg_ld, float* d_peephole) {
  const int64_t H = cache.config.units, B = cache.config.batch, rows = B * cache.config.time;
  std::memset(d_peephole, 0, sizeof(float) * 3 * H);
  for (int64_t r = 0; r < rows; ++r) {
    const float* dg = d_gates + r * dg_ld;
    const float* c_prev = cache.c_before(r / B) + r % B * H;
    const float* c_new = &cache.c_new[r * H];
    for (int64_t j = 0; j < H; ++j) {
      d_peephole[j] += dg[j] * c_prev[j];
      d_peephole[H + j] += dg[H + j] * c_prev[j];
      d_peephole[2 * H + j] += dg[3 * H + j] * c_new[j];
    }
  }
}

// dL/d(input_table): every kept row's dG (as seen by x·W) added into the table row its step read, in row
// order, so the sums do not depend on the thread count. A row's first dG is copied rather than added to zeros
// and only the rows no step read are zeroed: a training batch's table holds just its own ids, nearly all read,
// and zeroing it all first was a pass over ~10 MB (1% of an Embedding -> LSTM fit epoch).
void input_table_gradient(const RnnCache& cache, const float* d_gates, int64_t dg_ld, float* d_table) {
  const int64_t B = cache.config.batch, T = cache.config.time, GH = gate_count(cache.config.cell) * cache.config.units;
  std::vector<std::uint8_t> written(cache.table_rows, 0);
  for (int64_t r = 0; r < B * T; ++r) {
    const int64_t t = r / B, b = r % B;
    if (!cache.mask.empty() && !cache.mask[b * T + t]) continue;  // never written
    const int64_t id = cache.ids[b * T + t];
    if (written[id]) {
      add_into(d_table + id * GH, d_gates + r * dg_ld, GH);
    } else {
      std::memcpy(d_table + id * GH, d_gates + r * dg_ld, sizeof(float) * GH);
      written[id] = 1;
    }
  }
  for (int64_t id = 0; id < cache.table_rows; ++id)
    if (!written[id]) std::fill(d_table + id * GH, d_table + (id + 1) * GH, 0.0f);
}

#ifdef RNNKIT_HAVE_OPENMP
void backward(const RnnCache& cache, const RnnGradInputs& in, const RnnGradients& out, const PackedMatrix* u_t_packed);

// BPTT of a forward on row slices (forward_row_slices): each slice's rows on a thread of their own. The first
// slice writes the weights' gradients into the caller's buffers, every other slice into buffers of its own, added
// to them afterwards in slice order, so the result depends on the slicing (the forward's thread count) but not on
// how many threads run the backward.
void backward_row_slices(const RnnCache& whole, const RnnGradInputs& in, const RnnGradients& out) {
  const RnnConfig& cfg = whole.config;
  const int64_t I = cfg.input, H = cfg.units, GH = gate_count(cfg.cell) * H;
  const bool separate_recurrent = cfg.cell == CellKind::gru && cfg.reset_after;
  const struct {
    float* RnnGradients::*field;
    int64_t size;
    bool written;
  } weights[] = {{&RnnGradients::d_kernel, I * GH, true},
                 {&RnnGradients::d_input_table, whole.table_rows * GH, true},
                 {&RnnGradients::d_recurrent_kernel, H * GH, true},
                 {&RnnGradients::d_bias, (separate_recurrent ? 2 : 1) * GH, whole.has_bias},
                 {&RnnGradients::d_peephole, 3 * H, cfg.cell == CellKind::lstm && !whole.peephole.empty()}};
  int64_t weight_floats = 0;
  for (const auto& w : weights)
    if (out.*w.field && w.written) weight_floats += w.size;
  const int slices = static_cast<int>(whole.slices.size());
  std::vector<Floats> slice_sums(slices);
  for (int i = 1; i < slices; ++i) slice_sums[i] = Floats(weight_floats);
  std::exception_ptr failure;
  // Uᵀ packed once for every slice, as forward_row_slices packs U.
  const PackedMatrix u_t = backward_u_packing(cfg, whole.slices[0]->recurrent_kernel.data());
#pragma omp parallel num_threads(std::min(slices, num_threads()))
  for (int i = omp_get_thread_num(); i < slices; i += omp_get_num_threads()) {
    const int64_t r0 = whole.slice_rows[i];
    RnnGradients rows_out = rows_from(out, cfg, r0);
    if (i > 0) {
      float* next = slice_sums[i].data();
      for (const auto& w : weights)
        if (out.*w.field && w.written) rows_out.*w.field = next, next += w.size;
    }
    try {
      backward(*whole.slices[i], rows_from(in, cfg, r0), rows_out, &u_t);
    } catch (...) {
#pragma omp critical(rnnkit_backward_row_slices)
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
  for (int i = 1; i < slices; ++i) {
    const float* next = slice_sums[i].data();
    for (const auto& w : weights)
      if (out.*w.field && w.written) add_into(out.*w.field, next, w.size), next += w.size;
  }
}
#endif

// rnn_backward of a cache without slices, with Uᵀ packed by the caller (backward_u_packing) or, when null, here.
void backward(const RnnCache& cache, const RnnGradInputs& in, const RnnGradients& out, const PackedMatrix* u_t_packed) {
  const bool token_ids = !cache.ids.empty();
  if (token_ids ? out.d_x || out.d_kernel : out.d_input_table != nullptr)
    throw std::invalid_argument(token_ids ? "rnn_backward: the forward read token ids: there is no x or kernel "
                                            "gradient, only the input table's"
                                          : "rnn_backward: the forward read x, not an input table");
  const FlushDenormals flush;
  const RnnConfig& cfg = cache.config;
  const int64_t B = cfg.batch, T = cfg.time, I = cfg.input, H = cfg.units, BT = B * T, BH = B * H;
  const int64_t GH = gate_count(cfg.cell) * H;
  const bool lstm = cfg.cell == CellKind::lstm;
  const bool separate_recurrent = cfg.cell == CellKind::gru && cfg.reset_after;
  const bool two_phase = rnnkit::two_phase(cfg);
  const float* U = cache.recurrent_kernel.data();

  const Isa isa = active_isa();
  const PackedMatrix u_t_here = u_t_packed ? PackedMatrix() : backward_u_packing(cfg, U);
  const PackedMatrix& u_t = u_t_packed ? *u_t_packed : u_t_here;
  const PackedMatrix u_candidate_t = two_phase ? pack_b(Trans::yes, H, H, U + 2 * H, GH) : PackedMatrix();
  cells::StepBarrier barrier;
  const Team team = plan_team(B, T, H, GH, block_width(isa, H), barrier);
  const int64_t workspace_size = packed_serial_workspace(isa, B, GH);
  // dL/dx as the forward made x·W: step by step (straight into x's batch-major rows) or as one GEMM afterwards.
  const bool dx_per_step = out.d_x && input_products_per_step(team, I, GH);
  const PackedMatrix w_t = dx_per_step ? pack_b(Trans::yes, GH, I, cache.kernel.data(), GH) : PackedMatrix();

  Floats dh(BH, 0.0f), dc(BH, 0.0f), d_prev_out(BH, 0.0f), dh_step(BH), direct(BH, 0.0f), dh_eff(BH),
      d_rh(two_phase ? BH : 0), workspace(checked_mul(team.threads, workspace_size, "rnn_backward"));
  if (in.d_h_last) std::copy(in.d_h_last, in.d_h_last + BH, dh.data());
  if (in.d_c_last && lstm) std::copy(in.d_c_last, in.d_c_last + BH, dc.data());
  // Masked rows are never written and must read as zero; without a mask every row is written.
  const bool masked = !cache.mask.empty();
  // dG rows lie spread_row_stride apart, so that each step's dG·U^T reads them in place instead of packing B x GH
  // floats (GH floats apart, LSTM's rows at H = 64, 128, 256 were a multiple of 1 KiB apart and got packed).
  const int64_t dg_ld = spread_row_stride(GH), rows_size = checked_mul(BT, dg_ld, "rnn_backward");
  // The dG rows (B*T*G*H floats, a second array for GRU reset_after) are kept by the thread (thread_scratch):
  // allocated per call, they cost ~4,800 page faults, ~10% of a GRU training step at (64,100,128,128).
  float* d_gates_x = thread_scratch(ScratchSlot::gate_gradients, rows_size, "rnn_backward");
  float* d_gates_r =
      separate_recurrent ? thread_scratch(ScratchSlot::recurrent_gate_gradients, rows_size, "rnn_backward") : d_gates_x;
  if (masked) {
    std::fill(d_gates_x, d_gates_x + rows_size, 0.0f);
    if (separate_recurrent) std::fill(d_gates_r, d_gates_r + rows_size, 0.0f);
  }

  const int bias_parts = out.d_bias && cache.has_bias ? (separate_recurrent ? 2 : 1) : 0;
  Floats bias_partials(checked_mul(B, bias_parts * GH, "rnn_backward"), 0.0f);
  const BackwardLoop loop{cache, in, out, cells::block_kernels(isa), team, B, T, H, GH, I, dg_ld, w_t, u_t,
                          u_candidate_t, d_gates_x, d_gates_r, dh.data(), dc.data(), d_prev_out.data(), dh_step.data(),
                          direct.data(), dh_eff.data(), d_rh.data(), workspace.data(),
                          workspace_size, bias_parts ? bias_partials.data() : nullptr, bias_parts};
#pragma omp parallel num_threads(team.threads) if (team.threads > 1)
  {
    const FlushDenormals team_flush;
    loop.steps();
  }
  if (out.d_h0) std::copy(dh.data(), dh.data() + BH, out.d_h0);
  if (out.d_c0 && lstm) std::copy(dc.data(), dc.data() + BH, out.d_c0);

  // Weight gradients: one GEMM each over all B*T rows; dW and dU share the reads of dG where both see it.
  const bool dw_du_shared = out.d_kernel && out.d_recurrent_kernel && !two_phase && d_gates_r == d_gates_x;
  if (dw_du_shared)
    sgemm_shared_right(Trans::yes, {cache.x_eff.data(), I, I, out.d_kernel, GH},
                       {cache.recurrent_operand(), H, H, out.d_recurrent_kernel, GH}, GH, BT, d_gates_x, dg_ld);
  else if (out.d_kernel)
    sgemm(Trans::yes, Trans::no, I, GH, BT, 1.0f, cache.x_eff.data(), I, d_gates_x, dg_ld, 0.0f, out.d_kernel, GH);
  if (out.d_x && !dx_per_step) {  // one GEMM in time-major rows, then into x's batch-major layout
    Floats dx_rows(checked_mul(BT, I, "rnn_backward"));
    sgemm(Trans::no, Trans::yes, BT, I, GH, 1.0f, d_gates_x, dg_ld, cache.kernel.data(), GH, 0.0f, dx_rows.data(),
          I);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t)
        std::memcpy(out.d_x + (b * T + t) * I, &dx_rows[(t * B + b) * I], sizeof(float) * I);
  }
  if (out.d_x && !cache.input_dropout.empty())
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t k = 0; k < I; ++k) out.d_x[(b * T + t) * I + k] *= cache.input_dropout[b * I + k];
  if (out.d_recurrent_kernel && !dw_du_shared) {
    const float* h_eff_rows = cache.recurrent_operand();
    if (two_phase) {  // U_z, U_r see h_eff; U_h sees r ⊙ h_eff (cached in aux)
      sgemm(Trans::yes, Trans::no, H, 2 * H, BT, 1.0f, h_eff_rows, H, d_gates_r, dg_ld, 0.0f, out.d_recurrent_kernel,
            GH);
      sgemm(Trans::yes, Trans::no, H, H, BT, 1.0f, cache.aux.data(), H, d_gates_r + 2 * H, dg_ld, 0.0f,
            out.d_recurrent_kernel + 2 * H, GH);
    } else {
      sgemm(Trans::yes, Trans::no, H, GH, BT, 1.0f, h_eff_rows, H, d_gates_r, dg_ld, 0.0f, out.d_recurrent_kernel,
            GH);
    }
  }
  if (bias_parts) {
    const int64_t n = bias_parts * GH;
    std::copy(bias_partials.data(), bias_partials.data() + n, out.d_bias);
    for (int64_t b = 1; b < B; ++b) add_into(out.d_bias, &bias_partials[b * n], n);
  }
  if (out.d_peephole && lstm && !cache.peephole.empty())
    lstm_peephole_gradient(cache, d_gates_x, dg_ld, out.d_peephole);
  if (out.d_input_table) input_table_gradient(cache, d_gates_x, dg_ld, out.d_input_table);
}

}  // namespace

RnnCachePtr rnn_forward(const RnnConfig& cfg, const RnnInputs& in, const RnnOutputs& out, bool training) {
  return forward(cfg, in, out, training, nullptr);
}

void rnn_backward(const RnnCache& cache, const RnnGradInputs& in, const RnnGradients& out) {
#ifdef RNNKIT_HAVE_OPENMP
  if (!cache.slices.empty()) return backward_row_slices(cache, in, out);
#endif
  backward(cache, in, out, nullptr);
}

}  // namespace rnnkit
