#include "runtime/cache_sizes.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

// glibc answers these from CPUID; where a system has no such query the fallbacks stand.
#if !defined(_SC_LEVEL1_DCACHE_SIZE) || !defined(_SC_LEVEL2_CACHE_SIZE)
#define RNNKIT_NO_CACHE_QUERY 1
#endif

namespace rnnkit {
namespace {

std::int64_t positive_or(long reported, std::int64_t fallback) {
  return reported > 0 ? static_cast<std::int64_t>(reported) : fallback;
}

}  // namespace

std::int64_t l1d_cache_bytes() {
#ifdef RNNKIT_NO_CACHE_QUERY
  static const std::int64_t bytes = positive_or(-1, 32 * 1024);
#else
  static const std::int64_t bytes = positive_or(sysconf(_SC_LEVEL1_DCACHE_SIZE), 32 * 1024);
#endif
  return bytes;
}

std::int64_t l2_cache_bytes() {
#ifdef RNNKIT_NO_CACHE_QUERY
  static const std::int64_t bytes = positive_or(-1, 512 * 1024);
#else
  static const std::int64_t bytes = positive_or(sysconf(_SC_LEVEL2_CACHE_SIZE), 512 * 1024);
#endif
  return bytes;
}

}  // namespace rnnkit
