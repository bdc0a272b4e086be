// Asks the cache for a row of floats ahead of its use: rows a few cache lines long that lie far apart (a step's
// rows of a (B, T, H) array, a head's rows of a fused projection) are too short for the hardware prefetchers
// to find, so without it every row's first loads wait for memory. Forced inline: GCC finds a function of nothing
// but prefetches pure, and then deletes the calls to it as having no effect.
#pragma once
#include <cstdint>

namespace rnnkit {

[[gnu::always_inline]] inline void prefetch_row(const float* row, std::int64_t cols, bool for_write) {
  for (std::int64_t c = 0; c < cols; c += 16)  // one 64-byte line per 16 floats
    for_write ? __builtin_prefetch(row + c, 1) : __builtin_prefetch(row + c, 0);
}

}  // namespace rnnkit
