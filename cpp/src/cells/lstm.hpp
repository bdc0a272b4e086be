// LSTM block math with optional peepholes (gates [i f c~ o]; i, f see c_{t-1}, o sees c_t):
//   c_t = f⊙c_{t-1} + i⊙c~,  h_t = o⊙act(c_t). Forward next to backward. Included by cells_isa_body.hpp inside
// its ISA namespace (after activate/activate_grad and the Simd helpers), so the loops use that ISA.

// Gate g's pre-activation x·W + b + h·U at units [j, j + S::width).
template <class S>
typename S::Vec lstm_pre(const ForwardBlock& f, int gate, std::int64_t j) {
  return S::add(input_pre<S>(f, gate, j), S::load(f.rec + gate * f.rec_stride + j));
}

// Two passes over the rows' blocks (in L1): c_t from i, f and c~ first, then o and h_t. In one pass a vector's math is
// a chain (a gate's exp and reciprocal, then c_t's tanh) of more micro-ops than the out-of-order window holds,
// so the next vector could hardly start before it was done; each pass's chains are shorter. With the AVX2
// division (simd_avx2.hpp), 64 rows x 128 units in L1: 5.3-5.9 -> 3.5-4.9 ns a unit (Zen 3, noisy host).
template <class S, bool kKeepGates>
void lstm_forward_default(const ForwardBlock* rows, std::int64_t count) {
  using Vec = typename S::Vec;
  for (const ForwardBlock& f : RowSpan{rows, count}) {
    const float* p = f.peephole;
    for (std::int64_t j = 0; j < f.n; j += S::width) {
      prefetch_next_inputs<S>(f, 4, j);
      const Vec c_prev = S::load(f.c + j);
      Vec pre_i = lstm_pre<S>(f, 0, j), pre_f = lstm_pre<S>(f, 1, j);
      if (p) {
        pre_i = S::fma(S::load(p + j), c_prev, pre_i);
        pre_f = S::fma(S::load(p + f.H + j), c_prev, pre_f);
      }
      const Vec i = sigmoid_v<S>(pre_i), fg = sigmoid_v<S>(pre_f), cc = tanh_v<S>(lstm_pre<S>(f, 2, j));
      if (kKeepGates) {
        S::store(f.gates + j, i);
        S::store(f.gates + f.H + j, fg);
        S::store(f.gates + 2 * f.H + j, cc);
      }
      S::store(f.c_new + j, S::add(S::mul(fg, c_prev), S::mul(i, cc)));
    }
  }
  for (const ForwardBlock& f : RowSpan{rows, count}) {
    const float* p = f.peephole;
    for (std::int64_t j = 0; j < f.n; j += S::width) {
      const Vec c_new = S::load(f.c_new + j);
      Vec pre_o = lstm_pre<S>(f, 3, j);
      if (p) pre_o = S::fma(S::load(p + 2 * f.H + j), c_new, pre_o);
      const Vec o = sigmoid_v<S>(pre_o), act_c = tanh_v<S>(c_new);
      if (kKeepGates) {
        S::store(f.gates + 3 * f.H + j, o);
        S::store(f.aux + j, act_c);
      }
      S::store(f.h_new + j, S::mul(o, act_c));
    }
  }
}

void lstm_forward_general(const ForwardBlock& f) {
  prefetch_next_inputs_all(f, 4);
  const std::int64_t n = f.n, H = f.H, rs = f.rec_stride;
  const float *rec = f.rec, *c = f.c, *p = f.peephole;
  float* g = f.gates;
  float pre[4][kMaxBlock] = {};
  for (std::int64_t j = 0; j < n; ++j) {
    pre[0][j] = input_pre_at(f, 0, j) + rec[j];
    pre[1][j] = input_pre_at(f, 1, j) + rec[rs + j];
    pre[2][j] = input_pre_at(f, 2, j) + rec[2 * rs + j];
    pre[3][j] = input_pre_at(f, 3, j) + rec[3 * rs + j];
  }
  if (p)
    for (std::int64_t j = 0; j < n; ++j) pre[0][j] += p[j] * c[j], pre[1][j] += p[H + j] * c[j];
  activate(f.ract, pre[0], g, n);
  activate(f.ract, pre[1], g + H, n);
  activate(f.act, pre[2], g + 2 * H, n);
  for (std::int64_t j = 0; j < n; ++j) f.c_new[j] = g[H + j] * c[j] + g[j] * g[2 * H + j];
  if (p)
    for (std::int64_t j = 0; j < n; ++j) pre[3][j] += p[2 * H + j] * f.c_new[j];
  activate(f.ract, pre[3], g + 3 * H, n);
  activate(f.act, f.c_new, f.aux, n);
  for (std::int64_t j = 0; j < n; ++j) f.h_new[j] = g[3 * H + j] * f.aux[j];
}

