// MultiHeadAttention and GroupedQueryAttention (Keras 3's): forward next to backward, with their factories and
// from_config. The projections are GEMMs, the attention the core's tiled kernel (rnnkit/attention.hpp) on
// positions-major operands, as Python's layers (python/rnnkit/layers/multi_head_attention.py) compute them.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "model/support.hpp"
#include "rnnkit/attention.hpp"
#include "rnnkit/gemm.hpp"
#include "rnnkit/layers.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

// y[rows, out] = x[rows, in] · kernel[in, out] + bias.
Tensor project(const Tensor& x, std::int64_t rows, const Weight& kernel, const Weight* bias) {
  const std::int64_t in = x.shape.back(), out = kernel.value.size() / in;
  Tensor y({rows, out});
  sgemm(Trans::no, Trans::no, rows, out, in, 1.0f, x.values.data(), in, kernel.value.values.data(), out, 0.0f,
        y.values.data(), out, bias ? bias->value.values.data() : nullptr);
  return y;
}

// The gradients of `project`: d_x += d_y · kernel^T, d_kernel = x^T · d_y, d_bias = d_y's column sums.
void unproject(const Tensor& x, const Tensor& d_y, const Weight& kernel, float* d_x, Tensor& d_kernel,
               Tensor* d_bias) {
  const std::int64_t in = x.shape.back(), out = d_y.shape.back(), rows = d_y.shape[0];
  sgemm(Trans::no, Trans::yes, rows, in, out, 1.0f, d_y.values.data(), out, kernel.value.values.data(), out, 1.0f,
        d_x, in);
  sgemm(Trans::yes, Trans::no, in, out, rows, 1.0f, x.values.data(), in, d_y.values.data(), out, 0.0f,
        d_kernel.values.data(), out);
  if (d_bias == nullptr) return;
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < out; ++c) d_bias->values[c] += d_y.values[r * out + c];
}

struct AttentionConfig {
  std::int64_t heads = 1, key_value_heads = 1, key_dim = 1, value_dim = 1;
  std::int64_t output_dim = -1;       // -1: the query's features
  std::int64_t sliding_window = -1;   // -1: none
  float dropout = 0.0f;
  bool use_bias = true, use_gate = false;
  bool grouped = false;               // GroupedQueryAttention's config and weight names
};

// Keras 3's MultiHeadAttention over [query, value(, key)] of shapes (batch, steps, features); with fewer key/value
// heads than query heads, GroupedQueryAttention: each key/value head repeated for its group of query heads.
class AttentionLayer final : public AttentionLayerBase {
 public:
  AttentionLayer(std::string name, AttentionConfig config) : AttentionLayerBase(std::move(name)), c_(config) {
    if (c_.heads <= 0 || c_.key_value_heads <= 0 || c_.key_dim <= 0 || c_.value_dim <= 0 || c_.output_dim == 0 ||
        c_.output_dim < -1)
      fail_layer(*this, "needs positive head counts and sizes");
    if (!(c_.dropout >= 0.0f && c_.dropout < 1.0f)) fail_layer(*this, "needs a dropout in [0, 1)");
    if (c_.sliding_window == 0 || c_.sliding_window < -1)
      fail_layer(*this, "needs a positive sliding_window (or -1 for none)");
    if (c_.heads % c_.key_value_heads != 0)
      fail_layer(*this, "needs num_query_heads divisible by num_key_value_heads, received " +
                            std::to_string(c_.heads) + " and " + std::to_string(c_.key_value_heads));
  }
  const char* class_name() const override { return c_.grouped ? "GroupedQueryAttention" : "MultiHeadAttention"; }
  std::string config_json() const override {
    const std::string shared = "\"dropout\": " + json_number(c_.dropout) + ", \"use_bias\": " +
                               (c_.use_bias ? "true" : "false") + ", \"use_gate\": " +
                               (c_.use_gate ? "true" : "false") + ", \"sliding_window\": " +
                               (c_.sliding_window < 0 ? "null" : std::to_string(c_.sliding_window));
    if (c_.grouped)
      return config_object(*this, "\"head_dim\": " + std::to_string(c_.key_dim) + ", \"num_query_heads\": " +
                                      std::to_string(c_.heads) + ", \"num_key_value_heads\": " +
                                      std::to_string(c_.key_value_heads) + ", " + shared);
    return config_object(*this, "\"num_heads\": " + std::to_string(c_.heads) + ", \"key_dim\": " +
                                    std::to_string(c_.key_dim) + ", \"value_dim\": " + std::to_string(c_.value_dim) +
                                    ", \"output_shape\": " +
                                    (c_.output_dim < 0 ? "null" : json_list({c_.output_dim})) +
                                    ", \"attention_axes\": null, " + shared);
  }
  void set_use_causal_mask(bool causal) override { causal_ = causal; }
  bool use_causal_mask() const override { return causal_; }

