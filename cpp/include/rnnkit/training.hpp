// Training a Model from C++: one optimizer step on a batch, and the loss of a batch without training.
#pragma once
#include "rnnkit/losses.hpp"
#include "rnnkit/model.hpp"
#include "rnnkit/optimizers.hpp"

namespace rnnkit {

// forward_train, the loss (rows = every axis of the prediction but the last), backward, optimizer.apply on every
// trainable weight. Returns the batch loss before the update. y has the prediction's shape, or one class id per
// row for sparse categorical crossentropy; std::invalid_argument otherwise.
double train_on_batch(Model& model, const Tensor& x, const Tensor& y, const LossConfig& loss, Optimizer& optimizer);

// The loss of model.predict(x) against y.
double evaluate(const Model& model, const Tensor& x, const Tensor& y, const LossConfig& loss);

}  // namespace rnnkit
