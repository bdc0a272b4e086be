// GRU block math (gates [z r h~]), h_t = z⊙h_{t-1} + (1−z)⊙h~; forward next to backward.
//   reset_after:  h~ = act(x·W_h + b_h + r⊙(h_eff·U_h + b'_h))   (one product h·U per step)
//   !reset_after: h~ = act(x·W_h + (r⊙h_eff)·U_h + b_h)           (a second product once r is known:
//                 *_zr before it, *_h after it; backward *_zh before d(r⊙h_eff) = dpre_h·U_h^T, *_r after)
// Included by cells_isa_body.hpp inside its ISA namespace (after activate/activate_grad and the Simd helpers).

// h_t = z⊙h + (1−z)⊙h~ as h~ + z⊙(h − h~).
template <class S, class V = typename S::Vec>
V gru_mix(V z, V h, V candidate) {
  return S::fma(z, S::sub(h, candidate), candidate);
}

template <class S, bool kKeepGates>
void gru_forward_default(const ForwardBlock* rows, std::int64_t count) {
  using Vec = typename S::Vec;
  for (const ForwardBlock& f : RowSpan{rows, count}) {
    const std::int64_t H = f.H, rs = f.rec_stride;
    const float* rb = f.recurrent_bias;
    for (std::int64_t j = 0; j < f.n; j += S::width) {
      prefetch_next_inputs<S>(f, 3, j);
      Vec rec_z = S::load(f.rec + j), rec_r = S::load(f.rec + rs + j), rec_h = S::load(f.rec + 2 * rs + j);
      if (rb) {
        rec_z = S::add(rec_z, S::load(rb + j));
        rec_r = S::add(rec_r, S::load(rb + H + j));
        rec_h = S::add(rec_h, S::load(rb + 2 * H + j));
      }
      const Vec z = sigmoid_v<S>(S::add(input_pre<S>(f, 0, j), rec_z));
      const Vec r = sigmoid_v<S>(S::add(input_pre<S>(f, 1, j), rec_r));
      const Vec candidate = tanh_v<S>(S::fma(r, rec_h, input_pre<S>(f, 2, j)));
      if (kKeepGates) {
        S::store(f.gates + j, z);
        S::store(f.gates + H + j, r);
        S::store(f.gates + 2 * H + j, candidate);
        S::store(f.aux + j, rec_h);
      }
      S::store(f.h_new + j, gru_mix<S>(z, S::load(f.h + j), candidate));
    }
  }
}

void gru_forward_general(const ForwardBlock& f) {
  prefetch_next_inputs_all(f, 3);
  const std::int64_t n = f.n, H = f.H, rs = f.rec_stride;
  const float *rec = f.rec, *rb = f.recurrent_bias;
  float* g = f.gates;
  float pre[2][kMaxBlock] = {};
  for (std::int64_t j = 0; j < n; ++j) {
    pre[0][j] = input_pre_at(f, 0, j) + rec[j] + (rb ? rb[j] : 0.0f);
    pre[1][j] = input_pre_at(f, 1, j) + rec[rs + j] + (rb ? rb[H + j] : 0.0f);
    f.aux[j] = rec[2 * rs + j] + (rb ? rb[2 * H + j] : 0.0f);
  }
  activate(f.ract, pre[0], g, n);
  activate(f.ract, pre[1], g + H, n);
  for (std::int64_t j = 0; j < n; ++j) pre[0][j] = input_pre_at(f, 2, j) + g[H + j] * f.aux[j];
  activate(f.act, pre[0], g + 2 * H, n);
  for (std::int64_t j = 0; j < n; ++j) f.h_new[j] = g[j] * f.h[j] + (1.0f - g[j]) * g[2 * H + j];
}

void gru_forward(const ForwardBlock* rows, std::int64_t count) {
  if (vector_forward(rows[0])) {
    return vector_kernel(rows[0], [&](auto s) {
      using S = decltype(s);
      rows[0].keep_gates ? gru_forward_default<S, true>(rows, count) : gru_forward_default<S, false>(rows, count);
    });
  }
  for (const ForwardBlock& f : RowSpan{rows, count}) gru_forward_general(f);
}

void gru_forward_zr(const ForwardBlock* rows, std::int64_t count) {
  if (vector_forward(rows[0])) {
    return vector_kernel(rows[0], [&](auto s) {
      using S = decltype(s);
      for (const ForwardBlock& f : RowSpan{rows, count})
        for (std::int64_t j = 0; j < f.n; j += S::width) {
          prefetch_next_inputs<S>(f, 3, j);  // the candidate's too: gru_forward_h reads it in the same step
          const typename S::Vec z = sigmoid_v<S>(S::add(input_pre<S>(f, 0, j), S::load(f.rec + j)));
          const typename S::Vec r = sigmoid_v<S>(S::add(input_pre<S>(f, 1, j), S::load(f.rec + f.rec_stride + j)));
          S::store(f.gates + j, z);
          S::store(f.gates + f.H + j, r);
          S::store(f.aux + j, S::mul(r, S::load(f.h_eff + j)));
        }
    });
  }
  for (const ForwardBlock& f : RowSpan{rows, count}) {
    prefetch_next_inputs_all(f, 3);
    const std::int64_t n = f.n, H = f.H, rs = f.rec_stride;
    float* g = f.gates;
    float pre[2][kMaxBlock] = {};
    for (std::int64_t j = 0; j < n; ++j)
      pre[0][j] = input_pre_at(f, 0, j) + f.rec[j], pre[1][j] = input_pre_at(f, 1, j) + f.rec[rs + j];
    activate(f.ract, pre[0], g, n);
    activate(f.ract, pre[1], g + H, n);
    for (std::int64_t j = 0; j < n; ++j) f.aux[j] = g[H + j] * f.h_eff[j];
  }
}

