#include "bindings.hpp"

namespace rnnkit::py {

void bind_cells(pyb::module_& m) { (void)m; }

}  // namespace rnnkit::py
