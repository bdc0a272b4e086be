// Sizes of this CPU's caches, for the few blocking decisions that depend on the machine rather than the ISA.
#pragma once
#include <cstdint>

namespace rnnkit {

// Bytes of one core's L1 data cache (the OS's report; 32 KiB where it gives none).
std::int64_t l1d_cache_bytes();

// Bytes of one core's L2 (the OS's report; 512 KiB where it gives none, the smallest of the machines measured).
std::int64_t l2_cache_bytes();

}  // namespace rnnkit