// rec: (r ⊙ h_eff)·U_h for this block.
void gru_forward_h(const ForwardBlock* rows, std::int64_t count) {
  if (vector_forward(rows[0])) {
    return vector_kernel(rows[0], [&](auto s) {
      using S = decltype(s);
      for (const ForwardBlock& f : RowSpan{rows, count})
        for (std::int64_t j = 0; j < f.n; j += S::width) {
          const typename S::Vec candidate = tanh_v<S>(S::add(input_pre<S>(f, 2, j), S::load(f.rec + j)));
          S::store(f.gates + 2 * f.H + j, candidate);
          S::store(f.h_new + j, gru_mix<S>(S::load(f.gates + j), S::load(f.h + j), candidate));
        }
    });
  }
  for (const ForwardBlock& f : RowSpan{rows, count}) {
    const std::int64_t n = f.n, H = f.H;
    float* g = f.gates;
    float pre[kMaxBlock] = {};  // zeroed: only n entries are written, GCC cannot tell
    for (std::int64_t j = 0; j < n; ++j) pre[j] = input_pre_at(f, 2, j) + f.rec[j];
    activate(f.act, pre, g + 2 * H, n);
    for (std::int64_t j = 0; j < n; ++j) f.h_new[j] = g[j] * f.h[j] + (1.0f - g[j]) * g[2 * H + j];
  }
}

// dz and dpre_h (the candidate first: its gradient feeds dr), and the direct path dh ⊙ z.
void gru_backward_zh(const BackwardBlock& b) {
  if (default_activations(b.act, b.ract)) {
    const std::int64_t H = b.H;
    const float* g = b.gates;
#pragma omp simd  // the buffers never overlap (see lstm_backward_default)
    for (std::int64_t j = 0; j < b.n; ++j) {
      const float z = g[j], candidate = g[2 * H + j], dh = b.dh[j];
      b.dgx[j] = dh * (b.h_prev[j] - candidate) * z * (1.0f - z);
      b.dgx[2 * H + j] = dh * (1.0f - z) * (1.0f - candidate * candidate);
      b.direct[j] = dh * z;
    }
    return;
  }
  const std::int64_t n = b.n, H = b.H;
  const float* g = b.gates;
  float* dg = b.dgx;
  for (std::int64_t j = 0; j < n; ++j) {
    dg[j] = b.dh[j] * (b.h_prev[j] - g[2 * H + j]);
    dg[2 * H + j] = b.dh[j] * (1.0f - g[j]);
    b.direct[j] = b.dh[j] * g[j];
  }
  activate_grad(b.ract, g, dg, dg, n);
  activate_grad(b.act, g + 2 * H, dg + 2 * H, dg + 2 * H, n);
}

// dr from d(r ⊙ h_eff).
void gru_backward_r(const BackwardBlock& b) {
  if (default_activations(b.act, b.ract)) {
#pragma omp simd  // the buffers never overlap (see lstm_backward_default)
    for (std::int64_t j = 0; j < b.n; ++j) {
      const float r = b.gates[b.H + j];
      b.dgx[b.H + j] = b.d_rh[j] * b.h_eff[j] * r * (1.0f - r);
    }
    return;
  }
  const std::int64_t n = b.n, H = b.H;
  for (std::int64_t j = 0; j < n; ++j) b.dgx[H + j] = b.d_rh[j] * b.h_eff[j];
  activate_grad(b.ract, b.gates + H, b.dgx + H, b.dgx + H, n);
}

// reset_after: everything is element-wise; dgr differs from dgx only in the candidate gate (scaled by r).
void gru_backward(const BackwardBlock& b) {
  const std::int64_t n = b.n, H = b.H;
  const float* g = b.gates;
  float *dg = b.dgx, *dgr = b.dgr;
  gru_backward_zh(b);
  if (default_activations(b.act, b.ract)) {
#pragma omp simd  // the buffers never overlap (see lstm_backward_default)
    for (std::int64_t j = 0; j < n; ++j) {
      const float r = g[H + j], d_candidate = dg[2 * H + j];
      dg[H + j] = d_candidate * b.aux[j] * r * (1.0f - r);
      dgr[j] = dg[j];
      dgr[H + j] = dg[H + j];
      dgr[2 * H + j] = d_candidate * r;
    }
    return;
  }
  for (std::int64_t j = 0; j < n; ++j) {
    dg[H + j] = dg[2 * H + j] * b.aux[j];
    dgr[2 * H + j] = dg[2 * H + j] * g[H + j];
  }
  activate_grad(b.ract, g + H, dg + H, dg + H, n);
  for (std::int64_t j = 0; j < n; ++j) dgr[j] = dg[j], dgr[H + j] = dg[H + j];
}
