#include "bindings.hpp"

namespace rnnkit::py {

void bind_optim(pyb::module_& m) { (void)m; }

}  // namespace rnnkit::py
