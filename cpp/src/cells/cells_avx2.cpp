// The cells' block kernels compiled with this ISA's flags (see cpp/CMakeLists.txt); body in cells_isa_body.hpp.
#include <cstring>

#include "blocks.hpp"
#include "kernels/exp_range.hpp"
#include "kernels/simd_avx2.hpp"
#include "kernels/simd_isa_kernels.hpp"

namespace rnnkit::avx2 {
namespace isa = rnnkit::avx2;
#include "cells_isa_body.hpp"
}  // namespace rnnkit::avx2
