#include "runtime/cache_sizes.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace rnnkit {

std::int64_t l2_cache_bytes() {
  static const std::int64_t bytes = [] {
    long reported = 0;
#ifdef _SC_LEVEL2_CACHE_SIZE
    reported = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
    return reported > 0 ? static_cast<std::int64_t>(reported) : std::int64_t{512} * 1024;
  }();
  return bytes;
}

}  // namespace rnnkit
