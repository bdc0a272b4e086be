// Multiply, Maximum, Minimum and Dot, and the operation nodes (x[...], x + y, ...), through the merge-layer interface
// (model/support.hpp's MergeLayer): outputs and masks against float64 references written here from Keras 3's rules
// and numpy's, gradients against central finite differences of the layers' own forward, the tie rule, Dot's shapes
// and normalisation, configs and refusals.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"
#include "model/support.hpp"
#include "rnnkit/model.hpp"
#include "rnnkit/model_file.hpp"

namespace {

using rnnkit::Layer;
using rnnkit::Shape;
using rnnkit::StepMask;
using rnnkit::Tensor;
using rnnkit::model_detail::MergeLayer;

MergeLayer& merge_layer(Layer& layer) { return dynamic_cast<MergeLayer&>(layer); }

// The layers as load_model builds them, from their Keras configs: C++ programs meet merges only in loaded
// functional models.
std::unique_ptr<Layer> from_config(const std::string& class_name, const std::string& name,
                                   const std::string& fields = "") {
  const std::string entry =
      R"({"class_name": ")" + class_name + R"(", "config": {"name": ")" + name + "\"" + fields + "}}";
  return rnnkit::model_detail::layer_from_entry(rnnkit::parse_json(entry, "test"), "test");
}
std::unique_ptr<Layer> Multiply(const std::string& name = "multiply") { return from_config("Multiply", name); }
std::unique_ptr<Layer> Maximum(const std::string& name = "maximum") { return from_config("Maximum", name); }
std::unique_ptr<Layer> Minimum(const std::string& name = "minimum") { return from_config("Minimum", name); }
std::unique_ptr<Layer> dot_from(const std::string& axes, bool normalize, const std::string& name) {
  return from_config("Dot", name, ", \"axes\": " + axes + ", \"normalize\": " + (normalize ? "true" : "false"));
}
std::unique_ptr<Layer> Dot(std::int64_t axes, bool normalize = false, const std::string& name = "dot") {
  return dot_from(std::to_string(axes), normalize, name);
}
std::unique_ptr<Layer> Dot(std::array<std::int64_t, 2> axes, bool normalize = false, const std::string& name = "dot") {
  return dot_from("[" + std::to_string(axes[0]) + ", " + std::to_string(axes[1]) + "]", normalize, name);
}

Tensor random_tensor(Shape shape, std::mt19937_64& rng) {
  Tensor t(std::move(shape));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : t.values) v = normal(rng);
  return t;
}

// Values 0.1 apart in a random order over all the inputs together: no two within the 1e-2 probe step, so every
// probe of a maximum or minimum stays on one side of its kink.
std::vector<Tensor> spaced_inputs(std::size_t count, const Shape& shape, std::mt19937_64& rng) {
  std::vector<Tensor> xs(count, Tensor(shape));
  std::vector<float> values(count * xs[0].values.size());
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = 0.1f * static_cast<float>(i) - 2.0f;
  std::shuffle(values.begin(), values.end(), rng);
  for (std::size_t i = 0; i < count; ++i)
    std::copy_n(values.begin() + static_cast<std::ptrdiff_t>(i * xs[i].values.size()), xs[i].values.size(),
                xs[i].values.begin());
  return xs;
}

Tensor merge(const MergeLayer& layer, const std::vector<Tensor>& xs, const std::vector<StepMask>& masks,
             StepMask& out_mask, rnnkit::TrainingStep* training = nullptr) {
  std::vector<const Tensor*> x_ptrs;
  std::vector<const StepMask*> mask_ptrs;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    x_ptrs.push_back(&xs[i]);
    mask_ptrs.push_back(&masks[i]);
  }
  return layer.merge(x_ptrs, mask_ptrs, out_mask, training);
}

// The layer built for the inputs' per-example shapes; checks the output shape it announces.
MergeLayer& built(Layer& layer, const std::vector<Tensor>& xs, const Shape& expected_output) {
  MergeLayer& m = merge_layer(layer);
  std::vector<Shape> shapes;
  for (const Tensor& x : xs) shapes.emplace_back(x.shape.begin() + 1, x.shape.end());
  CHECK(m.build_merge(shapes) == expected_output);
  return m;
}

double max_relative_difference(const Tensor& y, const std::vector<double>& expected) {
  if (y.values.size() != expected.size()) return INFINITY;
  double worst = 0;
  for (std::size_t i = 0; i < expected.size(); ++i)
    worst = std::max(worst, std::fabs(y.values[i] - expected[i]) / (1.0 + std::fabs(expected[i])));
  return worst;
}

// Max |analytic - numeric| / (1 + |numeric|) over every input value: unmerge of a training merge against central
// differences of inference merges, for loss = sum(y * r) with a fixed random r.
double gradient_error(const MergeLayer& layer, std::vector<Tensor> xs, const std::vector<StepMask>& masks) {
  std::mt19937_64 rng(3);
  StepMask out_mask;
  rnnkit::TrainingStep step{rng, nullptr};
  const Tensor y = merge(layer, xs, masks, out_mask, &step);
  const Tensor r = random_tensor(y.shape, rng);
  const std::vector<Tensor> d = layer.unmerge(*step.cache, r);
  CHECK(d.size() == xs.size());
  const auto weighted_sum = [&] {
    StepMask m;
    const Tensor probe = merge(layer, xs, masks, m);
    double total = 0;
    for (std::size_t i = 0; i < probe.values.size(); ++i) total += static_cast<double>(probe.values[i]) * r.values[i];
    return total;
  };
  const float eps = 1e-2f;
  double worst = 0;
  for (std::size_t i = 0; i < xs.size() && i < d.size(); ++i) {
    CHECK(d[i].shape == xs[i].shape);
    for (std::size_t k = 0; k < xs[i].values.size(); ++k) {
      float& value = xs[i].values[k];
      const float saved = value;
      value = saved + eps;
      const double plus = weighted_sum();
      value = saved - eps;
      const double minus = weighted_sum();
      value = saved;
      const double numeric = (plus - minus) / (2.0 * eps);
      worst = std::max(worst, std::fabs(d[i].values[k] - numeric) / (1.0 + std::fabs(numeric)));
    }
  }
  return worst;
}

void expect_close(const std::string& what, double error, double tolerance) {
  std::printf("%-50s max relative error %.2e\n", what.c_str(), error);
  CHECK(error < tolerance && !what.empty());
}

// Whether input i keeps value k of a (batch, time, features) tensor: its step's flag, or no mask.
bool keeps(const std::vector<StepMask>& masks, std::size_t i, std::size_t k, std::size_t features) {
  return masks[i].empty() || masks[i][k / features];
}

bool every_input_masked(const std::vector<StepMask>& masks) {
  return std::none_of(masks.begin(), masks.end(), [](const StepMask& m) { return m.empty(); });
}

// The OR of the step masks when every input has one, else none.
StepMask expected_output_mask(const std::vector<StepMask>& masks) {
  if (!every_input_masked(masks)) return {};
  StepMask out(masks[0].size(), 0);
  for (const StepMask& m : masks)
    for (std::size_t s = 0; s < out.size(); ++s) out[s] = out[s] || m[s];
  return out;
}

std::vector<double> multiply_reference(const std::vector<Tensor>& xs, const std::vector<StepMask>& masks,
                                       std::size_t features) {
  const StepMask out_mask = expected_output_mask(masks);
  std::vector<double> y(xs[0].values.size());
  for (std::size_t k = 0; k < y.size(); ++k) {
    double product = 1;
    for (std::size_t i = 0; i < xs.size(); ++i) product *= keeps(masks, i, k, features) ? xs[i].values[k] : 1.0;
    y[k] = out_mask.empty() || out_mask[k / features] ? product : 0.0;
  }
  return y;
}