  Shape build_merge(const std::vector<Shape>& inputs) override {
    if (inputs.size() != 2 && inputs.size() != 3)
      fail_layer(*this, "expects [query, value] or [query, value, key], received " + std::to_string(inputs.size()) +
                            " inputs");
    for (const Shape& s : inputs)
      if (s.size() != 2 || s.back() < 0)
        fail_layer(*this, "attends over the steps of (batch, steps, features) inputs with known features; received " +
                              shape_text(with_batch(-1, s)));
    const Shape& query = inputs[0];
    const Shape& value = inputs[1];
    const Shape& key = inputs.size() == 3 ? inputs[2] : value;
    if (value[0] != key[0]) fail_layer(*this, "needs value and key of the same steps");
    const std::int64_t out_dim = c_.output_dim < 0 ? query.back() : c_.output_dim;
    // Keras' order: query, key, gate, value, output; each kernel then its bias.
    std::size_t next = 0;
    auto projection = [&](const char* name, std::int64_t features, std::int64_t heads, std::int64_t dim) {
      ensure_weight(weights_, next++, *this, (std::string(name) + "/kernel").c_str(), {features, heads, dim},
                    Init::glorot_uniform, nullptr);
      if (c_.use_bias)
        ensure_weight(weights_, next++, *this, (std::string(name) + "/bias").c_str(), {heads, dim}, Init::zeros,
                      nullptr);
    };
    projection("query", query.back(), c_.heads, c_.key_dim);
    projection("key", key.back(), c_.key_value_heads, c_.key_dim);
    if (c_.use_gate) projection("gate", query.back(), c_.heads, c_.value_dim);
    projection("value", value.back(), c_.key_value_heads, c_.value_dim);
    ensure_weight(weights_, next++, *this, "attention_output/kernel", {c_.heads, c_.value_dim, out_dim},
                  Init::glorot_uniform, nullptr);
    if (c_.use_bias) ensure_weight(weights_, next, *this, "attention_output/bias", {out_dim}, Init::zeros, nullptr);
    return {query[0], out_dim};
  }

  struct Cache final : LayerCache {
    std::vector<Tensor> inputs;  // query, value(, key)
    Tensor q, k, v, out;  // positions-major; k and v repeated to every query head
    Tensor gate, gated;   // use_gate: sigmoid of the gate projection, and out times it
    std::vector<float> lse;
    std::vector<std::uint8_t> keep;
    AttentionDims dims;
    std::uint64_t seed = 0;
    float dropout = 0.0f;
  };

  Tensor merge(const std::vector<const Tensor*>& xs, const std::vector<const StepMask*>& masks, StepMask& out_mask,
               TrainingStep* training) const override {
    Cache cache;
    cache.dims = dims_of(xs);
    const AttentionDims& d = cache.dims;
    const Tensor& query = *xs[0];
    cache.q = project(query, d.batch * d.q_len, weight(Slot::query_kernel), bias(Slot::query_kernel));
    const std::int64_t kv_rows = d.batch * d.kv_len;
    cache.k = repeated(project(key_of(xs), kv_rows, weight(Slot::key_kernel), bias(Slot::key_kernel)), kv_rows,
                       c_.key_dim);
    cache.v = repeated(project(*xs[1], kv_rows, weight(Slot::value_kernel), bias(Slot::value_kernel)), kv_rows,
                       c_.value_dim);
    cache.keep = keep_mask(d, masks);
    if (training && c_.dropout > 0.0f) {
      cache.dropout = c_.dropout;
      cache.seed = training->rng();
    }
    cache.out = Tensor({d.batch * d.q_len, c_.heads * c_.value_dim});
    cache.lse.resize(static_cast<std::size_t>(d.batch * c_.heads * d.q_len));
    attention_forward(d, AttentionLayout::positions_major(d), cache.q.values.data(), cache.k.values.data(),
                      cache.v.values.data(), options(cache), cache.out.values.data(), cache.lse.data());
    if (c_.use_gate) {
      cache.gate = project(query, d.batch * d.q_len, weight(Slot::gate_kernel), bias(Slot::gate_kernel));
      cache.gated = cache.out;
      for (std::size_t i = 0; i < cache.gated.values.size(); ++i) {
        float& g = cache.gate.values[i];
        g = 1.0f / (1.0f + std::exp(-g));
        cache.gated.values[i] *= g;
      }
    }
    Tensor y = project(projected_heads(cache), d.batch * d.q_len, weight(Slot::output_kernel),
                       c_.use_bias ? &weights_.back() : nullptr);
    y.shape = {d.batch, d.q_len, y.shape.back()};
    out_mask = *masks[0];  // Keras: the query's mask
    if (training) {
      for (const Tensor* x : xs) cache.inputs.push_back(*x);
      training->cache = std::make_unique<Cache>(std::move(cache));
    }
    return y;
  }

