// Optimizer updates with Keras 3 semantics (SGD, Adam, RMSprop, Adagrad, Nadam, Adamax, Adadelta, Lion) and Keras 3
// gradient clipping.
//
// Two levels:
//  - free functions that update one variable in place from its gradient and caller-owned slot buffers
//    (what the Python optimizers call: Python owns the slots so it can save and restore them);
//  - `Optimizer`, which owns the slots, the iteration counter and the clipping, for training from C++.
// Buffers are float32 of `n` elements; sizes are int64; invalid arguments throw std::invalid_argument.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rnnkit {

// Defaults are Keras 3's.
struct SGDConfig {
  float learning_rate = 0.01f;
  float momentum = 0.0f;
  bool nesterov = false;
};
struct AdamConfig {
  float learning_rate = 0.001f;
  float beta_1 = 0.9f;
  float beta_2 = 0.999f;
  float epsilon = 1e-7f;
  bool amsgrad = false;
};
struct RMSpropConfig {
  float learning_rate = 0.001f;
  float rho = 0.9f;
  float momentum = 0.0f;
  float epsilon = 1e-7f;
  bool centered = false;
};
struct AdagradConfig {
  float learning_rate = 0.001f;
  float initial_accumulator_value = 0.1f;  // the accumulator slot's initial value (zero for every other slot)
  float epsilon = 1e-7f;
};
struct NadamConfig {
  float learning_rate = 0.001f;
  float beta_1 = 0.9f;
  float beta_2 = 0.999f;
  float epsilon = 1e-7f;
};
struct AdamaxConfig {
  float learning_rate = 0.001f;
  float beta_1 = 0.9f;
  float beta_2 = 0.999f;
  float epsilon = 1e-7f;
};
struct AdadeltaConfig {
  float learning_rate = 0.001f;
  float rho = 0.95f;
  float epsilon = 1e-7f;
};
struct LionConfig {
  float learning_rate = 0.001f;
  float beta_1 = 0.9f;  // in (0, 1]
  float beta_2 = 0.99f;
};

// SGD. `momentum` (slot) is required when config.momentum != 0, ignored (may be nullptr) otherwise.
void sgd_update(const SGDConfig& config, float* variable, const float* grad, float* momentum, std::int64_t n);

// Adam. `iteration` is the number of updates already applied (Keras' optimizer.iterations before this step),
// which drives the bias correction. `velocity_hat` is required when config.amsgrad, ignored otherwise.
void adam_update(const AdamConfig& config, std::int64_t iteration, float* variable, const float* grad,
                 float* momentum, float* velocity, float* velocity_hat, std::int64_t n);

// RMSprop. `momentum` is required when config.momentum > 0, `average_gradient` when config.centered.
void rmsprop_update(const RMSpropConfig& config, float* variable, const float* grad, float* velocity,
                    float* momentum, float* average_gradient, std::int64_t n);

// Adagrad. `accumulator` starts at config.initial_accumulator_value.
void adagrad_update(const AdagradConfig& config, float* variable, const float* grad, float* accumulator,
                    std::int64_t n);

// Nadam keeps one scalar beside its slots: the product of its momentum schedule u_1 u_2 ... over the steps taken
// (1 before the first). Each step first advances it, once for all variables, with nadam_u_product(config,
// iteration, product) (iteration = steps already taken); every variable's nadam_update then reads the advanced value.
float nadam_u_product(const NadamConfig& config, std::int64_t iteration, float u_product);
void nadam_update(const NadamConfig& config, std::int64_t iteration, float u_product, float* variable,
                  const float* grad, float* momentum, float* velocity, std::int64_t n);

// Adamax: `norm` is the exponentially weighted infinity norm of the gradients.
void adamax_update(const AdamaxConfig& config, std::int64_t iteration, float* variable, const float* grad,
                   float* momentum, float* norm, std::int64_t n);

// Adadelta: running averages of the squared gradients and of the squared updates.
void adadelta_update(const AdadeltaConfig& config, float* variable, const float* grad, float* accumulated_grad,
                     float* accumulated_delta_var, std::int64_t n);

