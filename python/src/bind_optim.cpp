// Optimizer updates, gradient clipping and losses for rnnkit.optimizers / rnnkit.losses.
// Variables and slots are numpy arrays updated in place, so they must already be float32, C-contiguous and
// writable (no silent copy that would drop the update); gradients and targets are converted once if needed.
#include <optional>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "bindings.hpp"
#include "rnnkit/losses.hpp"
#include "rnnkit/optimizers.hpp"

namespace rnnkit::py {

namespace {
using MaskArray = pyb::array_t<std::uint8_t, pyb::array::c_style | pyb::array::forcecast>;
using ArrayList = std::vector<pyb::array>;
using OptionalArrayList = std::optional<ArrayList>;

// In-place float32 buffers of one variable, its gradient and its slots, gathered with the GIL held.
struct Target {
  float* variable = nullptr;
  FloatArray grad;
  std::vector<float*> slots;
  std::int64_t size = 0;
};

float* writable(const char* fn, const char* what, pyb::array& a, const pyb::array& like) {
  if (!pyb::isinstance<pyb::array_t<float>>(a) || !(a.flags() & pyb::array::c_style) || !a.writeable())
    throw pyb::value_error(std::string(fn) + ": " + what +
                           " must be a writable C-contiguous float32 array (it is updated in place)");
  if (a.size() != like.size())
    throw pyb::value_error(std::string(fn) + ": " + what + " has " + std::to_string(a.size()) +
                           " elements, expected " + std::to_string(like.size()));
  return static_cast<float*>(a.mutable_data());
}

// Pairs variables with gradients and the listed slot kinds (each a list aligned with the variables).
std::vector<Target> gather(const char* fn, ArrayList& variables, const ArrayList& grads,
                           std::vector<ArrayList*> slot_lists) {
  if (grads.size() != variables.size())
    throw pyb::value_error(std::string(fn) + ": expected one gradient per variable, received " +
                           std::to_string(grads.size()) + " gradients for " + std::to_string(variables.size()) +
                           " variables");
  for (ArrayList* slots : slot_lists)
    if (slots->size() != variables.size())
      throw pyb::value_error(std::string(fn) + ": expected one slot per variable, received " +
                             std::to_string(slots->size()) + " for " + std::to_string(variables.size()));
  std::vector<Target> targets(variables.size());
  for (std::size_t k = 0; k < variables.size(); ++k) {
    Target& t = targets[k];
    t.variable = writable(fn, "variable", variables[k], variables[k]);
    t.grad = FloatArray::ensure(grads[k]);
    if (!t.grad) throw pyb::value_error(std::string(fn) + ": gradient " + std::to_string(k) + " is not numeric");
    if (t.grad.size() != variables[k].size())
      throw pyb::value_error(std::string(fn) + ": gradient " + std::to_string(k) + " has " +
                             std::to_string(t.grad.size()) + " elements, its variable has " +
                             std::to_string(variables[k].size()));
    t.size = variables[k].size();
    for (ArrayList* slots : slot_lists) t.slots.push_back(writable(fn, "slot", (*slots)[k], variables[k]));
  }
  return targets;
}

void bind_optimizers(pyb::module_& m) {
  m.def(
      "clip_gradients",
      [](const ArrayList& grads, float clipnorm, float clipvalue, float global_clipnorm) {
        GradientClipping clipping{clipnorm, clipvalue, global_clipnorm};
        check_clipping(clipping);
        std::vector<FloatArray> out;
        std::vector<float*> buffers;
        std::vector<std::int64_t> sizes;
        for (const pyb::array& g : grads) {
          FloatArray src = FloatArray::ensure(g);
          if (!src) throw pyb::value_error("clip_gradients: a gradient is not numeric");
          std::vector<pyb::ssize_t> shape(src.shape(), src.shape() + src.ndim());
          FloatArray copy(shape);
          std::copy(src.data(), src.data() + src.size(), copy.mutable_data());
          buffers.push_back(copy.mutable_data());
          sizes.push_back(copy.size());
          out.push_back(copy);
        }
        {
          pyb::gil_scoped_release nogil;
          clip_gradients(clipping, buffers.data(), sizes.data(), static_cast<std::int64_t>(buffers.size()));
        }
        return out;
      },
      pyb::arg("grads"), pyb::arg("clipnorm") = 0.0f, pyb::arg("clipvalue") = 0.0f,
      pyb::arg("global_clipnorm") = 0.0f,
      "Clipped float32 copies of the gradients (Keras 3: at most one of the three modes; 0 = off)");

  m.def(
      "sgd_apply",
      [](ArrayList variables, const ArrayList& grads, OptionalArrayList momentums, float learning_rate,
         float momentum, bool nesterov) {
        SGDConfig config{learning_rate, momentum, nesterov};
        std::vector<ArrayList*> slots;
        if (momentum != 0.0f) {
          if (!momentums) throw pyb::value_error("sgd_apply: momentum != 0 needs the momentum slots");
          slots.push_back(&*momentums);
        }
        auto targets = gather("sgd_apply", variables, grads, slots);
        pyb::gil_scoped_release nogil;
        for (Target& t : targets)
          sgd_update(config, t.variable, t.grad.data(), t.slots.empty() ? nullptr : t.slots[0], t.size);
      },
      pyb::arg("variables"), pyb::arg("grads"), pyb::arg("momentums"), pyb::arg("learning_rate"),
      pyb::arg("momentum"), pyb::arg("nesterov"), "One SGD step in place on every variable");

  m.def(
      "adam_apply",
      [](ArrayList variables, const ArrayList& grads, ArrayList momentums, ArrayList velocities,
         OptionalArrayList velocity_hats, std::int64_t iteration, float learning_rate, float beta_1, float beta_2,
         float epsilon, bool amsgrad) {
        AdamConfig config{learning_rate, beta_1, beta_2, epsilon, amsgrad};
        std::vector<ArrayList*> slots{&momentums, &velocities};
        if (amsgrad) {
          if (!velocity_hats) throw pyb::value_error("adam_apply: amsgrad needs the velocity_hat slots");
          slots.push_back(&*velocity_hats);
        }
        auto targets = gather("adam_apply", variables, grads, slots);
        pyb::gil_scoped_release nogil;
        for (Target& t : targets)
          adam_update(config, iteration, t.variable, t.grad.data(), t.slots[0], t.slots[1],
                      amsgrad ? t.slots[2] : nullptr, t.size);
      },
      pyb::arg("variables"), pyb::arg("grads"), pyb::arg("momentums"), pyb::arg("velocities"),
      pyb::arg("velocity_hats"), pyb::arg("iteration"), pyb::arg("learning_rate"), pyb::arg("beta_1"),
      pyb::arg("beta_2"), pyb::arg("epsilon"), pyb::arg("amsgrad"),
      "One Adam step in place; `iteration` is the optimizer's iteration count before the step");

  m.def(
      "rmsprop_apply",
      [](ArrayList variables, const ArrayList& grads, ArrayList velocities, OptionalArrayList momentums,
         OptionalArrayList average_gradients, float learning_rate, float rho, float momentum, float epsilon,
         bool centered) {
        RMSpropConfig config{learning_rate, rho, momentum, epsilon, centered};
        std::vector<ArrayList*> slots{&velocities};
        if (momentum > 0.0f) {
          if (!momentums) throw pyb::value_error("rmsprop_apply: momentum > 0 needs the momentum slots");
          slots.push_back(&*momentums);
        }
        if (centered) {
          if (!average_gradients) throw pyb::value_error("rmsprop_apply: centered needs the average_gradient slots");
          slots.push_back(&*average_gradients);
        }
        auto targets = gather("rmsprop_apply", variables, grads, slots);
        const bool with_momentum = momentum > 0.0f;
        pyb::gil_scoped_release nogil;
        for (Target& t : targets)
          rmsprop_update(config, t.variable, t.grad.data(), t.slots[0], with_momentum ? t.slots[1] : nullptr,
                         centered ? t.slots.back() : nullptr, t.size);
      },
      pyb::arg("variables"), pyb::arg("grads"), pyb::arg("velocities"), pyb::arg("momentums"),
      pyb::arg("average_gradients"), pyb::arg("learning_rate"), pyb::arg("rho"), pyb::arg("momentum"),
      pyb::arg("epsilon"), pyb::arg("centered"), "One RMSprop step in place on every variable");

  m.def(
      "adagrad_apply",
      [](ArrayList variables, const ArrayList& grads, ArrayList accumulators, float learning_rate, float epsilon) {
        AdagradConfig config{learning_rate, 0.0f, epsilon};
        auto targets = gather("adagrad_apply", variables, grads, {&accumulators});
        pyb::gil_scoped_release nogil;
        for (Target& t : targets) adagrad_update(config, t.variable, t.grad.data(), t.slots[0], t.size);
      },
      pyb::arg("variables"), pyb::arg("grads"), pyb::arg("accumulators"), pyb::arg("learning_rate"),
      pyb::arg("epsilon"), "One Adagrad step in place on every variable");

  m.def(
      "nadam_apply",
      [](ArrayList variables, const ArrayList& grads, ArrayList momentums, ArrayList velocities,
         std::int64_t iteration, float u_product, float learning_rate, float beta_1, float beta_2, float epsilon) {
        NadamConfig config{learning_rate, beta_1, beta_2, epsilon};
        auto targets = gather("nadam_apply", variables, grads, {&momentums, &velocities});
        pyb::gil_scoped_release nogil;
        const float advanced = nadam_u_product(config, iteration, u_product);
        for (Target& t : targets)
          nadam_update(config, iteration, advanced, t.variable, t.grad.data(), t.slots[0], t.slots[1], t.size);
        return advanced;
      },
      pyb::arg("variables"), pyb::arg("grads"), pyb::arg("momentums"), pyb::arg("velocities"), pyb::arg("iteration"),
      pyb::arg("u_product"), pyb::arg("learning_rate"), pyb::arg("beta_1"), pyb::arg("beta_2"), pyb::arg("epsilon"),
      "One Nadam step in place; takes the momentum-schedule product before the step and returns it after");

  m.def(
      "adamax_apply",
      [](ArrayList variables, const ArrayList& grads, ArrayList momentums, ArrayList norms, std::int64_t iteration,
         float learning_rate, float beta_1, float beta_2, float epsilon) {
        AdamaxConfig config{learning_rate, beta_1, beta_2, epsilon};
        auto targets = gather("adamax_apply", variables, grads, {&momentums, &norms});
        pyb::gil_scoped_release nogil;
        for (Target& t : targets)
          adamax_update(config, iteration, t.variable, t.grad.data(), t.slots[0], t.slots[1], t.size);
      },
      pyb::arg("variables"), pyb::arg("grads"), pyb::arg("momentums"), pyb::arg("norms"), pyb::arg("iteration"),
      pyb::arg("learning_rate"), pyb::arg("beta_1"), pyb::arg("beta_2"), pyb::arg("epsilon"),
      "One Adamax step in place; `iteration` is the optimizer's iteration count before the step");

  m.def(
      "adadelta_apply",
      [](ArrayList variables, const ArrayList& grads, ArrayList accumulated_grads, ArrayList accumulated_delta_vars,
         float learning_rate, float rho, float epsilon) {
        AdadeltaConfig config{learning_rate, rho, epsilon};
        auto targets = gather("adadelta_apply", variables, grads, {&accumulated_grads, &accumulated_delta_vars});
        pyb::gil_scoped_release nogil;
        for (Target& t : targets)
          adadelta_update(config, t.variable, t.grad.data(), t.slots[0], t.slots[1], t.size);
      },
      pyb::arg("variables"), pyb::arg("grads"), pyb::arg("accumulated_grads"), pyb::arg("accumulated_delta_vars"),
      pyb::arg("learning_rate"), pyb::arg("rho"), pyb::arg("epsilon"), "One Adadelta step in place");

  m.def(
      "lion_apply",
      [](ArrayList variables, const ArrayList& grads, ArrayList momentums, float learning_rate, float beta_1,
         float beta_2) {
        LionConfig config{learning_rate, beta_1, beta_2};
        auto targets = gather("lion_apply", variables, grads, {&momentums});
        pyb::gil_scoped_release nogil;
        for (Target& t : targets) lion_update(config, t.variable, t.grad.data(), t.slots[0], t.size);
      },
      pyb::arg("variables"), pyb::arg("grads"), pyb::arg("momentums"), pyb::arg("learning_rate"), pyb::arg("beta_1"),
      pyb::arg("beta_2"), "One Lion step in place");
}

LossKind loss_kind(const std::string& name) {
  if (name == "mean_squared_error") return LossKind::mean_squared_error;
  if (name == "mean_absolute_error") return LossKind::mean_absolute_error;
  if (name == "binary_crossentropy") return LossKind::binary_crossentropy;
  if (name == "categorical_crossentropy") return LossKind::categorical_crossentropy;
  if (name == "sparse_categorical_crossentropy") return LossKind::sparse_categorical_crossentropy;
  if (name == "huber") return LossKind::huber;
  if (name == "log_cosh") return LossKind::log_cosh;
  if (name == "mean_squared_logarithmic_error") return LossKind::mean_squared_logarithmic_error;
  if (name == "mean_absolute_percentage_error") return LossKind::mean_absolute_percentage_error;
  if (name == "kl_divergence") return LossKind::kl_divergence;
  if (name == "poisson") return LossKind::poisson;
  if (name == "hinge") return LossKind::hinge;
  if (name == "squared_hinge") return LossKind::squared_hinge;
  if (name == "categorical_hinge") return LossKind::categorical_hinge;
  if (name == "cosine_similarity") return LossKind::cosine_similarity;
  if (name == "binary_focal_crossentropy") return LossKind::binary_focal_crossentropy;
  throw pyb::value_error("loss_value_and_grad: unknown loss '" + name + "'");
}

void bind_losses(pyb::module_& m) {
  m.def(
      "loss_value_and_grad",
      [](const std::string& name, FloatArray y_true, FloatArray y_pred, std::optional<FloatArray> sample_weight,
         std::optional<MaskArray> mask, bool from_logits, float label_smoothing, float delta, float gamma, float alpha,
         bool apply_class_balancing, bool sum_reduction, bool with_grad, bool with_per_row) {
        LossConfig config{loss_kind(name), from_logits, label_smoothing,
                          sum_reduction ? Reduction::sum : Reduction::sum_over_batch_size, delta, gamma, alpha,
                          apply_class_balancing};
        if (y_pred.ndim() < 1) throw pyb::value_error("loss_value_and_grad: y_pred must have rank >= 1");
        const std::int64_t classes = y_pred.shape(y_pred.ndim() - 1);
        const std::int64_t rows = classes == 0 ? 0 : y_pred.size() / classes;
        const bool sparse = config.kind == LossKind::sparse_categorical_crossentropy;
        const std::int64_t expected_true = sparse ? rows : y_pred.size();
        if (y_true.size() != expected_true)
          throw pyb::value_error("loss_value_and_grad: y_true has " + std::to_string(y_true.size()) +
                                 " elements, expected " + std::to_string(expected_true) +
                                 (sparse ? " (one label per row)" : " (the shape of y_pred)"));
        if (sample_weight && sample_weight->size() != rows)
          throw pyb::value_error("loss_value_and_grad: sample_weight has " + std::to_string(sample_weight->size()) +
                                 " elements, expected one per row (" + std::to_string(rows) + ")");
        if (mask && mask->size() != rows)
          throw pyb::value_error("loss_value_and_grad: mask has " + std::to_string(mask->size()) +
                                 " elements, expected one per row (" + std::to_string(rows) + ")");
        std::vector<pyb::ssize_t> shape(y_pred.shape(), y_pred.shape() + y_pred.ndim());
        pyb::object grad = pyb::none(), per_row = pyb::none();
        float *d = nullptr, *pr = nullptr;
        if (with_grad) {
          FloatArray a(shape);
          d = a.mutable_data();
          grad = a;
        }
        if (with_per_row) {
          FloatArray a(std::vector<pyb::ssize_t>(shape.begin(), shape.end() - 1));
          pr = a.mutable_data();
          per_row = a;
        }
        const float* w = sample_weight ? sample_weight->data() : nullptr;
        const std::uint8_t* mk = mask ? mask->data() : nullptr;
        double value;
        {
          pyb::gil_scoped_release nogil;
          value = loss_value_and_grad(config, y_true.data(), y_pred.data(), rows, classes, w, mk, d, pr);
        }
        return pyb::make_tuple(value, grad, per_row);
      },
      pyb::arg("name"), pyb::arg("y_true"), pyb::arg("y_pred"), pyb::arg("sample_weight") = pyb::none(),
      pyb::arg("mask") = pyb::none(), pyb::arg("from_logits") = false, pyb::arg("label_smoothing") = 0.0f,
      pyb::arg("delta") = 1.0f, pyb::arg("gamma") = 2.0f, pyb::arg("alpha") = 0.25f,
      pyb::arg("apply_class_balancing") = false, pyb::arg("sum_reduction") = false, pyb::arg("with_grad") = true, pyb::arg("with_per_row") = false,
      "(value, dLoss/dy_pred or None, per-row losses or None) of a Keras 3 loss over rows of the last axis");
}
}  // namespace

void bind_optim(pyb::module_& m) {
  bind_optimizers(m);
  bind_losses(m);
}

}  // namespace rnnkit::py