// Keras 3's pairwise rule, value by value.
std::vector<double> extremum_reference(const std::vector<Tensor>& xs, const std::vector<StepMask>& masks,
                                       std::size_t features, bool maximum) {
  std::vector<double> y(xs[0].values.size());
  for (std::size_t k = 0; k < y.size(); ++k) {
    double out = xs[0].values[k];
    bool has_mask = !masks[0].empty(), out_kept = keeps(masks, 0, k, features);
    for (std::size_t i = 1; i < xs.size(); ++i) {
      const bool kept = keeps(masks, i, k, features);
      const double x = kept ? xs[i].values[k] : out;
      if (has_mask && !out_kept) out = x;
      has_mask = has_mask && !masks[i].empty();
      out_kept = out_kept || kept;
      out = maximum ? std::max(out, x) : std::min(out, x);
    }
    y[k] = out;
  }
  return y;
}

// (batch 2, time 3, features 2) inputs; masks for every input (with a step none keeps), for one, and for none.
const std::vector<std::vector<StepMask>> kMaskCases = {
    {{1, 0, 1, 0, 1, 1}, {0, 0, 1, 1, 1, 0}, {1, 0, 0, 1, 0, 1}},
    {{}, {1, 0, 1, 0, 0, 1}, {}},
    {{}, {}, {}},
};
const char* const kMaskCaseNames[] = {"every input masked", "one input masked", "no masks"};

void test_multiply() {
  std::mt19937_64 rng(1);
  auto layer = Multiply();
  for (std::size_t c = 0; c < kMaskCases.size(); ++c) {
    const std::vector<StepMask>& masks = kMaskCases[c];
    std::vector<Tensor> xs;
    for (int i = 0; i < 3; ++i) xs.push_back(random_tensor({2, 3, 2}, rng));
    MergeLayer& m = built(*layer, xs, {3, 2});
    StepMask out_mask = {9};  // replaced
    const Tensor y = merge(m, xs, masks, out_mask);
    CHECK((y.shape == Shape{2, 3, 2}));
    expect_close(std::string("Multiply forward, ") + kMaskCaseNames[c],
                 max_relative_difference(y, multiply_reference(xs, masks, 2)), 1e-6);
    CHECK(out_mask == expected_output_mask(masks));
    expect_close(std::string("Multiply backward, ") + kMaskCaseNames[c], gradient_error(m, xs, masks), 2e-3);
  }
  // Two (batch, features) inputs, one of them with zeros: the others' product, not y / x.
  std::vector<Tensor> xs = {random_tensor({3, 4}, rng), random_tensor({3, 4}, rng)};
  xs[0].values[1] = xs[1].values[5] = 0.0f;
  MergeLayer& m = built(*layer, xs, {4});
  StepMask out_mask;
  expect_close("Multiply forward, rank 2", max_relative_difference(merge(m, xs, {{}, {}}, out_mask),
                                                                   multiply_reference(xs, {{}, {}}, 4)), 1e-6);
  CHECK(out_mask.empty());
  expect_close("Multiply backward, rank 2 with zeros", gradient_error(m, xs, {{}, {}}), 2e-3);
}

void test_maximum_and_minimum() {
  std::mt19937_64 rng(2);
  for (const bool maximum : {true, false}) {
    auto layer = maximum ? Maximum() : Minimum();
    const std::string name = maximum ? "Maximum" : "Minimum";
    for (std::size_t c = 0; c < kMaskCases.size(); ++c) {
      const std::vector<StepMask>& masks = kMaskCases[c];
      const std::vector<Tensor> xs = spaced_inputs(3, {2, 3, 2}, rng);
      MergeLayer& m = built(*layer, xs, {3, 2});
      StepMask out_mask = {9};
      const Tensor y = merge(m, xs, masks, out_mask);
      expect_close(name + " forward, " + kMaskCaseNames[c],
                   max_relative_difference(y, extremum_reference(xs, masks, 2, maximum)), 1e-7);
      CHECK(out_mask == expected_output_mask(masks));
      expect_close(name + " backward, " + kMaskCaseNames[c], gradient_error(m, xs, masks), 2e-3);
    }
    // Only the first input masked: its masked values take the next input's and the output has no mask.
    const std::vector<StepMask> first_only = {{0, 1, 1, 1, 1, 0}, {}, {}};
    const std::vector<Tensor> xs = spaced_inputs(3, {2, 3, 2}, rng);
    StepMask out_mask;
    expect_close(name + " forward, first input masked",
                 max_relative_difference(merge(merge_layer(*layer), xs, first_only, out_mask),
                                         extremum_reference(xs, first_only, 2, maximum)), 1e-7);
    CHECK(out_mask.empty());
    expect_close(name + " backward, first input masked", gradient_error(merge_layer(*layer), xs, first_only), 2e-3);
  }
}

// Equal values share the gradient, half each (PyTorch's rule, which Keras on torch follows).
void test_extremum_ties() {
  const std::vector<Tensor> xs = {{{1, 2}, {1.f, 2.f}}, {{1, 2}, {1.f, 0.f}}};
  const Tensor d_y({1, 2}, {4.f, 4.f});
  std::mt19937_64 rng(0);
  for (const bool maximum : {true, false}) {
    auto layer = maximum ? Maximum() : Minimum();
    MergeLayer& m = built(*layer, xs, {2});
    StepMask out_mask;
    rnnkit::TrainingStep step{rng, nullptr};
    const Tensor y = merge(m, xs, {{}, {}}, out_mask, &step);
    CHECK((y.values == std::vector<float>{1.f, maximum ? 2.f : 0.f}));
    const std::vector<Tensor> d = m.unmerge(*step.cache, d_y);
    CHECK((d[0].values == std::vector<float>{2.f, maximum ? 4.f : 0.f}));
    CHECK((d[1].values == std::vector<float>{2.f, maximum ? 0.f : 4.f}));
  }
  // Three equal inputs: the first two share the first pair's half, the third takes the other half.
  const std::vector<Tensor> three = {{{1, 1}, {3.f}}, {{1, 1}, {3.f}}, {{1, 1}, {3.f}}};
  auto layer = Maximum();
  MergeLayer& m = built(*layer, three, {1});
  StepMask out_mask;
  rnnkit::TrainingStep step{rng, nullptr};
  merge(m, three, {{}, {}, {}}, out_mask, &step);
  const std::vector<Tensor> d = m.unmerge(*step.cache, Tensor({1, 1}, {4.f}));
  CHECK(d[0].values[0] == 1.f && d[1].values[0] == 1.f && d[2].values[0] == 2.f);
}

// Dot's operands read per (example, other index, dot index): o indexes the input's axis other than batch and dot.
double operand_at(const Tensor& x, std::int64_t axis, std::int64_t b, std::int64_t o, std::int64_t k) {
  if (x.shape.size() == 2) return x.values[static_cast<std::size_t>(b * x.shape[1] + k)];
  const std::int64_t s1 = x.shape[1], s2 = x.shape[2];
  return x.values[static_cast<std::size_t>(axis == 2 ? (b * s1 + o) * s2 + k : (b * s1 + k) * s2 + o)];
}

std::int64_t other_size(const Tensor& x, std::int64_t axis) {
  return x.shape.size() == 2 ? 1 : x.shape[axis == 2 ? 1 : 2];
}

// Keras' normalize scale of slice (b, o): min(1 / sqrt(sum x^2), 1 / 1e-7).
double normalize_scale(const Tensor& x, std::int64_t axis, std::int64_t b, std::int64_t o) {
  double sum = 0;
  for (std::int64_t k = 0; k < x.shape[static_cast<std::size_t>(axis)]; ++k)
    sum += operand_at(x, axis, b, o, k) * operand_at(x, axis, b, o, k);
  return sum > 0 ? std::min(1.0 / std::sqrt(sum), 1e7) : 1e7;
}

