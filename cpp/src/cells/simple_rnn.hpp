// SimpleRNN block math, h_t = act(x_t·W + b + h_eff·U); forward next to backward. Included by cells_<isa>.cpp
// inside its ISA namespace (after activate/activate_grad), so the loops vectorise with that ISA.

void simple_rnn_forward(const ForwardBlock& f) {
  float pre[kMaxBlock] = {};  // zeroed: only n entries are written, GCC cannot tell
  for (std::int64_t j = 0; j < f.n; ++j) pre[j] = f.xp[j] + f.rec[j];
  activate(f.act, pre, f.gates, f.n);
  for (std::int64_t j = 0; j < f.n; ++j) f.h_new[j] = f.gates[j];
}

void simple_rnn_backward(const BackwardBlock& b) { activate_grad(b.act, b.gates, b.dh, b.dgx, b.n); }
