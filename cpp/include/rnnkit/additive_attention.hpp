// Additive (Bahdanau) attention with tanh scores: Keras' AdditiveAttention and Attention(score_mode="concat"),
// forward next to backward. Buffers are row-major float32, sizes int64; invalid arguments throw
// std::invalid_argument. The (batch, q_len, kv_len) weights are materialised: these attentions run over
// recurrent encoder outputs, where every score costs a tanh per feature anyway.
#pragma once
#include <cstdint>

namespace rnnkit {

// q[batch, q_len, dim], k[batch, kv_len, dim], v[batch, kv_len, value_dim], out[batch, q_len, value_dim].
struct AdditiveAttentionDims {
  std::int64_t batch = 1, q_len = 0, kv_len = 0, dim = 0, value_dim = 0;
};

// scores[b, i, j] = outer * sum_d weight[d] * tanh(inner * (q[b, i, d] + k[b, j, d])), weight == nullptr
// meaning 1 for every feature. AdditiveAttention: weight = its scale (dim,), outer = inner = 1.
// Attention(score_mode="concat"): no weight, outer = concat_score_weight, inner = its scalar scale (or 1).
struct AdditiveScore {
  const float* weight = nullptr;  // [dim]
  float outer = 1.0f;
  float inner = 1.0f;
};

// Gradients of the loss with respect to AdditiveScore's parameters.
struct AdditiveScoreGrads {
  float* d_weight = nullptr;  // [dim], overwritten; skipped when nullptr
  float d_outer = 0.0f;
  float d_inner = 0.0f;
};

struct AdditiveAttentionOptions {
  const std::uint8_t* value_mask = nullptr;  // [batch, kv_len], nonzero = the key may be attended to
  const std::uint8_t* query_mask = nullptr;  // [batch, q_len], zero = that query's output row is 0
  bool causal = false;                       // query i sees keys j <= i (Keras' top-left alignment)
  // Inverted dropout on the weights, drawn from the counter-based hash of (seed, b, i, j) that the dot-product
  // attention uses, so the backward regenerates the mask and no thread layout changes it.
  float dropout_p = 0.0f;
  std::uint64_t seed = 0;
};

// out = query_mask * (dropout(softmax(masked scores)) v); weights[batch, q_len, kv_len] = the softmax before
// dropout (Keras' returned scores; the backward needs them). A query that sees no key gets zero weights and a
// zero output. Threads over batch x query rows.
void additive_attention_forward(const AdditiveAttentionDims& dims, const float* q, const float* k, const float* v,
                                const AdditiveScore& score, const AdditiveAttentionOptions& options, float* out,
                                float* weights);

// d_q, d_k, d_v (overwritten) and the score parameters' gradients from d_out, the forward's inputs and its
// weights; each row's tanh terms are recomputed rather than stored. Masks give no gradient. Threads over batch.
void additive_attention_backward(const AdditiveAttentionDims& dims, const float* q, const float* k, const float* v,
                                 const AdditiveScore& score, const AdditiveAttentionOptions& options,
                                 const float* weights, const float* d_out, float* d_q, float* d_k, float* d_v,
                                 AdditiveScoreGrads& grads);

}  // namespace rnnkit