// y[b, o1, o2] = sum_k u1[b, o1, k] u2[b, o2, k], u the (normalised) inputs.
std::vector<double> dot_reference(const Tensor& x1, const Tensor& x2, std::array<std::int64_t, 2> axes,
                                  bool normalize) {
  const std::int64_t n1 = other_size(x1, axes[0]), n2 = other_size(x2, axes[1]);
  const std::int64_t depth = x1.shape[static_cast<std::size_t>(axes[0])];
  std::vector<double> y;
  for (std::int64_t b = 0; b < x1.shape[0]; ++b)
    for (std::int64_t o1 = 0; o1 < n1; ++o1)
      for (std::int64_t o2 = 0; o2 < n2; ++o2) {
        const double s1 = normalize ? normalize_scale(x1, axes[0], b, o1) : 1.0;
        const double s2 = normalize ? normalize_scale(x2, axes[1], b, o2) : 1.0;
        double total = 0;
        for (std::int64_t k = 0; k < depth; ++k)
          total += s1 * operand_at(x1, axes[0], b, o1, k) * s2 * operand_at(x2, axes[1], b, o2, k);
        y.push_back(total);
      }
  return y;
}

struct DotCase {
  const char* what;
  Shape x1, x2;           // with the batch axis
  std::vector<std::int64_t> axes;  // as the layer takes them: one or two
  std::array<std::int64_t, 2> resolved;
  Shape output;           // per example
};

std::unique_ptr<Layer> make_dot(const std::vector<std::int64_t>& axes, bool normalize) {
  return axes.size() == 1 ? Dot(axes[0], normalize) : Dot(std::array<std::int64_t, 2>{axes[0], axes[1]}, normalize);
}

void test_dot_shapes() {
  const DotCase cases[] = {
      {"(b, n, d) . (b, m, d), axes (2, 2)", {2, 3, 4}, {2, 5, 4}, {2, 2}, {2, 2}, {3, 5}},
      {"(b, n, d) . (b, m, d), axes 2", {2, 3, 4}, {2, 5, 4}, {2}, {2, 2}, {3, 5}},
      {"(b, n, d) . (b, m, d), axes -1", {2, 3, 4}, {2, 5, 4}, {-1}, {2, 2}, {3, 5}},
      {"(b, n, d) . (b, d, m), axes (2, 1)", {2, 3, 4}, {2, 4, 5}, {2, 1}, {2, 1}, {3, 5}},
      {"(b, n, d) . (b, d, m), axes (-1, -2)", {2, 3, 4}, {2, 4, 5}, {-1, -2}, {2, 1}, {3, 5}},
      {"(b, n, d1) . (b, n, d2), axes (1, 1)", {2, 3, 4}, {2, 3, 5}, {1, 1}, {1, 1}, {4, 5}},
      {"(b, n, d1) . (b, n, d2), axes 1", {2, 3, 4}, {2, 3, 5}, {1}, {1, 1}, {4, 5}},
      {"(b, n, d) . (b, d), axes (2, 1)", {2, 3, 4}, {2, 4}, {2, 1}, {2, 1}, {3}},
      {"(b, n, d) . (b, d), axes -1", {2, 3, 4}, {2, 4}, {-1}, {2, 1}, {3}},
      {"(b, d, n) . (b, d), axes 1", {2, 4, 3}, {2, 4}, {1}, {1, 1}, {3}},
      {"(b, d) . (b, d, m), axes (1, 1)", {2, 4}, {2, 4, 5}, {1, 1}, {1, 1}, {5}},
      {"(b, d) . (b, m, d), axes (1, 2)", {2, 4}, {2, 5, 4}, {1, 2}, {1, 2}, {5}},
      {"(b, d) . (b, d), axes 1", {3, 4}, {3, 4}, {1}, {1, 1}, {1}},
      {"(b, d) . (b, d), axes (-1, -1)", {3, 4}, {3, 4}, {-1, -1}, {1, 1}, {1}},
      {"(b, n, d) . (b, m, d), axes -4 (Python's modulo)", {2, 3, 4}, {2, 5, 4}, {-4}, {2, 2}, {3, 5}},
  };
  std::mt19937_64 rng(4);
  for (const DotCase& c : cases)
    for (const bool normalize : {false, true}) {
      const std::string what = std::string("Dot ") + c.what + (normalize ? ", normalize" : "");
      auto layer = make_dot(c.axes, normalize);
      const std::vector<Tensor> xs = {random_tensor(c.x1, rng), random_tensor(c.x2, rng)};
      MergeLayer& m = built(*layer, xs, c.output);
      StepMask out_mask = {1};
      // Masks are ignored and the output has none.
      const Tensor y = merge(m, xs, {{1, 0}, {}}, out_mask);
      CHECK(y.shape == rnnkit::model_detail::with_batch(c.x1[0], c.output));
      CHECK(out_mask.empty());
      expect_close(what + " forward", max_relative_difference(y, dot_reference(xs[0], xs[1], c.resolved, normalize)),
                   1e-5);
      expect_close(what + " backward", gradient_error(m, xs, {{}, {}}), 2e-3);
    }
}

// An all-zero slice normalises to zeros (its scale clamped to 1 / epsilon), and its gradient is that constant
// scale times the gradient of the product with respect to the normalised slice (finite; Keras' is NaN).
void test_dot_normalize_zero_slice() {
  std::mt19937_64 rng(6);
  auto layer = Dot(std::array<std::int64_t, 2>{2, 2}, true);
  std::vector<Tensor> xs = {random_tensor({2, 3, 4}, rng), random_tensor({2, 2, 4}, rng)};
  std::fill_n(xs[0].values.begin() + 4, 4, 0.0f);  // example 0, row 1
  MergeLayer& m = built(*layer, xs, {3, 2});
  StepMask out_mask;
  rnnkit::TrainingStep step{rng, nullptr};
  const Tensor y = merge(m, xs, {{}, {}}, out_mask, &step);
  expect_close("Dot normalize, all-zero slice, forward",
               max_relative_difference(y, dot_reference(xs[0], xs[1], {2, 2}, true)), 1e-5);
  CHECK(y.values[2] == 0.0f && y.values[3] == 0.0f);
  const Tensor d_y = random_tensor(y.shape, rng);
  const std::vector<Tensor> d = m.unmerge(*step.cache, d_y);
  for (const Tensor& t : d)
    for (float v : t.values) CHECK(std::isfinite(v));
  for (std::int64_t k = 0; k < 4; ++k) {
    double expected = 0;
    for (std::int64_t q = 0; q < 2; ++q)
      expected += d_y.values[static_cast<std::size_t>(2 + q)] * normalize_scale(xs[1], 2, 0, q) *
                  operand_at(xs[1], 2, 0, q, k);
    expected *= 1e7;
    CHECK(std::fabs(d[0].values[static_cast<std::size_t>(4 + k)] - expected) <= 1e-5 * std::fabs(expected) + 1e-3);
  }
  // The other slices' gradients are the unclamped normalisation's.
  xs[0].values[4] = 1.5f;  // no zero slice left, so central differences hold everywhere
  expect_close("Dot normalize, former zero slice refilled", gradient_error(m, xs, {{}, {}}), 2e-3);
}

// std::invalid_argument whose message holds `part`.
template <typename F>
void expect_refusal(F&& call, const std::string& part) {
  std::string message;
  try {
    call();
  } catch (const std::invalid_argument& error) {
    message = error.what();
  }
  if (message.find(part) == std::string::npos)
    std::fprintf(stderr, "expected a refusal with \"%s\", got \"%s\"\n", part.c_str(), message.c_str());
  CHECK(message.find(part) != std::string::npos);
}