  std::vector<Tensor> unmerge(const LayerCache& base, const Tensor& d_y) const override {
    std::vector<Tensor> d_weights;
    return unmerge_with_weights(base, d_y, d_weights);
  }

  std::vector<Tensor> unmerge_with_weights(const LayerCache& base, const Tensor& d_y,
                                           std::vector<Tensor>& d_weights) const override {
    const auto& cache = static_cast<const Cache&>(base);
    const AttentionDims& d = cache.dims;
    const std::int64_t q_rows = d.batch * d.q_len, kv_rows = d.batch * d.kv_len;
    d_weights.clear();
    for (const Weight& w : weights_) d_weights.emplace_back(w.value.shape);
    std::vector<Tensor> d_inputs;
    for (const Tensor& x : cache.inputs) d_inputs.emplace_back(x.shape);
    const Tensor d_rows(Shape{q_rows, d_y.shape.back()}, d_y.values);

    Tensor d_heads({q_rows, c_.heads * c_.value_dim});
    unproject(projected_heads(cache), d_rows, weight(Slot::output_kernel), d_heads.values.data(),
              d_weights[index(Slot::output_kernel)], c_.use_bias ? &d_weights.back() : nullptr);
    if (c_.use_gate) {  // y reads out * gate: each factor's gradient is d_heads times the other
      Tensor d_gate_pre(d_heads.shape);
      for (std::size_t i = 0; i < d_heads.values.size(); ++i) {
        const float g = cache.gate.values[i];
        d_gate_pre.values[i] = d_heads.values[i] * cache.out.values[i] * g * (1.0f - g);
        d_heads.values[i] *= g;
      }
      unproject(cache.inputs[0], d_gate_pre, weight(Slot::gate_kernel), d_inputs[0].values.data(),
                d_weights[index(Slot::gate_kernel)], bias_gradient(d_weights, Slot::gate_kernel));
    }
    Tensor d_q(cache.q.shape), d_k(cache.k.shape), d_v(cache.v.shape);
    const AttentionLayout layout = AttentionLayout::positions_major(d);
    attention_backward(d, layout, cache.q.values.data(), cache.k.values.data(), cache.v.values.data(),
                       cache.out.values.data(), cache.lse.data(), d_heads.values.data(), options(cache), layout,
                       d_q.values.data(), d_k.values.data(), d_v.values.data());
    unproject(cache.inputs[0], d_q, weight(Slot::query_kernel), d_inputs[0].values.data(),
              d_weights[index(Slot::query_kernel)], bias_gradient(d_weights, Slot::query_kernel));
    // Without a key input, the key projection reads the value input: both paths reach it.
    const std::size_t key_input = cache.inputs.size() == 3 ? 2 : 1;
    unproject(cache.inputs[key_input], summed(d_k, kv_rows, c_.key_dim), weight(Slot::key_kernel),
              d_inputs[key_input].values.data(), d_weights[index(Slot::key_kernel)],
              bias_gradient(d_weights, Slot::key_kernel));
    unproject(cache.inputs[1], summed(d_v, kv_rows, c_.value_dim), weight(Slot::value_kernel),
              d_inputs[1].values.data(), d_weights[index(Slot::value_kernel)],
              bias_gradient(d_weights, Slot::value_kernel));
    return d_inputs;
  }

 protected:
  void collect_weights(std::vector<Weight*>& out) override {
    for (Weight& w : weights_) out.push_back(&w);
  }

 private:
  enum class Slot { query_kernel, key_kernel, gate_kernel, value_kernel, output_kernel };

