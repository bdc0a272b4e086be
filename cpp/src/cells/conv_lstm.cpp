// ConvLSTM (rnnkit/conv_lstm.hpp): the LSTM's block kernels (blocks.hpp) over rows = (batch, output position),
// units = filters, with the two products made as GEMMs over unrolled windows (im2col), forward next to backward.
//
// Buffer layouts, all row-major with a row per (batch b, position p), r = b * P + p:
//   unrolled windows A (rows, K * ch): tap-major, as Keras' kernels (*kernel, ch, 4F) read flat (K * ch, 4F);
//   x·W and h·U products (rows, 4F), gates [i f c o] F apart: what ForwardBlock reads with H = rec_stride = F;
//   states h, c (B * P, F); the training cache per processed step s: h_{s-1}, c_{s-1}, the gates, act(c_s).
// The adjoint of a convolution is a gather too: for each input position and tap, the output position that read it
// (Taps::target). So dx and dL/dh_{t-1} are GEMMs over windows unrolled from dG with the transposed kernels, and
// no two rows ever add into the same place.
#include "rnnkit/conv_lstm.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "blocks.hpp"
#include "kernels/aligned_buffers.hpp"
#include "kernels/flush_denormals.hpp"
#include "rnnkit/checked.hpp"
#include "rnnkit/gemm.hpp"
#include "rnnkit/runtime.hpp"

namespace rnnkit {

// Kept blocks (aligned_buffers.hpp): a training step's tens of megabytes, fresh from the system at every step,
// page-faulted in anew (a tenth of a (16,10,32,32,1) -> 16 step).
struct ConvLstmCache {
  ConvLstmConfig cfg;
  std::vector<float> kernel, recurrent_kernel;
  bool has_bias = false;
  KeptFloats x, h_prev, c_prev, gates, act_c;  // x's copy; per processed step s, (T, B * P, F or 4F)
  std::vector<float> recurrent_dropout;         // the keep mask, or empty; h_prev holds h ⊙ mask then
};

void ConvLstmCacheDeleter::operator()(ConvLstmCache* cache) const { delete cache; }

namespace {

constexpr std::int64_t kChunkFloats = std::int64_t{1} << 16, kMinChunkRows = 16;
// Row slices whose weight gradients are summed apart (see conv_lstm_backward): at least the threads of any
// machine this runs on, and few enough that their partial sums stay small.
constexpr std::int64_t kWeightGradientSlices = 16;

// A convolution's taps: the input position under tap q of output position p (positions and taps row-major over
// their axes), and the inverse map.
struct Taps {
  std::int64_t inputs = 1, outputs = 1, taps = 1;
  std::vector<std::int64_t> source;  // [p * taps + q]: input position, or -1 in the padding
  std::vector<std::int64_t> target;  // [i * taps + q]: output position whose tap q reads input i, or -1
};

Taps conv_taps(const std::vector<std::int64_t>& sizes, const std::vector<Window1d>& windows) {
  Taps t;
  const std::size_t rank = sizes.size();
  for (std::size_t a = 0; a < rank; ++a)
    t.inputs *= sizes[a], t.outputs *= windows[a].steps_out, t.taps *= windows[a].size;
  t.source.assign(static_cast<std::size_t>(t.outputs * t.taps), -1);
  t.target.assign(static_cast<std::size_t>(t.inputs * t.taps), -1);
  std::vector<std::int64_t> o(rank), k(rank);
  for (std::int64_t p = 0; p < t.outputs; ++p) {
    for (std::int64_t rest = p, a = static_cast<std::int64_t>(rank) - 1; a >= 0; --a)
      o[a] = rest % windows[a].steps_out, rest /= windows[a].steps_out;
    for (std::int64_t q = 0; q < t.taps; ++q) {
      for (std::int64_t rest = q, a = static_cast<std::int64_t>(rank) - 1; a >= 0; --a)
        k[a] = rest % windows[a].size, rest /= windows[a].size;
      std::int64_t i = 0;
      bool inside = true;
      for (std::size_t a = 0; a < rank; ++a) {
        const Window1d& w = windows[a];
        const std::int64_t s = o[a] * w.stride - w.pad_left + k[a] * w.dilation;
        inside = inside && s >= 0 && s < sizes[a];
        i = i * sizes[a] + s;
      }
      if (!inside) continue;
      t.source[p * t.taps + q] = i;
      t.target[i * t.taps + q] = p;
    }
  }
  return t;
}

// Rows [r0, r1) of windows unrolled from `base`: row r = b * positions + p holds, tap after tap, the `channels`
// floats of position table[p * taps + q] of batch b (base + b * batch_stride), or zeros.
struct Windows {
  const float* base;
  std::int64_t batch_stride, channels, positions, taps;
  const std::int64_t* table;
  void unroll(std::int64_t r0, std::int64_t r1, float* rows) const {
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::int64_t b = r / positions, p = r % positions;
      float* row = rows + (r - r0) * taps * channels;
      for (std::int64_t q = 0; q < taps; ++q) {
        const std::int64_t src = table[p * taps + q];
        float* out = row + q * channels;
        // Loops, not std::fill / std::copy_n: at a few channels a library call per tap cost more than the copy.
        const float* in = src < 0 ? nullptr : base + b * batch_stride + src * channels;
        for (std::int64_t k = 0; k < channels; ++k) out[k] = in ? in[k] : 0.0f;
      }
    }
  }
};

// Rows [0, total) in chunks of about kChunkFloats floats of unrolled windows (`width` floats a row): what one
// thread unrolls and multiplies at a time, its windows in L2.
struct Chunks {
  std::int64_t total, rows, count;
  Chunks(std::int64_t total_rows, std::int64_t width)
      : total(total_rows),
        rows(std::max(kMinChunkRows, std::min(total_rows, kChunkFloats / std::max<std::int64_t>(width, 1)))),
        count((total_rows + rows - 1) / rows) {}
  std::int64_t begin(std::int64_t k) const { return k * rows; }
  std::int64_t end(std::int64_t k) const { return std::min(total, (k + 1) * rows); }
  int threads() const {
    return static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(num_threads(), count)));
  }
};

