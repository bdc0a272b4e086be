#include "bindings.hpp"

namespace rnnkit::py {

void bind_nn(pyb::module_& m) { (void)m; }

}  // namespace rnnkit::py
