#include "kernels/aligned_buffers.hpp"

#include <algorithm>
#include <limits>
#include <mutex>
#include <new>
#include <vector>

#include "rnnkit/checked.hpp"

#ifdef __linux__
#include <sys/mman.h>
#endif

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

AlignedFloats allocate_random_access(std::int64_t count, const char* what) {
#ifdef __linux__
  constexpr std::int64_t kHugePageBytes = std::int64_t{2} << 20, kHugePageMinBytes = std::int64_t{4} << 20;
  const std::int64_t bytes = bytes_for(count, what);
  if (bytes >= kHugePageMinBytes && bytes <= std::numeric_limits<std::int64_t>::max() - kHugePageBytes) {
    const std::int64_t rounded = (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
    auto* p = static_cast<float*>(std::aligned_alloc(kHugePageBytes, static_cast<std::size_t>(rounded)));
    if (!p) throw std::bad_alloc();
    madvise(p, static_cast<std::size_t>(rounded), MADV_HUGEPAGE);  // advice only: ignored where THP is off
    return AlignedFloats(p);
  }
#endif
  return allocate_aligned(count, what);
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

}  // namespace

// One thread's released blocks, oldest first. Locked: a block goes back to the pool of the thread that allocated
// it, whichever thread releases it. Freed when the thread has ended and no block of its is still out.
struct KeptPool {
  std::mutex lock;
  std::vector<KeptBlock> blocks;
  std::int64_t bytes = 0;
  ~KeptPool() {
    for (const KeptBlock& block : blocks) std::free(block.storage);
  }
};

namespace {

const std::shared_ptr<KeptPool>& own_pool() {
  thread_local const std::shared_ptr<KeptPool> pool = std::make_shared<KeptPool>();
  return pool;
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
  if (kept_size(floats)) {
    home_ = own_pool();
    const std::lock_guard<std::mutex> hold(home_->lock);
    std::vector<KeptBlock>& blocks = home_->blocks;
    // The smallest kept block that fits within an eighth, so a small request never pins a large block.
    auto best = blocks.end();
    for (auto it = blocks.begin(); it != blocks.end(); ++it)
      if (it->capacity >= floats && it->capacity - floats <= floats / 8 &&
          (best == blocks.end() || it->capacity < best->capacity))
        best = it;
    if (best != blocks.end()) {
      storage_ = best->storage, data_ = best->data, capacity_ = best->capacity;
      home_->bytes -= bytes_of(capacity_);
      blocks.erase(best);
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

KeptFloats::KeptFloats(KeptFloats&& other) noexcept
    : storage_(other.storage_), data_(other.data_), capacity_(other.capacity_), home_(std::move(other.home_)) {
  other.storage_ = nullptr, other.data_ = nullptr;
}

KeptFloats::~KeptFloats() { release(); }

KeptFloats& KeptFloats::operator=(KeptFloats&& other) noexcept {
  if (this != &other) {
    release();
    storage_ = other.storage_, data_ = other.data_, capacity_ = other.capacity_, home_ = std::move(other.home_);
    other.storage_ = nullptr, other.data_ = nullptr;
  }
  return *this;
}

void KeptFloats::release() noexcept {
  if (!storage_) return;
  const KeptBlock block{storage_, data_, capacity_};
  storage_ = nullptr, data_ = nullptr;
  const std::shared_ptr<KeptPool> home = std::move(home_);
  if (!home) return std::free(block.storage);
  const std::lock_guard<std::mutex> hold(home->lock);
  const std::int64_t bytes = bytes_of(block.capacity);
  while (!home->blocks.empty() && home->bytes + bytes > kKeptMaxBytes) {
    std::free(home->blocks.front().storage);
    home->bytes -= bytes_of(home->blocks.front().capacity);
    home->blocks.erase(home->blocks.begin());
  }
  try {
    home->blocks.push_back(block);
    home->bytes += bytes;
  } catch (const std::bad_alloc&) {
    std::free(block.storage);
  }
}

}  // namespace rnnkit
