// Activation kernels compiled with this ISA's flags (see cpp/CMakeLists.txt); bodies in simd_math.hpp.
#include "simd_isa_kernels.hpp"
#include "simd_math.hpp"

namespace rnnkit::avx2 {
RNNKIT_DEFINE_ACTIVATION_KERNELS
}  // namespace rnnkit::avx2
