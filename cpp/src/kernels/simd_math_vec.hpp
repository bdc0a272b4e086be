// exp, tanh, sigmoid, hard_sigmoid and relu on explicit SIMD vectors: the same Cephes polynomials as the scalar
// forms in simd_math.hpp, written branch-free (GCC turns the scalar forms' selects into branches and leaves
// them scalar, ~20x slower). Included inside an ISA namespace that has a `struct Simd` (simd_<isa>.hpp);
// used by that ISA's activation kernels (RNNKIT_DEFINE_VECTOR_ACTIVATION_FORWARD) and cell gate kernels. Each
// function takes the vector interface as S (that Simd by default; the gate kernels also pass Paired<Simd>).
// Needs <cstdint>, <cstring> and kernels/exp_range.hpp included first (outside the ISA namespace).
namespace simd_math_vec_detail {

// NaN stays NaN, like the scalar form: max and min return their second operand when either is NaN.
template <class S = Simd, class V = typename S::Vec>
inline V clamp(V x, float lo, float hi) {
  return S::min(S::set1(hi), S::max(S::set1(lo), x));
}

// e^r - 1 for x = n ln2 + r (exp_f's reduction and polynomial); x must lie in [kMinArg, kMaxArg].
template <class S = Simd, class V = typename S::Vec>
inline V expm1_reduced(V x, V& n) {
  n = S::floor(S::fma(x, S::set1(1.44269504088896341f), S::set1(0.5f)));
  V r = S::fma(n, S::set1(-0.693359375f), x);
  r = S::fma(n, S::set1(2.12194440e-4f), r);
  V p = S::set1(1.9875691500e-4f);
  p = S::fma(p, r, S::set1(1.3981999507e-3f));
  p = S::fma(p, r, S::set1(8.3334519073e-3f));
  p = S::fma(p, r, S::set1(4.1665795894e-2f));
  p = S::fma(p, r, S::set1(1.6666665459e-1f));
  p = S::fma(p, r, S::set1(5.0000001201e-1f));
  return S::fma(S::mul(p, r), r, r);
}

template <class S = Simd, class V = typename S::Vec>
inline V exp_v(V x) {
  V n;
  const V q = expm1_reduced<S>(clamp<S>(x, ::rnnkit::exp_range::kMinArg, ::rnnkit::exp_range::kMaxArg), n);
  return S::scale_pow2(S::add(q, S::set1(1.0f)), n);
}

// tanh_f's single form: -m / (2 + m) with m = e^{-2|x|} - 1, about a quarter fewer instructions than the
// polynomial-or-exp split. The bound is max's first operand, so a NaN x stays NaN.
template <class S = Simd, class V = typename S::Vec>
inline V tanh_v(V x) {
  const V one = S::set1(1.0f);
  const V y = S::max(S::set1(::rnnkit::exp_range::kMinArg), S::mul(S::set1(-2.0f), S::abs(x)));
  V n;
  const V q = expm1_reduced<S>(y, n);
  const V scale = S::scale_pow2(one, n);
  const V m = S::fma(q, scale, S::sub(scale, one));
  const V t = S::mul(S::abs(m), S::recip(S::add(S::set1(2.0f), m)));  // tanh|x|, +0 at 0
  return S::select(S::lt(x, S::set1(0.0f)), S::sub(S::set1(0.0f), t), t);
}

template <class S = Simd, class V = typename S::Vec>
inline V sigmoid_v(V x) {
  const V one = S::set1(1.0f);
  return S::recip(S::add(one, exp_v<S>(S::sub(S::set1(0.0f), x))));
}

template <class S = Simd, class V = typename S::Vec>
inline V hard_sigmoid_v(V x) {
  return clamp<S>(S::mul(S::add(x, S::set1(3.0f)), S::set1(1.0f / 6.0f)), 0.0f, 1.0f);
}

template <class S = Simd, class V = typename S::Vec>
inline V relu_v(V x) {
  const V zero = S::set1(0.0f);
  return S::select(S::lt(x, zero), zero, x);  // NaN stays NaN, as in Keras and the scalar form
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
      case Activation::tanh: return map(tanh_v<>, x, y, n);                                            \
      case Activation::sigmoid: return map(sigmoid_v<>, x, y, n);                                      \
      case Activation::hard_sigmoid: return map(hard_sigmoid_v<>, x, y, n);                            \
      case Activation::relu: return map(relu_v<>, x, y, n);                                            \
      case Activation::linear: if (x != y) std::memmove(y, x, sizeof(float) * n); return;            \
      default: return portable_activation_forward(a, x, y, n);                                       \
    }                                                                                                \
  }                                                                                                  \
  void exp_array(const float* x, float* y, std::int64_t n) {                                        \
    simd_math_vec_detail::map(simd_math_vec_detail::exp_v<>, x, y, n);                                 \
  }
