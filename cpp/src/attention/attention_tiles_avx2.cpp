// The attention tile kernels compiled with AVX2 flags.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "attention_tiles.hpp"
#include "kernels/exp_range.hpp"
#include "kernels/simd_avx2.hpp"

namespace rnnkit::avx2 {
#include "kernels/simd_math_vec.hpp"
#include "attention_simd_kernels.hpp"

const attention_detail::TileKernels& attention_tile_kernels() {
  static const attention_detail::TileKernels kernels{attention_simd::tile_product, attention_simd::row_max,
                                                     attention_simd::exp_rows, attention_simd::dot_scores,
                                                     attention_simd::transpose};
  return kernels;
}

}  // namespace rnnkit::avx2
