// Optimizer updates and gradient clipping with Keras 3 semantics; each loop is element-wise and in place.
#include "rnnkit/optimizers.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "rnnkit/runtime.hpp"

namespace rnnkit {

namespace {
// Element-wise loops are memory bound: threads only pay off on large variables.
constexpr std::int64_t kParallelThreshold = 1 << 16;

void check_buffer(const char* fn, const char* what, const void* p, std::int64_t n) {
  if (n > 0 && p == nullptr) throw std::invalid_argument(std::string(fn) + ": " + what + " must not be null");
}

void check_common(const char* fn, float learning_rate, float* variable, const float* grad, std::int64_t n) {
  if (n < 0) throw std::invalid_argument(std::string(fn) + ": size must be >= 0, received " + std::to_string(n));
  if (!std::isfinite(learning_rate))
    throw std::invalid_argument(std::string(fn) + ": learning_rate must be finite, received " +
                                std::to_string(learning_rate));
  check_buffer(fn, "variable", variable, n);
  check_buffer(fn, "grad", grad, n);
}
}  // namespace

void sgd_update(const SGDConfig& c, float* variable, const float* grad, float* momentum, std::int64_t n) {
  check_common("sgd_update", c.learning_rate, variable, grad, n);
  const float lr = c.learning_rate, mu = c.momentum;
  if (mu == 0.0f) {
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n > kParallelThreshold)
    for (std::int64_t i = 0; i < n; ++i) variable[i] -= lr * grad[i];
    return;
  }
  check_buffer("sgd_update", "momentum slot", momentum, n);
  const bool nesterov = c.nesterov;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n > kParallelThreshold)
  for (std::int64_t i = 0; i < n; ++i) {
    const float m = mu * momentum[i] - lr * grad[i];
    momentum[i] = m;
    variable[i] += nesterov ? mu * m - lr * grad[i] : m;
  }
}

void adam_update(const AdamConfig& c, std::int64_t iteration, float* variable, const float* grad, float* momentum,
                 float* velocity, float* velocity_hat, std::int64_t n) {
  check_common("adam_update", c.learning_rate, variable, grad, n);
  if (iteration < 0)
    throw std::invalid_argument("adam_update: iteration must be >= 0, received " + std::to_string(iteration));
  check_buffer("adam_update", "momentum slot", momentum, n);
  check_buffer("adam_update", "velocity slot", velocity, n);
  if (c.amsgrad) check_buffer("adam_update", "velocity_hat slot", velocity_hat, n);
  // Bias correction at step = iterations + 1, from the float32 betas (1 - 0.999f is not 0.001: Keras sees the
  // same rounded beta), evaluated in double so late steps do not lose digits to the cancellation.
  const double step = static_cast<double>(iteration) + 1.0;
  const float b1 = c.beta_1, b2 = c.beta_2, eps = c.epsilon;
  const float alpha = static_cast<float>(c.learning_rate * std::sqrt(1.0 - std::pow(static_cast<double>(b2), step)) /
                                         (1.0 - std::pow(static_cast<double>(b1), step)));
  const bool amsgrad = c.amsgrad;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n > kParallelThreshold)
  for (std::int64_t i = 0; i < n; ++i) {
    const float g = grad[i];
    const float m = b1 * momentum[i] + (1.0f - b1) * g;
    float v = b2 * velocity[i] + (1.0f - b2) * (g * g);
    momentum[i] = m;
    velocity[i] = v;
    if (amsgrad) {
      v = std::max(velocity_hat[i], v);
      velocity_hat[i] = v;
    }
    variable[i] -= (m * alpha) / (std::sqrt(v) + eps);
  }
}

void rmsprop_update(const RMSpropConfig& c, float* variable, const float* grad, float* velocity, float* momentum,
                    float* average_gradient, std::int64_t n) {
  check_common("rmsprop_update", c.learning_rate, variable, grad, n);
  check_buffer("rmsprop_update", "velocity slot", velocity, n);
  const bool with_momentum = c.momentum > 0.0f, centered = c.centered;
  if (with_momentum) check_buffer("rmsprop_update", "momentum slot", momentum, n);
  if (centered) check_buffer("rmsprop_update", "average_gradient slot", average_gradient, n);
  const float lr = c.learning_rate, rho = c.rho, mu = c.momentum, eps = c.epsilon;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n > kParallelThreshold)
  for (std::int64_t i = 0; i < n; ++i) {
    const float g = grad[i];
    const float v = rho * velocity[i] + (1.0f - rho) * (g * g);
    velocity[i] = v;
    float denominator = v + eps;
    if (centered) {
      const float a = rho * average_gradient[i] + (1.0f - rho) * g;
      average_gradient[i] = a;
      denominator -= a * a;
    }
    const float increment = (g * lr) / std::sqrt(denominator);
    if (with_momentum) {
      const float m = mu * momentum[i] + increment;
      momentum[i] = m;
      variable[i] -= m;
    } else {
      variable[i] -= increment;
    }
  }
}