void lstm_forward(const ForwardBlock* rows, std::int64_t count) {
  if (vector_forward(rows[0])) {
    return vector_kernel(rows[0], [&](auto s) {
      using S = decltype(s);
      rows[0].keep_gates ? lstm_forward_default<S, true>(rows, count) : lstm_forward_default<S, false>(rows, count);
    });
  }
  for (const ForwardBlock& f : RowSpan{rows, count}) lstm_forward_general(f);
}

// One pass, derivatives through the outputs: sigmoid' = y(1-y), tanh' = 1-y². `omp simd`: the buffers never
// overlap (dc is updated in place, element for element), which GCC cannot prove from the pointers, and without
// it this loop stays scalar.
template <bool kPeephole>
void lstm_backward_default(const BackwardBlock& b) {
  const std::int64_t H = b.H;
  const float *g = b.gates, *act_c = b.aux, *p = b.peephole;
  float* dg = b.dgx;
#pragma omp simd
  for (std::int64_t j = 0; j < b.n; ++j) {
    const float i = g[j], fg = g[H + j], cc = g[2 * H + j], o = g[3 * H + j], ac = act_c[j], dh = b.dh[j];
    const float d_o = dh * ac * o * (1.0f - o);
    float dc = dh * o * (1.0f - ac * ac) + b.dc[j];
    if (kPeephole) dc += p[2 * H + j] * d_o;
    const float d_i = dc * cc * i * (1.0f - i), d_f = dc * b.c_prev[j] * fg * (1.0f - fg);
    dg[j] = d_i;
    dg[H + j] = d_f;
    dg[2 * H + j] = dc * i * (1.0f - cc * cc);
    dg[3 * H + j] = d_o;
    b.dc[j] = kPeephole ? dc * fg + p[j] * d_i + p[H + j] * d_f : dc * fg;
  }
}

void lstm_backward(const BackwardBlock& b) {
  if (default_activations(b.act, b.ract))
    return b.peephole ? lstm_backward_default<true>(b) : lstm_backward_default<false>(b);
  const std::int64_t n = b.n, H = b.H;
  const float *g = b.gates, *act_c = b.aux, *p = b.peephole;
  float* dg = b.dgx;
  float dc[kMaxBlock] = {};  // dL/dc_t
  for (std::int64_t j = 0; j < n; ++j) dg[3 * H + j] = b.dh[j] * act_c[j], dc[j] = b.dh[j] * g[3 * H + j];
  activate_grad(b.ract, g + 3 * H, dg + 3 * H, dg + 3 * H, n);
  activate_grad(b.act, act_c, dc, dc, n);
  for (std::int64_t j = 0; j < n; ++j) dc[j] += b.dc[j];
  if (p)
    for (std::int64_t j = 0; j < n; ++j) dc[j] += p[2 * H + j] * dg[3 * H + j];
  for (std::int64_t j = 0; j < n; ++j) {
    dg[j] = dc[j] * g[2 * H + j];
    dg[H + j] = dc[j] * b.c_prev[j];
    dg[2 * H + j] = dc[j] * g[j];
  }
  activate_grad(b.ract, g, dg, dg, n);
  activate_grad(b.ract, g + H, dg + H, dg + H, n);
  activate_grad(b.act, g + 2 * H, dg + 2 * H, dg + 2 * H, n);
  for (std::int64_t j = 0; j < n; ++j) b.dc[j] = dc[j] * g[H + j];
  if (p)
    for (std::int64_t j = 0; j < n; ++j) b.dc[j] += p[j] * dg[j] + p[H + j] * dg[H + j];
}
