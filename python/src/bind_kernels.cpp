#include "bindings.hpp"
#include <cstdint>
#include <cstring>
#include <vector>
#include <string>

#include "rnnkit/gemm.hpp"
#include "rnnkit/runtime.hpp"

namespace rnnkit::py {
namespace {

std::vector<pyb::ssize_t> shape_of(const FloatArray& a) { return {a.shape(), a.shape() + a.ndim()}; }

}  // namespace

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

  pyb::class_<PackedMatrix>(m, "PackedMatrix", "op(b) packed once for repeated sgemm_packed calls")
      .def_property_readonly("rows", &PackedMatrix::rows)
      .def_property_readonly("cols", &PackedMatrix::cols)
      .def_property_readonly("isa", [](const PackedMatrix& p) { return std::string(isa_name(p.isa())); });
  m.def(
      "pack_b",
      [](bool trans_b, FloatArray b) {
        if (b.ndim() != 2) throw pyb::value_error("pack_b: b must be 2-D");
        const auto K = trans_b ? b.shape(1) : b.shape(0), N = trans_b ? b.shape(0) : b.shape(1);
        pyb::gil_scoped_release nogil;
        return pack_b(Trans(trans_b), K, N, b.data(), b.shape(1));
      },
      pyb::arg("trans_b"), pyb::arg("b"), "packs op(b) for the ISA active now");
  m.def(
      "sgemm_packed",
      [](bool trans_a, float alpha, FloatArray a, const PackedMatrix& b, float beta,
         pyb::array_t<float, pyb::array::c_style> c, std::int64_t n_begin, std::int64_t n_end) {
        if (a.ndim() != 2 || c.ndim() != 2) throw pyb::value_error("sgemm_packed: a, c must be 2-D");
        const auto M = trans_a ? a.shape(1) : a.shape(0), K = trans_a ? a.shape(0) : a.shape(1);
        if (K != b.rows() || c.shape(0) != M || c.shape(1) != b.cols())
          throw pyb::value_error("sgemm_packed: shapes do not agree");
        auto cm = c.mutable_unchecked<2>();
        pyb::gil_scoped_release nogil;
        sgemm_packed(Trans(trans_a), M, alpha, a.data(), a.shape(1), b, beta, cm.mutable_data(0, 0), c.shape(1),
                     n_begin, n_end);
      },
      pyb::arg("trans_a"), pyb::arg("alpha"), pyb::arg("a"), pyb::arg("b"), pyb::arg("beta"), pyb::arg("c"),
      pyb::arg("n_begin") = 0, pyb::arg("n_end") = -1,
      "c[:, n_begin:n_end] = alpha * op(a) @ b[:, n_begin:n_end] + beta * c[...], in place");
  // For caches keyed on weight values (the Embedding -> RNN table): a memcmp, without numpy's temporary
  // boolean array, and bitwise, so a NaN weight still matches itself.
  m.def(
      "same_bits",
      [](FloatArray a, FloatArray b) {
        if (shape_of(a) != shape_of(b)) return false;
        pyb::gil_scoped_release nogil;
        return std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0;
      },
      pyb::arg("a"), pyb::arg("b"), "True when a and b have the same shape and the same float32 bits");
}

}  // namespace rnnkit::py
