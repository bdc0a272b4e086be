// libFuzzer target for the C++ model loader: the bytes are written to a file and loaded with rnnkit::load_model,
// so a crafted model_config reaches every layer's config parsing and build. A model that loads also predicts on
// a small input of its input shape. Anything but success or std::invalid_argument is a finding; libFuzzer's
// -malloc_limit_mb turns an allocation the file's size does not justify into one too.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "rnnkit/model.hpp"

namespace {

const std::string& scratch_path() {
  static const std::string path = "/tmp/rnnkit-fuzz-load-" + std::to_string(getpid()) + ".rnnkit";
  return path;
}

void predict_small_batch(const rnnkit::Model& model) {
  rnnkit::Shape shape{2};
  std::int64_t count = 2;
  for (std::int64_t d : model.input_shape()) {
    shape.push_back(d < 0 ? 3 : d);
    count *= shape.back();
    if (count > (1 << 16)) return;  // huge declared sizes make predict big, legitimately: not the loader's concern
  }
  std::int64_t outputs = 1;
  for (std::int64_t d : model.output_shape())
    if ((outputs *= d < 0 ? 3 : d) > (1 << 16)) return;
  model.predict(rnnkit::Tensor(shape));  // zeros: valid ids for an Embedding too
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::FILE* file = std::fopen(scratch_path().c_str(), "wb");
  if (file == nullptr) __builtin_trap();
  std::fwrite(data, 1, size, file);
  std::fclose(file);
  try {
    predict_small_batch(rnnkit::load_model(scratch_path()));
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