void adagrad_update(const AdagradConfig& c, float* variable, const float* grad, float* accumulator,
                    std::int64_t n) {
  check_common("adagrad_update", c.learning_rate, variable, grad, n);
  check_buffer("adagrad_update", "accumulator slot", accumulator, n);
  const float lr = c.learning_rate, eps = c.epsilon;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n > kParallelThreshold)
  for (std::int64_t i = 0; i < n; ++i) {
    const float g = grad[i];
    const float a = accumulator[i] + g * g;
    accumulator[i] = a;
    variable[i] -= (g * lr) / std::sqrt(a + eps);
  }
}

namespace {
// Nadam's momentum schedule u_t = beta_1 (1 - 0.5 * 0.96^t), in float32 as Keras evaluates it.
float nadam_schedule(float beta_1, std::int64_t step) {
  return beta_1 * (1.0f - 0.5f * std::pow(0.96f, static_cast<float>(step)));
}
}  // namespace

float nadam_u_product(const NadamConfig& c, std::int64_t iteration, float u_product) {
  return u_product * nadam_schedule(c.beta_1, iteration + 1);
}

void nadam_update(const NadamConfig& c, std::int64_t iteration, float u_product, float* variable, const float* grad,
                  float* momentum, float* velocity, std::int64_t n) {
  check_common("nadam_update", c.learning_rate, variable, grad, n);
  if (iteration < 0)
    throw std::invalid_argument("nadam_update: iteration must be >= 0, received " + std::to_string(iteration));
  check_buffer("nadam_update", "momentum slot", momentum, n);
  check_buffer("nadam_update", "velocity slot", velocity, n);
  const float b1 = c.beta_1, b2 = c.beta_2, eps = c.epsilon, lr = c.learning_rate;
  const float u_t = nadam_schedule(b1, iteration + 1), u_next = nadam_schedule(b1, iteration + 2);
  const float m_scale = u_next / (1.0f - u_product * u_next), g_scale = (1.0f - u_t) / (1.0f - u_product);
  const float v_correction = 1.0f - std::pow(b2, static_cast<float>(iteration + 1));
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n > kParallelThreshold)
  for (std::int64_t i = 0; i < n; ++i) {
    const float g = grad[i];
    const float m = momentum[i] + (g - momentum[i]) * (1.0f - b1);
    const float v = velocity[i] + (g * g - velocity[i]) * (1.0f - b2);
    momentum[i] = m;
    velocity[i] = v;
    const float m_hat = m * m_scale + g * g_scale;
    variable[i] -= (m_hat * lr) / (std::sqrt(v / v_correction) + eps);
  }
}

void adamax_update(const AdamaxConfig& c, std::int64_t iteration, float* variable, const float* grad,
                   float* momentum, float* norm, std::int64_t n) {
  check_common("adamax_update", c.learning_rate, variable, grad, n);
  if (iteration < 0)
    throw std::invalid_argument("adamax_update: iteration must be >= 0, received " + std::to_string(iteration));
  check_buffer("adamax_update", "momentum slot", momentum, n);
  check_buffer("adamax_update", "norm slot", norm, n);
  const float b1 = c.beta_1, b2 = c.beta_2, eps = c.epsilon, lr = c.learning_rate;
  const float correction = 1.0f - std::pow(b1, static_cast<float>(iteration + 1));
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n > kParallelThreshold)
  for (std::int64_t i = 0; i < n; ++i) {
    const float g = grad[i];
    const float m = momentum[i] + (g - momentum[i]) * (1.0f - b1);
    const float u = std::max(b2 * norm[i], std::fabs(g));
    momentum[i] = m;
    norm[i] = u;
    variable[i] -= (lr * m) / (correction * (u + eps));
  }
}

