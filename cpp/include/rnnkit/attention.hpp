// Scaled dot-product attention and layer normalisation, each forward next to its backward.
// Buffers are row-major float32, sizes int64; invalid arguments throw std::invalid_argument.
#pragma once
#include <cstdint>
#include <limits>

namespace rnnkit {

// q[batch, heads, q_len, head_dim], k[batch, heads, kv_len, head_dim], v[batch, heads, kv_len, value_dim],
// out[batch, heads, q_len, value_dim].
struct AttentionDims {
  std::int64_t batch = 1, heads = 1, q_len = 0, kv_len = 0, head_dim = 0, value_dim = 0;
  // Rows per (batch, head) slice of the k and v buffers, of which the first kv_len are used; 0 means kv_len. A
  // key/value cache preallocated for the longest sequence is then read in place while it fills.
  std::int64_t kv_capacity = 0;
  std::int64_t kv_rows() const { return kv_capacity > 0 ? kv_capacity : kv_len; }
};

// Where the rows of one operand lie: element offsets between consecutive batches, heads and positions. Each row's
// head_dim (or value_dim) floats are contiguous; the strides are free otherwise (a view into a wider buffer).
struct AttentionRows {
  std::int64_t batch = 0, head = 0, position = 0;
};

// The rows of q, k, v and out (and, for the backward's gradients, of d_q, d_k, d_v and d_out).
struct AttentionLayout {
  AttentionRows q, k, v, out;
  // [batch, heads, len, dim] buffers, kv_rows() key and value rows per (batch, head) slice.
  static AttentionLayout heads_major(const AttentionDims& dims);
  // [batch, len, heads, dim] buffers: what a projection's (batch * len, heads * dim) rows already are, so a
  // multi-head layer reads its projections and writes its output with no head transposes.
  static AttentionLayout positions_major(const AttentionDims& dims);
};

// Which keys each query may attend to. Every mask is addressed through element strides over
// (batch, head, query, key); a stride of 0 broadcasts that axis, so a key-padding mask (batch, kv_len) is
// keep_strides = {kv_len, 0, 0, 1} and one (q_len, kv_len) mask for everything is {0, 0, kv_len, 1}.
struct AttentionMask {
  const std::uint8_t* keep = nullptr;  // boolean mask, nonzero = may attend (PyTorch's convention)
  std::int64_t keep_strides[4] = {0, 0, 0, 0};
  const float* bias = nullptr;  // additive mask added to the scaled scores; -inf hides a key
  std::int64_t bias_strides[4] = {0, 0, 0, 0};
  bool causal = false;
  std::int64_t causal_offset = 0;  // query i sees keys j <= i + causal_offset (kv_len - q_len when decoding)
};

struct AttentionOptions {
  AttentionMask mask;
  float scale = std::numeric_limits<float>::quiet_NaN();  // NaN means 1 / sqrt(head_dim)
  // Inverted dropout on the attention weights: weight (b, h, i, j) is dropped when a counter-based hash of
  // (seed, b, h, i, j) falls below dropout_p, so the backward regenerates the same mask without storing it.
  float dropout_p = 0.0f;
  std::uint64_t seed = 0;
};

// out = dropout(softmax(scale * q k^T + masks)) v, and lse[batch, heads, q_len] = the log-sum-exp of each
// row's visible scaled scores (-inf for a query that sees no key: its weights and output are 0).
// weights == nullptr: tiled over keys with an online softmax (FlashAttention), O(q_len + kv_len) extra memory,
// causal tiles above the diagonal skipped. weights != nullptr: also writes weights[batch, heads, q_len, kv_len],
// the softmax before dropout (Keras' returned scores).
void attention_forward(const AttentionDims& dims, const float* q, const float* k, const float* v,
                       const AttentionOptions& options, float* out, float* lse, float* weights = nullptr);
// The same with q, k, v and out where `layout` says (lse and weights as above).
void attention_forward(const AttentionDims& dims, const AttentionLayout& layout, const float* q, const float* k,
                       const float* v, const AttentionOptions& options, float* out, float* lse,
                       float* weights = nullptr);

// d_q, d_k, d_v (overwritten; d_k and d_v [batch, heads, kv_len, dim] whatever kv_capacity) from d_out,
// recomputing each tile's weights from q, k and the saved lse. Masks give no gradient. Threads over batch x heads,
// and over groups of key tiles when batch x heads is small; the result is the same on every thread count.
void attention_backward(const AttentionDims& dims, const float* q, const float* k, const float* v, const float* out,
                        const float* lse, const float* d_out, const AttentionOptions& options, float* d_q,
                        float* d_k, float* d_v);
// The same with q, k, v and out where `layout` says, and d_q, d_k, d_v and d_out where `grad_layout` says.
void attention_backward(const AttentionDims& dims, const AttentionLayout& layout, const float* q, const float* k,
                        const float* v, const float* out, const float* lse, const float* d_out,
                        const AttentionOptions& options, const AttentionLayout& grad_layout, float* d_q, float* d_k,
                        float* d_v);

// Keras LayerNormalization over the last axis: y = (x - mean) / sqrt(var + epsilon) * gamma + beta, with
// gamma/beta == nullptr meaning 1/0. mean and inv_std[rows] are saved for the backward.
void layer_norm_forward(const float* x, const float* gamma, const float* beta, std::int64_t rows,
                        std::int64_t features, float epsilon, float* y, float* mean, float* inv_std);
// d_x (overwritten), and d_gamma/d_beta (overwritten; skipped when nullptr).
void layer_norm_backward(const float* x, const float* gamma, const float* mean, const float* inv_std,
                         const float* d_y, std::int64_t rows, std::int64_t features, float* d_x, float* d_gamma,
                         float* d_beta);

}  // namespace rnnkit
