// GRU (gates [z r h~]), h_t = z⊙h_{t-1} + (1−z)⊙h~. Forward step next to its backward step.
//   reset_after:  h~ = act(x·W_h + b_h + r⊙(h_eff·U_h + b'_h))   (one h·U GEMM per step)
//   !reset_after: h~ = act(x·W_h + (r⊙h_eff)·U_h + b_h)           (a second GEMM after r is known)
#include <cstring>

#include "rnnkit/gemm.hpp"
#include "sequence.hpp"

namespace rnnkit::cells {

void gru_step_forward(const StepForward& s) {
  const RnnConfig& cfg = *s.config;
  const std::int64_t B = cfg.batch, H = cfg.units, GH = 3 * H;
  const float* U = s.recurrent_kernel;
  const std::int64_t rec_cols = cfg.reset_after ? GH : 2 * H;
  sgemm(Trans::no, Trans::no, B, rec_cols, H, 1.0f, s.h_eff, H, U, GH, 0.0f, s.scratch, GH);
  for_each_row(B, GH, [&](std::int64_t b) {
    const float* xp = s.x_proj[b];
    float* rec = s.scratch + b * GH;
    float* g = s.gates[b];
    if (s.recurrent_bias)
      for (std::int64_t j = 0; j < GH; ++j) rec[j] += s.recurrent_bias[j];
    for (std::int64_t j = 0; j < 2 * H; ++j) g[j] = xp[j] + rec[j];
    activation_forward(cfg.recurrent_activation, g, g, 2 * H);
    float* aux = s.aux[b];
    if (cfg.reset_after) {
      std::memcpy(aux, rec + 2 * H, sizeof(float) * H);
    } else {
      const float* h_eff = s.h_eff + b * H;
      for (std::int64_t j = 0; j < H; ++j) aux[j] = g[H + j] * h_eff[j];
    }
  });
  if (!cfg.reset_after)
    sgemm(Trans::no, Trans::no, B, H, H, 1.0f, s.aux.data, s.aux.ld, U + 2 * H, GH, 0.0f, s.scratch + 2 * H, GH);
  for_each_row(B, GH, [&](std::int64_t b) {
    const float* xp = s.x_proj[b];
    const float* rec_h = s.scratch + b * GH + 2 * H;
    float* g = s.gates[b];
    if (cfg.reset_after)
      for (std::int64_t j = 0; j < H; ++j) g[2 * H + j] = xp[2 * H + j] + g[H + j] * rec_h[j];
    else
      for (std::int64_t j = 0; j < H; ++j) g[2 * H + j] = xp[2 * H + j] + rec_h[j];
    activation_forward(cfg.activation, g + 2 * H, g + 2 * H, H);
    const float* h = s.h + b * H;
    float* h_new = s.h_new + b * H;
    for (std::int64_t j = 0; j < H; ++j) h_new[j] = g[j] * h[j] + (1.0f - g[j]) * g[2 * H + j];
  });
}

void gru_step_backward(const StepBackward& s) {
  const RnnCache& cache = *s.cache;
  const RnnConfig& cfg = cache.config;
  const std::int64_t B = cfg.batch, H = cfg.units, T = cfg.time, GH = 3 * H;
  const float* U = cache.recurrent_kernel.data();
  // Candidate gate first: its gradient feeds dr (through h_eff·U_h or (r⊙h_eff)·U_h).
  for_each_row(B, GH, [&](std::int64_t b) {
    if (!s.keep(b)) return;
    const std::int64_t r = s.row(b);
    const float* g = &cache.gates[r * GH];
    const float* h_prev = &cache.h_prev[r * H];
    const float* dh = s.dh + b * H;
    float* dgx = s.d_gates_x + r * GH;
    float* direct = s.dh_prev_direct + b * H;
    for (std::int64_t j = 0; j < H; ++j) {
      dgx[j] = dh[j] * (h_prev[j] - g[2 * H + j]);
      dgx[2 * H + j] = dh[j] * (1.0f - g[j]);
      direct[j] = dh[j] * g[j];
    }
    activation_backward(cfg.recurrent_activation, g, dgx, dgx, H);
    activation_backward(cfg.activation, g + 2 * H, dgx + 2 * H, dgx + 2 * H, H);
  });
  // d(r⊙h_eff) = dpre_h · U_h^T (reset_after=False only).
  float* d_rh = s.scratch;
  if (!cfg.reset_after)
    sgemm(Trans::no, Trans::yes, B, H, H, 1.0f, s.d_gates_x + s.t * GH + 2 * H, T * GH, U + 2 * H, GH, 0.0f, d_rh, H);
  for_each_row(B, GH, [&](std::int64_t b) {
    if (!s.keep(b)) return;
    const std::int64_t r = s.row(b);
    const float* g = &cache.gates[r * GH];
    const float* aux = &cache.aux[r * H];
    float* dgx = s.d_gates_x + r * GH;
    if (cfg.reset_after) {
      float* dgr = s.d_gates_r + r * GH;
      for (std::int64_t j = 0; j < H; ++j) {
        dgx[H + j] = dgx[2 * H + j] * aux[j];
        dgr[2 * H + j] = dgx[2 * H + j] * g[H + j];
      }
      activation_backward(cfg.recurrent_activation, g + H, dgx + H, dgx + H, H);
      std::memcpy(dgr, dgx, sizeof(float) * 2 * H);
    } else {
      const float* h_eff = &cache.h_prev_eff[r * H];
      for (std::int64_t j = 0; j < H; ++j) dgx[H + j] = d_rh[b * H + j] * h_eff[j];
      activation_backward(cfg.recurrent_activation, g + H, dgx + H, dgx + H, H);
    }
  });
  if (cfg.reset_after) {
    sgemm(Trans::no, Trans::yes, B, H, GH, 1.0f, s.d_gates_r + s.t * GH, T * GH, U, GH, 0.0f, s.dh_eff, H);
  } else {
    sgemm(Trans::no, Trans::yes, B, H, 2 * H, 1.0f, s.d_gates_x + s.t * GH, T * GH, U, GH, 0.0f, s.dh_eff, H);
    for (std::int64_t b = 0; b < B; ++b) {
      if (!s.keep(b)) continue;
      const float* g = &cache.gates[s.row(b) * GH];
      for (std::int64_t j = 0; j < H; ++j) s.dh_eff[b * H + j] += d_rh[b * H + j] * g[H + j];
    }
  }
}

// reset_after=False: U_z,U_r see h_eff, U_h sees r⊙h_eff (cached in aux).
void gru_recurrent_kernel_gradient(const RnnCache& cache, const float* d_gates_r, float* d_recurrent_kernel) {
  const std::int64_t H = cache.config.units, GH = 3 * H, rows = cache.config.batch * cache.config.time;
  sgemm(Trans::yes, Trans::no, H, 2 * H, rows, 1.0f, cache.h_prev_eff.data(), H, d_gates_r, GH, 0.0f,
        d_recurrent_kernel, GH);
  sgemm(Trans::yes, Trans::no, H, H, rows, 1.0f, cache.aux.data(), H, d_gates_r + 2 * H, GH, 0.0f,
        d_recurrent_kernel + 2 * H, GH);
}

}  // namespace rnnkit::cells
