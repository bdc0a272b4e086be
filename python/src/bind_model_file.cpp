#include <algorithm>
#include <cstring>

#include "bindings.hpp"
#include "rnnkit/model.hpp"
#include "rnnkit/model_file.hpp"

namespace rnnkit::py {

namespace {

// (header JSON text, {name: ndarray}) — Python parses the header text only after C++ has validated it.
pyb::tuple read_model_file_py(const std::string& path) {
  ModelFile file;
  {
    pyb::gil_scoped_release release;
    file = read_model_file(path);
  }
  pyb::dict tensors;
  for (const TensorInfo& t : file.tensors) {
    const std::vector<pyb::ssize_t> shape(t.shape.begin(), t.shape.end());
    pyb::array array(t.dtype == DType::float32 ? pyb::dtype::of<float>() : pyb::dtype::of<std::int64_t>(), shape);
    if (t.end > t.begin)  // an empty data section may have no buffer at all, and memcpy forbids null
      std::memcpy(array.mutable_data(), file.data.data() + t.begin, static_cast<std::size_t>(t.end - t.begin));
    tensors[pyb::str(t.name)] = array;
  }
  return pyb::make_tuple(file.header_text, tensors);
}

pyb::array_t<float> predict_py(const Model& model, const FloatArray& x) {
  Tensor input;
  input.shape.assign(x.shape(), x.shape() + x.ndim());
  input.values.assign(x.data(), x.data() + x.size());
  Tensor output;
  {
    pyb::gil_scoped_release release;
    output = model.predict(input);
  }
  pyb::array_t<float> result(std::vector<pyb::ssize_t>(output.shape.begin(), output.shape.end()));
  std::copy(output.values.begin(), output.values.end(), result.mutable_data());
  return result;
}

}  // namespace

void bind_model_file(pyb::module_& m) {
  m.def("read_model_file", &read_model_file_py, pyb::arg("path"),
        "Read and fully validate a .rnnkit file; returns (header_json, {tensor name: ndarray}). "
        "Raises ValueError naming the file and the problem for any malformed input.");
  // The C++ inference path (rnnkit::load_model), exposed so tests can hold it against Python's predict.
  pyb::class_<Model>(m, "CppModel")
      .def(pyb::init([](const std::string& path) { return load_model(path); }), pyb::arg("path"))
      .def("predict", &predict_py, pyb::arg("x"))
      .def(
          "save",
          [](const Model& model, const std::string& path) {
            pyb::gil_scoped_release release;
            save_model(model, path);
          },
          pyb::arg("path"), "Write the model with rnnkit::save_model (Sequential models only).");
}

}  // namespace rnnkit::py
