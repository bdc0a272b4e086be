// Run-time choice of the per-ISA block kernels.
#include "blocks.hpp"

namespace rnnkit::cells {

const BlockKernels& block_kernels(Isa isa) {
  switch (isa) {
    case Isa::avx512: return avx512::cell_block_kernels();
    case Isa::avx2: return avx2::cell_block_kernels();
    default: return generic::cell_block_kernels();
  }
}

}  // namespace rnnkit::cells