void test_refusals() {
  expect_refusal([] { merge_layer(*Multiply("m")).build_merge({{3}}); },
                 "layer m (Multiply) expects at least 2 inputs, received 1");
  expect_refusal([] { merge_layer(*Maximum("mx")).build_merge({{3}}); },
                 "layer mx (Maximum) expects at least 2 inputs, received 1");
  expect_refusal([] { merge_layer(*Multiply("m")).build_merge({{2, 3}, {2, 4}}); },
                 "layer m (Multiply) the C++ model API merges inputs of equal shapes only; received (2, 3) and (2, 4)");
  expect_refusal([] { merge_layer(*Maximum("mx")).build_merge({{3}, {3}, {2, 3}}); },
                 "layer mx (Maximum) the C++ model API merges inputs of equal shapes only");
  expect_refusal([] { merge_layer(*Minimum("mn")).build_merge({{3}, {4}}); },
                 "layer mn (Minimum) the C++ model API merges inputs of equal shapes only");
  // Steps unknown when built, different when called.
  std::unique_ptr<Layer> elementwise[] = {Multiply("m"), Maximum("mx"), Minimum("mn")};
  for (auto& layer : elementwise) {
    MergeLayer& m = merge_layer(*layer);
    m.build_merge({{-1, 2}, {-1, 2}});
    StepMask out_mask;
    expect_refusal([&] { merge(m, {Tensor({1, 3, 2}), Tensor({1, 4, 2})}, {{}, {}}, out_mask); },
                   "inputs of different shapes cannot be merged");
  }

  expect_refusal([] { merge_layer(*Dot(1, false, "d")).build_merge({{3}, {3}, {3}}); },
                 "layer d (Dot) expects exactly 2 inputs, received 3");
  expect_refusal([] { merge_layer(*Dot(1, false, "d")).build_merge({{3}}); },
                 "layer d (Dot) expects exactly 2 inputs, received 1");
  expect_refusal([] { merge_layer(*Dot({2, 1}, false, "d")).build_merge({{3, 4}, {5}}); },
                 "layer d (Dot) needs equal sizes along the dot axes, received 4 (axis 2 of (None, 3, 4)) and 5 "
                 "(axis 1 of (None, 5))");
  expect_refusal([] { merge_layer(*Dot(-1, false, "d")).build_merge({{3, 4}, {3, 5}}); }, "needs equal sizes");
  expect_refusal([] { merge_layer(*Dot(0, false, "d")).build_merge({{3}, {3}}); },
                 "layer d (Dot) cannot take the dot product over the batch axis (axis 0)");
  expect_refusal([] { merge_layer(*Dot({1, 0}, false, "d")).build_merge({{3}, {3}}); }, "over the batch axis");
  expect_refusal([] { merge_layer(*Dot(-3, false, "d")).build_merge({{3, 4}, {3, 4}}); }, "over the batch axis");
  expect_refusal([] { merge_layer(*Dot(2, false, "d")).build_merge({{3}, {3}}); },
                 "layer d (Dot) axis 2 is out of range for an input of shape (None, 3)");
  expect_refusal([] { merge_layer(*Dot(1, false, "d")).build_merge({{3, 4, 5}, {3}}); },
                 "layer d (Dot) takes inputs of rank 2 or 3 (with the batch axis), received (None, 3, 4, 5)");
  // Sizes unknown when built, different when called.
  auto dot = Dot(2, false, "d");
  MergeLayer& m = merge_layer(*dot);
  CHECK((m.build_merge({{3, -1}, {2, -1}}) == Shape{3, 2}));
  StepMask out_mask;
  expect_refusal([&] { merge(m, {Tensor({1, 3, 4}), Tensor({1, 2, 5})}, {{}, {}}, out_mask); },
                 "layer d (Dot) needs equal sizes along the dot axes, received 4");

  // A Model built from a list of layers is Sequential: one input per layer.
  std::vector<std::unique_ptr<Layer>> layers;
  layers.push_back(Multiply("m"));
  expect_refusal([&] { rnnkit::Model({3}, std::move(layers)); }, "expects at least 2 inputs, received 1");
}

void test_names_and_configs() {
  CHECK(std::string(Multiply("m")->class_name()) == "Multiply");
  CHECK(std::string(Maximum("m")->class_name()) == "Maximum");
  CHECK(std::string(Minimum("m")->class_name()) == "Minimum");
  CHECK(std::string(Dot(1, false, "d")->class_name()) == "Dot");
  CHECK(Multiply("m")->config_json() == R"({"name": "m", "trainable": true, "dtype": "float32"})");
  CHECK(Maximum("mx")->config_json() == R"({"name": "mx", "trainable": true, "dtype": "float32"})");
  CHECK(Minimum("mn")->config_json() == R"({"name": "mn", "trainable": true, "dtype": "float32"})");
  CHECK(Dot(-1, false, "d")->config_json() ==
        R"({"name": "d", "trainable": true, "dtype": "float32", "axes": -1, "normalize": false})");
  CHECK(Dot({2, 1}, true, "d")->config_json() ==
        R"({"name": "d", "trainable": true, "dtype": "float32", "axes": [2, 1], "normalize": true})");
  auto frozen = Multiply("f");
  frozen->set_trainable(false);
  CHECK(frozen->config_json() == R"({"name": "f", "trainable": false, "dtype": "float32"})");
  CHECK(frozen->weights().empty());
}

// An operation node as load_model builds it: `arguments` is the JSON list of its inbound node's args, where "T"
// stands for each of the node's tensors.
std::unique_ptr<Layer> operation(const std::string& class_name, const std::string& arguments,
                                 const std::string& name = "op", const std::string& fields = "") {
  const rnnkit::Json args = rnnkit::parse_json(arguments, "test");
  const rnnkit::Json entry = rnnkit::parse_json(R"({"module": "keras.src.ops.numpy", "class_name": ")" + class_name +
                                                    R"(", "config": {"name": ")" + name + "\"" + fields + "}}",
                                                "test");
  std::vector<const rnnkit::Json*> pointers;
  for (const rnnkit::Json& arg : args.array)
    pointers.push_back(arg.kind == rnnkit::Json::Kind::string && arg.string == "T" ? nullptr : &arg);
  return rnnkit::model_detail::operation_from_config(rnnkit::model_detail::ConfigReader(entry, "test"), pointers);
}

const std::string kAll = R"({"class_name": "__slice__", "config": {"start": null, "stop": null, "step": null}})";
std::string slice(const std::string& start, const std::string& stop, const std::string& step) {
  return R"({"class_name": "__slice__", "config": {"start": )" + start + ", \"stop\": " + stop + ", \"step\": " +
         step + "}}";
}

// Row-major offset of `index` in `shape`, each axis read modulo its size (numpy's broadcast of a size-1 axis).
std::size_t broadcast_offset(const Shape& shape, const std::vector<std::int64_t>& index) {
  std::size_t offset = 0;
  for (std::size_t a = 0; a < shape.size(); ++a) offset = offset * shape[a] + index[a] % shape[a];
  return offset;
}