  // Where a projection's kernel lies in weights_ (its bias follows it when use_bias).
  std::size_t index(Slot slot) const {
    const std::size_t per = c_.use_bias ? 2 : 1;
    std::size_t position = static_cast<std::size_t>(slot);
    if (!c_.use_gate && slot > Slot::gate_kernel) --position;
    return position * per;
  }
  const Weight& weight(Slot slot) const { return weights_[index(slot)]; }
  const Weight* bias(Slot slot) const { return c_.use_bias ? &weights_[index(slot) + 1] : nullptr; }
  Tensor* bias_gradient(std::vector<Tensor>& d_weights, Slot slot) const {
    return c_.use_bias ? &d_weights[index(slot) + 1] : nullptr;
  }

  // What the output projection reads: the attention output, times the gate with use_gate.
  const Tensor& projected_heads(const Cache& cache) const { return c_.use_gate ? cache.gated : cache.out; }

  static const Tensor& key_of(const std::vector<const Tensor*>& xs) { return xs.size() == 3 ? *xs[2] : *xs[1]; }

  AttentionDims dims_of(const std::vector<const Tensor*>& xs) const {
    const Tensor& query = *xs[0];
    const Tensor& value = *xs[1];
    if (key_of(xs).shape[0] != query.shape[0] || value.shape[0] != query.shape[0] ||
        key_of(xs).shape[1] != value.shape[1])
      fail_layer(*this, "needs inputs of one batch and value and key of the same steps");
    AttentionDims d;
    d.batch = query.shape[0];
    d.heads = c_.heads;
    d.q_len = query.shape[1];
    d.kv_len = value.shape[1];
    d.head_dim = c_.key_dim;
    d.value_dim = c_.value_dim;
    return d;
  }

  // Projected key/value rows (rows, key_value_heads * dim) -> (rows, heads * dim): key/value head h serves query
  // heads h * group to h * group + group - 1.
  Tensor repeated(Tensor projected, std::int64_t rows, std::int64_t dim) const {
    const std::int64_t group = c_.heads / c_.key_value_heads;
    if (group == 1) return projected;
    Tensor out({rows, c_.heads * dim});
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t h = 0; h < c_.heads; ++h)
        std::copy_n(projected.values.begin() + (r * c_.key_value_heads + h / group) * dim, dim,
                    out.values.begin() + (r * c_.heads + h) * dim);
    return out;
  }

  // The gradient of `repeated`: each key/value head's query heads summed back.
  Tensor summed(const Tensor& d_repeated, std::int64_t rows, std::int64_t dim) const {
    const std::int64_t group = c_.heads / c_.key_value_heads;
    if (group == 1) return d_repeated;
    Tensor out({rows, c_.key_value_heads * dim});
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t h = 0; h < c_.heads; ++h)
        for (std::int64_t i = 0; i < dim; ++i)
          out.values[(r * c_.key_value_heads + h / group) * dim + i] += d_repeated.values[(r * c_.heads + h) * dim + i];
    return out;
  }

  // Python's keep_mask: the query's, value's and (given apart) key's masks and the sliding window merged into
  // keep[batch, q_len, kv_len]; empty when nothing hides a key.
  std::vector<std::uint8_t> keep_mask(const AttentionDims& d, const std::vector<const StepMask*>& masks) const {
    const bool any_mask = std::any_of(masks.begin(), masks.end(), [](const StepMask* m) { return !m->empty(); });
    if (!any_mask && c_.sliding_window < 0) return {};
    const std::int64_t lengths[3] = {d.q_len, d.kv_len, d.kv_len};
    for (std::size_t i = 0; i < masks.size(); ++i)
      if (!masks[i]->empty() && static_cast<std::int64_t>(masks[i]->size()) != d.batch * lengths[i])
        fail_layer(*this, "received a mask of " + std::to_string(masks[i]->size()) + " entries for an input of " +
                              std::to_string(d.batch * lengths[i]) + " steps");
    auto kept = [&](std::size_t input, std::int64_t b, std::int64_t step) {
      return input >= masks.size() || masks[input]->empty() ||
             (*masks[input])[static_cast<std::size_t>(b * lengths[input] + step)] != 0;
    };
    std::vector<std::uint8_t> keep(static_cast<std::size_t>(d.batch * d.q_len * d.kv_len));
    for (std::int64_t b = 0; b < d.batch; ++b)
      for (std::int64_t i = 0; i < d.q_len; ++i)
        for (std::int64_t j = 0; j < d.kv_len; ++j)
          keep[static_cast<std::size_t>((b * d.q_len + i) * d.kv_len + j)] =
              kept(0, b, i) && kept(1, b, j) && kept(2, b, j) &&
              (c_.sliding_window < 0 || std::abs(i - j) < c_.sliding_window);
    return keep;
  }

  AttentionOptions options(const Cache& cache) const {
    AttentionOptions o;
    if (!cache.keep.empty()) {
      o.mask.keep = cache.keep.data();
      const std::int64_t strides[4] = {cache.dims.q_len * cache.dims.kv_len, 0, cache.dims.kv_len, 1};
      std::copy_n(strides, 4, o.mask.keep_strides);
    }
    o.mask.causal = causal_;
    o.scale = 1.0f / std::sqrt(static_cast<float>(c_.key_dim));
    o.dropout_p = cache.dropout;
    o.seed = cache.seed;
    return o;
  }

  AttentionConfig c_;
  bool causal_ = false;  // the graph node's use_causal_mask
  std::vector<Weight> weights_;
};

