// exp, tanh, sigmoid, hard_sigmoid and relu on explicit SIMD vectors: the same Cephes polynomials as the scalar
// forms in simd_math.hpp, written branch-free (GCC turns the scalar forms' selects into branches and leaves
// them scalar, ~20x slower). Included inside an ISA namespace that has a `struct Simd` (simd_<isa>.hpp);
// used by that ISA's activation kernels (RNNKIT_DEFINE_VECTOR_ACTIVATION_FORWARD) and cell gate kernels.
// Needs <cstdint>, <cstring> and kernels/exp_range.hpp included first (outside the ISA namespace).
namespace simd_math_vec_detail {

using Vec = Simd::Vec;

// NaN stays NaN, like the scalar form: max and min return their second operand when either is NaN.
inline Vec clamp(Vec x, float lo, float hi) { return Simd::min(Simd::set1(hi), Simd::max(Simd::set1(lo), x)); }

// e^r - 1 for x = n ln2 + r (exp_f's reduction and polynomial); x must lie in [kMinArg, kMaxArg].
inline Vec expm1_reduced(Vec x, Vec& n) {
  n = Simd::floor(Simd::fma(x, Simd::set1(1.44269504088896341f), Simd::set1(0.5f)));
  Vec r = Simd::fma(n, Simd::set1(-0.693359375f), x);
  r = Simd::fma(n, Simd::set1(2.12194440e-4f), r);
  Vec p = Simd::set1(1.9875691500e-4f);
  p = Simd::fma(p, r, Simd::set1(1.3981999507e-3f));
  p = Simd::fma(p, r, Simd::set1(8.3334519073e-3f));
  p = Simd::fma(p, r, Simd::set1(4.1665795894e-2f));
  p = Simd::fma(p, r, Simd::set1(1.6666665459e-1f));
  p = Simd::fma(p, r, Simd::set1(5.0000001201e-1f));
  return Simd::fma(Simd::mul(p, r), r, r);
}

inline Vec exp_v(Vec x) {
  Vec n;
  const Vec q = expm1_reduced(clamp(x, ::rnnkit::exp_range::kMinArg, ::rnnkit::exp_range::kMaxArg), n);
  return Simd::scale_pow2(Simd::add(q, Simd::set1(1.0f)), n);
}

// tanh_f's single form: -m / (2 + m) with m = e^{-2|x|} - 1, about a quarter fewer instructions than the
// polynomial-or-exp split. The bound is max's first operand, so a NaN x stays NaN.
inline Vec tanh_v(Vec x) {
  const Vec one = Simd::set1(1.0f);
  const Vec y = Simd::max(Simd::set1(::rnnkit::exp_range::kMinArg), Simd::mul(Simd::set1(-2.0f), Simd::abs(x)));
  Vec n;
  const Vec q = expm1_reduced(y, n);
  const Vec scale = Simd::scale_pow2(one, n);
  const Vec m = Simd::fma(q, scale, Simd::sub(scale, one));
  const Vec t = Simd::mul(Simd::abs(m), Simd::recip(Simd::add(Simd::set1(2.0f), m)));  // tanh|x|, +0 at 0
  return Simd::select(Simd::lt(x, Simd::set1(0.0f)), Simd::sub(Simd::set1(0.0f), t), t);
}

inline Vec sigmoid_v(Vec x) {
  const Vec one = Simd::set1(1.0f);
  return Simd::recip(Simd::add(one, exp_v(Simd::sub(Simd::set1(0.0f), x))));
}

inline Vec hard_sigmoid_v(Vec x) {
  return clamp(Simd::mul(Simd::add(x, Simd::set1(3.0f)), Simd::set1(1.0f / 6.0f)), 0.0f, 1.0f);
}

inline Vec relu_v(Vec x) {
  const Vec zero = Simd::set1(0.0f);
  return Simd::select(Simd::lt(zero, x), x, zero);  // NaN -> 0, as the scalar form
}

// y[i] = f(x[i]); the tail goes through a zero-padded vector so every element sees the same arithmetic.
template <typename F>
void map(F f, const float* x, float* y, std::int64_t n) {
  constexpr int W = Simd::width;
  std::int64_t i = 0;
  for (; i + W <= n; i += W) Simd::store(y + i, f(Simd::load(x + i)));
  if (i < n) {
    alignas(64) float tail[W] = {};
    std::memcpy(tail, x + i, sizeof(float) * (n - i));
    Simd::store(tail, f(Simd::load(tail)));
    std::memcpy(y + i, tail, sizeof(float) * (n - i));
  }
}

}  // namespace simd_math_vec_detail

#define RNNKIT_DEFINE_VECTOR_ACTIVATION_FORWARD                                                      \
  void activation_forward(Activation a, const float* x, float* y, std::int64_t n) {                 \
    using namespace simd_math_vec_detail;                                                            \
    switch (a) {                                                                                     \
      case Activation::tanh: return map(tanh_v, x, y, n);                                            \
      case Activation::sigmoid: return map(sigmoid_v, x, y, n);                                      \
      case Activation::hard_sigmoid: return map(hard_sigmoid_v, x, y, n);                            \
      case Activation::relu: return map(relu_v, x, y, n);                                            \
      case Activation::linear: if (x != y) std::memmove(y, x, sizeof(float) * n); return;            \
    }                                                                                                \
  }                                                                                                  \
  void exp_array(const float* x, float* y, std::int64_t n) {                                        \
    simd_math_vec_detail::map(simd_math_vec_detail::exp_v, x, y, n);                                 \
  }
