// Two vectors as one, with the interface of simd_<isa>.hpp: every operation applied to both halves, the two
// instructions adjacent. A gate kernel's math for one vector of units is one long dependency chain (exp, a
// reciprocal, and for LSTM the cell state's tanh after the gates': ~150 cycles on Zen 4), longer than the
// out-of-order window can overlap with the next loop iteration's, so the core idles on latency; written over
// pairs, the kernels hand it two independent chains side by side (pairs of pairs, four, where the ISA's
// Simd::gate_chains asks). Lane for lane the same arithmetic as S.
// Included inside an ISA namespace after its `struct Simd`.
template <class S>
struct Paired {
  struct Vec {
    typename S::Vec lo, hi;
  };
  struct Mask {
    typename S::Mask lo, hi;
  };
  static constexpr int width = 2 * S::width;
  static Vec load(const float* p) { return {S::load(p), S::load(p + S::width)}; }
  static void store(float* p, Vec v) { S::store(p, v.lo), S::store(p + S::width, v.hi); }
  static Vec set1(float x) { return {S::set1(x), S::set1(x)}; }
  static Vec add(Vec a, Vec b) { return {S::add(a.lo, b.lo), S::add(a.hi, b.hi)}; }
  static Vec sub(Vec a, Vec b) { return {S::sub(a.lo, b.lo), S::sub(a.hi, b.hi)}; }
  static Vec mul(Vec a, Vec b) { return {S::mul(a.lo, b.lo), S::mul(a.hi, b.hi)}; }
  static Vec recip(Vec b) { return {S::recip(b.lo), S::recip(b.hi)}; }
  static Vec fma(Vec a, Vec b, Vec c) { return {S::fma(a.lo, b.lo, c.lo), S::fma(a.hi, b.hi, c.hi)}; }
  static Vec floor(Vec a) { return {S::floor(a.lo), S::floor(a.hi)}; }
  static Vec scale_pow2(Vec x, Vec n) { return {S::scale_pow2(x.lo, n.lo), S::scale_pow2(x.hi, n.hi)}; }
  static Vec max(Vec a, Vec b) { return {S::max(a.lo, b.lo), S::max(a.hi, b.hi)}; }
  static Vec min(Vec a, Vec b) { return {S::min(a.lo, b.lo), S::min(a.hi, b.hi)}; }
  static Mask lt(Vec a, Vec b) { return {S::lt(a.lo, b.lo), S::lt(a.hi, b.hi)}; }
  static Vec select(Mask m, Vec a, Vec b) { return {S::select(m.lo, a.lo, b.lo), S::select(m.hi, a.hi, b.hi)}; }
  static Vec abs(Vec a) { return {S::abs(a.lo), S::abs(a.hi)}; }
};