void test_operation_elementwise() {
  std::mt19937_64 rng(5);
  struct Case {
    const char* op;
    std::string args;
    std::vector<Shape> shapes;  // the tensors', batch included
    double (*reference)(double, double);
  };
  const Case cases[] = {
      {"Add", R"(["T", "T"])", {{2, 3, 4}, {2, 3, 4}}, [](double a, double b) { return a + b; }},
      {"Add", R"(["T", 1.5])", {{2, 3, 4}}, [](double a, double) { return a + 1.5; }},
      {"Subtract", R"([2.0, "T"])", {{2, 3, 4}}, [](double b, double) { return 2.0 - b; }},
      {"Subtract", R"(["T", "T"])", {{2, 3, 1}, {2, 1, 4}}, [](double a, double b) { return a - b; }},
      {"Multiply", R"(["T", "T"])", {{2, 3, 4}, {2, 1, 4}}, [](double a, double b) { return a * b; }},
      {"Multiply", R"([-3, "T"])", {{2, 3, 4}}, [](double b, double) { return -3.0 * b; }},
      {"TrueDivide", R"(["T", "T"])", {{2, 3, 4}, {2, 3, 1}}, [](double a, double b) { return a / b; }},
      {"TrueDivide", R"([1.0, "T"])", {{2, 3, 4}}, [](double b, double) { return 1.0 / b; }},
      {"Divide", R"(["T", 4.0])", {{2, 3, 4}}, [](double a, double) { return a / 4.0; }},
      {"Negative", R"(["T"])", {{2, 3, 4}}, [](double a, double) { return -a; }},
      {"Maximum", R"(["T", "T"])", {{2, 3, 4}, {2, 3, 4}}, [](double a, double b) { return std::max(a, b); }},
      {"Minimum", R"(["T", 0.1])", {{2, 3, 4}}, [](double a, double) { return std::min(a, 0.1); }},
      {"Minimum", R"(["T", "T"])", {{2, 3, 4}, {2, 1, 4}}, [](double a, double b) { return std::min(a, b); }},
      {"Tanh", R"(["T"])", {{2, 3, 4}}, [](double a, double) { return std::tanh(a); }},
      {"Sigmoid", R"(["T"])", {{2, 3, 4}}, [](double a, double) { return 1.0 / (1.0 + std::exp(-a)); }},
      {"Relu", R"(["T"])", {{2, 3, 4}}, [](double a, double) { return std::max(a, 0.0); }},
      {"Exp", R"(["T"])", {{2, 3, 4}}, [](double a, double) { return std::exp(a); }},
      {"Log", R"(["T"])", {{2, 3, 4}}, [](double a, double) { return std::log(a); }},
      {"Sqrt", R"(["T"])", {{2, 3, 4}}, [](double a, double) { return std::sqrt(a); }},
      {"Square", R"(["T"])", {{2, 3, 4}}, [](double a, double) { return a * a; }},
      {"Absolute", R"(["T"])", {{2, 3, 4}}, [](double a, double) { return std::fabs(a); }},
  };
  for (const Case& c : cases) {
    auto layer = operation(c.op, c.args);
    const bool positive = std::string(c.op) == "Log" || std::string(c.op) == "Sqrt";
    std::vector<Tensor> xs;
    for (const Shape& shape : c.shapes) {
      xs.push_back(random_tensor(shape, rng));
      // Away from 0 (divisors well-conditioned, relu's and |x|'s kink out of the probes' reach), positive where
      // log and sqrt need it, and a second operand of maximum/minimum at least 0.3 from the first (no ties).
      for (float& v : xs.back().values) v = positive ? std::fabs(v) + 0.5f : v + (v < 0 ? -0.5f : 0.5f);
    }
    const bool extremum = std::string(c.op) == "Maximum" || std::string(c.op) == "Minimum";
    if (extremum && xs.size() == 2 && xs[0].shape == xs[1].shape)
      for (std::size_t k = 0; k < xs[0].values.size(); ++k) xs[1].values[k] = xs[0].values[k] + (k % 2 ? 0.3f : -0.3f);
    else if (extremum && xs.size() == 2)  // broadcast: the second operand within 0.2 of 0, the first 0.5 or more
      for (float& v : xs[1].values) v = 0.2f * v / (std::fabs(v) + 1.0f);
    MergeLayer& m = built(*layer, xs, {3, 4});
    StepMask out_mask{1, 0, 1};
    const Tensor y = merge(m, xs, std::vector<StepMask>(xs.size()), out_mask);
    CHECK(y.shape == (Shape{2, 3, 4}) && out_mask.empty());
    std::vector<double> expected;
    for (std::int64_t b = 0; b < 2; ++b)
      for (std::int64_t t = 0; t < 3; ++t)
        for (std::int64_t k = 0; k < 4; ++k) {
          const std::vector<std::int64_t> index{b, t, k};
          const double a = xs[0].values[broadcast_offset(xs[0].shape, index)];
          expected.push_back(c.reference(a, xs.size() > 1 ? xs[1].values[broadcast_offset(xs[1].shape, index)] : 0));
        }
    expect_close(std::string(c.op) + " " + c.args + " values", max_relative_difference(y, expected), 1e-6);
    expect_close(std::string(c.op) + " " + c.args + " gradients",
                 gradient_error(m, xs, std::vector<StepMask>(xs.size())), 2e-3);
  }
}

// Power, clip, comparisons, logical operations and where against references computed here; gradients against
// finite differences (comparisons and logical operations are piecewise constant and pass none).
void test_operation_conditions() {
  std::mt19937_64 rng(12);
  Tensor a = random_tensor({2, 3, 4}, rng), b = random_tensor({2, 1, 4}, rng);
  for (float& v : a.values) v += v < 0 ? -0.5f : 0.5f;       // |a| >= 0.5
  for (float& v : b.values) v = 0.2f * v / (std::fabs(v) + 1.0f);  // |b| < 0.2: never within a probe of a
  const Tensor base = [&] {  // positive bases for power
    Tensor t = a;
    for (float& v : t.values) v = std::fabs(v) + 0.1f;
    return t;
  }();
  struct Case {
    const char* op;
    std::string args, fields;
    std::vector<Tensor> xs;
    double (*reference)(double, double);
  };
  const Case cases[] = {
      {"Power", R"(["T", "T"])", "", {base, b}, [](double x, double y) { return std::pow(x, y); }},
      {"Power", R"(["T", 1.5])", "", {base}, [](double x, double) { return std::pow(x, 1.5); }},
      {"Power", R"([2.0, "T"])", "", {a}, [](double y, double) { return std::pow(2.0, y); }},
      {"Clip", R"(["T"])", R"(, "x_min": -0.8, "x_max": 1.1)", {a},
       [](double x, double) { return std::min(std::max(x, -0.8), 1.1); }},
      // Keras' activation operations (|a| >= 0.5 keeps the kinks at 0 out of the probes' reach)
      {"Silu", R"(["T"])", "", {a}, [](double x, double) { return x / (1.0 + std::exp(-x)); }},
      {"Relu6", R"(["T"])", "", {a}, [](double x, double) { return std::min(std::max(x, 0.0), 6.0); }},
      {"Softplus", R"(["T"])", "", {a}, [](double x, double) { return std::log1p(std::exp(x)); }},
      {"Selu", R"(["T"])", "", {a},
       [](double x, double) { return 1.05070098735548049 * (x > 0 ? x : 1.67326324235437728 * std::expm1(x)); }},
      {"HardSigmoid", R"(["T"])", "", {a}, [](double x, double) { return std::clamp((x + 3) / 6, 0.0, 1.0); }},
      {"Softsign", R"(["T"])", "", {a}, [](double x, double) { return x / (1.0 + std::fabs(x)); }},
      {"Elu", R"(["T"])", R"(, "alpha": 0.7)", {a}, [](double x, double) { return x > 0 ? x : 0.7 * std::expm1(x); }},
      {"LeakyRelu", R"(["T"])", R"(, "negative_slope": 0.3)", {a},
       [](double x, double) { return x > 0 ? x : 0.3 * x; }},
      {"Gelu", R"(["T"])", R"(, "approximate": false)", {a},
       [](double x, double) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }},
      {"Gelu", R"(["T"])", R"(, "approximate": true)", {a},
       [](double x, double) { return 0.5 * x * (1.0 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); }},
      {"Greater", R"(["T", "T"])", "", {a, b}, [](double x, double y) { return double(x > y); }},
      {"GreaterEqual", R"(["T", 0.7])", "", {a}, [](double x, double) { return double(x >= 0.7); }},
      {"Less", R"(["T", "T"])", "", {b, a}, [](double x, double y) { return double(x < y); }},
      {"LessEqual", R"([-0.9, "T"])", "", {a}, [](double x, double) { return double(-0.9 <= x); }},
      {"Equal", R"(["T", "T"])", "", {a, a}, [](double x, double y) { return double(x == y); }},
      {"NotEqual", R"(["T", "T"])", "", {a, b}, [](double x, double y) { return double(x != y); }},
      {"LogicalAnd", R"(["T", "T"])", "", {a, b}, [](double x, double y) { return double(x != 0 && y != 0); }},
      {"LogicalOr", R"(["T", 0])", "", {a}, [](double x, double) { return double(x != 0); }},
      {"LogicalNot", R"(["T"])", "", {a}, [](double x, double) { return double(x == 0); }},
      {"Where", R"([1, "T", "T"])", "", {a, b}, [](double x, double) { return x; }},
      {"Where", R"([0.0, "T", -2.5])", "", {a}, [](double, double) { return -2.5; }},
  };
  for (const Case& c : cases) {
    auto layer = operation(c.op, c.args, "op", c.fields);
    MergeLayer& m = built(*layer, c.xs, {3, 4});
    StepMask out_mask;
    const Tensor y = merge(m, c.xs, std::vector<StepMask>(c.xs.size()), out_mask);
    CHECK(y.shape == (Shape{2, 3, 4}));
    std::vector<double> expected;
    for (std::int64_t i = 0; i < 24; ++i) {
      const std::vector<std::int64_t> index{i / 12, i / 4 % 3, i % 4};
      const double x = c.xs[0].values[broadcast_offset(c.xs[0].shape, index)];
      expected.push_back(c.reference(x, c.xs.size() > 1 ? c.xs[1].values[broadcast_offset(c.xs[1].shape, index)] : 0));
    }
    expect_close(std::string(c.op) + " " + c.args + " values", max_relative_difference(y, expected), 1e-6);
    expect_close(std::string(c.op) + " " + c.args + " gradients",
                 gradient_error(m, c.xs, std::vector<StepMask>(c.xs.size())), 2e-3);
  }
  // where(condition, x1, x2) with the condition a tensor: x1's gradient where it is non-zero, x2's elsewhere,
  // none to the condition.
  Tensor condition({2, 3, 1});
  for (std::size_t k = 0; k < condition.values.size(); ++k) condition.values[k] = k % 3 == 1 ? 0.0f : -1.5f;
  auto where = operation("Where", R"(["T", "T", "T"])");
  MergeLayer& m = built(*where, {condition, a, b}, {3, 4});
  StepMask out_mask;
  rnnkit::TrainingStep step{rng, nullptr};
  const Tensor y = merge(m, {condition, a, b}, {{}, {}, {}}, out_mask, &step);
  const Tensor d_y = random_tensor(y.shape, rng);
  const std::vector<Tensor> d = m.unmerge(*step.cache, d_y);
  std::vector<float> d_b(b.values.size(), 0.0f);
  for (std::int64_t i = 0; i < 24; ++i) {
    const std::vector<std::int64_t> index{i / 12, i / 4 % 3, i % 4};
    const bool chosen = condition.values[broadcast_offset(condition.shape, index)] != 0.0f;
    CHECK(y.values[i] == (chosen ? a.values[i] : b.values[broadcast_offset(b.shape, index)]));
    CHECK(d[1].values[i] == (chosen ? d_y.values[i] : 0.0f));
    if (!chosen) d_b[broadcast_offset(b.shape, index)] += d_y.values[i];
  }
  CHECK(d[2].values == d_b);
  CHECK(std::all_of(d[0].values.begin(), d[0].values.end(), [](float v) { return v == 0.0f; }));
  expect_refusal([] { operation("Clip", R"(["T"])", "op", R"(, "x_min": 0)"); }, "expects a number as x_max");
  expect_refusal([] { operation("Where", R"(["T", "T"])"); }, "expects 3 operands, received 2");
}

