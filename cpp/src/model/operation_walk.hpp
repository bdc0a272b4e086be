// The element walks of the operation layers (operation_layers.cpp, operation_shape_layers.cpp).
#pragma once
#include <cstdint>
#include <vector>

#include "model/support.hpp"

namespace rnnkit::model_detail {

// Every element of an output of shape `out`, each operand k read at base[k] + Σ index[a] * strides[k][a] (a
// stride 0 where the operand is broadcast along that axis).
struct Walk {
  Shape out;
  std::vector<std::vector<std::int64_t>> strides;
  std::vector<std::int64_t> base;

  template <class Visit>
  void run(Visit visit) const {
    const std::size_t rank = out.size(), operands = strides.size();
    const std::int64_t total = element_count(out);
    std::vector<std::int64_t> index(rank, 0), offset = base;
    for (std::int64_t i = 0; i < total; ++i) {
      visit(i, offset);
      for (std::size_t a = rank; a-- > 0;) {
        ++index[a];
        for (std::size_t k = 0; k < operands; ++k) offset[k] += strides[k][a];
        if (index[a] < out[a]) break;
        for (std::size_t k = 0; k < operands; ++k) offset[k] -= strides[k][a] * out[a];
        index[a] = 0;
      }
    }
  }
};

inline std::vector<std::int64_t> row_major_strides(const Shape& shape) {
  std::vector<std::int64_t> strides(shape.size(), 1);
  for (std::size_t a = shape.size(); a-- > 1;) strides[a - 1] = strides[a] * shape[a];
  return strides;
}

}  // namespace rnnkit::model_detail
