// group_norm_forward against a double computation of each (sample, group)'s mean and biased variance, and
// group_norm_backward against central differences of the forward (sum of outputs times fixed weights).
// Tolerances: 1e-5 forward, 2% of the largest gradient plus 1e-3 for eps = 1e-3 in float32.
#include <cmath>
#include <random>
#include <vector>

#include "check.hpp"
#include "rnnkit/layer_ops.hpp"

namespace {

using Floats = std::vector<float>;
constexpr std::int64_t kBatch = 3, kPositions = 5, kChannels = 6, kGroups = 3, kWidth = kChannels / kGroups;
constexpr float kEpsilon = 1e-3f;

double projected(const Floats& x, const Floats& gamma, const Floats& beta, const Floats& r) {
  Floats y(x.size());
  rnnkit::group_norm_forward(x.data(), gamma.data(), beta.data(), kBatch, kPositions, kChannels, kGroups, kEpsilon,
                             y.data(), nullptr, nullptr);
  double total = 0;
  for (std::size_t i = 0; i < y.size(); ++i) total += double(y[i]) * r[i];
  return total;
}

void test_forward_and_backward() {
  std::mt19937 rng(9);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto draw = [&](std::size_t n) {
    Floats v(n);
    for (float& f : v) f = normal(rng);
    return v;
  };
  Floats x = draw(kBatch * kPositions * kChannels), gamma = draw(kChannels), beta = draw(kChannels), r = draw(x.size());
  Floats y(x.size()), mean(kBatch * kGroups), inv_std(kBatch * kGroups);
  rnnkit::group_norm_forward(x.data(), gamma.data(), beta.data(), kBatch, kPositions, kChannels, kGroups, kEpsilon,
                             y.data(), mean.data(), inv_std.data());
  for (std::int64_t b = 0; b < kBatch; ++b)
    for (std::int64_t g = 0; g < kGroups; ++g) {
      double sum = 0, squares = 0;
      for (std::int64_t n = 0; n < kPositions; ++n)
        for (std::int64_t c = g * kWidth; c < (g + 1) * kWidth; ++c) sum += x[(b * kPositions + n) * kChannels + c];
      const double mu = sum / (kPositions * kWidth);
      for (std::int64_t n = 0; n < kPositions; ++n)
        for (std::int64_t c = g * kWidth; c < (g + 1) * kWidth; ++c) {
          const double d = x[(b * kPositions + n) * kChannels + c] - mu;
          squares += d * d;
        }
      const double inv = 1.0 / std::sqrt(squares / (kPositions * kWidth) + kEpsilon);
      for (std::int64_t n = 0; n < kPositions; ++n)
        for (std::int64_t c = g * kWidth; c < (g + 1) * kWidth; ++c) {
          const std::int64_t i = (b * kPositions + n) * kChannels + c;
          CHECK(std::fabs(y[i] - ((x[i] - mu) * inv * gamma[c] + beta[c])) < 1e-5);
        }
    }
  Floats dx(x.size()), dg(kChannels), db(kChannels);
  rnnkit::group_norm_backward(x.data(), gamma.data(), mean.data(), inv_std.data(), r.data(), kBatch, kPositions,
                              kChannels, kGroups, dx.data(), dg.data(), db.data());
  const auto loss = [&] { return projected(x, gamma, beta, r); };
  rnnkit_test::check_gradient(x, dx, loss);
  rnnkit_test::check_gradient(gamma, dg, loss);
  rnnkit_test::check_gradient(beta, db, loss);
  CHECK_THROWS(rnnkit::group_norm_forward(x.data(), nullptr, nullptr, kBatch, kPositions, kChannels, 4, kEpsilon,
                                          y.data(), nullptr, nullptr));
}

}  // namespace

int main() {
  test_forward_and_backward();
  return rnnkit_test::failures();
}