// The recurrent product's windows: "same" padding, stride 1, over the output's sizes.
std::vector<Window1d> recurrent_windows(const ConvLstmConfig& cfg) {
  std::vector<Window1d> windows;
  for (const Window1d& w : cfg.windows) windows.push_back(window_1d(w.steps_out, w.size, 1, 1, "same"));
  return windows;
}

// Rows [r0, r1) of `positions` input positions a batch: row (b, i) = the sum over taps q of the `channels` floats
// of tap q in row (b, taps.target[i, q]) of `products` (outputs a batch x taps * channels), or zeros; written to
// dst + b * batch_stride + i * channels.
void gather_taps(const float* products, const Taps& taps, std::int64_t outputs, std::int64_t channels,
                 std::int64_t r0, std::int64_t r1, std::int64_t positions, float* dst, std::int64_t batch_stride) {
  const std::int64_t K = taps.taps;
  for (std::int64_t r = r0; r < r1; ++r) {
    const std::int64_t b = r / positions, i = r % positions;
    float* row = dst + b * batch_stride + i * channels;
    for (std::int64_t c = 0; c < channels; ++c) row[c] = 0.0f;
    for (std::int64_t q = 0; q < K; ++q) {
      const std::int64_t p = taps.target[i * K + q];
      if (p < 0) continue;
      const float* part = products + ((b * outputs + p) * K + q) * channels;
      for (std::int64_t c = 0; c < channels; ++c) row[c] += part[c];
    }
  }
}

void check_config(const ConvLstmConfig& cfg) {
  const char* fn = "conv_lstm_forward";
  const std::size_t rank = cfg.input_sizes.size();
  if (rank < 1 || rank > 3 || cfg.windows.size() != rank)
    throw std::invalid_argument(std::string(fn) + ": expected 1 to 3 spatial axes, each with its window");
  if (cfg.batch < 0 || cfg.time < 1 || cfg.channels < 1 || cfg.filters < 1)
    throw std::invalid_argument(std::string(fn) + ": expected batch >= 0, time, channels and filters >= 1");
  for (std::size_t a = 0; a < rank; ++a) {
    const Window1d& w = cfg.windows[a];
    if (cfg.input_sizes[a] < 1 || w.size < 1 || w.stride < 1 || w.dilation < 1 || w.pad_left < 0)
      throw std::invalid_argument(std::string(fn) + ": sizes, kernel sizes, strides and dilations must be positive");
    if (w.steps_out < 1)
      throw std::invalid_argument(std::string(fn) + ": spatial axis " + std::to_string(a) + " of size " +
                                  std::to_string(cfg.input_sizes[a]) + " leaves no output position for a kernel of " +
                                  std::to_string(w.size) + " taps");
  }
}