// maximum(x, x) and minimum(x, x): each operand gets half the gradient (PyTorch's rule, Keras on torch).
void test_operation_extremum_ties() {
  for (const char* op : {"Maximum", "Minimum"}) {
    auto layer = operation(op, R"(["T", "T"])");
    std::mt19937_64 rng(8);
    const Tensor x = random_tensor({2, 3}, rng);
    MergeLayer& m = built(*layer, {x, x}, {3});
    StepMask out_mask;
    rnnkit::TrainingStep step{rng, nullptr};
    merge(m, {x, x}, {{}, {}}, out_mask, &step);
    const Tensor d_y = random_tensor({2, 3}, rng);
    const std::vector<Tensor> d = m.unmerge(*step.cache, d_y);
    for (std::size_t k = 0; k < d_y.values.size(); ++k)
      CHECK(d[0].values[k] == 0.5f * d_y.values[k] && d[1].values[k] == 0.5f * d_y.values[k]);
  }
}

void test_operation_get_item() {
  std::mt19937_64 rng(6);
  struct Case {
    std::string key;
    Shape out;  // per example, for an input of per-example shape (4, 5)
    // The input's (b, t, k) read at an output element's index (b, ...).
    std::vector<std::int64_t> (*source)(const std::vector<std::int64_t>& out_index);
  };
  const Case cases[] = {
      {"[" + kAll + ", -1]", {5},
       [](const std::vector<std::int64_t>& i) { return std::vector<std::int64_t>{i[0], 3, i[1]}; }},
      {"[" + kAll + ", " + slice("1", "null", "2") + ", " + slice("null", "-1", "null") + "]", {2, 4},
       [](const std::vector<std::int64_t>& i) { return std::vector<std::int64_t>{i[0], 1 + 2 * i[1], i[2]}; }},
      {R"([{"class_name": "__ellipsis__", "config": {}}, 2])", {4},
       [](const std::vector<std::int64_t>& i) { return std::vector<std::int64_t>{i[0], i[1], 2}; }},
      {"[" + kAll + ", " + slice("null", "null", "-1") + ", null, 0]", {4, 1},
       [](const std::vector<std::int64_t>& i) { return std::vector<std::int64_t>{i[0], 3 - i[1], 0}; }},
      {"[" + kAll + ", " + slice("-2", "10", "null") + "]", {2, 5},
       [](const std::vector<std::int64_t>& i) { return std::vector<std::int64_t>{i[0], 2 + i[1], i[2]}; }},
  };
  for (const Case& c : cases) {
    auto layer = operation("GetItem", R"(["T", )" + c.key + "]");
    const std::vector<Tensor> xs{random_tensor({3, 4, 5}, rng)};
    MergeLayer& m = built(*layer, xs, c.out);
    StepMask out_mask;
    const Tensor y = merge(m, xs, {{}}, out_mask);
    Shape full{3};
    full.insert(full.end(), c.out.begin(), c.out.end());
    CHECK(y.shape == full);
    std::vector<double> expected;
    std::vector<std::int64_t> index(full.size(), 0);
    for (std::size_t i = 0; i < y.values.size(); ++i) {
      std::size_t rest = i;
      for (std::size_t a = full.size(); a-- > 0;) index[a] = static_cast<std::int64_t>(rest % full[a]), rest /= full[a];
      const std::vector<std::int64_t> from = c.source(index);
      expected.push_back(xs[0].values[(from[0] * 4 + from[1]) * 5 + from[2]]);
    }
    expect_close("GetItem " + c.key + " values", max_relative_difference(y, expected), 1e-12);
    expect_close("GetItem " + c.key + " gradients", gradient_error(m, xs, {{}}), 2e-3);
  }
  // A slice of a size unknown when built is unknown; its size comes from each call.
  auto lazy = operation("GetItem", R"(["T", [)" + kAll + ", " + slice("1", "null", "null") + "]]");
  CHECK((merge_layer(*lazy).build_merge({{-1, 2}}) == Shape{-1, 2}));
  StepMask out_mask;
  CHECK((merge(merge_layer(*lazy), {Tensor({2, 4, 2})}, {{}}, out_mask).shape == Shape{2, 3, 2}));
}

