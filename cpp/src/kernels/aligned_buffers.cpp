#include "kernels/aligned_buffers.hpp"

#include <algorithm>
#include <new>
#include <vector>

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

namespace {

struct KeptBlock {
  float* data;
  std::int64_t capacity;
};

// The calling thread's released blocks, oldest first, freed when the thread ends.
struct KeptBlocks {
  std::vector<KeptBlock> blocks;
  std::int64_t bytes = 0;
  ~KeptBlocks() {
    for (const KeptBlock& block : blocks) std::free(block.data);
  }
};

KeptBlocks& kept_blocks() {
  thread_local KeptBlocks kept;
  return kept;
}

std::int64_t bytes_of(std::int64_t floats) { return floats * std::int64_t{sizeof(float)}; }

}  // namespace

KeptFloats::KeptFloats(std::int64_t count, const char* what) {
  const std::int64_t floats = (std::max<std::int64_t>(count, 1) + 15) / 16 * 16;
  KeptBlocks& kept = kept_blocks();
  if (bytes_of(floats) >= kKeptMinBytes) {
    // The smallest kept block that fits within an eighth, so a small request never pins a large block.
    auto best = kept.blocks.end();
    for (auto it = kept.blocks.begin(); it != kept.blocks.end(); ++it)
      if (it->capacity >= floats && it->capacity - floats <= floats / 8 &&
          (best == kept.blocks.end() || it->capacity < best->capacity))
        best = it;
    if (best != kept.blocks.end()) {
      data_ = best->data, capacity_ = best->capacity;
      kept.bytes -= bytes_of(capacity_);
      kept.blocks.erase(best);
      return;
    }
  }
  data_ = allocate_aligned(floats, what).release();
  capacity_ = floats;
}

KeptFloats& KeptFloats::operator=(KeptFloats&& other) noexcept {
  if (this != &other) {
    release();
    data_ = other.data_, capacity_ = other.capacity_;
    other.data_ = nullptr;
  }
  return *this;
}

void KeptFloats::release() noexcept {
  if (!data_) return;
  float* data = data_;
  data_ = nullptr;
  const std::int64_t bytes = bytes_of(capacity_);
  if (bytes < kKeptMinBytes || bytes > kKeptMaxBytes) return std::free(data);
  KeptBlocks& kept = kept_blocks();
  while (!kept.blocks.empty() && kept.bytes + bytes > kKeptMaxBytes) {
    std::free(kept.blocks.front().data);
    kept.bytes -= bytes_of(kept.blocks.front().capacity);
    kept.blocks.erase(kept.blocks.begin());
  }
  try {
    kept.blocks.push_back({data, capacity_});
    kept.bytes += bytes;
  } catch (const std::bad_alloc&) {
    std::free(data);
  }
}

}  // namespace rnnkit
