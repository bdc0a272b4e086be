// The sequence driver: validation, the one big input projection, the time loop with masks/go_backwards/dropout,
// and BPTT around the per-cell step kernels. Forward and backward side by side.
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "rnnkit/checked.hpp"
#include "rnnkit/gemm.hpp"
#include "sequence.hpp"

namespace rnnkit {

int gate_count(CellKind cell) { return cell == CellKind::simple_rnn ? 1 : (cell == CellKind::gru ? 3 : 4); }

void RnnCacheDeleter::operator()(RnnCache* c) const { delete c; }
const RnnConfig& cache_config(const RnnCache& cache) { return cache.config; }
bool cache_has_bias(const RnnCache& cache) { return cache.has_bias; }
bool cache_has_peephole(const RnnCache& cache) { return !cache.peephole.empty(); }

namespace {

using cells::ConstRows;
using cells::Rows;

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("rnn_forward: " + what);
}

void validate(const RnnConfig& cfg, const RnnInputs& in, const RnnOutputs& out) {
  require(cfg.batch >= 1 && cfg.time >= 1 && cfg.input >= 1 && cfg.units >= 1,
          "expected batch, time, input and units >= 1, received (" + std::to_string(cfg.batch) + ", " +
              std::to_string(cfg.time) + ", " + std::to_string(cfg.input) + ", " + std::to_string(cfg.units) + ")");
  require(in.x && in.kernel && in.recurrent_kernel, "expected x, kernel and recurrent_kernel, received null");
  require(!in.peephole || cfg.cell == CellKind::lstm, "peephole weights are only defined for the LSTM cell");
  require(!in.c0 || cfg.cell == CellKind::lstm, "an initial cell state c0 is only defined for the LSTM cell");
  require(out.outputs && out.last_output && out.h_last && (cfg.cell != CellKind::lstm || out.c_last),
          "expected output buffers, received null");
}

void copy_or_clear(std::vector<float>& dst, const float* src, std::int64_t n) {
  if (src) dst.assign(src, src + n); else dst.clear();
}

}  // namespace

