// Activation kernels compiled with AVX-512 (see cpp/CMakeLists.txt): 16-float vectors, bodies in
// simd_math_vec.hpp (forward) and simd_math.hpp (backward).
#include "simd_avx512.hpp"
#include "simd_isa_kernels.hpp"
#include "simd_math.hpp"

namespace rnnkit::avx512 {
#include "simd_math_vec.hpp"
RNNKIT_DEFINE_VECTOR_ACTIVATION_FORWARD
RNNKIT_DEFINE_ACTIVATION_BACKWARD
}  // namespace rnnkit::avx512
