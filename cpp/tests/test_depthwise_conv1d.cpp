// depthwise_conv1d_forward against a direct double loop over Keras' definition, and its backward against central
// differences of the forward (sum of outputs times fixed weights), on "same" padding with dilation and a
// multiplier of 2. Tolerances: 1e-5 forward, 2% of the largest gradient plus 1e-3 for eps = 1e-3 in float32.
#include <cmath>
#include <random>
#include <vector>

#include "check.hpp"
#include "rnnkit/layer_ops.hpp"

namespace {

using Floats = std::vector<float>;
constexpr std::int64_t kBatch = 2, kSteps = 7, kChannels = 3, kMultiplier = 2, kSize = 3, kWidth = 6;

Floats random_floats(std::size_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Floats v(n);
  for (float& f : v) f = normal(rng);
  return v;
}

double projected(const Floats& x, const Floats& kernel, const Floats& bias, const rnnkit::Window1d& w,
                 const Floats& r) {
  Floats y(static_cast<std::size_t>(kBatch * w.steps_out * kWidth));
  rnnkit::depthwise_conv1d_forward(x.data(), kernel.data(), bias.data(), kBatch, kSteps, kChannels, kMultiplier, w,
                                   y.data());
  double total = 0;
  for (std::size_t i = 0; i < y.size(); ++i) total += double(y[i]) * r[i];
  return total;
}

void test_forward_and_backward() {
  std::mt19937 rng(3);
  const rnnkit::Window1d w = rnnkit::window_1d(kSteps, kSize, 1, 2, "same");
  Floats x = random_floats(kBatch * kSteps * kChannels, rng), kernel = random_floats(kSize * kWidth, rng),
         bias = random_floats(kWidth, rng), r = random_floats(kBatch * w.steps_out * kWidth, rng);
  Floats y(r.size());
  rnnkit::depthwise_conv1d_forward(x.data(), kernel.data(), bias.data(), kBatch, kSteps, kChannels, kMultiplier, w,
                                   y.data());
  for (std::int64_t b = 0; b < kBatch; ++b)
    for (std::int64_t t = 0; t < w.steps_out; ++t)
      for (std::int64_t c = 0; c < kChannels; ++c)
        for (std::int64_t j = 0; j < kMultiplier; ++j) {
          double expected = bias[c * kMultiplier + j];
          for (std::int64_t k = 0; k < kSize; ++k) {
            const std::int64_t s = t - w.pad_left + 2 * k;
            if (s >= 0 && s < kSteps)
              expected += double(x[(b * kSteps + s) * kChannels + c]) * kernel[k * kWidth + c * kMultiplier + j];
          }
          CHECK(std::fabs(y[(b * w.steps_out + t) * kWidth + c * kMultiplier + j] - expected) < 1e-5);
        }
  Floats dx(x.size()), dk(kernel.size()), db(bias.size());
  rnnkit::depthwise_conv1d_backward(x.data(), kernel.data(), r.data(), kBatch, kSteps, kChannels, kMultiplier, w,
                                    dx.data(), dk.data(), db.data());
  const auto loss = [&] { return projected(x, kernel, bias, w, r); };
  rnnkit_test::check_gradient(x, dx, loss);
  rnnkit_test::check_gradient(kernel, dk, loss);
  rnnkit_test::check_gradient(bias, db, loss);
}

}  // namespace

int main() {
  test_forward_and_backward();
  return rnnkit_test::failures();
}
