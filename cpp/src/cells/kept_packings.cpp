#include "kept_packings.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

namespace rnnkit::cells {

namespace {

struct KeptPacking {
  PackingLayout layout{};
  std::vector<float> source;
  PackedMatrix packed;
  std::uint64_t last_use = 0;
};

// A few, so that a Bidirectional layer or a stack of recurrent layers, each with its own U, keeps all of them.
constexpr int kKeptPackings = 4;

}  // namespace

const PackedMatrix& kept_packing(const float* U, std::int64_t count, const PackingLayout& layout,
                                 const std::function<PackedMatrix()>& pack) {
  thread_local std::array<KeptPacking, kKeptPackings> kept;
  thread_local std::uint64_t uses = 0;
  for (KeptPacking& entry : kept)
    if (entry.layout == layout && static_cast<std::int64_t>(entry.source.size()) == count &&
        std::memcmp(entry.source.data(), U, sizeof(float) * count) == 0) {
      entry.last_use = ++uses;
      return entry.packed;
    }
  KeptPacking& oldest = *std::min_element(kept.begin(), kept.end(), [](const KeptPacking& a, const KeptPacking& b) {
    return a.last_use < b.last_use;
  });
  oldest.packed = pack();
  oldest.source.assign(U, U + count);
  oldest.layout = layout;
  oldest.last_use = ++uses;
  return oldest.packed;
}

}  // namespace rnnkit::cells