// Reductions, expand_dims, squeeze, transpose and concatenate against references computed here index by index.
void test_operation_shapes() {
  std::mt19937_64 rng(9);
  const Tensor x = random_tensor({2, 3, 4}, rng);
  auto at = [&](std::int64_t b, std::int64_t t, std::int64_t k) { return double(x.values[(b * 3 + t) * 4 + k]); };
  struct Case {
    const char* op;
    std::string fields;
    Shape out;  // per example
    std::vector<double> (*reference)(const std::function<double(std::int64_t, std::int64_t, std::int64_t)>&);
  };
  using At = std::function<double(std::int64_t, std::int64_t, std::int64_t)>;
  const Case cases[] = {
      {"Mean", R"(, "axis": 1, "keepdims": false)", {4}, [](const At& a) {
         std::vector<double> y;
         for (std::int64_t b = 0; b < 2; ++b)
           for (std::int64_t k = 0; k < 4; ++k) y.push_back((a(b, 0, k) + a(b, 1, k) + a(b, 2, k)) / 3);
         return y;
       }},
      {"Sum", R"(, "axis": [1, -1], "keepdims": true)", {1, 1}, [](const At& a) {
         std::vector<double> y(2, 0.0);
         for (std::int64_t b = 0; b < 2; ++b)
           for (std::int64_t t = 0; t < 3; ++t)
             for (std::int64_t k = 0; k < 4; ++k) y[b] += a(b, t, k);
         return y;
       }},
      {"Max", R"(, "axis": -1, "keepdims": false, "initial": null)", {3}, [](const At& a) {
         std::vector<double> y;
         for (std::int64_t b = 0; b < 2; ++b)
           for (std::int64_t t = 0; t < 3; ++t)
             y.push_back(std::max({a(b, t, 0), a(b, t, 1), a(b, t, 2), a(b, t, 3)}));
         return y;
       }},
      {"Min", R"(, "axis": 1, "keepdims": true)", {1, 4}, [](const At& a) {
         std::vector<double> y;
         for (std::int64_t b = 0; b < 2; ++b)
           for (std::int64_t k = 0; k < 4; ++k) y.push_back(std::min({a(b, 0, k), a(b, 1, k), a(b, 2, k)}));
         return y;
       }},
      {"Transpose", R"(, "axes": [0, 2, 1])", {4, 3}, [](const At& a) {
         std::vector<double> y;
         for (std::int64_t b = 0; b < 2; ++b)
           for (std::int64_t k = 0; k < 4; ++k)
             for (std::int64_t t = 0; t < 3; ++t) y.push_back(a(b, t, k));
         return y;
       }},
      {"ExpandDims", R"(, "axis": -2)", {3, 1, 4}, [](const At& a) {
         std::vector<double> y;
         for (std::int64_t i = 0; i < 24; ++i) y.push_back(a(i / 12, i / 4 % 3, i % 4));
         return y;
       }},
  };
  for (const Case& c : cases) {
    auto layer = operation(c.op, R"(["T"])", "op", c.fields);
    MergeLayer& m = built(*layer, {x}, c.out);
    StepMask out_mask{1, 1, 1};
    const Tensor y = merge(m, {x}, {{}}, out_mask);
    Shape full{2};
    full.insert(full.end(), c.out.begin(), c.out.end());
    CHECK(y.shape == full && out_mask.empty());
    expect_close(std::string(c.op) + c.fields + " values", max_relative_difference(y, c.reference(at)), 1e-6);
    expect_close(std::string(c.op) + c.fields + " gradients", gradient_error(m, {x}, {{}}), 2e-3);
  }
  // Squeeze, with and without axes; concatenate along the steps.
  auto squeeze = operation("Squeeze", R"(["T"])", "op", R"(, "axis": null)");
  const Tensor column = random_tensor({2, 1, 4}, rng);
  MergeLayer& all = built(*squeeze, {column}, {4});
  StepMask out_mask;
  CHECK((merge(all, {column}, {{}}, out_mask).values == column.values));
  CHECK((merge(all, {Tensor({1, 1, 4})}, {{}}, out_mask).shape == Shape{1, 4}));  // a batch of 1 stays
  auto named = operation("Squeeze", R"(["T"])", "op", R"(, "axis": [1])");
  CHECK((merge_layer(*named).build_merge({{1, 4}}) == Shape{4}));
  auto joined = operation("Concatenate", R"(["T", "T"])", "op", R"(, "axis": 1)");
  const std::vector<Tensor> parts{random_tensor({2, 3, 4}, rng), random_tensor({2, 2, 4}, rng)};
  MergeLayer& j = built(*joined, parts, {5, 4});
  const Tensor y = merge(j, parts, {{1, 0, 1}, {}}, out_mask);
  CHECK(y.shape == (Shape{2, 5, 4}) && out_mask.empty());  // an operation's output has no mask
  CHECK(y.values[(0 * 5 + 3) * 4 + 1] == parts[1].values[(0 * 2 + 0) * 4 + 1]);
  expect_close("Concatenate gradients", gradient_error(j, parts, {{}, {}}), 2e-3);
  // Cast: float32 as it is; to an integer type truncated toward zero, with no gradient through it.
  auto to_float = operation("Cast", R"(["T"])", "op", R"(, "dtype": "float32")");
  auto to_int = operation("Cast", R"(["T"])", "op", R"(, "dtype": "int32")");
  const Tensor mixed({1, 3}, {1.7f, -2.5f, 3.0f});
  CHECK((merge(built(*to_float, {mixed}, {3}), {mixed}, {{}}, out_mask).values == mixed.values));
  MergeLayer& truncating = built(*to_int, {mixed}, {3});
  rnnkit::TrainingStep cast_step{rng, nullptr};
  CHECK((merge(truncating, {mixed}, {{}}, out_mask, &cast_step).values == std::vector<float>{1.0f, -2.0f, 3.0f}));
  CHECK((truncating.unmerge(*cast_step.cache, Tensor({1, 3}, {1.0f, 1.0f, 1.0f}))[0].values ==
         std::vector<float>(3, 0.0f)));
  // Tied maxima share the gradient evenly.
  auto top = operation("Max", R"(["T"])", "op", R"(, "axis": 1)");
  Tensor tied({1, 4}, {1.0f, 3.0f, 3.0f, 2.0f});
  MergeLayer& t = built(*top, {tied}, {});
  rnnkit::TrainingStep step{rng, nullptr};
  merge(t, {tied}, {{}}, out_mask, &step);
  CHECK((t.unmerge(*step.cache, Tensor({1}, {1.0f}))[0].values == std::vector<float>{0.0f, 0.5f, 0.5f, 0.0f}));
}

// matmul, softmax, reshape and stack against references computed here, gradients by finite differences.
void test_operation_linear() {
  std::mt19937_64 rng(10);
  const Tensor a = random_tensor({2, 3, 4}, rng), b = random_tensor({2, 4, 5}, rng);
  auto product = operation("Matmul", R"(["T", "T"])");
  MergeLayer& mm = built(*product, {a, b}, {3, 5});
  StepMask out_mask;
  std::vector<double> expected;
  for (std::int64_t n = 0; n < 2; ++n)
    for (std::int64_t i = 0; i < 3; ++i)
      for (std::int64_t j = 0; j < 5; ++j) {
        double total = 0;
        for (std::int64_t k = 0; k < 4; ++k)
          total += double(a.values[(n * 3 + i) * 4 + k]) * b.values[(n * 4 + k) * 5 + j];
        expected.push_back(total);
      }
  expect_close("Matmul values", max_relative_difference(merge(mm, {a, b}, {{}, {}}, out_mask), expected), 1e-6);
  expect_close("Matmul gradients", gradient_error(mm, {a, b}, {{}, {}}), 2e-3);

  auto softmax = operation("Softmax", R"(["T"])", "op", R"(, "axis": 1)");
  MergeLayer& sm = built(*softmax, {a}, {3, 4});
  expected.clear();
  for (std::int64_t n = 0; n < 2; ++n)
    for (std::int64_t i = 0; i < 3; ++i)
      for (std::int64_t k = 0; k < 4; ++k) {
        double total = 0;
        for (std::int64_t r = 0; r < 3; ++r) total += std::exp(double(a.values[(n * 3 + r) * 4 + k]));
        expected.push_back(std::exp(double(a.values[(n * 3 + i) * 4 + k])) / total);
      }
  expect_close("Softmax axis 1 values", max_relative_difference(merge(sm, {a}, {{}}, out_mask), expected), 1e-6);
  expect_close("Softmax axis 1 gradients", gradient_error(sm, {a}, {{}}), 2e-3);

  auto reshape = operation("Reshape", R"(["T"])", "op", R"(, "newshape": [-1, 2, 6])");
  MergeLayer& rs = built(*reshape, {a}, {2, 6});
  const Tensor reshaped = merge(rs, {a}, {{}}, out_mask);
  CHECK(reshaped.shape == (Shape{2, 2, 6}) && reshaped.values == a.values);
  expect_close("Reshape gradients", gradient_error(rs, {a}, {{}}), 2e-3);

  auto stack = operation("Stack", R"(["T", "T"])", "op", R"(, "axis": -1)");
  const Tensor c = random_tensor({2, 3, 4}, rng);
  MergeLayer& st = built(*stack, {a, c}, {3, 4, 2});
  const Tensor stacked = merge(st, {a, c}, {{}, {}}, out_mask);
  for (std::size_t i = 0; i < a.values.size(); ++i)
    CHECK(stacked.values[2 * i] == a.values[i] && stacked.values[2 * i + 1] == c.values[i]);
  expect_close("Stack gradients", gradient_error(st, {a, c}, {{}, {}}), 2e-3);
}

