// SimpleRNN: h_t = act(x_t·W + b + h_eff·U). Forward step next to its backward step.
#include <cstring>

#include "rnnkit/gemm.hpp"
#include "sequence.hpp"

namespace rnnkit::cells {

void simple_rnn_step_forward(const StepForward& s) {
  const RnnConfig& cfg = *s.config;
  const std::int64_t B = cfg.batch, H = cfg.units;
  sgemm(Trans::no, Trans::no, B, H, H, 1.0f, s.h_eff, H, s.recurrent_kernel, H, 0.0f, s.scratch, H);
  for_each_row(B, H, [&](std::int64_t b) {
    const float* xp = s.x_proj[b];
    float* pre = s.scratch + b * H;
    for (std::int64_t j = 0; j < H; ++j) pre[j] += xp[j];
    activation_forward(cfg.activation, pre, s.gates[b], H);
    std::memcpy(s.h_new + b * H, s.gates[b], sizeof(float) * H);
  });
}

void simple_rnn_step_backward(const StepBackward& s) {
  const RnnCache& cache = *s.cache;
  const std::int64_t B = cache.config.batch, H = cache.config.units, T = cache.config.time;
  for_each_row(B, H, [&](std::int64_t b) {
    if (!s.keep(b)) return;
    const std::int64_t r = s.row(b);
    activation_backward(cache.config.activation, &cache.gates[r * H], s.dh + b * H, s.d_gates_x + r * H, H);
  });
  sgemm(Trans::no, Trans::yes, B, H, H, 1.0f, s.d_gates_r + s.t * H, T * H, cache.recurrent_kernel.data(), H, 0.0f,
        s.dh_eff, H);
}

}  // namespace rnnkit::cells