RnnCachePtr rnn_forward(const RnnConfig& cfg, const RnnInputs& in, const RnnOutputs& out, bool training) {
  validate(cfg, in, out);
  const std::int64_t B = cfg.batch, T = cfg.time, I = cfg.input, H = cfg.units;
  const std::int64_t GH = checked_mul(gate_count(cfg.cell), H, "rnn_forward");
  const std::int64_t BT = checked_mul(B, T, "rnn_forward");
  const bool gru_reset_after = cfg.cell == CellKind::gru && cfg.reset_after;

  RnnCachePtr cache;
  if (training) {
    cache.reset(new RnnCache);
    cache->config = cfg;
    cache->has_bias = in.bias != nullptr;
    cache->kernel.assign(in.kernel, in.kernel + checked_mul(I, GH, "rnn_forward"));
    cache->recurrent_kernel.assign(in.recurrent_kernel, in.recurrent_kernel + checked_mul(H, GH, "rnn_forward"));
    copy_or_clear(cache->peephole, in.peephole, 3 * H);
    copy_or_clear(cache->input_dropout, in.input_dropout, checked_mul(B, I, "rnn_forward"));
    copy_or_clear(cache->recurrent_dropout, in.recurrent_dropout, checked_mul(B, H, "rnn_forward"));
    if (in.mask) cache->mask.assign(in.mask, in.mask + BT);
    cache->h_prev.assign(checked_mul(BT, H, "rnn_forward"), 0.0f);
    cache->h_prev_eff.assign(BT * H, 0.0f);
    cache->gates.assign(checked_mul(BT, GH, "rnn_forward"), 0.0f);
    if (cfg.cell != CellKind::simple_rnn) cache->aux.assign(BT * H, 0.0f);
    if (cfg.cell == CellKind::lstm) { cache->c_prev.assign(BT * H, 0.0f); cache->c_new.assign(BT * H, 0.0f); }
  }

  // x_eff = x * input_dropout, then every step's input projection in one GEMM over B*T rows.
  std::vector<float> x_dropped;
  const float* x_eff = in.x;
  if (in.input_dropout || training) {
    std::vector<float>& dst = training ? cache->x_eff : x_dropped;
    dst.assign(in.x, in.x + checked_mul(BT, I, "rnn_forward"));
    if (in.input_dropout)
      for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t t = 0; t < T; ++t)
          for (std::int64_t k = 0; k < I; ++k) dst[(b * T + t) * I + k] *= in.input_dropout[b * I + k];
    x_eff = dst.data();
  }
  std::vector<float> x_proj(checked_mul(BT, GH, "rnn_forward"));
  if (in.bias)
    for (std::int64_t r = 0; r < BT; ++r) std::memcpy(&x_proj[r * GH], in.bias, sizeof(float) * GH);
  sgemm(Trans::no, Trans::no, BT, GH, I, 1.0f, x_eff, I, in.kernel, GH, in.bias ? 1.0f : 0.0f, x_proj.data(), GH);

  // One workspace for the loop: states, the previous output, and scratch rows used at inference.
  const std::int64_t BH = checked_mul(B, H, "rnn_forward");
  std::vector<float> h(BH, 0.0f), c(BH, 0.0f), h_eff(BH), h_new(BH), c_new(BH), prev_out(BH, 0.0f);
  std::vector<float> scratch(B * GH), gate_rows(training ? 0 : B * GH), aux_rows(training ? 0 : BH);
  std::vector<float> c_rows(training || cfg.cell != CellKind::lstm ? 0 : 2 * BH);
  if (in.h0) std::copy(in.h0, in.h0 + BH, h.begin());
  if (in.c0) std::copy(in.c0, in.c0 + BH, c.begin());

  for (std::int64_t s = 0; s < T; ++s) {
    const std::int64_t t = cfg.go_backwards ? T - 1 - s : s;
    for (std::int64_t i = 0; i < BH; ++i) h_eff[i] = in.recurrent_dropout ? h[i] * in.recurrent_dropout[i] : h[i];
    cells::StepForward step{&cfg, ConstRows{&x_proj[t * GH], T * GH}, h.data(), h_eff.data(), c.data(),
                            in.recurrent_kernel, gru_reset_after && in.bias ? in.bias + GH : nullptr, in.peephole,
                            scratch.data(), {}, {}, {}, {}, h_new.data(), c_new.data()};
    if (training) {
      for (std::int64_t b = 0; b < B; ++b) {
        std::memcpy(&cache->h_prev[(b * T + t) * H], &h[b * H], sizeof(float) * H);
        std::memcpy(&cache->h_prev_eff[(b * T + t) * H], &h_eff[b * H], sizeof(float) * H);
      }
      step.gates = Rows{&cache->gates[t * GH], T * GH};
      if (!cache->aux.empty()) step.aux = Rows{&cache->aux[t * H], T * H};
      if (cfg.cell == CellKind::lstm) {
        step.c_prev = Rows{&cache->c_prev[t * H], T * H};
        step.c_new_rows = Rows{&cache->c_new[t * H], T * H};
      }
    } else {
      step.gates = Rows{gate_rows.data(), GH};
      step.aux = Rows{aux_rows.data(), H};
      if (cfg.cell == CellKind::lstm) step.c_prev = Rows{c_rows.data(), H}, step.c_new_rows = Rows{&c_rows[BH], H};
    }
    switch (cfg.cell) {
      case CellKind::simple_rnn: cells::simple_rnn_step_forward(step); break;
      case CellKind::lstm: cells::lstm_step_forward(step); break;
      case CellKind::gru: cells::gru_step_forward(step); break;
    }
    for (std::int64_t b = 0; b < B; ++b) {
      float* out_row = out.outputs + (b * T + s) * H;
      if (!in.mask || in.mask[b * T + t]) {
        std::memcpy(&h[b * H], &h_new[b * H], sizeof(float) * H);
        std::memcpy(&prev_out[b * H], &h_new[b * H], sizeof(float) * H);
        if (cfg.cell == CellKind::lstm) std::memcpy(&c[b * H], &c_new[b * H], sizeof(float) * H);
      }
      std::memcpy(out_row, &prev_out[b * H], sizeof(float) * H);
    }
  }
  std::copy(prev_out.begin(), prev_out.end(), out.last_output);
  std::copy(h.begin(), h.end(), out.h_last);
  if (cfg.cell == CellKind::lstm) std::copy(c.begin(), c.end(), out.c_last);
  return cache;
}

