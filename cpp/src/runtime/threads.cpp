#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "rnnkit/runtime.hpp"

#ifdef RNNKIT_HAVE_OPENMP
#include <omp.h>
#endif

namespace rnnkit {
namespace {

int default_threads() {
  if (const char* env = std::getenv("RNNKIT_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end == env || *end != '\0' || n < 1 || n > 4096)
      throw std::runtime_error(std::string("RNNKIT_NUM_THREADS='") + env + "' is not a positive integer");
    return static_cast<int>(n);
  }
#ifdef RNNKIT_HAVE_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

std::atomic<int> chosen_threads{0};

}  // namespace

int num_threads() {
  const int n = chosen_threads.load(std::memory_order_relaxed);
  if (n > 0) return n;
  static const int from_env = default_threads();
  return from_env;
}

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("set_num_threads: n must be >= 1, got " + std::to_string(n));
  chosen_threads.store(n, std::memory_order_relaxed);
}

bool built_with_openmp() {
#ifdef RNNKIT_HAVE_OPENMP
  return true;
#else
  return false;
#endif
}

std::string build_info() {
  std::string info = "compiler=";
#if defined(__clang__)
  info += "clang " __clang_version__;
#elif defined(__GNUC__)
  info += "gcc " __VERSION__;
#else
  info += "unknown";
#endif
#ifdef RNNKIT_HAVE_OPENMP
  info += "; openmp=" + std::to_string(_OPENMP);
#else
  info += "; openmp=off";
#endif
#ifdef NDEBUG
  info += "; build=release";
#else
  info += "; build=debug";
#endif
  return info;
}

}  // namespace rnnkit
