// Keras 3 losses: value and gradient with respect to y_pred, with sample weights, masks and reductions.
//
// Shapes: y_pred is `rows` x `classes` (row-major; rows = product of every axis but the last, e.g. batch*time
// for sequence outputs). y_true has the same shape, except for sparse categorical crossentropy where it holds
// one class id per row (float-valued, must be an integer in [0, classes)). Each row yields one loss value: the
// mean over the last axis (MSE, MAE, binary crossentropy, Huber, log-cosh, MSLE, MAPE, Poisson) or a sum over it
// (categorical crossentropies: -y_true*log(p); KL divergence: y_true*log(y_true/p), both clipped to [1e-7, 1]).
//
// Reduction (Keras 3's reduce_weighted_values): with w[r] = sample_weight[r] (1 when nullptr),
//   no mask:  value = sum_r w[r] * loss[r] / D
//   mask:     masked-out rows get weight 0; under sum_over_batch_size kept rows get w[r] * rows / valid, so the
//             mean runs over valid rows only (a mask with no valid row gives 0)
// where D = rows for sum_over_batch_size (Keras' default; "mean" is the same) and D = 1 for sum.
// Probabilities are clipped to [1e-7, 1 - 1e-7] (Keras' epsilon); the gradient is zero where the clip is active,
// as in the reference autodiff. Categorical crossentropy on probabilities first divides each row by its sum.
// Invalid arguments (sizes, labels, label_smoothing outside [0, 1]) throw std::invalid_argument.
#pragma once
#include <cstdint>

namespace rnnkit {

enum class LossKind {
  mean_squared_error,
  mean_absolute_error,
  binary_crossentropy,
  categorical_crossentropy,
  sparse_categorical_crossentropy,
  huber,
  log_cosh,
  mean_squared_logarithmic_error,
  mean_absolute_percentage_error,
  kl_divergence,
  poisson,
  hinge,              // labels that are all 0 or 1 count as -1 and 1 (Keras' conversion, over the whole y_true)
  squared_hinge,      // likewise
  categorical_hinge,  // one value per row: max(max((1 - t) p) - sum(t p) + 1, 0)
  cosine_similarity,  // one value per row: -sum(t / |t| * p / |p|), each norm at least 1e-7
  binary_focal_crossentropy,
};

enum class Reduction { sum_over_batch_size, sum };

struct LossConfig {
  LossKind kind = LossKind::mean_squared_error;
  bool from_logits = false;      // crossentropies only
  float label_smoothing = 0.0f;  // binary and categorical crossentropy only
  Reduction reduction = Reduction::sum_over_batch_size;
  float delta = 1.0f;  // Huber only: quadratic below |error| = delta, linear above
  // Binary focal crossentropy only: (1 - p_t)^gamma weights each element's crossentropy, and with
  // apply_class_balancing alpha (positives) or 1 - alpha (negatives) too.
  float gamma = 2.0f;
  float alpha = 0.25f;
  bool apply_class_balancing = false;
};

// Returns the reduced loss. Optional outputs (nullptr to skip):
//   d_pred[rows * classes]  dLoss/dy_pred of the reduced value (overwritten)
//   per_row[rows]           each row's unweighted loss (overwritten), for reduction=None and metrics
// sample_weight[rows] and mask[rows] (nonzero = kept) are optional.
double loss_value_and_grad(const LossConfig& config, const float* y_true, const float* y_pred, std::int64_t rows,
                           std::int64_t classes, const float* sample_weight, const std::uint8_t* mask,
                           float* d_pred, float* per_row);

}  // namespace rnnkit
