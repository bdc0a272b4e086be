// LSTM with optional peepholes (gates [i f c~ o]): i,f see c_{t-1}, o sees c_t.
//   c_t = f⊙c_{t-1} + i⊙c~,  h_t = o⊙act(c_t). Forward step next to its backward step.
#include <cstring>

#include "rnnkit/gemm.hpp"
#include "sequence.hpp"

namespace rnnkit::cells {

void lstm_step_forward(const StepForward& s) {
  const RnnConfig& cfg = *s.config;
  const std::int64_t B = cfg.batch, H = cfg.units, GH = 4 * H;
  sgemm(Trans::no, Trans::no, B, GH, H, 1.0f, s.h_eff, H, s.recurrent_kernel, GH, 0.0f, s.scratch, GH);
  const float* p = s.peephole;
  for_each_row(B, GH, [&](std::int64_t b) {
    const float* xp = s.x_proj[b];
    const float* c_prev = s.c + b * H;
    float* pre = s.scratch + b * GH;
    float* g = s.gates[b];
    float* c_new = s.c_new + b * H;
    for (std::int64_t j = 0; j < GH; ++j) pre[j] += xp[j];
    if (p)
      for (std::int64_t j = 0; j < H; ++j) pre[j] += p[j] * c_prev[j], pre[H + j] += p[H + j] * c_prev[j];
    activation_forward(cfg.recurrent_activation, pre, g, 2 * H);
    activation_forward(cfg.activation, pre + 2 * H, g + 2 * H, H);
    for (std::int64_t j = 0; j < H; ++j) c_new[j] = g[H + j] * c_prev[j] + g[j] * g[2 * H + j];
    if (p)
      for (std::int64_t j = 0; j < H; ++j) pre[3 * H + j] += p[2 * H + j] * c_new[j];
    activation_forward(cfg.recurrent_activation, pre + 3 * H, g + 3 * H, H);
    float* act_c = s.aux[b];
    activation_forward(cfg.activation, c_new, act_c, H);
    float* h_new = s.h_new + b * H;
    for (std::int64_t j = 0; j < H; ++j) h_new[j] = g[3 * H + j] * act_c[j];
    std::memcpy(s.c_prev[b], c_prev, sizeof(float) * H);
    std::memcpy(s.c_new_rows[b], c_new, sizeof(float) * H);
  });
}

void lstm_step_backward(const StepBackward& s) {
  const RnnCache& cache = *s.cache;
  const RnnConfig& cfg = cache.config;
  const std::int64_t B = cfg.batch, H = cfg.units, T = cfg.time, GH = 4 * H;
  const float* p = cache.peephole.empty() ? nullptr : cache.peephole.data();
  for_each_row(B, GH, [&](std::int64_t b) {
    if (!s.keep(b)) return;
    const std::int64_t r = s.row(b);
    const float* g = &cache.gates[r * GH];
    const float* act_c = &cache.aux[r * H];
    const float* c_prev = &cache.c_prev[r * H];
    const float* dh = s.dh + b * H;
    float* dg = s.d_gates_x + r * GH;
    float* dc = s.scratch + b * GH;  // dL/dc_t, then reused below
    for (std::int64_t j = 0; j < H; ++j) dg[3 * H + j] = dh[j] * act_c[j], dc[j] = dh[j] * g[3 * H + j];
    activation_backward(cfg.recurrent_activation, g + 3 * H, dg + 3 * H, dg + 3 * H, H);
    activation_backward(cfg.activation, act_c, dc, dc, H);
    for (std::int64_t j = 0; j < H; ++j) {
      dc[j] += s.dc[b * H + j];
      if (p) dc[j] += p[2 * H + j] * dg[3 * H + j];
      dg[j] = dc[j] * g[2 * H + j];
      dg[H + j] = dc[j] * c_prev[j];
      dg[2 * H + j] = dc[j] * g[j];
    }
    activation_backward(cfg.recurrent_activation, g, dg, dg, 2 * H);
    activation_backward(cfg.activation, g + 2 * H, dg + 2 * H, dg + 2 * H, H);
    float* dc_prev = s.dc_prev + b * H;
    for (std::int64_t j = 0; j < H; ++j) {
      dc_prev[j] = dc[j] * g[H + j];
      if (p) dc_prev[j] += p[j] * dg[j] + p[H + j] * dg[H + j];
    }
  });
  sgemm(Trans::no, Trans::yes, B, H, GH, 1.0f, s.d_gates_r + s.t * GH, T * GH, cache.recurrent_kernel.data(), GH,
        0.0f, s.dh_eff, H);
}

// dL/dp_i = Σ dpre_i ⊙ c_{t-1}, dL/dp_f = Σ dpre_f ⊙ c_{t-1}, dL/dp_o = Σ dpre_o ⊙ c_t over all rows.
void lstm_peephole_gradient(const RnnCache& cache, const float* d_gates, float* d_peephole) {
  const std::int64_t H = cache.config.units, GH = 4 * H, rows = cache.config.batch * cache.config.time;
  std::memset(d_peephole, 0, sizeof(float) * 3 * H);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* dg = d_gates + r * GH;
    const float* c_prev = &cache.c_prev[r * H];
    const float* c_new = &cache.c_new[r * H];
    for (std::int64_t j = 0; j < H; ++j) {
      d_peephole[j] += dg[j] * c_prev[j];
      d_peephole[H + j] += dg[H + j] * c_prev[j];
      d_peephole[2 * H + j] += dg[3 * H + j] * c_new[j];
    }
  }
}

}  // namespace rnnkit::cells
