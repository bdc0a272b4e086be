// Minimal test harness for the C++ tests: CHECK records failures, main returns their count.
#pragma once
#include <cmath>
#include <cstdio>
#include <vector>

namespace rnnkit_test {
inline int& failures() { static int n = 0; return n; }
}  // namespace rnnkit_test

#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++rnnkit_test::failures();                                                    \
    }                                                                               \
  } while (0)

#define CHECK_THROWS(expr)                     \
  do {                                         \
    bool threw_ = false;                       \
    try { expr; } catch (...) { threw_ = true; } \
    CHECK(threw_ && #expr " should throw");    \
  } while (0)

namespace rnnkit_test {
// Each element of `array` moved by +-1e-3 in turn: the central difference of loss() must match `analytic` within 2%
// of the largest difference quotient plus 1e-3 (float32 forwards, so the quotients carry ~1e-4 of rounding).
template <class Loss>
void check_gradient(std::vector<float>& array, const std::vector<float>& analytic, Loss loss) {
  std::vector<double> numeric(array.size());
  double largest = 0;
  for (std::size_t i = 0; i < array.size(); ++i) {
    const float saved = array[i];
    array[i] = saved + 1e-3f;
    const double plus = loss();
    array[i] = saved - 1e-3f;
    numeric[i] = (plus - loss()) / 2e-3;
    array[i] = saved;
    largest = std::fmax(largest, std::fabs(numeric[i]));
  }
  for (std::size_t i = 0; i < array.size(); ++i) CHECK(std::fabs(analytic[i] - numeric[i]) <= 2e-2 * largest + 1e-3);
}
}  // namespace rnnkit_test