// attention_axes other than the steps' (1, or -2 counting from the end) are refused.
void require_sequence_axis(const ConfigReader& c) {
  const Json* axes = c.get("attention_axes");
  if (axes == nullptr || axes->kind == Json::Kind::null) return;
  const Json* axis = axes->kind == Json::Kind::array && axes->array.size() == 1 ? &axes->array[0] : axes;
  if (!axis->is_integer || (axis->integer != 1 && axis->integer != -2))
    fail(c.where(), "attends over the sequence axis only; other attention_axes are not supported by the C++ model "
                    "API");
}

// The layer's constructor checks the values, naming the layer (load_model adds the file).
void read_shared(const ConfigReader& c, AttentionConfig& config) {
  config.dropout = static_cast<float>(c.number("dropout", 0.0));
  config.use_bias = c.flag("use_bias", true);
  config.use_gate = c.flag("use_gate", false);
  config.sliding_window = c.integer("sliding_window", -1);
}

}  // namespace

// Initializers only drew the first values, which the file replaces.
std::unique_ptr<Layer> multi_head_attention_from_config(const ConfigReader& c) {
  require_sequence_axis(c);
  AttentionConfig config;
  config.heads = config.key_value_heads = c.positive_integer("num_heads");
  config.key_dim = c.positive_integer("key_dim");
  config.value_dim = c.integer("value_dim", 0) > 0 ? c.positive_integer("value_dim") : config.key_dim;
  config.output_dim = c.size_1d("output_shape", -1);
  read_shared(c, config);
  return std::make_unique<AttentionLayer>(c.name(), config);
}

std::unique_ptr<Layer> grouped_query_attention_from_config(const ConfigReader& c) {
  AttentionConfig config;
  config.grouped = true;
  config.heads = c.positive_integer("num_query_heads");
  config.key_value_heads = c.positive_integer("num_key_value_heads");
  config.key_dim = config.value_dim = c.positive_integer("head_dim");
  read_shared(c, config);
  return std::make_unique<AttentionLayer>(c.name(), config);
}

}  // namespace model_detail

namespace layers {
namespace {
model_detail::AttentionConfig config_of(const MultiHeadAttentionOptions& o) {
  model_detail::AttentionConfig c;
  c.dropout = o.dropout;
  c.use_bias = o.use_bias;
  c.use_gate = o.use_gate;
  c.sliding_window = o.sliding_window;
  return c;
}

std::unique_ptr<Layer> attention_layer(const std::string& auto_base, const model_detail::AttentionConfig& config,
                                       const MultiHeadAttentionOptions& o) {
  auto layer = std::make_unique<model_detail::AttentionLayer>(o.name.empty() ? model_detail::auto_name(auto_base)
                                                                             : o.name, config);
  layer->set_use_causal_mask(o.use_causal_mask);
  return layer;
}
}  // namespace

std::unique_ptr<Layer> MultiHeadAttention(std::int64_t num_heads, std::int64_t key_dim,
                                          const MultiHeadAttentionOptions& options) {
  model_detail::AttentionConfig c = config_of(options);
  c.heads = c.key_value_heads = num_heads;
  c.key_dim = key_dim;
  c.value_dim = options.value_dim > 0 ? options.value_dim : key_dim;
  c.output_dim = options.output_dim;
  return attention_layer("multi_head_attention", c, options);
}

std::unique_ptr<Layer> GroupedQueryAttention(std::int64_t head_dim, std::int64_t num_query_heads,
                                             std::int64_t num_key_value_heads,
                                             const MultiHeadAttentionOptions& options) {
  model_detail::AttentionConfig c = config_of(options);
  c.grouped = true;
  c.heads = num_query_heads;
  c.key_value_heads = num_key_value_heads;
  c.key_dim = c.value_dim = head_dim;
  return attention_layer("grouped_query_attention", c, options);
}
}  // namespace layers

}  // namespace rnnkit