struct Sizes {
  std::int64_t B, T, C, F, G, P_in, P, K, BP;
};

Sizes sizes_of(const ConvLstmConfig& cfg) {
  const char* fn = "conv_lstm";
  Sizes s{cfg.batch, cfg.time, cfg.channels, cfg.filters, checked_mul(4, cfg.filters, fn), 1, 1, 1, 0};
  for (std::size_t a = 0; a < cfg.input_sizes.size(); ++a) {
    s.P_in = checked_mul(s.P_in, cfg.input_sizes[a], fn);
    s.P = checked_mul(s.P, cfg.windows[a].steps_out, fn);
    s.K = checked_mul(s.K, cfg.windows[a].size, fn);
  }
  s.BP = checked_mul(s.B, s.P, fn);
  checked_mul(s.BP, s.T, s.G, fn);
  checked_mul(s.B, s.T, s.P_in, s.C, fn);
  checked_mul(s.K, std::max(s.C, s.G), s.G, fn);
  return s;
}

}  // namespace

std::vector<std::int64_t> conv_lstm_output_sizes(const ConvLstmConfig& cfg) {
  std::vector<std::int64_t> out;
  for (const Window1d& w : cfg.windows) out.push_back(w.steps_out);
  return out;
}

ConvLstmCachePtr conv_lstm_forward(const ConvLstmConfig& cfg, const ConvLstmInputs& in, const ConvLstmOutputs& out,
                                   bool training) {
  check_config(cfg);
  if (!in.x || !in.kernel || !in.recurrent_kernel)
    throw std::invalid_argument("conv_lstm_forward: expected x, kernel and recurrent_kernel, received null");
  const Sizes z = sizes_of(cfg);
  const Taps x_taps = conv_taps(cfg.input_sizes, cfg.windows);
  const Taps h_taps = conv_taps(conv_lstm_output_sizes(cfg), recurrent_windows(cfg));
  const PackedMatrix w = pack_b(Trans::no, z.K * z.C, z.G, in.kernel, z.G);
  const PackedMatrix u = pack_b(Trans::no, z.K * z.F, z.G, in.recurrent_kernel, z.G);
  const cells::BlockKernels& kernels = cells::block_kernels(active_isa());

  ConvLstmCachePtr cache;
  if (training) {
    cache.reset(new ConvLstmCache);
    cache->cfg = cfg;
    const char* what = "conv_lstm_forward training cache";
    cache->x = KeptFloats(z.B * z.T * z.P_in * z.C, what);
    std::copy_n(in.x, z.B * z.T * z.P_in * z.C, cache->x.get());
    cache->kernel.assign(in.kernel, in.kernel + z.K * z.C * z.G);
    cache->recurrent_kernel.assign(in.recurrent_kernel, in.recurrent_kernel + z.K * z.F * z.G);
    cache->has_bias = in.bias != nullptr;
    cache->h_prev = KeptFloats(z.T * z.BP * z.F, what), cache->c_prev = KeptFloats(z.T * z.BP * z.F, what);
    cache->gates = KeptFloats(z.T * z.BP * z.G, what), cache->act_c = KeptFloats(z.T * z.BP * z.F, what);
  }
  std::vector<float> h(2 * z.BP * z.F, 0.0f), c(z.BP * z.F, 0.0f);
  if (in.h0) std::copy_n(in.h0, z.BP * z.F, h.begin());
  if (in.c0) std::copy_n(in.c0, z.BP * z.F, c.begin());
  // With recurrent dropout h∗U reads h ⊙ mask: each step writes the next step's for its rows, since the next
  // step's windows read its neighbours' too.
  const float* keep = in.recurrent_dropout;
  std::vector<float> h_eff(keep ? 2 * z.BP * z.F : 0);
  for (std::int64_t i = 0; keep && i < z.BP * z.F; ++i) h_eff[i] = h[i] * keep[i];
  if (cache && keep) cache->recurrent_dropout.assign(keep, keep + z.BP * z.F);
  if (z.BP == 0) return cache;  // an empty batch: nothing to compute, no state to index
  const Chunks chunks(z.BP, z.K * std::max(z.C, z.F));
  const std::int64_t block = std::min(cells::kMaxBlock, z.F);
  const std::int64_t rows_per_call = std::max<std::int64_t>(1, cells::kMaxUnitsPerCall / block);

#pragma omp parallel num_threads(chunks.threads())
  {
    const FlushDenormals flush;
    std::vector<float> windows(chunks.rows * z.K * std::max(z.C, z.F)), xw(chunks.rows * z.G), hu(chunks.rows * z.G);
    std::vector<float> scratch_gates(cache ? 0 : chunks.rows * z.G), scratch_act_c(cache ? 0 : chunks.rows * z.F);
    std::vector<float> workspace(packed_serial_workspace(w.isa(), chunks.rows, z.K * std::max(z.C, z.F)));
    std::vector<cells::ForwardBlock> call(rows_per_call);
    for (std::int64_t s = 0; s < z.T; ++s) {
      const std::int64_t t = cfg.go_backwards ? z.T - 1 - s : s;
      const float* h_cur = &h[(s & 1) * z.BP * z.F];
      float* h_next = &h[((s + 1) & 1) * z.BP * z.F];
      const Windows x_windows{in.x + t * z.P_in * z.C, z.T * z.P_in * z.C, z.C, z.P, z.K, x_taps.source.data()};
      const float* h_read = keep ? &h_eff[(s & 1) * z.BP * z.F] : h_cur;  // what h∗U reads
      const Windows h_windows{h_read, z.P * z.F, z.F, z.P, z.K, h_taps.source.data()};
#pragma omp for schedule(static)
      for (std::int64_t k = 0; k < chunks.count; ++k) {
        const std::int64_t r0 = chunks.begin(k), r1 = chunks.end(k), rows = r1 - r0;
        if (cache) {
          std::copy(h_read + r0 * z.F, h_read + r1 * z.F, cache->h_prev.get() + (s * z.BP + r0) * z.F);
          std::copy(&c[r0 * z.F], &c[r1 * z.F], cache->c_prev.get() + (s * z.BP + r0) * z.F);
        }
        x_windows.unroll(r0, r1, windows.data());
        sgemm_packed_serial(Trans::no, rows, 1.0f, windows.data(), z.K * z.C, w, 0.0f, xw.data(), z.G, 0, z.G,
                            workspace.data());
        h_windows.unroll(r0, r1, windows.data());
        sgemm_packed_serial(Trans::no, rows, 1.0f, windows.data(), z.K * z.F, u, 0.0f, hu.data(), z.G, 0, z.G,
                            workspace.data());
        for (std::int64_t j = 0; j < z.F; j += block)
          for (std::int64_t r = r0; r < r1; r += rows_per_call) {
            const std::int64_t count = std::min(rows_per_call, r1 - r);
            for (std::int64_t i = 0; i < count; ++i) {
              const std::int64_t row = r + i, local = row - r0;
              float* gates = cache ? cache->gates.get() + (s * z.BP + row) * z.G : &scratch_gates[local * z.G];
              float* act_c = cache ? cache->act_c.get() + (s * z.BP + row) * z.F : &scratch_act_c[local * z.F];
              call[i] = cells::ForwardBlock{std::min(block, z.F - j), z.F, cfg.activation, cfg.recurrent_activation,
                                            &hu[local * z.G + j], z.F, &xw[local * z.G + j], nullptr,
                                            in.bias ? in.bias + j : nullptr, nullptr, nullptr, h_cur + row * z.F + j,
                                            h_cur + row * z.F + j, &c[row * z.F + j], gates + j, act_c + j,
                                            &c[row * z.F + j], h_next + row * z.F + j, cache != nullptr};
            }
            kernels.lstm_forward(call.data(), count);
          }
        float* h_eff_next = keep ? &h_eff[((s + 1) & 1) * z.BP * z.F] : nullptr;
        for (std::int64_t i = r0 * z.F; keep && i < r1 * z.F; ++i) h_eff_next[i] = h_next[i] * keep[i];
        if (out.outputs)
          for (std::int64_t r = r0; r < r1; ++r) {
            const std::int64_t b = r / z.P, p = r % z.P;
            std::copy_n(h_next + r * z.F, z.F, out.outputs + ((b * z.T + s) * z.P + p) * z.F);
          }
      }
    }
  }
  if (out.h) std::copy_n(&h[(z.T & 1) * z.BP * z.F], z.BP * z.F, out.h);
  if (out.c) std::copy_n(c.data(), z.BP * z.F, out.c);
  return cache;
}

