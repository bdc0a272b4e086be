// Size arithmetic that cannot overflow silently: batch*time*units and friends.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace rnnkit {

inline std::int64_t checked_mul(std::int64_t a, std::int64_t b, const char* what) {
  std::int64_t r;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r))
    throw std::length_error(std::string(what) + ": size " + std::to_string(a) + " x " + std::to_string(b) +
                            " overflows 64-bit indexing");
  return r;
}

template <typename... Rest>
std::int64_t checked_mul(std::int64_t a, std::int64_t b, std::int64_t c, Rest... rest_and_what) {
  if constexpr (sizeof...(Rest) == 1) {
    return checked_mul(checked_mul(a, b, rest_and_what...), c, rest_and_what...);
  } else {
    return checked_mul(checked_mul(a, b, "size"), c, rest_and_what...);
  }
}

}  // namespace rnnkit
