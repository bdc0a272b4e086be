#include "bindings.hpp"
#include "rnnkit/gemm.hpp"

namespace rnnkit::py {

void bind_kernels(pyb::module_& m) {
  m.def(
      "sgemm",
      [](bool trans_a, bool trans_b, float alpha, FloatArray a, FloatArray b, float beta,
         pyb::array_t<float, pyb::array::c_style> c) {
        if (a.ndim() != 2 || b.ndim() != 2 || c.ndim() != 2) throw pyb::value_error("sgemm: a, b, c must be 2-D");
        const auto M = trans_a ? a.shape(1) : a.shape(0), K = trans_a ? a.shape(0) : a.shape(1);
        const auto Kb = trans_b ? b.shape(1) : b.shape(0), N = trans_b ? b.shape(0) : b.shape(1);
        if (K != Kb || c.shape(0) != M || c.shape(1) != N)
          throw pyb::value_error("sgemm: shapes do not agree");
        auto cm = c.mutable_unchecked<2>();
        pyb::gil_scoped_release nogil;
        sgemm(Trans(trans_a), Trans(trans_b), M, N, K, alpha, a.data(), a.shape(1), b.data(), b.shape(1), beta,
              cm.mutable_data(0, 0), N);
      },
      pyb::arg("trans_a"), pyb::arg("trans_b"), pyb::arg("alpha"), pyb::arg("a"), pyb::arg("b"), pyb::arg("beta"),
      pyb::arg("c"), "c = alpha * op(a) @ op(b) + beta * c, in place on float32 C-contiguous c");
}

}  // namespace rnnkit::py