void conv_lstm_backward(const ConvLstmCache& cache, const ConvLstmGradInputs& in, const ConvLstmGradients& out) {
  const ConvLstmConfig& cfg = cache.cfg;
  const Sizes z = sizes_of(cfg);
  const Taps x_taps = conv_taps(cfg.input_sizes, cfg.windows);
  const Taps h_taps = conv_taps(conv_lstm_output_sizes(cfg), recurrent_windows(cfg));
  // dG times every tap's kernel transposed at once: Wᵀ (4F, K * C) and Uᵀ (4F, K * F), read from the kernels.
  const PackedMatrix w_t = pack_b(Trans::yes, z.G, z.K * z.C, cache.kernel.data(), z.G);
  const PackedMatrix u_t = pack_b(Trans::yes, z.G, z.K * z.F, cache.recurrent_kernel.data(), z.G);
  const cells::BlockKernels& kernels = cells::block_kernels(active_isa());

  if (z.BP == 0) {  // an empty batch: zero weight gradients
    if (out.d_kernel) std::fill_n(out.d_kernel, z.K * z.C * z.G, 0.0f);
    if (out.d_recurrent_kernel) std::fill_n(out.d_recurrent_kernel, z.K * z.F * z.G, 0.0f);
    if (out.d_bias && cache.has_bias) std::fill_n(out.d_bias, z.G, 0.0f);
    return;
  }
  std::vector<float> dh(z.BP * z.F, 0.0f), dc(z.BP * z.F, 0.0f), d_gates(z.BP * z.G);
  if (in.d_h) std::copy_n(in.d_h, z.BP * z.F, dh.begin());
  if (in.d_c) std::copy_n(in.d_c, z.BP * z.F, dc.begin());
  // Each row's dG·Uᵀ (and dG·Wᵀ): tap q's part is what that row sends to the position its tap q read.
  KeptFloats h_taps_product(z.BP * z.K * z.F, "conv_lstm_backward"), x_taps_product;
  if (out.d_x) x_taps_product = KeptFloats(z.BP * z.K * z.C, "conv_lstm_backward");
  const std::int64_t widest = z.K * std::max(z.C, z.F);
  const Chunks chunks(z.BP, widest), input_chunks(z.B * z.P_in, widest);
  // The weights' gradients are sums over every row and step: each of a fixed set of row slices (not of threads)
  // sums its own in row order, and the slices are added in order, so the result does not depend on the threads.
  const std::int64_t slices = std::clamp<std::int64_t>(chunks.count, 1, kWeightGradientSlices);
  const std::int64_t slice_floats = z.K * z.C * z.G + z.K * z.F * z.G + z.G;
  std::vector<float> partials(slices * slice_floats, 0.0f);
  const std::int64_t block = std::min(cells::kMaxBlock, z.F);

#pragma omp parallel num_threads(std::max(chunks.threads(), input_chunks.threads()))
  {
    const FlushDenormals flush;
    std::vector<float> windows(chunks.rows * widest), dh_step(chunks.rows * z.F);
    std::vector<float> workspace(packed_serial_workspace(u_t.isa(), chunks.rows, z.G));
    for (std::int64_t s = z.T - 1; s >= 0; --s) {
      const std::int64_t t = cfg.go_backwards ? z.T - 1 - s : s;
#pragma omp for schedule(static)
      for (std::int64_t k = 0; k < chunks.count; ++k)
        for (std::int64_t r = chunks.begin(k); r < chunks.end(k); ++r) {
          const std::int64_t b = r / z.P, p = r % z.P;
          const float* d_out = in.d_outputs ? in.d_outputs + ((b * z.T + s) * z.P + p) * z.F : nullptr;
          float* dh_row = &dh_step[(r - chunks.begin(k)) * z.F];
          for (std::int64_t f = 0; f < z.F; ++f) dh_row[f] = dh[r * z.F + f] + (d_out ? d_out[f] : 0.0f);
          for (std::int64_t j = 0; j < z.F; j += block) {
            const std::int64_t state = (s * z.BP + r) * z.F + j;
            kernels.lstm_backward(cells::BackwardBlock{
                std::min(block, z.F - j), z.F, cfg.activation, cfg.recurrent_activation,
                cache.gates.get() + (s * z.BP + r) * z.G + j, cache.act_c.get() + state, cache.c_prev.get() + state,
                cache.h_prev.get() + state, cache.h_prev.get() + state, nullptr, dh_row + j, &dc[r * z.F + j], nullptr,
                &d_gates[r * z.G + j], &d_gates[r * z.G + j], nullptr});
          }
        }
      const Windows h_windows{cache.h_prev.get() + s * z.BP * z.F, z.P * z.F, z.F, z.P, z.K, h_taps.source.data()};
      const Windows x_windows{cache.x.get() + t * z.P_in * z.C, z.T * z.P_in * z.C, z.C, z.P, z.K,
                              x_taps.source.data()};
#pragma omp for schedule(static)
      for (std::int64_t slice = 0; slice < slices; ++slice) {
        float* dw = &partials[slice * slice_floats];
        float *du = dw + z.K * z.C * z.G, *db = du + z.K * z.F * z.G;
        for (std::int64_t k = chunks.count * slice / slices; k < chunks.count * (slice + 1) / slices; ++k) {
          const std::int64_t r0 = chunks.begin(k), r1 = chunks.end(k), rows = r1 - r0;
          const float* dg = &d_gates[r0 * z.G];
          for (std::int64_t r = 0; r < rows; ++r)
            for (std::int64_t g = 0; g < z.G; ++g) db[g] += dg[r * z.G + g];
          h_windows.unroll(r0, r1, windows.data());
          sgemm(Trans::yes, Trans::no, z.K * z.F, z.G, rows, 1.0f, windows.data(), z.K * z.F, dg, z.G, 1.0f, du, z.G);
          x_windows.unroll(r0, r1, windows.data());
          sgemm(Trans::yes, Trans::no, z.K * z.C, z.G, rows, 1.0f, windows.data(), z.K * z.C, dg, z.G, 1.0f, dw, z.G);
          sgemm_packed_serial(Trans::no, rows, 1.0f, dg, z.G, u_t, 0.0f, h_taps_product.get() + r0 * z.K * z.F,
                              z.K * z.F, 0, z.K * z.F, workspace.data());
          if (out.d_x)
            sgemm_packed_serial(Trans::no, rows, 1.0f, dg, z.G, w_t, 0.0f, x_taps_product.get() + r0 * z.K * z.C,
                                z.K * z.C, 0, z.K * z.C, workspace.data());
        }
      }
      // dL/dh_{s-1} through h∗U: each state position gathers, tap by tap, what the output whose tap read it sent.
#pragma omp for schedule(static)
      for (std::int64_t k = 0; k < chunks.count; ++k) {
        gather_taps(h_taps_product.get(), h_taps, z.P, z.F, chunks.begin(k), chunks.end(k), z.P, &dh[0], z.P * z.F);
        const float* kept = cache.recurrent_dropout.empty() ? nullptr : cache.recurrent_dropout.data();
        for (std::int64_t i = chunks.begin(k) * z.F; kept && i < chunks.end(k) * z.F; ++i) dh[i] *= kept[i];
      }
      if (out.d_x) {
#pragma omp for schedule(static)
        for (std::int64_t k = 0; k < input_chunks.count; ++k) {
          const std::int64_t r0 = input_chunks.begin(k), r1 = input_chunks.end(k);
          gather_taps(x_taps_product.get(), x_taps, z.P, z.C, r0, r1, z.P_in, out.d_x + t * z.P_in * z.C,
                      z.T * z.P_in * z.C);
        }
      }
    }
  }
  for (std::int64_t slice = 1; slice < slices; ++slice)
    for (std::int64_t i = 0; i < slice_floats; ++i) partials[i] += partials[slice * slice_floats + i];
  const float* sums = partials.data();
  if (out.d_kernel) std::copy_n(sums, z.K * z.C * z.G, out.d_kernel);
  if (out.d_recurrent_kernel) std::copy_n(sums + z.K * z.C * z.G, z.K * z.F * z.G, out.d_recurrent_kernel);
  if (out.d_bias && cache.has_bias) std::copy_n(sums + z.K * (z.C + z.F) * z.G, z.G, out.d_bias);
  if (out.d_h0) std::copy(dh.begin(), dh.end(), out.d_h0);
  if (out.d_c0) std::copy(dc.begin(), dc.end(), out.d_c0);
}

}  // namespace rnnkit
