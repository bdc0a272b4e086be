// Run-time facts and knobs of the core: which instruction set the kernels use, how many threads.
#pragma once
#include <string>

namespace rnnkit {

enum class Isa { generic = 0, avx2 = 1, avx512 = 2 };

const char* isa_name(Isa isa);

// Best ISA this CPU supports (CPUID + OS register-state checks).
Isa detected_isa();

// ISA the kernels dispatch to. Defaults to detected_isa(), or to RNNKIT_ISA=avx512|avx2|generic when set.
// Throws std::runtime_error when RNNKIT_ISA names an unknown ISA or one this CPU lacks.
Isa active_isa();

// Forces the kernels onto one ISA path (must be supported by this CPU, else std::invalid_argument).
void set_active_isa(Isa isa);

// Threads used by the kernels. Defaults to RNNKIT_NUM_THREADS when set, otherwise OpenMP's default.
int num_threads();
void set_num_threads(int n);

bool built_with_openmp();
std::string build_info();  // compiler, flags of note, OpenMP version

}  // namespace rnnkit
