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

// The callers of thread_scratch, each with a buffer of its own.
enum class ScratchSlot { gemm_packed_a, gemm_packed_b, gate_gradients, recurrent_gate_gradients, count };

// At least count floats, 64-byte aligned, contents unspecified, kept by the calling thread and only grown (until
// it asks for the same slot with a larger count, or ends): a fresh large allocation per call cost a page fault
// per 4 KiB (glibc gives such blocks back to the system), as much as a product of RNN-sized operands or a tenth
// of a GRU training step.
float* thread_scratch(ScratchSlot slot, std::int64_t count, const char* what);

}  // namespace rnnkit