void adadelta_update(const AdadeltaConfig& c, float* variable, const float* grad, float* accumulated_grad,
                     float* accumulated_delta_var, std::int64_t n) {
  check_common("adadelta_update", c.learning_rate, variable, grad, n);
  check_buffer("adadelta_update", "accumulated_grad slot", accumulated_grad, n);
  check_buffer("adadelta_update", "accumulated_delta_var slot", accumulated_delta_var, n);
  const float rho = c.rho, eps = c.epsilon, lr = c.learning_rate;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n > kParallelThreshold)
  for (std::int64_t i = 0; i < n; ++i) {
    const float g = grad[i];
    const float a = rho * accumulated_grad[i] + (1.0f - rho) * (g * g);
    accumulated_grad[i] = a;
    const float delta = -(std::sqrt(accumulated_delta_var[i] + eps) * g) / std::sqrt(a + eps);
    accumulated_delta_var[i] = rho * accumulated_delta_var[i] + (1.0f - rho) * (delta * delta);
    variable[i] += lr * delta;
  }
}

void lion_update(const LionConfig& c, float* variable, const float* grad, float* momentum, std::int64_t n) {
  check_common("lion_update", c.learning_rate, variable, grad, n);
  check_buffer("lion_update", "momentum slot", momentum, n);
  if (!(c.beta_1 > 0.0f && c.beta_1 <= 1.0f))
    throw std::invalid_argument("lion_update: beta_1 must be in (0, 1], received " + std::to_string(c.beta_1));
  const float b1 = c.beta_1, b2 = c.beta_2, lr = c.learning_rate;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n > kParallelThreshold)
  for (std::int64_t i = 0; i < n; ++i) {
    const float g = grad[i];
    const float direction = momentum[i] * b1 + g * (1.0f - b1);
    variable[i] -= lr * static_cast<float>((direction > 0.0f) - (direction < 0.0f));
    momentum[i] = momentum[i] * b2 + g * (1.0f - b2);
  }
}

void check_clipping(const GradientClipping& clipping) {
  const float values[] = {clipping.clipnorm, clipping.clipvalue, clipping.global_clipnorm};
  int set = 0;
  for (float v : values) {
    if (!(v >= 0.0f) || std::isinf(v))
      throw std::invalid_argument("gradient clipping: clipnorm, clipvalue and global_clipnorm must be finite and "
                                  ">= 0 (0 = off), received " + std::to_string(v));
    set += v > 0.0f;
  }
  if (set > 1)
    throw std::invalid_argument("gradient clipping: only one of clipnorm, clipvalue and global_clipnorm can be set, "
                                "received clipnorm=" + std::to_string(clipping.clipnorm) +
                                " clipvalue=" + std::to_string(clipping.clipvalue) +
                                " global_clipnorm=" + std::to_string(clipping.global_clipnorm));
}

double global_norm(const float* const* grads, const std::int64_t* sizes, std::int64_t count) {
  // Fixed-size chunks summed in index order: the norm (and so every clipped update) is bit-identical whatever
  // the thread count, which an OpenMP reduction does not promise.
  constexpr std::int64_t kChunk = 1 << 14;
  double sum = 0.0;
  std::vector<double> partial;
  for (std::int64_t k = 0; k < count; ++k) {
    check_buffer("global_norm", "gradient", grads[k], sizes[k]);
    const float* g = grads[k];
    const std::int64_t n = sizes[k], chunks = (n + kChunk - 1) / kChunk;
    partial.assign(static_cast<std::size_t>(chunks), 0.0);
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n > kParallelThreshold)
    for (std::int64_t c = 0; c < chunks; ++c) {
      const std::int64_t end = std::min(n, (c + 1) * kChunk);
      double part = 0.0;
      for (std::int64_t i = c * kChunk; i < end; ++i) part += static_cast<double>(g[i]) * g[i];
      partial[c] = part;
    }
    for (double part : partial) sum += part;
  }
  return std::sqrt(sum);
}

namespace {
void scale(float* g, std::int64_t n, float factor) {
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n > kParallelThreshold)
  for (std::int64_t i = 0; i < n; ++i) g[i] *= factor;
}
}  // namespace

