// Non-recurrent layer ops: Dense, Embedding, 1-D convolution, 1-D and global 1-D pooling, batch normalisation. Each
// forward has its backward beside it. Buffers are row-major float32; sizes are int64; invalid arguments throw std::invalid_argument.
#pragma once
#include <cstdint>
#include <string>

namespace rnnkit {

// y[rows, units] = x[rows, in] * kernel[in, units] (+ bias[units] when bias != nullptr).
void dense_forward(const float* x, const float* kernel, const float* bias, std::int64_t rows, std::int64_t in,
                   std::int64_t units, float* y);
// d_x = d_y * kernel^T (skipped when d_x == nullptr), d_kernel = x^T * d_y,
// d_bias = column sums of d_y (skipped when d_bias == nullptr). Outputs are overwritten.
void dense_backward(const float* x, const float* kernel, const float* d_y, std::int64_t rows, std::int64_t in,
                    std::int64_t units, float* d_x, float* d_kernel, float* d_bias);

// out[n, dim] = table[ids[n], :]. Every id is checked against [0, vocab) before any row is read.
void embedding_forward(const std::int64_t* ids, std::int64_t n, const float* table, std::int64_t vocab,
                       std::int64_t dim, float* out);
// d_table[vocab, dim] = scatter-add of d_out rows at ids (d_table overwritten; repeated ids accumulate).
void embedding_backward(const std::int64_t* ids, std::int64_t n, const float* d_out, std::int64_t vocab,
                        std::int64_t dim, float* d_table);

// out[b, f] = mean over the steps t with mask[b, t] != 0 of x[b, t, f]; mask == nullptr means all steps.
// A row whose mask is all zero averages nothing and yields 0 (Keras divides 0 by a clamped count).
void global_average_pool_1d_forward(const float* x, const std::uint8_t* mask, std::int64_t batch,
                                    std::int64_t steps, std::int64_t features, float* out);
void global_average_pool_1d_backward(const float* d_out, const std::uint8_t* mask, std::int64_t batch,
                                     std::int64_t steps, std::int64_t features, float* d_x);

// out[b, f] = max over t of x[b, t, f]; argmax[b, f] records the first step reaching it, for the backward.
void global_max_pool_1d_forward(const float* x, std::int64_t batch, std::int64_t steps, std::int64_t features,
                                float* out, std::int64_t* argmax);
// d_x is overwritten: d_out[b, f] lands on step argmax[b, f], zeros elsewhere.
void global_max_pool_1d_backward(const float* d_out, const std::int64_t* argmax, std::int64_t batch,
                                 std::int64_t steps, std::int64_t features, float* d_x);

// A window sliding over the steps axis of (batch, steps, channels): `size` taps `dilation` steps apart, moved
// `stride` steps at a time, starting `pad_left` steps before the first step; `steps_out` positions. Steps outside
// the input are zeros for a convolution and left out of a pooling window.
struct Window1d {
  std::int64_t size, stride, dilation, pad_left, steps_out;
};
// The window of Keras' padding: "valid" (no padding), "same" (ceil(steps / stride) outputs; the padding split as
// Keras splits it, the odd step on the right) or "causal" (all of it on the left; for convolutions).
Window1d window_1d(std::int64_t steps, std::int64_t size, std::int64_t stride, std::int64_t dilation,
                   const std::string& padding);

// y[b, t, f] = bias[f] + sum over k, c of x[b, t * stride - pad_left + k * dilation, c] * kernel[k, c, f];
// kernel is [size, channels, filters] (Keras' layout), bias may be null.
void conv1d_forward(const float* x, const float* kernel, const float* bias, std::int64_t batch, std::int64_t steps,
                    std::int64_t channels, std::int64_t filters, const Window1d& window, float* y);
// d_x (skipped when null), d_kernel and d_bias (skipped when null) overwritten.
void conv1d_backward(const float* x, const float* kernel, const float* d_y, std::int64_t batch, std::int64_t steps,
                     std::int64_t channels, std::int64_t filters, const Window1d& window, float* d_x,
                     float* d_kernel, float* d_bias);

// DepthwiseConv1D: y[b, t, c * m + j] = bias[c * m + j] + sum over k of x[b, t * stride - pad_left + k * dilation, c]
// * kernel[k, c, j]; kernel is [size, channels, m] (Keras' layout), bias may be null. y is (batch, steps_out, c * m).
void depthwise_conv1d_forward(const float* x, const float* kernel, const float* bias, std::int64_t batch,
                              std::int64_t steps, std::int64_t channels, std::int64_t multiplier,
                              const Window1d& window, float* y);
// d_x (skipped when null), d_kernel and d_bias (skipped when null) overwritten.
void depthwise_conv1d_backward(const float* x, const float* kernel, const float* d_y, std::int64_t batch,
                               std::int64_t steps, std::int64_t channels, std::int64_t multiplier,
                               const Window1d& window, float* d_x, float* d_kernel, float* d_bias);

// Conv1DTranspose's window, Keras' output length and cropping: `conv` is the Conv1D over the output's `steps`
// (conv.steps_out = the input's steps) whose adjoint the transposed convolution is. output_padding < 0 stands for
// Keras' None. Needs input_steps >= 1.
struct TransposedWindow1d {
  Window1d conv;
  std::int64_t steps;
};
TransposedWindow1d conv1d_transpose_window(std::int64_t input_steps, std::int64_t size, std::int64_t stride,
                                           std::int64_t dilation, const std::string& padding,
                                           std::int64_t output_padding);
// y[b, p, f] = bias[f] + sum over i, k, c with i * stride + k * dilation - pad_left = p of x[b, i, c] *
// kernel[k, f, c]; kernel is [size, filters, channels] (Keras' layout), bias may be null, y has window.steps steps.
void conv1d_transpose_forward(const float* x, const float* kernel, const float* bias, std::int64_t batch,
                              std::int64_t channels, std::int64_t filters, const TransposedWindow1d& window,
                              float* y);
// d_x (skipped when null), d_kernel and d_bias (skipped when null) overwritten.
void conv1d_transpose_backward(const float* x, const float* kernel, const float* d_y, std::int64_t batch,
                               std::int64_t channels, std::int64_t filters, const TransposedWindow1d& window,
                               float* d_x, float* d_kernel, float* d_bias);

// y[b, t, c] = max of x[b, s, c] over the window's steps s inside the input (the first NaN wins); argmax[b, t, c]
// records the step, so the backward routes d_y there (the first of equal maxima). argmax may be null (inference).
void max_pool_1d_forward(const float* x, std::int64_t batch, std::int64_t steps, std::int64_t channels,
                         const Window1d& window, float* y, std::int64_t* argmax);
// d_x (batch, steps, channels) overwritten.
void max_pool_1d_backward(const float* d_y, const std::int64_t* argmax, std::int64_t batch, std::int64_t steps,
                          std::int64_t channels, const Window1d& window, float* d_x);
// y[b, t, c] = mean of x[b, s, c] over the window's steps s inside the input (padding is not counted).
void average_pool_1d_forward(const float* x, std::int64_t batch, std::int64_t steps, std::int64_t channels,
                             const Window1d& window, float* y);
void average_pool_1d_backward(const float* d_y, std::int64_t batch, std::int64_t steps, std::int64_t channels,
                              const Window1d& window, float* d_x);

// GroupNormalization of x (batch, positions, channels): each sample's `groups` groups of channels / groups channels
// normalised over their positions x channels / groups values (mean, biased variance, both in double), then gamma
// and beta per channel (either may be null). mean and inv_std (batch x groups, 1 / sqrt(variance + epsilon)) are
// written for the backward when not null.
void group_norm_forward(const float* x, const float* gamma, const float* beta, std::int64_t batch,
                        std::int64_t positions, std::int64_t channels, std::int64_t groups, float epsilon, float* y,
                        float* mean, float* inv_std);
// d_x (skipped when null), d_gamma and d_beta (each skipped when null) overwritten.
void group_norm_backward(const float* x, const float* gamma, const float* mean, const float* inv_std,
                         const float* d_y, std::int64_t batch, std::int64_t positions, std::int64_t channels,
                         std::int64_t groups, float* d_x, float* d_gamma, float* d_beta);

// Batch normalisation over the last axis of x viewed as (rows, channels). row_weight (null: every row 1) holds 1 for
// the rows a mask keeps and 0 for the others, which then take no part in the statistics (Keras 3's masked moments).
// mean and variance (biased) per channel, accumulated in double.
void batch_norm_moments(const float* x, const float* row_weight, std::int64_t rows, std::int64_t channels,
                        float* mean, float* variance);
// y = gamma * (x - mean) / sqrt(variance + epsilon) + beta, per channel; gamma and beta may be null (1 and 0).
void batch_norm_forward(const float* x, const float* mean, const float* variance, const float* gamma,
                        const float* beta, float epsilon, std::int64_t rows, std::int64_t channels, float* y);
// The gradients of batch_norm_forward. With batch_statistics the mean and variance are the ones batch_norm_moments
// computed from this x (and row_weight), so d_x includes their dependence on x; without, they are constants (the
// moving statistics at inference). d_x, d_gamma and d_beta (each skipped when null) are overwritten.
void batch_norm_backward(const float* x, const float* mean, const float* variance, const float* gamma,
                         const float* row_weight, bool batch_statistics, float epsilon, std::int64_t rows,
                         std::int64_t channels, const float* d_y, float* d_x, float* d_gamma, float* d_beta);

// AdaptiveAveragePooling1D / AdaptiveMaxPooling1D of x (batch, steps, channels) to y (batch, steps_out, channels):
// output step t pools the input steps [floor(t * steps / steps_out), ceil((t + 1) * steps / steps_out)) (PyTorch's
// bins, Keras 3's on every backend); steps and steps_out must be positive. The max keeps the first maximum (the first
// NaN); argmax (skipped when null) receives its step. The backwards overwrite d_x.
void adaptive_average_pool_1d_forward(const float* x, std::int64_t batch, std::int64_t steps, std::int64_t channels,
                                      std::int64_t steps_out, float* y);
void adaptive_average_pool_1d_backward(const float* d_y, std::int64_t batch, std::int64_t steps,
                                       std::int64_t channels, std::int64_t steps_out, float* d_x);
void adaptive_max_pool_1d_forward(const float* x, std::int64_t batch, std::int64_t steps, std::int64_t channels,
                                  std::int64_t steps_out, float* y, std::int64_t* argmax);
void adaptive_max_pool_1d_backward(const float* d_y, const std::int64_t* argmax, std::int64_t batch,
                                   std::int64_t steps, std::int64_t channels, std::int64_t steps_out, float* d_x);

}  // namespace rnnkit
