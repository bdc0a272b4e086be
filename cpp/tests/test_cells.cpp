// The C++ API of the recurrent cells: a hand-computed SimpleRNN step, BPTT vs finite differences for an LSTM with
// peepholes, errors naming rnn_forward, training on token ids against the embedded inputs, and the threaded
// time loop against one thread.
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "check.hpp"
#include "rnnkit/rnn.hpp"
#include "rnnkit/runtime.hpp"

using namespace rnnkit;

namespace {

bool near(double a, double b, double tol) { return std::fabs(a - b) <= tol * std::fmax(1.0, std::fabs(b)); }

void simple_rnn_one_unit_matches_hand_computation() {
  // h1 = tanh(0.5*1 + 0.3*0 + 0.1) ; h2 = tanh(0.5*-2 + 0.3*h1 + 0.1)
  const float x[2] = {1.0f, -2.0f}, w = 0.5f, u = 0.3f, b = 0.1f;
  RnnConfig cfg;
  cfg.cell = CellKind::simple_rnn, cfg.batch = 1, cfg.time = 2, cfg.input = 1, cfg.units = 1;
  RnnInputs in;
  in.x = x, in.kernel = &w, in.recurrent_kernel = &u, in.bias = &b;
  float outputs[2], last, h;
  RnnOutputs out;
  out.outputs = outputs, out.last_output = &last, out.h_last = &h;
  CHECK(rnn_forward(cfg, in, out, false) == nullptr);
  const double h1 = std::tanh(0.6), h2 = std::tanh(-1.0 + 0.3 * h1 + 0.1);
  CHECK(near(outputs[0], h1, 1e-6) && near(outputs[1], h2, 1e-6) && near(last, h2, 1e-6) && near(h, h2, 1e-6));
}

// Loss = sum of the last output; compares dL/dkernel with central differences through rnn_forward.
void lstm_peephole_kernel_gradient_matches_finite_differences() {
  const int B = 2, T = 3, I = 2, H = 2, GH = 4 * H;
  std::vector<float> x(B * T * I), kernel(I * GH), rec(H * GH), bias(GH), peep(3 * H);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(1.7f * i);
  for (size_t i = 0; i < kernel.size(); ++i) kernel[i] = 0.5f * std::cos(0.9f * i);
  for (size_t i = 0; i < rec.size(); ++i) rec[i] = 0.4f * std::sin(0.3f * i + 1.0f);
  for (size_t i = 0; i < bias.size(); ++i) bias[i] = 0.1f * i - 0.3f;
  for (size_t i = 0; i < peep.size(); ++i) peep[i] = 0.2f * i - 0.5f;
  RnnConfig cfg;
  cfg.cell = CellKind::lstm, cfg.batch = B, cfg.time = T, cfg.input = I, cfg.units = H;
  RnnInputs in;
  in.x = x.data(), in.kernel = kernel.data(), in.recurrent_kernel = rec.data(), in.bias = bias.data();
  in.peephole = peep.data();
  std::vector<float> outputs(B * T * H), last(B * H), h(B * H), c(B * H);
  RnnOutputs out{outputs.data(), last.data(), h.data(), c.data()};
  auto loss = [&] {
    rnn_forward(cfg, in, out, false);
    double s = 0;
    for (float v : last) s += v;
    return s;
  };
  RnnCachePtr cache = rnn_forward(cfg, in, out, true);
  CHECK(cache != nullptr);
  std::vector<float> ones(B * H, 1.0f), d_kernel(I * GH), d_peep(3 * H);
  RnnGradInputs gin;
  gin.d_last_output = ones.data();
  RnnGradients g;
  g.d_kernel = d_kernel.data(), g.d_peephole = d_peep.data();
  rnn_backward(*cache, gin, g);
  for (size_t i = 0; i < kernel.size(); ++i) {
    const float saved = kernel[i];
    kernel[i] = saved + 1e-2f;
    const double plus = loss();
    kernel[i] = saved - 1e-2f;
    const double minus = loss();
    kernel[i] = saved;
    CHECK(near(d_kernel[i], (plus - minus) / 2e-2, 2e-3));
  }
}

// The time loop split over 2 threads, by unit blocks (B = 3, H = 300) and by batch rows (B = 24, T = 80;
// B = 24, I = 90 > H, the input projected step by step; B = 16, I = H = 300, W too large for that), with a
// mask and recurrent dropout: outputs and every gradient agree with 1 thread. Under the sanitizers this is
// also the memory check of the threaded paths.
void threaded_time_loop_matches_one_thread() {
  const std::int64_t shapes[][4] = {{3, 4, 5, 300}, {24, 80, 5, 70}, {24, 50, 90, 70}, {16, 6, 300, 300}};
  for (const auto& shape : shapes)
    for (const CellKind cell : {CellKind::simple_rnn, CellKind::lstm, CellKind::gru})
      for (const bool reset_after : {true, false}) {
        if (cell != CellKind::gru && !reset_after) continue;
        const std::int64_t B = shape[0], T = shape[1], I = shape[2], H = shape[3], GH = gate_count(cell) * H;
        RnnConfig cfg;
        cfg.cell = cell, cfg.batch = B, cfg.time = T, cfg.input = I, cfg.units = H, cfg.reset_after = reset_after;
        std::vector<float> x(B * T * I), kernel(I * GH), rec(H * GH), bias(2 * GH), rdrop(B * H), d_out(B * T * H);
        std::vector<std::uint8_t> mask(B * T);
        for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * i);
        for (size_t i = 0; i < kernel.size(); ++i) kernel[i] = 0.3f * std::cos(0.71f * i);
        for (size_t i = 0; i < rec.size(); ++i) rec[i] = 0.05f * std::sin(1.3f * i + 0.5f);
        for (size_t i = 0; i < bias.size(); ++i) bias[i] = 0.01f * (i % 7);
        for (size_t i = 0; i < rdrop.size(); ++i) rdrop[i] = i % 5 ? 1.25f : 0.0f;
        for (size_t i = 0; i < mask.size(); ++i) mask[i] = i % 7 != 3;
        for (size_t i = 0; i < d_out.size(); ++i) d_out[i] = std::cos(0.13f * i);
        RnnInputs in;
        in.x = x.data(), in.kernel = kernel.data(), in.recurrent_kernel = rec.data(), in.bias = bias.data();
        in.mask = mask.data(), in.recurrent_dropout = rdrop.data();
        std::vector<float> results[2];
        for (int threads : {1, 2}) {
          set_num_threads(threads);
          std::vector<float> outputs(B * T * H), last(B * H), h(B * H), c(B * H);
          RnnCachePtr cache = rnn_forward(cfg, in, RnnOutputs{outputs.data(), last.data(), h.data(), c.data()}, true);
          std::vector<float> dx(B * T * I), dk(I * GH), drk(H * GH), db(2 * GH), dh0(B * H), dc0(B * H);
          RnnGradInputs gin;
          gin.d_outputs = d_out.data();
          RnnGradients g;
          g.d_x = dx.data(), g.d_kernel = dk.data(), g.d_recurrent_kernel = drk.data(), g.d_bias = db.data();
          g.d_h0 = dh0.data(), g.d_c0 = cell == CellKind::lstm ? dc0.data() : nullptr;
          rnn_backward(*cache, gin, g);
          for (const auto* v : {&outputs, &dx, &dk, &drk, &db, &dh0})
            results[threads - 1].insert(results[threads - 1].end(), v->begin(), v->end());
        }
        bool close = results[0].size() == results[1].size();
        for (size_t i = 0; close && i < results[0].size(); ++i) close = near(results[1][i], results[0][i], 1e-4);
        CHECK(close);
      }
  set_num_threads(1);
}

