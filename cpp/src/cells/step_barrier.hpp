// The barrier a recurrent loop's threads meet at once per step when the batch is too small to split by rows.
// Not `omp barrier`: under OMP_WAIT_POLICY=passive (sensible on shared machines) libgomp's waiting threads go
// to sleep in the kernel at once, and a futex wake-up every step costs more than a batch-1 step's product.
// This one spins with the CPU's pause hint for a few microseconds (a step's imbalance between threads), then
// yields the core at every check: when the machine has more runnable threads than cores, a long spin would take
// the time slice the late thread needs (the trouble OMP_WAIT_POLICY=passive avoids in libgomp).
#pragma once
#include <atomic>
#include <thread>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace rnnkit::cells {

class StepBarrier {
 public:
  // Returns once all `team_size` threads of the current team have called it.
  void wait(int team_size) {
    if (team_size <= 1) return;
    const unsigned phase = phase_.load(std::memory_order_acquire);
    // The last to arrive resets the count before it releases the others, so none can re-enter early.
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) == team_size - 1) {
      arrived_.store(0, std::memory_order_relaxed);
      phase_.store(phase + 1, std::memory_order_release);
      return;
    }
    for (int spins = 0; phase_.load(std::memory_order_acquire) == phase; ++spins) {
      if (spins < kSpinsBeforeYield)
        pause();
      else
        std::this_thread::yield();
    }
  }

 private:
  static constexpr int kSpinsBeforeYield = 128;  // 3-6 us of pause instructions
  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#endif
  }
  alignas(64) std::atomic<int> arrived_{0};
  alignas(64) std::atomic<unsigned> phase_{0};
};

}  // namespace rnnkit::cells