void clip_gradients(const GradientClipping& clipping, float* const* grads, const std::int64_t* sizes,
                    std::int64_t count) {
  check_clipping(clipping);
  if (count < 0) throw std::invalid_argument("clip_gradients: count must be >= 0, received " + std::to_string(count));
  for (std::int64_t k = 0; k < count; ++k) {
    if (sizes[k] < 0)
      throw std::invalid_argument("clip_gradients: sizes must be >= 0, received " + std::to_string(sizes[k]));
    check_buffer("clip_gradients", "gradient", grads[k], sizes[k]);
  }
  if (clipping.clipnorm > 0.0f) {
    // Keras multiplies by clipnorm first, then divides by max(norm, clipnorm): a no-op below the threshold.
    const float clip = clipping.clipnorm;
    for (std::int64_t k = 0; k < count; ++k) {
      const float norm = static_cast<float>(global_norm(&grads[k], &sizes[k], 1));
      const float divisor = std::max(norm, clip);
      float* g = grads[k];
      for (std::int64_t i = 0; i < sizes[k]; ++i) g[i] = g[i] * clip / divisor;
    }
  } else if (clipping.global_clipnorm > 0.0f) {
    const float clip = clipping.global_clipnorm;
    const float norm = static_cast<float>(global_norm(grads, sizes, count));
    // min(1/norm, 1/clip) * clip, plus (norm - norm) so a non-finite norm poisons every gradient as in Keras.
    const float factor = clip * std::min(1.0f / norm, 1.0f / clip) + (norm - norm);
    for (std::int64_t k = 0; k < count; ++k) scale(grads[k], sizes[k], factor);
  } else if (clipping.clipvalue > 0.0f) {
    const float v = clipping.clipvalue;
    for (std::int64_t k = 0; k < count; ++k) {
      float* g = grads[k];
      for (std::int64_t i = 0; i < sizes[k]; ++i) g[i] = std::min(std::max(g[i], -v), v);
    }
  }
}

// ---- Optimizer: the stateful wrapper for C++ training loops -----------------------------------------------------

Optimizer::Optimizer(const SGDConfig& config, const GradientClipping& clipping)
    : kind_(Kind::sgd), name_("sgd"), sgd_(config), clipping_(clipping) {
  check_clipping(clipping);
}
Optimizer::Optimizer(const AdamConfig& config, const GradientClipping& clipping)
    : kind_(Kind::adam), name_("adam"), adam_(config), clipping_(clipping) {
  check_clipping(clipping);
}
Optimizer::Optimizer(const RMSpropConfig& config, const GradientClipping& clipping)
    : kind_(Kind::rmsprop), name_("rmsprop"), rmsprop_(config), clipping_(clipping) {
  check_clipping(clipping);
}
Optimizer::Optimizer(const AdagradConfig& config, const GradientClipping& clipping)
    : kind_(Kind::adagrad), name_("adagrad"), adagrad_(config), clipping_(clipping) {
  check_clipping(clipping);
}
Optimizer::Optimizer(const NadamConfig& config, const GradientClipping& clipping)
    : kind_(Kind::nadam), name_("nadam"), nadam_(config), clipping_(clipping) {
  check_clipping(clipping);
}
Optimizer::Optimizer(const AdamaxConfig& config, const GradientClipping& clipping)
    : kind_(Kind::adamax), name_("adamax"), adamax_(config), clipping_(clipping) {
  check_clipping(clipping);
}
Optimizer::Optimizer(const AdadeltaConfig& config, const GradientClipping& clipping)
    : kind_(Kind::adadelta), name_("adadelta"), adadelta_(config), clipping_(clipping) {
  check_clipping(clipping);
}
Optimizer::Optimizer(const LionConfig& config, const GradientClipping& clipping)
    : kind_(Kind::lion), name_("lion"), lion_(config), clipping_(clipping) {
  check_clipping(clipping);
}

int Optimizer::slot_kinds() const {
  switch (kind_) {
    case Kind::sgd: return sgd_.momentum != 0.0f ? 1 : 0;
    case Kind::adam: return adam_.amsgrad ? 3 : 2;
    case Kind::rmsprop: return 1 + (rmsprop_.momentum > 0.0f) + rmsprop_.centered;
    case Kind::adagrad: return 1;
    case Kind::nadam: return 2;
    case Kind::adamax: return 2;
    case Kind::adadelta: return 2;
    case Kind::lion: return 1;
  }
  return 0;
}

float Optimizer::learning_rate() const {
  switch (kind_) {
    case Kind::sgd: return sgd_.learning_rate;
    case Kind::adam: return adam_.learning_rate;
    case Kind::rmsprop: return rmsprop_.learning_rate;
    case Kind::adagrad: return adagrad_.learning_rate;
    case Kind::nadam: return nadam_.learning_rate;
    case Kind::adamax: return adamax_.learning_rate;
    case Kind::adadelta: return adadelta_.learning_rate;
    case Kind::lion: return lion_.learning_rate;
  }
  return 0.0f;
}

void Optimizer::set_learning_rate(float learning_rate) {
  if (!std::isfinite(learning_rate))
    throw std::invalid_argument("Optimizer::set_learning_rate: expected a finite value, received " +
                                std::to_string(learning_rate));
  sgd_.learning_rate = adam_.learning_rate = rmsprop_.learning_rate = adagrad_.learning_rate = learning_rate;
  nadam_.learning_rate = adamax_.learning_rate = adadelta_.learning_rate = lion_.learning_rate = learning_rate;
}

