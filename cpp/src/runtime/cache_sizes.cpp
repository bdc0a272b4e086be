#include "runtime/cache_sizes.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace rnnkit {
namespace {

// glibc answers these sysconf queries from CPUID; where a system has none, the fallbacks stand.
#if defined(_SC_LEVEL1_DCACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE)
constexpr int kL1dQuery = _SC_LEVEL1_DCACHE_SIZE, kL2Query = _SC_LEVEL2_CACHE_SIZE;
std::int64_t reported_or(int query, std::int64_t fallback) {
  const long reported = sysconf(query);
  return reported > 0 ? static_cast<std::int64_t>(reported) : fallback;
}
#else
constexpr int kL1dQuery = 0, kL2Query = 0;
std::int64_t reported_or(int, std::int64_t fallback) { return fallback; }
#endif

}  // namespace

std::int64_t l1d_cache_bytes() {
  static const std::int64_t bytes = reported_or(kL1dQuery, 32 * 1024);
  return bytes;
}

std::int64_t l2_cache_bytes() {
  static const std::int64_t bytes = reported_or(kL2Query, 512 * 1024);
  return bytes;
}

}  // namespace rnnkit
