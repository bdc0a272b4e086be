#include "rnnkit/runtime.hpp"

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define RNNKIT_X86 1
#endif

namespace rnnkit {
namespace {

#ifdef RNNKIT_X86
unsigned long long read_xcr0() {
  unsigned eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}
#endif

Isa probe_isa() {
#ifdef RNNKIT_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return Isa::generic;
  const bool osxsave = c & (1u << 27), fma = c & (1u << 12), avx = c & (1u << 28);
  if (!osxsave || !avx) return Isa::generic;
  const unsigned long long xcr0 = read_xcr0();
  const bool ymm_state = (xcr0 & 0x6) == 0x6;
  const bool zmm_state = (xcr0 & 0xe6) == 0xe6;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return Isa::generic;
  const bool avx2 = b & (1u << 5);
  const bool avx512 = (b & (1u << 16)) && (b & (1u << 17)) && (b & (1u << 30)) && (b & (1u << 31));  // F DQ BW VL
  if (avx512 && avx2 && fma && zmm_state) return Isa::avx512;
  if (avx2 && fma && ymm_state) return Isa::avx2;
#endif
  return Isa::generic;
}

Isa isa_from_env() {
  const Isa best = detected_isa();
  const char* env = std::getenv("RNNKIT_ISA");
  if (!env || !*env) return best;
  const std::string want(env);
  Isa isa;
  if (want == "avx512") isa = Isa::avx512;
  else if (want == "avx2") isa = Isa::avx2;
  else if (want == "generic") isa = Isa::generic;
  else throw std::runtime_error("RNNKIT_ISA='" + want + "' is not one of avx512, avx2, generic");
  if (static_cast<int>(isa) > static_cast<int>(best))
    throw std::runtime_error(std::string("RNNKIT_ISA=") + want + " is not supported by this CPU (best: " +
                             isa_name(best) + ")");
  return isa;
}

std::atomic<int> forced_isa{-1};

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "generic";
  }
}

Isa detected_isa() {
  static const Isa isa = probe_isa();
  return isa;
}

Isa active_isa() {
  const int forced = forced_isa.load(std::memory_order_relaxed);
  if (forced >= 0) return static_cast<Isa>(forced);
  static const Isa from_env = isa_from_env();
  return from_env;
}

void set_active_isa(Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(detected_isa()))
    throw std::invalid_argument(std::string("ISA ") + isa_name(isa) + " is not supported by this CPU (best: " +
                                isa_name(detected_isa()) + ")");
  forced_isa.store(static_cast<int>(isa), std::memory_order_relaxed);
}

}  // namespace rnnkit
