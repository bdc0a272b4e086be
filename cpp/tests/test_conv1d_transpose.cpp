// conv1d_transpose_forward against a direct double loop over the definition (each input step scatters its kernel
// taps into the output, then Keras' crop), its backward against central differences of the forward (sum of outputs
// times fixed weights), and Keras' output lengths, over valid/same with and without output_padding, strides and
// dilation. Tolerances: 1e-5 forward, 2% of the largest gradient plus 1e-3 for eps = 1e-3 in float32.
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"
#include "rnnkit/layer_ops.hpp"

namespace {

using Floats = std::vector<float>;
constexpr std::int64_t kBatch = 2, kSteps = 5, kChannels = 3, kFilters = 2;

struct Case {
  std::int64_t size, stride, dilation;
  const char* padding;
  std::int64_t output_padding;  // < 0: Keras' None
  std::int64_t expected_steps;  // Keras' compute_conv_transpose_output_shape
};

Floats random_floats(std::size_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Floats v(n);
  for (float& f : v) f = normal(rng);
  return v;
}

double projected(const Floats& x, const Floats& kernel, const Floats& bias, const rnnkit::TransposedWindow1d& w,
                 const Floats& r) {
  Floats y(static_cast<std::size_t>(kBatch * w.steps * kFilters));
  rnnkit::conv1d_transpose_forward(x.data(), kernel.data(), bias.data(), kBatch, kChannels, kFilters, w, y.data());
  double total = 0;
  for (std::size_t i = 0; i < y.size(); ++i) total += double(y[i]) * r[i];
  return total;
}

// Full scatter of length (steps - 1) * stride + span, then the output reads it from pad_left on (zeros past it).
std::vector<double> scattered(const Floats& x, const Floats& kernel, const Floats& bias, const Case& c,
                              const rnnkit::TransposedWindow1d& w) {
  const std::int64_t full = (kSteps - 1) * c.stride + c.dilation * (c.size - 1) + 1;
  std::vector<double> y(static_cast<std::size_t>(kBatch * w.steps * kFilters));
  for (std::int64_t b = 0; b < kBatch; ++b)
    for (std::int64_t p = 0; p < w.steps; ++p)
      for (std::int64_t f = 0; f < kFilters; ++f) y[(b * w.steps + p) * kFilters + f] = bias[f];
  for (std::int64_t b = 0; b < kBatch; ++b)
    for (std::int64_t i = 0; i < kSteps; ++i)
      for (std::int64_t k = 0; k < c.size; ++k) {
        const std::int64_t q = i * c.stride + k * c.dilation, p = q - w.conv.pad_left;
        CHECK(q < full);
        if (p < 0 || p >= w.steps) continue;
        for (std::int64_t f = 0; f < kFilters; ++f)
          for (std::int64_t ch = 0; ch < kChannels; ++ch)
            y[(b * w.steps + p) * kFilters + f] +=
                double(x[(b * kSteps + i) * kChannels + ch]) * kernel[(k * kFilters + f) * kChannels + ch];
      }
  return y;
}

void test_case(const Case& c, std::mt19937& rng) {
  const rnnkit::TransposedWindow1d w =
      rnnkit::conv1d_transpose_window(kSteps, c.size, c.stride, c.dilation, c.padding, c.output_padding);
  CHECK(w.steps == c.expected_steps);
  Floats x = random_floats(kBatch * kSteps * kChannels, rng);
  Floats kernel = random_floats(c.size * kFilters * kChannels, rng), bias = random_floats(kFilters, rng);
  Floats r = random_floats(kBatch * w.steps * kFilters, rng);
  Floats y(r.size());
  rnnkit::conv1d_transpose_forward(x.data(), kernel.data(), bias.data(), kBatch, kChannels, kFilters, w, y.data());
  const std::vector<double> expected = scattered(x, kernel, bias, c, w);
  for (std::size_t i = 0; i < y.size(); ++i) CHECK(std::fabs(y[i] - expected[i]) < 1e-5);
  Floats dx(x.size()), dk(kernel.size()), db(bias.size());
  rnnkit::conv1d_transpose_backward(x.data(), kernel.data(), r.data(), kBatch, kChannels, kFilters, w, dx.data(),
                                    dk.data(), db.data());
  const auto loss = [&] { return projected(x, kernel, bias, w, r); };
  rnnkit_test::check_gradient(x, dx, loss);
  rnnkit_test::check_gradient(kernel, dk, loss);
  rnnkit_test::check_gradient(bias, db, loss);
}

void test_bad_arguments() {
  bool threw = false;
  try {
    rnnkit::conv1d_transpose_window(kSteps, 3, 2, 1, "same", 2);  // output_padding must stay below the stride
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
  threw = false;
  try {
    rnnkit::conv1d_transpose_window(kSteps, 3, 1, 1, "causal", -1);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
}

}  // namespace

int main() {
  std::mt19937 rng(5);
  // Expected lengths: valid (n-1)s + span + op (op None: max(span, s) - span); same n*s (None) or
  // (n-1)s + span%2 + op.
  const Case cases[] = {{3, 1, 1, "valid", -1, 7}, {3, 2, 1, "valid", -1, 11}, {2, 3, 1, "valid", -1, 15},
                        {3, 2, 1, "valid", 1, 12},  {3, 1, 2, "valid", -1, 9},  {3, 1, 1, "same", -1, 5},
                        {3, 2, 1, "same", -1, 10},  {4, 2, 1, "same", -1, 10},  {3, 2, 1, "same", 0, 9},
                        {4, 3, 1, "same", 2, 14},   {1, 1, 1, "same", 0, 5},    {3, 1, 2, "same", -1, 5},
                        {2, 1, 3, "same", 0, 4}};
  for (const Case& c : cases) test_case(c, rng);
  test_bad_arguments();
  return rnnkit_test::failures();
}
