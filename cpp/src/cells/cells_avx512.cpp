// The cells' block kernels compiled with this ISA's flags (see cpp/CMakeLists.txt); body in cells_isa_body.hpp.
#include <cstring>

#include "blocks.hpp"
#include "kernels/exp_range.hpp"
#include "kernels/simd_avx512.hpp"
#include "kernels/simd_isa_kernels.hpp"

namespace rnnkit::avx512 {
namespace isa = rnnkit::avx512;
#include "cells_isa_body.hpp"
}  // namespace rnnkit::avx512
