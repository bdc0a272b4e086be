// KeptFloats (kernels/aligned_buffers.hpp): line-aligned blocks that a thread takes back after release.
#include <cstdint>
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
  // A count whose bytes overflow 64 bits is refused, not rounded past the overflow.
  CHECK_THROWS(KeptFloats(INT64_MAX / 2, "test"));
  CHECK_THROWS(KeptFloats(INT64_MAX, "test"));
  return rnnkit_test::failures();
}
