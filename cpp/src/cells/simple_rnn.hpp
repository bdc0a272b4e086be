// SimpleRNN block math, h_t = act(x_t·W + b + h_eff·U); forward next to backward. Included by cells_isa_body.hpp
// inside its ISA namespace (after activate/activate_grad and the Simd helpers), so the loops use that ISA.

void simple_rnn_forward(const ForwardBlock* rows, std::int64_t count) {
  if (vector_forward(rows[0])) {
    return vector_kernel(rows[0], [&](auto s) {
      using S = decltype(s);
      for (const ForwardBlock& f : RowSpan{rows, count})
        for (std::int64_t j = 0; j < f.n; j += S::width) {
          prefetch_next_inputs<S>(f, 1, j);
          const typename S::Vec h = tanh_v<S>(S::add(input_pre<S>(f, 0, j), S::load(f.rec + j)));
          S::store(f.gates + j, h);
          S::store(f.h_new + j, h);
        }
    });
  }
  for (const ForwardBlock& f : RowSpan{rows, count}) {
    prefetch_next_inputs_all(f, 1);
    float pre[kMaxBlock] = {};  // zeroed: only n entries are written, GCC cannot tell
    for (std::int64_t j = 0; j < f.n; ++j) pre[j] = input_pre_at(f, 0, j) + f.rec[j];
    activate(f.act, pre, f.gates, f.n);
    for (std::int64_t j = 0; j < f.n; ++j) f.h_new[j] = f.gates[j];
  }
}

void simple_rnn_backward(const BackwardBlock& b) {
  if (default_activations(b.act, b.ract)) {
#pragma omp simd  // the buffers never overlap (see lstm_backward_default)
    for (std::int64_t j = 0; j < b.n; ++j) b.dgx[j] = b.dh[j] * (1.0f - b.gates[j] * b.gates[j]);
    return;
  }
  activate_grad(b.act, b.gates, b.dh, b.dgx, b.n);
}
