// Optimizer updates, clipping and losses through the public C++ API (rnnkit/optimizers.hpp, rnnkit/losses.hpp):
// closed forms in double, the stateful Optimizer against the free functions, loss gradients against central
// differences of the loss value, and std::invalid_argument on bad input.
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "check.hpp"
#include "rnnkit/losses.hpp"
#include "rnnkit/optimizers.hpp"

using namespace rnnkit;

namespace {
bool close(double a, double b, double rtol, double atol) { return std::fabs(a - b) <= atol + rtol * std::fabs(b); }

void test_adam_first_step_is_lr_times_sign() {
  // Step 1: m = (1-b1) g, v = (1-b2) g^2, bias correction cancels both: update = lr * g / (|g| + eps').
  std::vector<float> w{1.0f, -2.0f}, g{0.5f, -3.0f}, m(2, 0.f), v(2, 0.f);
  AdamConfig config;
  config.learning_rate = 0.1f;
  adam_update(config, 0, w.data(), g.data(), m.data(), v.data(), nullptr, 2);
  CHECK(close(w[0], 1.0 - 0.1, 1e-6, 1e-6));
  CHECK(close(w[1], -2.0 + 0.1, 1e-6, 1e-6));
}

void test_sgd_momentum_closed_form() {
  std::vector<float> w{1.0f}, g{2.0f}, m{0.0f};
  SGDConfig config{0.1f, 0.9f, false};
  sgd_update(config, w.data(), g.data(), m.data(), 1);  // m = -0.2, w = 0.8
  sgd_update(config, w.data(), g.data(), m.data(), 1);  // m = -0.38, w = 0.42
  CHECK(close(w[0], 0.42, 1e-6, 1e-7));
  CHECK(close(m[0], -0.38, 1e-6, 1e-7));
}

void test_clipping_modes() {
  std::vector<float> a{3.0f, 0.0f}, b{4.0f};
  float* grads[] = {a.data(), b.data()};
  const std::int64_t sizes[] = {2, 1};
  GradientClipping global;
  global.global_clipnorm = 1.0f;
  clip_gradients(global, grads, sizes, 2);  // global norm 5 -> scale 0.2
  CHECK(close(a[0], 0.6, 1e-6, 0) && close(b[0], 0.8, 1e-6, 0));
  GradientClipping per_variable;
  per_variable.clipnorm = 0.5f;
  clip_gradients(per_variable, grads, sizes, 2);  // each to norm 0.5
  CHECK(close(a[0], 0.5, 1e-6, 0) && close(b[0], 0.5, 1e-6, 0));
  GradientClipping value;
  value.clipvalue = 0.25f;
  clip_gradients(value, grads, sizes, 2);
  CHECK(a[0] == 0.25f && a[1] == 0.0f && b[0] == 0.25f);
  GradientClipping two;
  two.clipnorm = 1.0f;
  two.clipvalue = 1.0f;
  CHECK_THROWS(check_clipping(two));
}

void test_optimizer_class_matches_free_functions() {
  const std::vector<std::int64_t> sizes{3, 2};
  std::vector<float> w1{0.1f, 0.2f, 0.3f}, w2{-1.0f, 1.0f}, g1{1.0f, -2.0f, 0.5f}, g2{0.25f, 4.0f};
  std::vector<float> r1 = w1, r2 = w2, m1(3, 0.f), m2(2, 0.f), v1(3, 0.f), v2(2, 0.f), a1(3, 0.f), a2(2, 0.f);
  RMSpropConfig config;
  config.momentum = 0.5f;
  config.centered = true;
  Optimizer optimizer(config);
  for (int step = 0; step < 3; ++step) {
    optimizer.apply({w1.data(), w2.data()}, {g1.data(), g2.data()}, sizes);
    rmsprop_update(config, r1.data(), g1.data(), v1.data(), m1.data(), a1.data(), 3);
    rmsprop_update(config, r2.data(), g2.data(), v2.data(), m2.data(), a2.data(), 2);
  }
  CHECK(optimizer.iterations() == 3);
  CHECK(w1 == r1 && w2 == r2);
  CHECK(optimizer.slots().size() == 6);  // velocity, momentum, average_gradient for each of 2 variables
  CHECK(optimizer.slots()[0] == v1 && optimizer.slots()[3] == m2 && optimizer.slots()[5] == a2);
  CHECK_THROWS(optimizer.apply({w1.data()}, {g1.data()}, {3}));  // not the variables it was built on
}

void test_nadam_class_keeps_the_schedule_product() {
  const std::vector<std::int64_t> sizes{3};
  std::vector<float> w{0.1f, 0.2f, 0.3f}, g{1.0f, -2.0f, 0.5f};
  std::vector<float> r = w, m(3, 0.f), v(3, 0.f);
  NadamConfig config;
  config.learning_rate = 0.01f;
  Optimizer optimizer(config);
  float product = 1.0f;
  double expected = 1.0;
  for (std::int64_t step = 0; step < 3; ++step) {
    optimizer.apply({w.data()}, {g.data()}, sizes);
    product = nadam_u_product(config, step, product);
    nadam_update(config, step, product, r.data(), g.data(), m.data(), v.data(), 3);
    expected *= 0.9 * (1.0 - 0.5 * std::pow(0.96, step + 1));
  }
  CHECK(w == r && optimizer.slots()[0] == m && optimizer.slots()[1] == v);
  CHECK(optimizer.u_product() == product && close(product, expected, 1e-6, 0));
}

void test_lion_steps_by_the_sign() {
  std::vector<float> w{1.0f, -2.0f, 0.5f}, g{0.5f, -3.0f, 0.0f}, m(3, 0.f);
  Optimizer optimizer{LionConfig{0.1f, 0.9f, 0.99f}};
  optimizer.apply({w.data()}, {g.data()}, {3});
  CHECK(w[0] == 0.9f && w[1] == -1.9f && w[2] == 0.5f);  // a zero direction does not move
  CHECK(close(optimizer.slots()[0][1], -0.03, 1e-6, 0));
  CHECK_THROWS(lion_update(LionConfig{0.1f, 0.0f, 0.99f}, w.data(), g.data(), m.data(), 3));
}

void test_optimizer_errors() {
  std::vector<float> w(2), g(2);
  CHECK_THROWS(sgd_update(SGDConfig{0.1f, 0.9f, false}, w.data(), g.data(), nullptr, 2));  // missing slot
  CHECK_THROWS(adam_update(AdamConfig{}, -1, w.data(), g.data(), w.data(), w.data(), nullptr, 2));
  CHECK_THROWS(adagrad_update(AdagradConfig{}, w.data(), g.data(), w.data(), -1));
  Optimizer optimizer{AdamConfig{}};
  CHECK_THROWS(optimizer.apply({w.data()}, {g.data(), g.data()}, {2}));
}

double loss_at(const LossConfig& config, const std::vector<float>& t, const std::vector<float>& p,
               std::int64_t rows, std::int64_t classes, const float* weights, const std::uint8_t* mask) {
  return loss_value_and_grad(config, t.data(), p.data(), rows, classes, weights, mask, nullptr, nullptr);
}

void test_loss_gradients_match_central_differences() {
  const std::int64_t rows = 3, classes = 4;
  std::vector<float> p{0.2f, 0.7f, 0.4f, 0.9f, 0.3f, 0.5f, 0.6f, 0.1f, 0.8f, 0.25f, 0.35f, 0.45f};
  std::vector<float> dense{0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1}, labels{1, 0, 3};
  const std::vector<float> weights{0.5f, 2.0f, 1.0f};
  const std::uint8_t mask[] = {1, 0, 1};
  const LossKind kinds[] = {LossKind::mean_squared_error, LossKind::mean_absolute_error,
                            LossKind::binary_crossentropy, LossKind::categorical_crossentropy,
                            LossKind::sparse_categorical_crossentropy, LossKind::huber, LossKind::log_cosh,
                            LossKind::mean_squared_logarithmic_error, LossKind::mean_absolute_percentage_error,
                            LossKind::kl_divergence, LossKind::poisson};
  for (LossKind kind : kinds)
    for (bool logits : {false, true}) {
      LossConfig config;
      config.kind = kind;
      config.from_logits = logits;
      config.delta = 0.3f;  // Huber: errors on both sides of delta
      const auto& t = kind == LossKind::sparse_categorical_crossentropy ? labels : dense;
      std::vector<float> grad(p.size());
      loss_value_and_grad(config, t.data(), p.data(), rows, classes, weights.data(), mask, grad.data(), nullptr);
      for (std::size_t i = 0; i < p.size(); ++i) {
        // h = 1e-3 keeps float32 rounding of the loss (~1e-7) far below the difference quotient's resolution.
        std::vector<float> up = p, down = p;
        up[i] += 1e-3f;
        down[i] -= 1e-3f;
        const double numeric = (loss_at(config, t, up, rows, classes, weights.data(), mask) -
                                loss_at(config, t, down, rows, classes, weights.data(), mask)) /
                               (static_cast<double>(up[i]) - down[i]);
        CHECK(close(grad[i], numeric, 2e-3, 2e-4));
      }
    }
}

void test_mask_renormalises_and_sum_does_not() {
  std::vector<float> t{0, 0, 0}, p{1, 2, 3};
  const std::uint8_t mask[] = {1, 0, 1};
  LossConfig mean;
  CHECK(close(loss_at(mean, t, p, 3, 1, nullptr, mask), (1.0 + 9.0) / 2.0, 1e-6, 0));
  LossConfig sum;
  sum.reduction = Reduction::sum;
  CHECK(close(loss_at(sum, t, p, 3, 1, nullptr, mask), 10.0, 1e-6, 0));
}

void test_loss_errors() {
  std::vector<float> t{5}, p{0.5f, 0.5f};
  LossConfig sparse;
  sparse.kind = LossKind::sparse_categorical_crossentropy;
  CHECK_THROWS(loss_at(sparse, t, p, 1, 2, nullptr, nullptr));  // label out of range
  LossConfig smoothing;
  smoothing.kind = LossKind::categorical_crossentropy;
  smoothing.label_smoothing = 1.5f;
  CHECK_THROWS(loss_at(smoothing, p, p, 1, 2, nullptr, nullptr));
  CHECK_THROWS(loss_at(LossConfig{}, p, p, 1, 0, nullptr, nullptr));  // no classes
}
}  // namespace

int main() {
  test_adam_first_step_is_lr_times_sign();
  test_sgd_momentum_closed_form();
  test_clipping_modes();
  test_optimizer_class_matches_free_functions();
  test_nadam_class_keeps_the_schedule_product();
  test_lion_steps_by_the_sign();
  test_optimizer_errors();
  test_loss_gradients_match_central_differences();
  test_mask_renormalises_and_sum_does_not();
  test_loss_errors();
  return rnnkit_test::failures() == 0 ? 0 : 1;
}