// Lion: the sign of an interpolation of momentum and gradient.
void lion_update(const LionConfig& config, float* variable, const float* grad, float* momentum, std::int64_t n);

// Keras 3 gradient clipping: at most one of the three may be set (0 = off), else std::invalid_argument.
//   clipnorm:        each gradient g <- g * clipnorm / max(||g||, clipnorm)
//   global_clipnorm: all gradients scaled by clipnorm / max(global norm, clipnorm) (NaN when the norm is not finite)
//   clipvalue:       each element clipped to [-clipvalue, clipvalue]
struct GradientClipping {
  float clipnorm = 0.0f;
  float clipvalue = 0.0f;
  float global_clipnorm = 0.0f;
};
void check_clipping(const GradientClipping& clipping);  // throws std::invalid_argument when two are set or one < 0
// Clips `count` gradient buffers (grads[i] of sizes[i] elements) in place.
void clip_gradients(const GradientClipping& clipping, float* const* grads, const std::int64_t* sizes,
                    std::int64_t count);
// sqrt of the sum of squares over all buffers (accumulated in double).
double global_norm(const float* const* grads, const std::int64_t* sizes, std::int64_t count);

// A stateful optimizer for C++ training loops: clipping, then the update of every variable, then iterations += 1.
// Slots are created at the first apply (zeros; Adagrad's accumulator at its initial value); later calls must
// pass the same number of variables with the same sizes.
class Optimizer {
 public:
  explicit Optimizer(const SGDConfig& config, const GradientClipping& clipping = {});
  explicit Optimizer(const AdamConfig& config, const GradientClipping& clipping = {});
  explicit Optimizer(const RMSpropConfig& config, const GradientClipping& clipping = {});
  explicit Optimizer(const AdagradConfig& config, const GradientClipping& clipping = {});
  explicit Optimizer(const NadamConfig& config, const GradientClipping& clipping = {});
  explicit Optimizer(const AdamaxConfig& config, const GradientClipping& clipping = {});
  explicit Optimizer(const AdadeltaConfig& config, const GradientClipping& clipping = {});
  explicit Optimizer(const LionConfig& config, const GradientClipping& clipping = {});

  // variables[i] (sizes[i] floats) is updated in place from grads[i]; grads are read, never written.
  void apply(const std::vector<float*>& variables, const std::vector<const float*>& grads,
             const std::vector<std::int64_t>& sizes);

  const std::string& name() const { return name_; }  // Keras' names: "sgd", "adam", "rmsprop", "nadam", ...
  std::int64_t iterations() const { return iterations_; }
  void set_iterations(std::int64_t iterations);
  float learning_rate() const;
  void set_learning_rate(float learning_rate);
  // Slots in Keras' order: every variable's first slot kind, then every variable's second, ... (e.g. Adam:
  // momentum of each variable, then velocity of each, then velocity_hat when amsgrad). Empty before apply.
  std::vector<std::vector<float>>& slots() { return slots_; }
  // Nadam's momentum-schedule product (1 for the other optimizers), saved after the slots in Keras' files.
  float u_product() const { return u_product_; }
  void set_u_product(float u_product) { u_product_ = u_product; }

 private:
  enum class Kind { sgd, adam, rmsprop, adagrad, nadam, adamax, adadelta, lion };
  Kind kind_;
  std::string name_;
  SGDConfig sgd_;
  AdamConfig adam_;
  RMSpropConfig rmsprop_;
  AdagradConfig adagrad_;
  NadamConfig nadam_;
  AdamaxConfig adamax_;
  AdadeltaConfig adadelta_;
  LionConfig lion_;
  float u_product_ = 1.0f;
  GradientClipping clipping_;
  std::int64_t iterations_ = 0;
  std::vector<std::int64_t> sizes_;
  std::vector<std::vector<float>> slots_;
  std::vector<float> clipped_;  // scratch copy of the gradients when clipping is on

  int slot_kinds() const;
  void build(const std::vector<std::int64_t>& sizes);
};

}  // namespace rnnkit
