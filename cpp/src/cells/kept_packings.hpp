// Packings of a recurrent kernel that the calling thread keeps between inference calls (kept_packing).
//
// Inference packs U into the microkernel's interleaved layout at every call; for short sequences that packing is a
// large part of the call (batch 1, T = 10, H = 128, LSTM: ~28 us of ~80). Each thread keeps its last few packings,
// each with a copy of the U it came from, and a call whose U has the same bytes and layout takes that packing
// instead of making one. The bytes are compared, not the pointer: weights are updated in place between calls.
#pragma once
#include <cstdint>
#include <functional>

#include "rnnkit/gemm.hpp"

namespace rnnkit::cells {

// What besides U's bytes decides the packing: the ISA it was packed for, and sequence.cpp's interleaving.
struct PackingLayout {
  Isa isa;
  std::int64_t units, width;
  int gates;
  bool operator==(const PackingLayout& other) const {
    return isa == other.isa && units == other.units && width == other.width && gates == other.gates;
  }
};

// U's kept packing when this thread packed the same `count` floats of U with the same layout among its last few
// packings, else pack()'s result, kept. Valid until this thread's next call. Only for U of at most this many bytes:
// beyond, a call is long enough that packing is a small part of it, and the copies would hold megabytes.
constexpr std::int64_t kMaxKeptPackingBytes = 1024 * 1024;
const PackedMatrix& kept_packing(const float* U, std::int64_t count, const PackingLayout& layout,
                                 const std::function<PackedMatrix()>& pack);

}  // namespace rnnkit::cells
