#include "check.hpp"
#include "rnnkit/runtime.hpp"

int main() {
  using namespace rnnkit;
  CHECK(static_cast<int>(active_isa()) <= static_cast<int>(detected_isa()));
  set_num_threads(2);
  CHECK(num_threads() == 2);
  CHECK_THROWS(set_num_threads(0));
  set_active_isa(Isa::generic);
  CHECK(active_isa() == Isa::generic);
  return rnnkit_test::failures();
}
