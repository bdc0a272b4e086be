// libFuzzer target: any byte string must either parse or throw std::invalid_argument (anything else —
// a crash, a sanitizer report, another exception type — is a finding).
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "rnnkit/model_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const rnnkit::ModelFile file = rnnkit::parse_model_file(data, size, "fuzz-input");
    for (const rnnkit::TensorInfo& tensor : file.tensors) {
      if (tensor.dtype == rnnkit::DType::float32) file.float32_values(tensor.name);
      else file.int64_values(tensor.name);
    }
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
