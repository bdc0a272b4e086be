// 64-byte aligned float buffers, and scratch buffers that each thread keeps between calls.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace rnnkit {

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using AlignedFloats = std::unique_ptr<float[], FreeDeleter>;

// count floats (at least one), 64-byte aligned; `what` names the caller in the overflow error.
AlignedFloats allocate_aligned(std::int64_t count, const char* what);

// As allocate_aligned, for a table whose rows are read in random order (a token-id RNN's embeddings·kernel table):
// on Linux a block of kHugePageMinBytes or more starts on a 2 MiB boundary and is advised to use transparent huge
// pages, so its random row reads miss the TLB far less often. numpy does the same for its arrays of 4 MiB or more;
// a table the core allocates itself (the C++ Model's) had none, and an Embedding -> LSTM(128) predict's gathers
// from a 20 MB table walked the page tables for most rows.
AlignedFloats allocate_random_access(std::int64_t count, const char* what);

// The callers of thread_scratch, each with a buffer of its own.
enum class ScratchSlot { gemm_packed_a, gemm_packed_b, gate_gradients, recurrent_gate_gradients, count };

// At least count floats, 64-byte aligned, contents unspecified, kept by the calling thread and only grown (until
// it asks for the same slot with a larger count, or ends): a fresh large allocation per call cost a page fault
// per 4 KiB (glibc gives such blocks back to the system), as much as a product of RNN-sized operands or a tenth
// of a GRU training step.
float* thread_scratch(ScratchSlot slot, std::int64_t count, const char* what);

struct KeptPool;

// A 64-byte aligned block of at least `count` floats, contents unspecified, for buffers whose lifetime is one call
// or one training step (the recurrent loops' buffers and training cache). Blocks of kKeptMinBytes or more go, when
// released, to the kept blocks of the thread that allocated them (up to kKeptMaxBytes in all, the oldest freed
// first), and a later request of that thread's that fits one within an eighth takes it back. Returned to the
// releasing thread instead, the blocks of a training cache made by OpenMP workers and freed by the Python thread
// left the workers to allocate afresh at every step (~300 page faults a GRU (16,200,64,64) training step). Freed to glibc, such blocks went back to the system at
// every call or not, depending on the sizes of the process's other allocations (its mmap and trim thresholds move
// with them), and the next call page-faulted them in anew: LSTM (128,20,32,64) forward 227 faults a call, a
// quarter of its time; SimpleRNN (32,100,128,256) training 1,968; GRU (64,50,256,512) training on 2 threads 160
// or 9,600 by what else the process had allocated. The price is memory kept between calls, and a peak higher by
// the blocks one part of a step releases and a later part cannot use (the (64,50,256,512) LSTM training step:
// +26 MiB for its input projection, kept through BPTT).
class KeptFloats {
 public:
  static constexpr std::int64_t kKeptMinBytes = 64 * 1024, kKeptMaxBytes = std::int64_t{256} << 20;

  KeptFloats() = default;
  KeptFloats(std::int64_t count, const char* what);
  KeptFloats(KeptFloats&& other) noexcept;
  KeptFloats& operator=(KeptFloats&& other) noexcept;
  KeptFloats(const KeptFloats&) = delete;
  KeptFloats& operator=(const KeptFloats&) = delete;
  ~KeptFloats();
  float* get() const { return data_; }

 private:
  void release() noexcept;
  void* storage_ = nullptr;  // what malloc returned; data_ is its first cache line
  float* data_ = nullptr;
  std::int64_t capacity_ = 0;  // floats
  std::shared_ptr<KeptPool> home_;  // the allocating thread's pool; null for a block too small or large to keep
};

}  // namespace rnnkit
