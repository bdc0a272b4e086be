// Shared helpers of the binding files: array conversion at the Python boundary.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

namespace rnnkit::py {

namespace pyb = pybind11;
// numpy's NPY_ARRAY_ALIGNED: without it an unaligned view (a float buffer at an odd byte offset) would reach
// the kernels as is, and loading floats from it is undefined behaviour (UBSan reports it; aligned SIMD loads fault).
constexpr int kAligned = pyb::detail::npy_api::NPY_ARRAY_ALIGNED_;
// float32, C-contiguous, aligned: passes zero-copy; anything else is converted once here.
using FloatArray = pyb::array_t<float, pyb::array::c_style | pyb::array::forcecast | kAligned>;

void bind_runtime(pyb::module_& m);
void bind_kernels(pyb::module_& m);   // GEMM, activations
void bind_cells(pyb::module_& m);     // recurrent cells forward/BPTT (rnnkit.ops)
void bind_nn(pyb::module_& m);        // dense, embedding and other layer ops
void bind_optim(pyb::module_& m);     // losses, metrics, optimizer updates
void bind_model_file(pyb::module_& m);  // the .rnnkit file reader
void bind_attention(pyb::module_& m);  // scaled dot-product attention, layer normalisation
void bind_additive_attention(pyb::module_& m);  // tanh-scored (Bahdanau) attention

}  // namespace rnnkit::py