// Training on token ids: with input_table = E·W, the outputs equal those of x = E[ids], and the table's gradient
// gives back what x's does through the chain rule: dE = scatter(dx) = d_table·W^T and dW = E^T·d_table. Asking
// for x's gradient after a forward on ids (or the table's after one on x) throws.
void token_ids_training_matches_the_embedded_inputs() {
  const std::int64_t B = 3, T = 5, I = 4, H = 6, V = 7;
  for (const CellKind cell : {CellKind::simple_rnn, CellKind::lstm, CellKind::gru}) {
    const std::int64_t GH = gate_count(cell) * H;
    RnnConfig cfg;
    cfg.cell = cell, cfg.batch = B, cfg.time = T, cfg.input = I, cfg.units = H;
    std::vector<float> emb(V * I), kernel(I * GH), rec(H * GH), bias(2 * GH), table(V * GH, 0.0f), x(B * T * I);
    std::vector<float> d_out(B * T * H);
    std::vector<std::int64_t> ids(B * T);
    std::vector<std::uint8_t> mask(B * T);
    for (size_t i = 0; i < emb.size(); ++i) emb[i] = std::sin(0.9f * i);
    for (size_t i = 0; i < kernel.size(); ++i) kernel[i] = 0.4f * std::cos(0.7f * i);
    for (size_t i = 0; i < rec.size(); ++i) rec[i] = 0.3f * std::sin(1.1f * i + 0.2f);
    for (size_t i = 0; i < bias.size(); ++i) bias[i] = 0.05f * (i % 5);
    for (size_t i = 0; i < d_out.size(); ++i) d_out[i] = std::cos(0.3f * i);
    // Rows V-2 and V-1 are never read.
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = (i * 5 + 2) % (V - 2), mask[i] = i % 4 != 1;
    for (std::int64_t v = 0; v < V; ++v)
      for (std::int64_t k = 0; k < I; ++k)
        for (std::int64_t n = 0; n < GH; ++n) table[v * GH + n] += emb[v * I + k] * kernel[k * GH + n];
    for (std::int64_t r = 0; r < B * T; ++r)
      for (std::int64_t k = 0; k < I; ++k) x[r * I + k] = emb[ids[r] * I + k];
    RnnInputs on_x, on_ids;
    on_x.x = x.data(), on_x.kernel = kernel.data();
    on_ids.ids = ids.data(), on_ids.input_table = table.data(), on_ids.table_rows = V;
    for (RnnInputs* in : {&on_x, &on_ids})
      in->recurrent_kernel = rec.data(), in->bias = bias.data(), in->mask = mask.data();
    std::vector<float> out_x(B * T * H), out_ids(B * T * H), last(B * H), h(B * H), c(B * H);
    RnnCachePtr cache_x = rnn_forward(cfg, on_x, RnnOutputs{out_x.data(), last.data(), h.data(), c.data()}, true);
    RnnCachePtr cache_ids =
        rnn_forward(cfg, on_ids, RnnOutputs{out_ids.data(), last.data(), h.data(), c.data()}, true);
    for (std::int64_t i = 0; i < B * T * H; ++i) CHECK(near(out_ids[i], out_x[i], 1e-5));
    CHECK(cache_table_rows(*cache_ids) == V && cache_table_rows(*cache_x) == 0);
    RnnGradInputs gin;
    gin.d_outputs = d_out.data();
    std::vector<float> dx(B * T * I), dk(I * GH), drk_x(H * GH), drk_ids(H * GH), d_table(V * GH);
    RnnGradients g_x, g_ids;
    g_x.d_x = dx.data(), g_x.d_kernel = dk.data(), g_x.d_recurrent_kernel = drk_x.data();
    g_ids.d_input_table = d_table.data(), g_ids.d_recurrent_kernel = drk_ids.data();
    rnn_backward(*cache_x, gin, g_x);
    rnn_backward(*cache_ids, gin, g_ids);
    for (std::int64_t i = 0; i < H * GH; ++i) CHECK(near(drk_ids[i], drk_x[i], 1e-5));
    for (std::int64_t v = 0; v < V; ++v)
      for (std::int64_t k = 0; k < I; ++k) {
        double scattered = 0, chained = 0;
        for (std::int64_t r = 0; r < B * T; ++r) scattered += ids[r] == v ? dx[r * I + k] : 0.0;
        for (std::int64_t n = 0; n < GH; ++n) chained += double(d_table[v * GH + n]) * kernel[k * GH + n];
        CHECK(near(chained, scattered, 1e-4));
      }
    for (std::int64_t k = 0; k < I; ++k)
      for (std::int64_t n = 0; n < GH; ++n) {
        double chained = 0;
        for (std::int64_t v = 0; v < V; ++v) chained += double(emb[v * I + k]) * d_table[v * GH + n];
        CHECK(near(chained, dk[k * GH + n], 1e-4));
      }
    for (std::int64_t n = 0; n < GH; ++n) CHECK(d_table[(V - 1) * GH + n] == 0.0f);  // a row no step read
    bool refused = false;
    try {
      rnn_backward(*cache_ids, gin, g_x);
    } catch (const std::invalid_argument&) {
      refused = true;
    }
    CHECK(refused);
  }
}

void wrong_sizes_throw_invalid_argument_naming_rnn_forward() {
  RnnConfig cfg;
  cfg.batch = 0, cfg.time = 1, cfg.input = 1, cfg.units = 1;
  float v = 0;
  RnnInputs in;
  in.x = in.kernel = in.recurrent_kernel = &v;
  RnnOutputs out{&v, &v, &v, &v};
  bool named = false;
  try {
    rnn_forward(cfg, in, out, false);
  } catch (const std::invalid_argument& e) {
    named = std::string(e.what()).rfind("rnn_forward:", 0) == 0;
  }
  CHECK(named);
}

}  // namespace

int main() {
  simple_rnn_one_unit_matches_hand_computation();
  lstm_peephole_kernel_gradient_matches_finite_differences();
  wrong_sizes_throw_invalid_argument_naming_rnn_forward();
  token_ids_training_matches_the_embedded_inputs();
  threaded_time_loop_matches_one_thread();
  return rnnkit_test::failures();
}
