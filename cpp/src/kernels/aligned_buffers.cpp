#include "kernels/aligned_buffers.hpp"

#include <algorithm>
#include <new>
#include <vector>

#include "rnnkit/checked.hpp"

namespace rnnkit {

namespace {

constexpr std::int64_t kLineBytes = 64, kLineFloats = kLineBytes / std::int64_t{sizeof(float)};

// count's bytes (at least one float's), refused when they overflow.
std::int64_t bytes_for(std::int64_t count, const char* what) {
  return checked_mul(std::max<std::int64_t>(count, 1), std::int64_t{sizeof(float)}, what);
}

}  // namespace

AlignedFloats allocate_aligned(std::int64_t count, const char* what) {
  const std::int64_t bytes = (bytes_for(count, what) + kLineBytes - 1) / kLineBytes * kLineBytes;
  auto* p = static_cast<float*>(std::aligned_alloc(kLineBytes, static_cast<std::size_t>(bytes)));
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
  void* storage;
  float* data;
  std::int64_t capacity;
};

// The calling thread's released blocks, oldest first, freed when the thread ends.
struct KeptBlocks {
  std::vector<KeptBlock> blocks;
  std::int64_t bytes = 0;
  ~KeptBlocks() {
    for (const KeptBlock& block : blocks) std::free(block.storage);
  }
};

KeptBlocks& kept_blocks() {
  thread_local KeptBlocks kept;
  return kept;
}

std::int64_t bytes_of(std::int64_t floats) { return floats * std::int64_t{sizeof(float)}; }

bool kept_size(std::int64_t floats) {
  return bytes_of(floats) >= KeptFloats::kKeptMinBytes && bytes_of(floats) <= KeptFloats::kKeptMaxBytes;
}

}  // namespace

KeptFloats::KeptFloats(std::int64_t count, const char* what) {
  // Whole lines of floats; a count whose bytes overflow is refused before the rounding could overflow.
  const std::int64_t floats =
      (bytes_for(count, what) / std::int64_t{sizeof(float)} + kLineFloats - 1) / kLineFloats * kLineFloats;
  KeptBlocks& kept = kept_blocks();
  if (kept_size(floats)) {
    // The smallest kept block that fits within an eighth, so a small request never pins a large block.
    auto best = kept.blocks.end();
    for (auto it = kept.blocks.begin(); it != kept.blocks.end(); ++it)
      if (it->capacity >= floats && it->capacity - floats <= floats / 8 &&
          (best == kept.blocks.end() || it->capacity < best->capacity))
        best = it;
    if (best != kept.blocks.end()) {
      storage_ = best->storage, data_ = best->data, capacity_ = best->capacity;
      kept.bytes -= bytes_of(capacity_);
      kept.blocks.erase(best);
      return;
    }
  }
  // malloc with a line to spare rather than aligned_alloc: blocks too large to keep come from glibc at every
  // call, and its large aligned requests took fresh mappings every time (the (64,50,256,512) LSTM training step,
  // its blocks freed rather than kept: 17,000 page faults against 180 with malloc).
  storage_ = std::malloc(static_cast<std::size_t>(bytes_for(floats + kLineFloats, what)));
  if (!storage_) throw std::bad_alloc();
  const auto address = reinterpret_cast<std::uintptr_t>(storage_);
  data_ = reinterpret_cast<float*>((address + kLineBytes - 1) / kLineBytes * kLineBytes);
  capacity_ = floats;
}

KeptFloats& KeptFloats::operator=(KeptFloats&& other) noexcept {
  if (this != &other) {
    release();
    storage_ = other.storage_, data_ = other.data_, capacity_ = other.capacity_;
    other.storage_ = nullptr, other.data_ = nullptr;
  }
  return *this;
}

void KeptFloats::release() noexcept {
  if (!storage_) return;
  const KeptBlock block{storage_, data_, capacity_};
  storage_ = nullptr, data_ = nullptr;
  if (!kept_size(block.capacity)) return std::free(block.storage);
  KeptBlocks& kept = kept_blocks();
  const std::int64_t bytes = bytes_of(block.capacity);
  while (!kept.blocks.empty() && kept.bytes + bytes > kKeptMaxBytes) {
    std::free(kept.blocks.front().storage);
    kept.bytes -= bytes_of(kept.blocks.front().capacity);
    kept.blocks.erase(kept.blocks.begin());
  }
  try {
    kept.blocks.push_back(block);
    kept.bytes += bytes;
  } catch (const std::bad_alloc&) {
    std::free(block.storage);
  }
}

}  // namespace rnnkit
