// KeptFloats (kernels/aligned_buffers.hpp): line-aligned blocks that a thread takes back after release.
#include <cstdint>
#include <future>
#include <thread>
#include <utility>
#include "check.hpp"
#include "kernels/aligned_buffers.hpp"

namespace {

using rnnkit::KeptFloats;

bool line_aligned(const float* p) { return reinterpret_cast<std::uintptr_t>(p) % 64 == 0; }

constexpr std::int64_t kLarge = KeptFloats::kKeptMinBytes / 4 * 3;  // floats: 192 KB

}  // namespace

int main() {
  float* first = nullptr;
  {
    KeptFloats block(kLarge, "test");
    first = block.get();
    CHECK(line_aligned(first));
    first[kLarge - 1] = 1.f;  // the whole count is usable
  }
  {
    // Released, the block comes back to a request it fits within an eighth, not to a far smaller one.
    KeptFloats small(kLarge / 2, "test");
    CHECK(small.get() != first);
    CHECK(line_aligned(small.get()));
    KeptFloats again(kLarge - kLarge / 16, "test");
    CHECK(again.get() == first);
  }
  {
    KeptFloats larger(kLarge + 16, "test");  // does not fit the kept block
    CHECK(larger.get() != first);
    KeptFloats moved = std::move(larger);  // a moved block is released once, by its new owner
    CHECK(moved.get() != nullptr && larger.get() == nullptr);
  }
  // Another thread keeps blocks of its own.
  float* other = nullptr;
  std::thread([&] { other = KeptFloats(kLarge, "test").get(); }).join();
  CHECK(other != nullptr);
  KeptFloats mine(kLarge, "test");
  CHECK(mine.get() == first);
  // A block goes back to the thread that allocated it, not to the one that releases it.
  {
    std::promise<KeptFloats> made;
    std::promise<void> released;
    std::future<KeptFloats> handed = made.get_future();
    std::future<void> done = released.get_future();
    float* worker_first = nullptr;
    float* worker_again = nullptr;
    std::thread worker([&] {
      KeptFloats block(kLarge, "test");
      worker_first = block.get();
      made.set_value(std::move(block));
      done.wait();
      worker_again = KeptFloats(kLarge, "test").get();
    });
    {
      KeptFloats block = handed.get();
      CHECK(block.get() == worker_first);
    }
    KeptFloats main_block(kLarge, "test");  // not the worker's block, released here a moment ago
    CHECK(main_block.get() != worker_first);
    released.set_value();
    worker.join();
    CHECK(worker_again == worker_first);
  }
  // A block outlives the thread that allocated it, and is freed when released.
  {
    std::promise<KeptFloats> made;
    std::future<KeptFloats> handed = made.get_future();
    std::thread([&] { made.set_value(KeptFloats(kLarge, "test")); }).join();
    KeptFloats orphan = handed.get();
    orphan.get()[kLarge - 1] = 2.f;
  }
  // A count whose bytes overflow 64 bits is refused, not rounded past the overflow.
  CHECK_THROWS(KeptFloats(INT64_MAX / 2, "test"));
  CHECK_THROWS(KeptFloats(INT64_MAX, "test"));
  return rnnkit_test::failures();
}
