// exp's argument range, shared by the scalar (simd_math.hpp) and vector (simd_math_vec.hpp) forms.
#pragma once

namespace rnnkit::exp_range {
// Below -87 the result would be subnormal, and producing a subnormal costs a microcode assist of ~100 cycles per
// vector op on Intel cores (AVX-512's scalef made one for every masked score of an attention tile: 38% of a causal
// forward's samples). exp(-87) = 1.6e-38 is the floor; callers that need an exact 0 (softmax over hidden keys)
// select it.
constexpr float kMinArg = -87.0f;
constexpr float kMaxArg = 88.0f;
}  // namespace rnnkit::exp_range
