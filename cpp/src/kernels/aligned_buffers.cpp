#include "kernels/aligned_buffers.hpp"

#include <algorithm>
#include <new>

#include "rnnkit/checked.hpp"

namespace rnnkit {

AlignedFloats allocate_aligned(std::int64_t count, const char* what) {
  const std::int64_t bytes =
      (checked_mul(std::max<std::int64_t>(count, 1), std::int64_t{sizeof(float)}, what) + 63) / 64 * 64;
  auto* p = static_cast<float*>(std::aligned_alloc(64, static_cast<std::size_t>(bytes)));
  if (!p) throw std::bad_alloc();
  return AlignedFloats(p);
}

float* thread_scratch(ScratchSlot slot, std::int64_t count, const char* what) {
  constexpr int kSlots = static_cast<int>(ScratchSlot::count);
  thread_local AlignedFloats buffers[kSlots];
  thread_local std::int64_t capacity[kSlots] = {};
  const int i = static_cast<int>(slot);
  if (count > capacity[i]) {
    buffers[i].reset();  // the old buffer goes first: the peak stays one buffer
    buffers[i] = allocate_aligned(count, what);
    capacity[i] = count;
  }
  return buffers[i].get();
}

}  // namespace rnnkit
