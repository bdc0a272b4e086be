// LSTM block math with optional peepholes (gates [i f c~ o]; i, f see c_{t-1}, o sees c_t):
//   c_t = f⊙c_{t-1} + i⊙c~,  h_t = o⊙act(c_t). Forward next to backward. Included by cells_<isa>.cpp inside
// its ISA namespace (after activate/activate_grad), so the loops vectorise with that ISA.

void lstm_forward(const ForwardBlock& f) {
  const std::int64_t n = f.n, H = f.H, rs = f.rec_stride;
  const float *xp = f.xp, *rec = f.rec, *c = f.c, *p = f.peephole;
  float* g = f.gates;
  float pre[4][kMaxBlock] = {};
  for (std::int64_t j = 0; j < n; ++j) {
    pre[0][j] = xp[j] + rec[j];
    pre[1][j] = xp[H + j] + rec[rs + j];
    pre[2][j] = xp[2 * H + j] + rec[2 * rs + j];
    pre[3][j] = xp[3 * H + j] + rec[3 * rs + j];
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

void lstm_backward(const BackwardBlock& b) {
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
  for (std::int64_t j = 0; j < n; ++j) b.dc_prev[j] = dc[j] * g[H + j];
  if (p)
    for (std::int64_t j = 0; j < n; ++j) b.dc_prev[j] += p[j] * dg[j] + p[H + j] * dg[H + j];
}
