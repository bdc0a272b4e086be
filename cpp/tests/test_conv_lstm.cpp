// conv_lstm_backward against central differences of conv_lstm_forward (float32 forward, loss summed in double),
// on a 2-D ConvLSTM with "same" padding, an even kernel axis, go_backwards and initial states: every gradient the
// backward writes. Tolerance 2% of the largest entry plus 1e-3 (eps 1e-3 on float32 sums).
#include <cmath>
#include <random>
#include <vector>

#include "check.hpp"
#include "rnnkit/conv_lstm.hpp"

namespace {

using Floats = std::vector<float>;

struct Problem {
  rnnkit::ConvLstmConfig cfg;
  Floats x, kernel, recurrent, bias, h0, c0, p_out, p_h, p_c;
};

Floats random_floats(std::size_t n, float scale, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, scale);
  Floats v(n);
  for (float& f : v) f = normal(rng);
  return v;
}

Problem make_problem() {
  Problem p;
  auto& c = p.cfg;
  c.batch = 2, c.time = 3, c.channels = 2, c.filters = 3, c.go_backwards = true;
  c.input_sizes = {5, 4};
  c.windows = {rnnkit::window_1d(5, 3, 1, 1, "same"), rnnkit::window_1d(4, 2, 1, 1, "same")};
  std::mt19937 rng(5);
  const std::size_t taps = 6, states = 2 * 5 * 4 * 3;
  p.x = random_floats(2 * 3 * 5 * 4 * 2, 1.0f, rng);
  p.kernel = random_floats(taps * 2 * 12, 0.4f, rng);
  p.recurrent = random_floats(taps * 3 * 12, 0.4f, rng);
  p.bias = random_floats(12, 0.1f, rng);
  p.h0 = random_floats(states, 0.5f, rng);
  p.c0 = random_floats(states, 0.5f, rng);
  p.p_out = random_floats(3 * states, 1.0f, rng);
  p.p_h = random_floats(states, 1.0f, rng);
  p.p_c = random_floats(states, 1.0f, rng);
  return p;
}

double loss(const Problem& p) {
  Floats outputs(p.p_out.size()), h(p.p_h.size()), c(p.p_c.size());
  rnnkit::conv_lstm_forward(p.cfg,
                            {p.x.data(), p.kernel.data(), p.recurrent.data(), p.bias.data(), p.h0.data(), p.c0.data()},
                            {outputs.data(), h.data(), c.data()}, false);
  double total = 0;
  for (std::size_t i = 0; i < outputs.size(); ++i) total += double(outputs[i]) * p.p_out[i];
  for (std::size_t i = 0; i < h.size(); ++i) total += double(h[i]) * p.p_h[i] + double(c[i]) * p.p_c[i];
  return total;
}

void check_against_differences(Problem& p, Floats& array, const Floats& analytic) {
  constexpr float eps = 1e-3f;
  std::vector<double> numeric(array.size());
  double largest = 0;
  for (std::size_t i = 0; i < array.size(); ++i) {
    const float original = array[i];
    array[i] = original + eps;
    const double plus = loss(p);
    array[i] = original - eps;
    const double minus = loss(p);
    array[i] = original;
    numeric[i] = (plus - minus) / (2 * eps);
    largest = std::fmax(largest, std::fabs(numeric[i]));
  }
  for (std::size_t i = 0; i < array.size(); ++i) CHECK(std::fabs(analytic[i] - numeric[i]) <= 2e-2 * largest + 1e-3);
}

void test_backward_matches_central_differences() {
  Problem p = make_problem();
  Floats outputs(p.p_out.size()), h(p.p_h.size()), c(p.p_c.size());
  const auto cache = rnnkit::conv_lstm_forward(
      p.cfg, {p.x.data(), p.kernel.data(), p.recurrent.data(), p.bias.data(), p.h0.data(), p.c0.data()},
      {outputs.data(), h.data(), c.data()}, true);
  CHECK(cache != nullptr);
  Floats dx(p.x.size()), dk(p.kernel.size()), du(p.recurrent.size()), db(p.bias.size()), dh0(p.h0.size()),
      dc0(p.c0.size());
  rnnkit::conv_lstm_backward(*cache, {p.p_out.data(), p.p_h.data(), p.p_c.data()},
                             {dx.data(), dk.data(), du.data(), db.data(), dh0.data(), dc0.data()});
  check_against_differences(p, p.x, dx);
  check_against_differences(p, p.kernel, dk);
  check_against_differences(p, p.recurrent, du);
  check_against_differences(p, p.bias, db);
  check_against_differences(p, p.h0, dh0);
  check_against_differences(p, p.c0, dc0);
}

void test_an_empty_batch_has_zero_weight_gradients() {
  Problem p = make_problem();
  p.cfg.batch = 0;
  const auto cache = rnnkit::conv_lstm_forward(p.cfg, {p.x.data(), p.kernel.data(), p.recurrent.data(), p.bias.data()},
                                               {}, true);
  Floats dk(p.kernel.size(), 1.0f), db(p.bias.size(), 1.0f);
  rnnkit::conv_lstm_backward(*cache, {}, {nullptr, dk.data(), nullptr, db.data()});
  for (float v : dk) CHECK(v == 0.0f);
  for (float v : db) CHECK(v == 0.0f);
}

void test_bad_configurations_are_refused() {
  Problem p = make_problem();
  Floats out(p.p_out.size());
  const rnnkit::ConvLstmInputs in{p.x.data(), p.kernel.data(), p.recurrent.data(), nullptr, nullptr, nullptr};
  rnnkit::ConvLstmConfig no_axes = p.cfg;
  no_axes.input_sizes.clear(), no_axes.windows.clear();
  CHECK_THROWS(rnnkit::conv_lstm_forward(no_axes, in, {out.data(), nullptr, nullptr}, false));
  rnnkit::ConvLstmConfig too_small = p.cfg;
  too_small.windows[0] = rnnkit::window_1d(5, 7, 1, 1, "valid");
  CHECK_THROWS(rnnkit::conv_lstm_forward(too_small, in, {out.data(), nullptr, nullptr}, false));
  CHECK_THROWS(rnnkit::conv_lstm_forward(p.cfg, {p.x.data(), nullptr, p.recurrent.data()}, {}, false));
}

}  // namespace

int main() {
  test_backward_matches_central_differences();
  test_an_empty_batch_has_zero_weight_gradients();
  test_bad_configurations_are_refused();
  return rnnkit_test::failures();
}