void rnn_backward(const RnnCache& cache, const RnnGradInputs& in, const RnnGradients& out) {
  const RnnConfig& cfg = cache.config;
  const std::int64_t B = cfg.batch, T = cfg.time, I = cfg.input, H = cfg.units, BT = B * T, BH = B * H;
  const std::int64_t GH = gate_count(cfg.cell) * H;
  const bool lstm = cfg.cell == CellKind::lstm;
  const bool separate_recurrent = cfg.cell == CellKind::gru && cfg.reset_after;
  const float* rdrop = cache.recurrent_dropout.empty() ? nullptr : cache.recurrent_dropout.data();
  const std::uint8_t* mask = cache.mask.empty() ? nullptr : cache.mask.data();

  std::vector<float> dh(BH, 0.0f), dc(BH, 0.0f), d_prev_out(BH, 0.0f), dh_step(BH), dh_direct(BH, 0.0f),
      dh_eff(BH), dc_prev(BH), scratch(B * GH);
  if (in.d_h_last) std::copy(in.d_h_last, in.d_h_last + BH, dh.begin());
  if (in.d_c_last && lstm) std::copy(in.d_c_last, in.d_c_last + BH, dc.begin());
  std::vector<float> d_gates_x(checked_mul(BT, GH, "rnn_backward"), 0.0f);
  std::vector<float> d_gates_r_separate(separate_recurrent ? BT * GH : 0, 0.0f);
  float* d_gates_r = separate_recurrent ? d_gates_r_separate.data() : d_gates_x.data();

  for (std::int64_t s = T - 1; s >= 0; --s) {
    const std::int64_t t = cfg.go_backwards ? T - 1 - s : s;
    // The output at step s is h_t when kept, else the previous output: route its gradient accordingly.
    for (std::int64_t b = 0; b < B; ++b) {
      const bool keep = !mask || mask[b * T + t];
      for (std::int64_t j = 0; j < H; ++j) {
        float g = d_prev_out[b * H + j];
        if (in.d_outputs) g += in.d_outputs[(b * T + s) * H + j];
        if (in.d_last_output && s == T - 1) g += in.d_last_output[b * H + j];
        const float total = dh[b * H + j] + (keep ? g : 0.0f);
        dh_step[b * H + j] = total;
        d_prev_out[b * H + j] = keep ? 0.0f : g;
        if (out.state_gradients) out.state_gradients[(b * T + s) * H + j] = total;
      }
    }
    cells::StepBackward step{&cache, t, mask, dh_step.data(), dc.data(), d_gates_x.data(), d_gates_r,
                             dh_direct.data(), dh_eff.data(), dc_prev.data(), scratch.data()};
    switch (cfg.cell) {
      case CellKind::simple_rnn: cells::simple_rnn_step_backward(step); break;
      case CellKind::lstm: cells::lstm_step_backward(step); break;
      case CellKind::gru: cells::gru_step_backward(step); break;
    }
    for (std::int64_t b = 0; b < B; ++b) {
      if (!step.keep(b)) continue;  // the state was carried: its gradient passes through unchanged
      for (std::int64_t j = 0; j < H; ++j) {
        const std::int64_t i = b * H + j;
        dh[i] = dh_direct[i] + dh_eff[i] * (rdrop ? rdrop[i] : 1.0f);
        if (lstm) dc[i] = dc_prev[i];
      }
    }
  }
  if (out.d_h0) std::copy(dh.begin(), dh.end(), out.d_h0);
  if (out.d_c0 && lstm) std::copy(dc.begin(), dc.end(), out.d_c0);

  // Weight and input gradients: one GEMM each over all B*T rows.
  if (out.d_kernel)
    sgemm(Trans::yes, Trans::no, I, GH, BT, 1.0f, cache.x_eff.data(), I, d_gates_x.data(), GH, 0.0f, out.d_kernel, GH);
  if (out.d_x) {
    sgemm(Trans::no, Trans::yes, BT, I, GH, 1.0f, d_gates_x.data(), GH, cache.kernel.data(), GH, 0.0f, out.d_x, I);
    if (!cache.input_dropout.empty())
      for (std::int64_t r = 0; r < BT; ++r)
        for (std::int64_t k = 0; k < I; ++k) out.d_x[r * I + k] *= cache.input_dropout[(r / T) * I + k];
  }
  if (out.d_recurrent_kernel) {
    if (cfg.cell == CellKind::gru && !cfg.reset_after)
      cells::gru_recurrent_kernel_gradient(cache, d_gates_r, out.d_recurrent_kernel);
    else
      sgemm(Trans::yes, Trans::no, H, GH, BT, 1.0f, cache.h_prev_eff.data(), H, d_gates_r, GH, 0.0f,
            out.d_recurrent_kernel, GH);
  }
  if (out.d_bias && cache.has_bias) {
    const int parts = separate_recurrent ? 2 : 1;
    for (int p = 0; p < parts; ++p) {
      const float* src = p == 0 ? d_gates_x.data() : d_gates_r;
      float* dst = out.d_bias + p * GH;
      std::fill(dst, dst + GH, 0.0f);
      for (std::int64_t r = 0; r < BT; ++r)
        for (std::int64_t j = 0; j < GH; ++j) dst[j] += src[r * GH + j];
    }
  }
  if (out.d_peephole && lstm && !cache.peephole.empty()) cells::lstm_peephole_gradient(cache, d_gates_x.data(), out.d_peephole);
}

}  // namespace rnnkit
