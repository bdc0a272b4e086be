// rnnkit._core: the Python face of the C++ core. Each bind_* lives in its own file.
#include <pybind11/pybind11.h>

#include "bindings.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "rnnkit's C++ core (kernels, recurrent cells, model files)";
  rnnkit::py::bind_runtime(m);
  rnnkit::py::bind_kernels(m);
  rnnkit::py::bind_cells(m);
  rnnkit::py::bind_nn(m);
  rnnkit::py::bind_optim(m);
  rnnkit::py::bind_model_file(m);
  rnnkit::py::bind_attention(m);
  rnnkit::py::bind_additive_attention(m);
}