void test_operation_refusals() {
  expect_refusal([] { merge_layer(*operation("Matmul", R"(["T", "T"])")).build_merge({{3, 4}, {5, 2}}); },
                 "layer op (Matmul) cannot multiply (3, 4) by (5, 2): inner sizes 4 and 5");
  expect_refusal([] { merge_layer(*operation("Matmul", R"(["T", "T"])")).build_merge({{3, 4}, {4}}); },
                 "multiplies tensors of equal rank 3 or more");
  expect_refusal([] { merge_layer(*operation("Softmax", R"(["T"])", "op", R"(, "axis": 0)")).build_merge({{4}}); },
                 "takes the softmax along a feature axis");
  expect_refusal([] { operation("Reshape", R"(["T"])", "op", R"(, "newshape": [2, -1])"); },
                 "reshapes to (-1, sizes...)");
  expect_refusal([] { merge_layer(*operation("Reshape", R"(["T"])", "op", R"(, "newshape": [-1, 5])"))
                          .build_merge({{2, 3}}); },
                 "cannot reshape");
  expect_refusal([] { merge_layer(*operation("Stack", R"(["T", "T"])", "op", R"(, "axis": 0)"))
                          .build_merge({{3}, {3}}); },
                 "stacks along a feature axis");
  expect_refusal([] { operation("Mean", R"(["T"])", "op", R"(, "axis": null)"); },
                 "keeps the batch axis: reduce over given feature axes");
  expect_refusal([] { merge_layer(*operation("Sum", R"(["T"])", "op", R"(, "axis": 0)")).build_merge({{4}}); },
                 "layer op (Sum) the C++ model API keeps the batch axis");
  expect_refusal([] { merge_layer(*operation("Max", R"(["T"])", "op", R"(, "axis": 2)")).build_merge({{4}}); },
                 "layer op (Max) axis 2 is out of range for a tensor of rank 2");
  expect_refusal([] { merge_layer(*operation("ExpandDims", R"(["T"])", "op", R"(, "axis": 0)")).build_merge({{4}}); },
                 "keeps the batch axis");
  expect_refusal([] { merge_layer(*operation("Transpose", R"(["T"])", "op", R"(, "axes": [1, 0, 2])"))
                          .build_merge({{3, 4}}); },
                 "axes must start with 0");
  expect_refusal([] { merge_layer(*operation("Transpose", R"(["T"])", "op", R"(, "axes": [0, 1, 1])"))
                          .build_merge({{3, 4}}); },
                 "axes are not a permutation");
  expect_refusal([] { merge_layer(*operation("Squeeze", R"(["T"])", "op", R"(, "axis": 1)")).build_merge({{3}}); },
                 "cannot squeeze axis 1 of size 3");
  expect_refusal([] { merge_layer(*operation("Concatenate", R"(["T", "T"])", "op", R"(, "axis": 0)"))
                          .build_merge({{3}, {3}}); },
                 "is not a feature axis");
  expect_refusal([] { operation("Max", R"(["T"])", "op", R"(, "axis": 1, "initial": 0.0)"); },
                 "initial= is not supported");
  expect_refusal([] { operation("Mean", R"(["T", 2])", "op", R"(, "axis": 1)"); }, "expects one tensor");
  expect_refusal([] { operation("Cast", R"(["T"])", "op", R"(, "dtype": "float16")"); },
                 "casts to float32, int32 or int64");
  expect_refusal([] { merge_layer(*operation("GetItem", R"(["T", 0])")).build_merge({{4}}); },
                 "layer op (GetItem) the C++ model API keeps the batch axis");
  expect_refusal([] { merge_layer(*operation("GetItem", R"(["T", [null, )" + kAll + "]]")).build_merge({{4}}); },
                 "keeps the batch axis");
  expect_refusal([] { merge_layer(*operation("GetItem", R"(["T", [)" + kAll + ", 4]]")).build_merge({{4}}); },
                 "layer op (GetItem) index 4 is out of range for an axis of size 4");
  expect_refusal([] { merge_layer(*operation("GetItem", R"(["T", [)" + kAll + ", 0, 0]]")).build_merge({{4}}); },
                 "indexes 3 axes of a tensor of 2");
  auto lazy = operation("GetItem", R"(["T", [)" + kAll + ", 3]]");
  merge_layer(*lazy).build_merge({{-1}});
  StepMask out_mask;
  expect_refusal([&] { merge(merge_layer(*lazy), {Tensor({1, 2})}, {{}}, out_mask); },
                 "index 3 is out of range for an axis of size 2");
  expect_refusal([] { operation("GetItem", R"(["T", [)" + slice("0", "null", "0") + "]]"); },
                 "slice step cannot be zero");
  expect_refusal([] { operation("GetItem", R"(["T", [{"class_name": "__ellipsis__", "config": {}}, )"
                                          R"({"class_name": "__ellipsis__", "config": {}}]])"); },
                 "an index may hold one Ellipsis");
  expect_refusal([] { merge_layer(*operation("Add", R"(["T", "T"])")).build_merge({{3, 4}, {4}}); },
                 "layer op (Add) the C++ model API applies operations to tensors of equal rank");
  expect_refusal([] { merge_layer(*operation("Multiply", R"(["T", "T"])")).build_merge({{3, 4}, {2, 4}}); },
                 "layer op (Multiply) cannot broadcast the shapes (3, 4) and (2, 4)");
  expect_refusal([] { operation("Add", R"(["T", "x"])"); }, "expects tensors and numbers as operands");
  expect_refusal([] { operation("Add", R"([1, 2])"); }, "expects at least one tensor");
  expect_refusal([] { operation("Negative", R"(["T", 2])"); }, "expects 1 operands, received 2");
  expect_refusal([] { operation("Einsum", R"(["T", "T"])"); },
                 "operation Einsum is not supported by the C++ model API");
  expect_refusal([] { rnnkit::model_detail::layer_from_entry(
                          rnnkit::parse_json(R"({"module": "keras.src.ops.numpy", "class_name": "Add", )"
                                             R"("config": {"name": "a"}})", "test"), "test"); },
                 "operation nodes belong to functional models");
}

}  // namespace

int main() {
  test_operation_elementwise();
  test_operation_extremum_ties();
  test_operation_conditions();
  test_operation_shapes();
  test_operation_linear();
  test_operation_get_item();
  test_operation_refusals();
  test_names_and_configs();
  test_multiply();
  test_maximum_and_minimum();
  test_extremum_ties();
  test_dot_shapes();
  test_dot_normalize_zero_slice();
  test_refusals();
  return rnnkit_test::failures();
}
