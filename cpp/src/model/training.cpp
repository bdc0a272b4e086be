// train_on_batch / evaluate: the model's forward and backward joined to the core's losses and optimizers.
#include "rnnkit/training.hpp"

#include <stdexcept>

#include "model/support.hpp"

namespace rnnkit {

namespace {

// Loss rows and classes of a prediction, after checking that y lines up with it.
std::pair<std::int64_t, std::int64_t> loss_layout(const Tensor& pred, const Tensor& y, const LossConfig& loss,
                                                  const char* fn) {
  const std::int64_t classes = pred.shape.empty() ? 1 : pred.shape.back();
  const std::int64_t rows = classes > 0 ? pred.size() / classes : 0;
  const bool sparse = loss.kind == LossKind::sparse_categorical_crossentropy;
  const bool fits = sparse ? y.size() == rows : y.shape == pred.shape;
  if (!fits)
    throw std::invalid_argument(std::string(fn) + ": expected targets of shape " +
                                model_detail::shape_text(pred.shape) + (sparse ? " without its last axis" : "") +
                                ", received " + model_detail::shape_text(y.shape));
  return {rows, classes};
}

// Keras masks the loss of a masked sequence output: one mask entry per loss row.
const std::uint8_t* loss_mask(const StepMask& mask, std::int64_t rows) {
  return !mask.empty() && static_cast<std::int64_t>(mask.size()) == rows ? mask.data() : nullptr;
}

}  // namespace

double train_on_batch(Model& model, const Tensor& x, const Tensor& y, const LossConfig& loss, Optimizer& optimizer) {
  Model::Trace trace;
  const Tensor pred = model.forward_train(x, trace);
  const auto [rows, classes] = loss_layout(pred, y, loss, "rnnkit::train_on_batch");
  Tensor d_pred(pred.shape);
  const double value = loss_value_and_grad(loss, y.values.data(), pred.values.data(), rows, classes, nullptr,
                                           loss_mask(trace.output_mask(), rows), d_pred.values.data(), nullptr);
  const std::vector<Tensor> grads = model.backward(trace, d_pred);
  std::vector<float*> variables;
  std::vector<const float*> gradients;
  std::vector<std::int64_t> sizes;
  const std::vector<Weight*> weights = model.weights();
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (!weights[i]->trainable) continue;  // moving statistics: their layer's forward updated them
    variables.push_back(weights[i]->value.values.data());
    gradients.push_back(grads[i].values.data());
    sizes.push_back(grads[i].size());
  }
  optimizer.apply(variables, gradients, sizes);
  return value;
}

double evaluate(const Model& model, const Tensor& x, const Tensor& y, const LossConfig& loss) {
  StepMask mask;
  const Tensor pred = model.predict(x, mask);
  const auto [rows, classes] = loss_layout(pred, y, loss, "rnnkit::evaluate");
  return loss_value_and_grad(loss, y.values.data(), pred.values.data(), rows, classes, nullptr,
                             loss_mask(mask, rows), nullptr, nullptr);
}

}  // namespace rnnkit
