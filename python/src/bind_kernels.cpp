#include "bindings.hpp"
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "rnnkit/gemm.hpp"
#include "rnnkit/runtime.hpp"

namespace rnnkit::py {
namespace {

std::vector<pyb::ssize_t> shape_of(const FloatArray& a) { return {a.shape(), a.shape() + a.ndim()}; }

// sgemm and sgemm_packed are plain vectorcall functions rather than pybind11 ones: for a batch-1 product the
// call is most of the time (a 1 x 1 x 1 product took 2.3-2.5 us through pybind11's overload dispatch, array_t
// conversions and GIL release, against 1.7 us for numpy.matmul with out=), so they read the numpy arrays'
// layouts directly and convert only operands that need it. Strided views then also work in place: a column
// slice or a transposed array as an operand is read without a copy, and as c it is written where it lies
// (pybind11's conversion silently wrote a non-contiguous c into a temporary copy).

// Binds positional and keyword arguments to `names` in order; the trailing `optional` ones may be missing
// (left null).
template <std::size_t N>
void bind_arguments(const char* fn, const char* const (&names)[N], std::size_t optional, PyObject* const* args,
                    Py_ssize_t nargsf, PyObject* kwnames, PyObject* (&out)[N]) {
  const Py_ssize_t positional = PyVectorcall_NARGS(nargsf);
  if (positional > static_cast<Py_ssize_t>(N))
    throw pyb::type_error(std::string(fn) + "() takes at most " + std::to_string(N) + " arguments");
  for (std::size_t i = 0; i < N; ++i) out[i] = i < static_cast<std::size_t>(positional) ? args[i] : nullptr;
  const Py_ssize_t keywords = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  for (Py_ssize_t k = 0; k < keywords; ++k) {
    PyObject* name = PyTuple_GET_ITEM(kwnames, k);
    std::size_t i = 0;
    while (i < N && PyUnicode_CompareWithASCIIString(name, names[i]) != 0) ++i;
    if (i == N)
      throw pyb::type_error(std::string(fn) + "() got an unexpected keyword argument " +
                            pyb::repr(name).cast<std::string>());
    if (out[i]) throw pyb::type_error(std::string(fn) + "() got multiple values for argument '" + names[i] + "'");
    out[i] = args[positional + k];
  }
  for (std::size_t i = 0; i + optional < N; ++i)
    if (!out[i]) throw pyb::type_error(std::string(fn) + "() missing argument '" + names[i] + "'");
}

bool to_bool(PyObject* obj) {
  const int truth = PyObject_IsTrue(obj);
  if (truth < 0) throw pyb::error_already_set();
  return truth != 0;
}

float to_float(PyObject* obj) {
  const double x = PyFloat_AsDouble(obj);
  if (x == -1.0 && PyErr_Occurred()) throw pyb::error_already_set();
  return static_cast<float>(x);
}

std::int64_t to_int(PyObject* obj) {
  const long long x = PyLong_AsLongLong(obj);
  if (x == -1 && PyErr_Occurred()) throw pyb::error_already_set();
  return x;
}

// A float32 matrix as the kernels read it: element (r, c) at data[r * ld + c], or at data[c * ld + r] when
// `transposed` (the array is column-major, e.g. x.T of a row-major x). `owner` keeps a converted copy alive.
struct Matrix {
  float* data;
  std::int64_t rows, cols, ld;
  bool transposed;
  pyb::object owner;
};

// The layout of `obj` when it is an aligned 2-D float32 ndarray (writable if `writable`) with unit stride along one
// axis, so a column slice of a wider array or a transposed array reaches the kernels without a copy; false
// otherwise. A length-1 axis may carry any stride.
bool view_in_place(PyObject* obj, bool writable, Matrix& m) {
  using pyb::detail::npy_api;
  const npy_api& api = npy_api::get();
  if (!api.PyArray_Check_(obj)) return false;
  const auto* arr = pyb::detail::array_proxy(obj);
  const int need = npy_api::NPY_ARRAY_ALIGNED_ | (writable ? npy_api::NPY_ARRAY_WRITEABLE_ : 0);
  if (arr->nd != 2 || (arr->flags & need) != need) return false;
  static PyObject* const float32 = api.PyArray_DescrFromType_(npy_api::NPY_FLOAT_);
  if (arr->descr != float32 && !api.PyArray_EquivTypes_(arr->descr, float32)) return false;
  constexpr pyb::ssize_t f = sizeof(float);
  const pyb::ssize_t rows = arr->dimensions[0], cols = arr->dimensions[1], s0 = arr->strides[0], s1 = arr->strides[1];
  m.data = reinterpret_cast<float*>(arr->data);
  m.rows = rows;
  m.cols = cols;
  m.transposed = false;
  if (rows == 0 || cols == 0) {  // never read
    m.ld = std::max<pyb::ssize_t>(cols, 1);
    return true;
  }
  if ((cols == 1 || s1 == f) && (rows == 1 || (s0 % f == 0 && s0 / f >= cols))) {
    m.ld = rows == 1 ? cols : s0 / f;
    return true;
  }
  if ((rows == 1 || s0 == f) && (cols == 1 || (s1 % f == 0 && s1 / f >= rows))) {
    m.ld = cols == 1 ? rows : s1 / f;
    m.transposed = true;
    return true;
  }
  return false;
}

// An input operand: in place when its layout allows, else converted once (any dtype, any strides) to a
// C-contiguous float32 copy.
Matrix operand(PyObject* obj, const char* fn) {
  Matrix m;
  if (view_in_place(obj, false, m)) return m;
  FloatArray converted(pyb::reinterpret_borrow<pyb::object>(obj));
  if (converted.ndim() != 2) throw pyb::value_error(std::string(fn) + ": operands must be 2-D");
  view_in_place(converted.ptr(), false, m);
  m.owner = std::move(converted);
  return m;
}

// The output is written where it lies, so it cannot be converted.
Matrix output(PyObject* obj, const char* fn) {
  Matrix m;
  if (!view_in_place(obj, true, m))
    throw pyb::value_error(std::string(fn) +
                           ": c must be a writable, aligned 2-D float32 ndarray with unit stride along one axis");
  return m;
}

Trans trans(bool yes) { return yes ? Trans::yes : Trans::no; }

// Below this many flops (a few microseconds of work) the product runs with the GIL held, as numpy does for
// small products: releasing and re-taking it cost about 0.1 us of a 1 us call, and other Python threads wait
// no longer than for any short builtin.
constexpr double kKeepGilFlops = double(1 << 18);

template <typename Product>
void run(double flops, Product&& product) {
  if (flops < kKeepGilFlops) return product();
  pyb::gil_scoped_release nogil;
  product();
}

// c = alpha * op(a) @ op(b) + beta * c. A column-major c holds c^T = op(b)^T @ op(a)^T row-major.
void sgemm_arrays(bool trans_a, bool trans_b, float alpha, const Matrix& a, const Matrix& b, float beta,
                  const Matrix& c) {
  const std::int64_t M = trans_a ? a.cols : a.rows, K = trans_a ? a.rows : a.cols;
  const std::int64_t Kb = trans_b ? b.cols : b.rows, N = trans_b ? b.rows : b.cols;
  if (K != Kb || c.rows != M || c.cols != N) throw pyb::value_error("sgemm: shapes do not agree");
  // A matrix stored transposed is read with the opposite op().
  const bool op_a = trans_a != a.transposed, op_b = trans_b != b.transposed;
  run(2.0 * M * N * K, [&] {
    if (c.transposed)
      sgemm(trans(!op_b), trans(!op_a), N, M, K, alpha, b.data, b.ld, a.data, a.ld, beta, c.data, c.ld);
    else
      sgemm(trans(op_a), trans(op_b), M, N, K, alpha, a.data, a.ld, b.data, b.ld, beta, c.data, c.ld);
  });
}

PyObject* sgemm_entry(PyObject*, PyObject* const* args, Py_ssize_t nargsf, PyObject* kwnames) {
  try {
    static const char* const names[] = {"trans_a", "trans_b", "alpha", "a", "b", "beta", "c"};
    PyObject* arg[7];
    bind_arguments("sgemm", names, 0, args, nargsf, kwnames, arg);
    sgemm_arrays(to_bool(arg[0]), to_bool(arg[1]), to_float(arg[2]), operand(arg[3], "sgemm"),
                 operand(arg[4], "sgemm"), to_float(arg[5]), output(arg[6], "sgemm"));
    Py_RETURN_NONE;
  } catch (...) {
    pyb::detail::try_translate_exceptions();
    return nullptr;
  }
}

PyObject* sgemm_packed_entry(PyObject*, PyObject* const* args, Py_ssize_t nargsf, PyObject* kwnames) {
  try {
    static const char* const names[] = {"trans_a", "alpha", "a", "b", "beta", "c", "n_begin", "n_end"};
    PyObject* arg[8];
    bind_arguments("sgemm_packed", names, 2, args, nargsf, kwnames, arg);
    const bool trans_a = to_bool(arg[0]);
    const float alpha = to_float(arg[1]);
    const Matrix a = operand(arg[2], "sgemm_packed");
    const pyb::handle packed(arg[3]);
    if (!pyb::isinstance<PackedMatrix>(packed)) throw pyb::type_error("sgemm_packed: b must be a PackedMatrix");
    const auto& b = packed.cast<const PackedMatrix&>();
    const float beta = to_float(arg[4]);
    const Matrix c = output(arg[5], "sgemm_packed");
    const std::int64_t n_begin = arg[6] ? to_int(arg[6]) : 0, n_end = arg[7] ? to_int(arg[7]) : -1;
    const std::int64_t M = trans_a ? a.cols : a.rows, K = trans_a ? a.rows : a.cols;
    if (K != b.rows() || c.rows != M || c.cols != b.cols() || c.transposed)
      throw pyb::value_error("sgemm_packed: shapes do not agree, or c is not row-major");
    const std::int64_t columns = (n_end == -1 ? b.cols() : n_end) - n_begin;
    run(2.0 * M * double(columns) * K, [&] {
      sgemm_packed(trans(trans_a != a.transposed), M, alpha, a.data, a.ld, b, beta, c.data, c.ld, n_begin, n_end);
    });
    Py_RETURN_NONE;
  } catch (...) {
    pyb::detail::try_translate_exceptions();
    return nullptr;
  }
}

// Adds the function `def` describes to m (def.ml_doc starts with its text signature, for help()).
void add_vectorcall(pyb::module_& m, PyMethodDef& def) {
  auto fn = pyb::reinterpret_steal<pyb::object>(PyCFunction_NewEx(&def, nullptr, m.attr("__name__").ptr()));
  if (!fn) throw pyb::error_already_set();
  m.add_object(def.ml_name, fn);
}

}  // namespace

void bind_kernels(pyb::module_& m) {
  static PyMethodDef sgemm_def{
      "sgemm", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&sgemm_entry)), METH_FASTCALL | METH_KEYWORDS,
      "sgemm($module, /, trans_a, trans_b, alpha, a, b, beta, c)\n--\n\n"
      "c = alpha * op(a) @ op(b) + beta * c, in place on float32 c (2-D, unit stride along one axis); a and b are\n"
      "read in place when float32 with unit stride along one axis, else converted"};
  add_vectorcall(m, sgemm_def);
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
  static PyMethodDef sgemm_packed_def{
      "sgemm_packed", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&sgemm_packed_entry)),
      METH_FASTCALL | METH_KEYWORDS,
      "sgemm_packed($module, /, trans_a, alpha, a, b, beta, c, n_begin=0, n_end=-1)\n--\n\n"
      "c[:, n_begin:n_end] = alpha * op(a) @ b[:, n_begin:n_end] + beta * c[...], in place on float32 c (2-D,\n"
      "unit stride along its rows)"};
  add_vectorcall(m, sgemm_packed_def);
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
