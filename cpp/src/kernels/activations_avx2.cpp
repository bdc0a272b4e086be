// Activation kernels compiled with AVX2+FMA (see cpp/CMakeLists.txt): 8-float vectors, bodies in
// simd_math_vec.hpp (forward) and simd_math.hpp (backward).
#include "simd_avx2.hpp"
#include "simd_isa_kernels.hpp"
#include "simd_math.hpp"

namespace rnnkit::avx2 {
#include "simd_math_vec.hpp"
RNNKIT_DEFINE_VECTOR_ACTIVATION_FORWARD
RNNKIT_DEFINE_ACTIVATION_BACKWARD
}  // namespace rnnkit::avx2
