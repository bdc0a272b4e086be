// Minimal test harness for the C++ tests: CHECK records failures, main returns their count.
#pragma once
#include <cstdio>

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
