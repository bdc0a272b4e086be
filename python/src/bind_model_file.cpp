#include "bindings.hpp"

namespace rnnkit::py {

void bind_model_file(pyb::module_& m) { (void)m; }

}  // namespace rnnkit::py
