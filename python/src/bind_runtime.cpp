#include "bindings.hpp"
#include "rnnkit/runtime.hpp"

namespace rnnkit::py {

void bind_runtime(pyb::module_& m) {
  m.def("isa", [] { return std::string(isa_name(active_isa())); }, "ISA the kernels dispatch to");
  m.def("detected_isa", [] { return std::string(isa_name(detected_isa())); }, "Best ISA this CPU supports");
  m.def("set_isa", [](const std::string& name) {
    if (name == "avx512") set_active_isa(Isa::avx512);
    else if (name == "avx2") set_active_isa(Isa::avx2);
    else if (name == "generic") set_active_isa(Isa::generic);
    else throw pyb::value_error("unknown ISA '" + name + "': expected avx512, avx2 or generic");
  });
  m.def("num_threads", &num_threads);
  m.def("set_num_threads", &set_num_threads);
  m.def("built_with_openmp", &built_with_openmp);
  m.def("build_info", &build_info);
}

}  // namespace rnnkit::py