void Optimizer::set_iterations(std::int64_t iterations) {
  if (iterations < 0)
    throw std::invalid_argument("Optimizer::set_iterations: expected >= 0, received " + std::to_string(iterations));
  iterations_ = iterations;
}

void Optimizer::build(const std::vector<std::int64_t>& sizes) {
  sizes_ = sizes;
  const float initial = kind_ == Kind::adagrad ? adagrad_.initial_accumulator_value : 0.0f;
  slots_.clear();
  for (int kind = 0; kind < slot_kinds(); ++kind)
    for (std::int64_t n : sizes) slots_.emplace_back(static_cast<std::size_t>(n), initial);
}

void Optimizer::apply(const std::vector<float*>& variables, const std::vector<const float*>& grads,
                      const std::vector<std::int64_t>& sizes) {
  if (variables.size() != grads.size() || variables.size() != sizes.size())
    throw std::invalid_argument("Optimizer::apply: expected as many gradients and sizes as variables, received " +
                                std::to_string(variables.size()) + " variables, " + std::to_string(grads.size()) +
                                " gradients, " + std::to_string(sizes.size()) + " sizes");
  for (std::int64_t n : sizes)
    if (n < 0) throw std::invalid_argument("Optimizer::apply: sizes must be >= 0, received " + std::to_string(n));
  if (sizes_.empty() && slots_.empty()) build(sizes);
  if (sizes != sizes_)
    throw std::invalid_argument("Optimizer::apply: the variables differ from the ones the optimizer was built on "
                                "(count or sizes)");
  const std::size_t count = variables.size();
  std::vector<const float*> g = grads;
  const bool clip = clipping_.clipnorm > 0.0f || clipping_.clipvalue > 0.0f || clipping_.global_clipnorm > 0.0f;
  if (clip) {
    std::int64_t total = 0;
    for (std::int64_t n : sizes) total += n;
    clipped_.resize(static_cast<std::size_t>(total));
    std::vector<float*> copies(count);
    std::int64_t offset = 0;
    for (std::size_t k = 0; k < count; ++k) {
      check_buffer("Optimizer::apply", "gradient", grads[k], sizes[k]);
      copies[k] = clipped_.data() + offset;
      std::copy(grads[k], grads[k] + sizes[k], copies[k]);
      g[k] = copies[k];
      offset += sizes[k];
    }
    clip_gradients(clipping_, copies.data(), sizes.data(), static_cast<std::int64_t>(count));
  }
  auto slot = [&](int kind, std::size_t k) { return slots_[kind * count + k].data(); };
  if (kind_ == Kind::nadam) u_product_ = nadam_u_product(nadam_, iterations_, u_product_);
  for (std::size_t k = 0; k < count; ++k) {
    switch (kind_) {
      case Kind::sgd:
        sgd_update(sgd_, variables[k], g[k], slot_kinds() > 0 ? slot(0, k) : nullptr, sizes[k]);
        break;
      case Kind::adam:
        adam_update(adam_, iterations_, variables[k], g[k], slot(0, k), slot(1, k),
                    adam_.amsgrad ? slot(2, k) : nullptr, sizes[k]);
        break;
      case Kind::rmsprop: {
        const bool with_momentum = rmsprop_.momentum > 0.0f;
        float* momentum = with_momentum ? slot(1, k) : nullptr;
        float* average = rmsprop_.centered ? slot(with_momentum ? 2 : 1, k) : nullptr;
        rmsprop_update(rmsprop_, variables[k], g[k], slot(0, k), momentum, average, sizes[k]);
        break;
      }
      case Kind::adagrad:
        adagrad_update(adagrad_, variables[k], g[k], slot(0, k), sizes[k]);
        break;
      case Kind::nadam:
        nadam_update(nadam_, iterations_, u_product_, variables[k], g[k], slot(0, k), slot(1, k), sizes[k]);
        break;
      case Kind::adamax:
        adamax_update(adamax_, iterations_, variables[k], g[k], slot(0, k), slot(1, k), sizes[k]);
        break;
      case Kind::adadelta:
        adadelta_update(adadelta_, variables[k], g[k], slot(0, k), slot(1, k), sizes[k]);
        break;
      case Kind::lion:
        lion_update(lion_, variables[k], g[k], slot(0, k), sizes[k]);
        break;
    }
  }
  ++iterations_;
}

}  // namespace rnnkit
