// Activation kernels of the portable build (see cpp/CMakeLists.txt); bodies in simd_math.hpp.
#include "simd_isa_kernels.hpp"
#include "simd_math.hpp"

namespace rnnkit::generic {
RNNKIT_DEFINE_SCALAR_ACTIVATION_FORWARD
RNNKIT_DEFINE_ACTIVATION_BACKWARD
}  // namespace rnnkit::generic
