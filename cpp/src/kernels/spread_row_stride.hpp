// Row strides that keep consecutive rows out of each other's L1 sets.
#pragma once
#include <cstdint>

namespace rnnkit {

// A row stride of at least `cols` floats that is an odd number of 64-byte cache lines. Rows a multiple of 1 KiB
// apart (keys turned to (d, T) at T = 256, 512...; LSTM gate gradients at 4H = 512) map to the same few L1 sets,
// so a tile reading a few dozen of them misses on every load; an odd number of lines spreads consecutive rows over
// all the sets, and is never the multiple of 1 KiB that sgemm_packed_serial packs instead of reading in place.
inline std::int64_t spread_row_stride(std::int64_t cols) {
  constexpr std::int64_t kLine = 64 / sizeof(float);
  const std::int64_t lines = (cols + kLine - 1) / kLine;
  return (lines | 1) * kLine;
}

}  // namespace rnnkit
