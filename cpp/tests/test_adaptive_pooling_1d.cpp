// adaptive_{average,max}_pool_1d against bins recomputed in double from their definition (floor and ceil of the real
// bounds t * steps / steps_out), and both backwards against central differences of their forwards. Shapes cover
// fewer, equal and more output steps than input steps (overlapping and repeated bins). Tolerances: 1e-6 forward,
// 1e-3 for the differences of eps = 1e-3 (away from ties: the inputs are distinct values).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "check.hpp"
#include "rnnkit/layer_ops.hpp"

namespace {

using Floats = std::vector<float>;
constexpr std::int64_t kBatch = 2, kChannels = 3;

void forward(bool max, const Floats& x, std::int64_t steps, std::int64_t steps_out, Floats& y,
             std::vector<std::int64_t>* argmax) {
  y.assign(kBatch * steps_out * kChannels, 0.0f);
  if (max)
    rnnkit::adaptive_max_pool_1d_forward(x.data(), kBatch, steps, kChannels, steps_out, y.data(),
                                         argmax ? argmax->data() : nullptr);
  else
    rnnkit::adaptive_average_pool_1d_forward(x.data(), kBatch, steps, kChannels, steps_out, y.data());
}

void test_case(bool max, std::int64_t steps, std::int64_t steps_out) {
  Floats x(kBatch * steps * kChannels);
  std::iota(x.begin(), x.end(), 0.0f);
  std::shuffle(x.begin(), x.end(), std::mt19937(static_cast<unsigned>(steps * 31 + steps_out)));
  for (float& v : x) v = v * 0.37f - 2.0f;  // distinct, so every maximum is away from a tie
  Floats y, r(kBatch * steps_out * kChannels);
  std::vector<std::int64_t> argmax(r.size());
  forward(max, x, steps, steps_out, y, &argmax);
  for (std::int64_t b = 0; b < kBatch; ++b)
    for (std::int64_t t = 0; t < steps_out; ++t) {
      const auto first = static_cast<std::int64_t>(std::floor(double(t) * steps / steps_out));
      const auto last = static_cast<std::int64_t>(std::ceil(double(t + 1) * steps / steps_out));
      for (std::int64_t c = 0; c < kChannels; ++c) {
        double sum = 0, best = -INFINITY;
        for (std::int64_t s = first; s < last; ++s) {
          sum += x[(b * steps + s) * kChannels + c];
          best = std::max(best, double(x[(b * steps + s) * kChannels + c]));
        }
        const double expected = max ? best : sum / double(last - first);
        CHECK(std::fabs(y[(b * steps_out + t) * kChannels + c] - expected) <= 1e-6 * (1 + std::fabs(expected)));
      }
    }
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : r) v = normal(rng);
  Floats dx(x.size());
  if (max)
    rnnkit::adaptive_max_pool_1d_backward(r.data(), argmax.data(), kBatch, steps, kChannels, steps_out, dx.data());
  else
    rnnkit::adaptive_average_pool_1d_backward(r.data(), kBatch, steps, kChannels, steps_out, dx.data());
  const auto projected = [&]() {
    forward(max, x, steps, steps_out, y, nullptr);
    double total = 0;
    for (std::size_t i = 0; i < y.size(); ++i) total += double(y[i]) * r[i];
    return total;
  };
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float saved = x[i];
    x[i] = saved + 1e-3f;
    const double plus = projected();
    x[i] = saved - 1e-3f;
    const double numeric = (plus - projected()) / 2e-3;
    x[i] = saved;
    CHECK(std::fabs(dx[i] - numeric) <= 1e-3 * (1 + std::fabs(numeric)));
  }
}

void test_errors() {
  Floats x(kBatch * 4 * kChannels), y(kBatch * 2 * kChannels);
  CHECK_THROWS(rnnkit::adaptive_average_pool_1d_forward(x.data(), kBatch, 4, kChannels, 0, y.data()));
  CHECK_THROWS(rnnkit::adaptive_max_pool_1d_forward(x.data(), kBatch, 0, kChannels, 2, y.data(), nullptr));
  std::vector<std::int64_t> outside(y.size(), 4);
  CHECK_THROWS(rnnkit::adaptive_max_pool_1d_backward(y.data(), outside.data(), kBatch, 4, kChannels, 2, x.data()));
}

}  // namespace

int main() {
  for (bool max : {false, true})
    for (auto [steps, steps_out] : {std::pair<std::int64_t, std::int64_t>{10, 4}, {7, 3}, {5, 5}, {3, 7}, {6, 1}})
      test_case(max, steps, steps_out);
  test_errors();
  return rnnkit_test::failures();
}
