// ConvLSTM1D/2D/3D over the core's conv_lstm_forward / conv_lstm_backward: forward next to backward, the factory and
// from_config. Channels last; like the other recurrent layers here, no return_state or stateful; no masks. In
// training, one input and one recurrent dropout mask a sample, for every step and gate (as rnnkit's Python layer).
#include <algorithm>

#include "model/support.hpp"
#include "rnnkit/conv_lstm.hpp"
#include "rnnkit/layers.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

std::string int_list(const std::vector<std::int64_t>& values) {
  std::string text = "[";
  for (std::size_t i = 0; i < values.size(); ++i) text += (i ? ", " : "") + std::to_string(values[i]);
  return text + "]";
}

// values (batch, time, step floats) ⊙ keep (batch, step floats): a sample's input dropout mask at every step.
void apply_input_keep(float* values, const std::vector<float>& keep, std::int64_t batch, std::int64_t time) {
  const std::int64_t step = static_cast<std::int64_t>(keep.size()) / std::max<std::int64_t>(batch, 1);
  for (std::int64_t r = 0; r < batch * time; ++r)
    for (std::int64_t i = 0; i < step; ++i) values[r * step + i] *= keep[(r / time) * step + i];
}

class ConvLstmLayer final : public Layer {
 public:
  ConvLstmLayer(std::string name, std::int64_t filters, std::vector<std::int64_t> kernel_size,
                layers::ConvLstmOptions options)
      : Layer(std::move(name)), filters_(filters), kernel_size_(std::move(kernel_size)), o_(std::move(options)),
        class_name_("ConvLSTM" + std::to_string(kernel_size_.size()) + "D") {
    const std::size_t rank = kernel_size_.size();
    if (rank < 1 || rank > 3) fail_layer(*this, "needs a kernel_size of 1 to 3 axes");
    if (o_.strides.empty()) o_.strides.assign(rank, 1);
    if (o_.dilation_rate.empty()) o_.dilation_rate.assign(rank, 1);
    if (o_.strides.size() != rank || o_.dilation_rate.size() != rank)
      fail_layer(*this, "needs one stride and one dilation rate per kernel axis");
    const auto positive = [](const std::vector<std::int64_t>& v) {
      return std::all_of(v.begin(), v.end(), [](std::int64_t n) { return n > 0; });
    };
    if (filters_ <= 0 || !positive(kernel_size_) || !positive(o_.strides) || !positive(o_.dilation_rate))
      fail_layer(*this, "needs positive filters, kernel sizes, strides and dilation rates");
    const auto above_one = [](const std::vector<std::int64_t>& v) {
      return std::any_of(v.begin(), v.end(), [](std::int64_t n) { return n > 1; });
    };
    if (above_one(o_.strides) && above_one(o_.dilation_rate))
      fail_layer(*this, "cannot combine strides > 1 with dilation_rate > 1 (Keras)");
    if (o_.padding != "valid" && o_.padding != "same")
      fail_layer(*this, "padding must be \"valid\" or \"same\", received \"" + o_.padding + "\"");
    for (const std::string* name : {&o_.activation, &o_.recurrent_activation}) {
      try {
        parse_activation(*name, "ConvLSTM");
      } catch (const std::invalid_argument&) {
        fail_layer(*this, ": activation \"" + *name + "\" is not supported inside a recurrent cell (" +
                              activation_names() + ")");
      }
    }
  }
  const char* class_name() const override { return class_name_.c_str(); }

  std::string config_json() const override {
    auto flag = [](bool b) { return std::string(b ? "true" : "false"); };
    return config_object(
        *this, "\"return_sequences\": " + flag(o_.return_sequences) + ", \"return_state\": false, \"go_backwards\": " +
                   flag(o_.go_backwards) + ", \"stateful\": false, \"unroll\": false, \"zero_output_for_mask\": " +
                   "false, \"filters\": " + std::to_string(filters_) + ", \"kernel_size\": " + int_list(kernel_size_) +
                   ", \"strides\": " + int_list(o_.strides) + ", \"padding\": " + json_quote(o_.padding) +
                   ", \"data_format\": \"channels_last\", \"dilation_rate\": " + int_list(o_.dilation_rate) +
                   ", \"activation\": " + json_quote(o_.activation) +
                   ", \"recurrent_activation\": " + json_quote(o_.recurrent_activation) + ", \"use_bias\": " +
                   flag(o_.use_bias) + ", \"unit_forget_bias\": " + flag(o_.unit_forget_bias) +
                   ", \"dropout\": " + json_number(o_.dropout) +
                   ", \"recurrent_dropout\": " + json_number(o_.recurrent_dropout));
  }

  Shape build(const Shape& input, std::mt19937_64* rng) override {
    const std::size_t rank = kernel_size_.size();
    if (input.size() != rank + 2 || std::any_of(input.begin() + 1, input.end(), [](std::int64_t n) { return n <= 0; }))
      fail_layer(*this, "needs a (time, " + std::to_string(rank) + " spatial axes, channels) input with known "
                        "spatial sizes and channels, received " + shape_text(input));
    channels_ = input.back();
    Shape kernel = kernel_size_, recurrent = kernel_size_;
    kernel.insert(kernel.end(), {channels_, 4 * filters_});
    recurrent.insert(recurrent.end(), {filters_, 4 * filters_});
    ensure_weight(weights_, 0, *this, "kernel", kernel, Init::glorot_uniform, rng);
    ensure_weight(weights_, 1, *this, "recurrent_kernel", recurrent, Init::orthogonal, rng);
    if (o_.use_bias) {
      const bool fresh = weights_.size() == 2;
      ensure_weight(weights_, 2, *this, "bias", {4 * filters_}, Init::zeros, rng);
      if (fresh && rng && o_.unit_forget_bias)
        std::fill_n(weights_[2].value.values.begin() + filters_, filters_, 1.0f);  // gates [i f c o]
    }
    const ConvLstmConfig cfg = config(input[0] < 0 ? 1 : input[0], Shape(input.begin() + 1, input.end() - 1));
    Shape out = conv_lstm_output_sizes(cfg);
    out.push_back(filters_);
    if (o_.return_sequences) out.insert(out.begin(), input[0]);
    return out;
  }

  struct Cache final : LayerCache {
    ConvLstmCachePtr core;
    Shape x_shape;
    std::vector<float> input_keep;  // (batch, *spatial, channels), or empty
  };

  Tensor forward(const Tensor& x, StepMask& mask, TrainingStep* training) const override {
    if (!mask.empty()) fail_layer(*this, "takes no mask (received one, e.g. from Masking or Embedding(mask_zero))");
    const std::int64_t batch = x.shape[0], time = x.shape[1];
    ConvLstmConfig cfg = config(time, Shape(x.shape.begin() + 2, x.shape.end() - 1));
    cfg.batch = batch;
    Shape state = conv_lstm_output_sizes(cfg);
    state.insert(state.begin(), batch);
    state.push_back(filters_);
    Shape sequence = state;
    sequence.insert(sequence.begin() + 1, time);
    Tensor outputs(o_.return_sequences ? sequence : Shape{0}), h(state);
    ConvLstmInputs in{x.values.data(), weights_[0].value.values.data(), weights_[1].value.values.data(),
                      o_.use_bias ? weights_[2].value.values.data() : nullptr, nullptr, nullptr};
    std::vector<float> input_keep, recurrent_keep, dropped;
    if (training && o_.dropout > 0.0f) {  // x ⊙ mask, the mask of a sample the same at every step
      const std::int64_t step = x.size() / std::max<std::int64_t>(batch * time, 1);
      input_keep = keep_mask(training->rng, batch * step, o_.dropout);
      dropped = x.values;
      apply_input_keep(dropped.data(), input_keep, batch, time);
      in.x = dropped.data();
    }
    if (training && o_.recurrent_dropout > 0.0f) {
      recurrent_keep = keep_mask(training->rng, element_count(state), o_.recurrent_dropout);
      in.recurrent_dropout = recurrent_keep.data();
    }
    ConvLstmCachePtr core = conv_lstm_forward(
        cfg, in, {o_.return_sequences ? outputs.values.data() : nullptr, h.values.data(), nullptr}, training);
    if (training) {
      auto cache = std::make_unique<Cache>();
      cache->core = std::move(core);
      cache->x_shape = x.shape;
      cache->input_keep = std::move(input_keep);
      training->cache = std::move(cache);
    }
    return o_.return_sequences ? outputs : h;
  }

  LayerGradients backward(const LayerCache& base, const Tensor& d_y) const override {
    const auto& cache = static_cast<const Cache&>(base);
    ConvLstmGradInputs in;
    (o_.return_sequences ? in.d_outputs : in.d_h) = d_y.values.data();
    LayerGradients g = zero_gradients(cache.x_shape, *this);
    ConvLstmGradients out;
    out.d_x = g.d_x.values.data();
    out.d_kernel = g.d_weights[0].values.data();
    out.d_recurrent_kernel = g.d_weights[1].values.data();
    out.d_bias = o_.use_bias ? g.d_weights[2].values.data() : nullptr;
    conv_lstm_backward(*cache.core, in, out);
    if (!cache.input_keep.empty()) apply_input_keep(g.d_x.values.data(), cache.input_keep, cache.x_shape[0],
                                                    cache.x_shape[1]);
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>& out) override {
    for (Weight& w : weights_) out.push_back(&w);
  }

 private:
  ConvLstmConfig config(std::int64_t time, const Shape& sizes) const {
    ConvLstmConfig cfg;
    cfg.time = time, cfg.channels = channels_, cfg.filters = filters_, cfg.input_sizes = sizes;
    cfg.activation = parse_activation(o_.activation, "ConvLSTM");
    cfg.recurrent_activation = parse_activation(o_.recurrent_activation, "ConvLSTM");
    cfg.go_backwards = o_.go_backwards;
    for (std::size_t a = 0; a < sizes.size(); ++a) {
      const Window1d w = window_1d(sizes[a], kernel_size_[a], o_.strides[a], o_.dilation_rate[a], o_.padding);
      if (w.steps_out == 0)
        fail_layer(*this, "an input of size " + std::to_string(sizes[a]) + " along spatial axis " +
                              std::to_string(a + 1) + " is smaller than the kernel's span with padding \"valid\"");
      cfg.windows.push_back(w);
    }
    return cfg;
  }

  std::int64_t filters_;
  std::vector<std::int64_t> kernel_size_;
  layers::ConvLstmOptions o_;
  std::string class_name_;
  std::int64_t channels_ = 0;
  std::vector<Weight> weights_;
};

}  // namespace

std::unique_ptr<Layer> conv_lstm_from_config(const ConfigReader& c) {
  if (c.text("data_format", "channels_last") != "channels_last")
    fail(c.where(), "only data_format=channels_last is supported by the C++ model API");
  c.require_default("return_state", false);
  c.require_default("stateful", false);
  const std::size_t rank = static_cast<std::size_t>(c.class_name()[8] - '0');
  const auto per_axis = [&](const char* key) {
    std::vector<std::int64_t> values = c.integers(key);
    if (values.size() == 1) values.assign(rank, values[0]);
    if (values.size() != rank) fail(c.where(), std::string(key) + " needs " + std::to_string(rank) + " values");
    return values;
  };
  layers::ConvLstmOptions o;
  o.strides = per_axis("strides");
  o.dilation_rate = per_axis("dilation_rate");
  o.padding = c.text("padding", "valid");
  o.activation = c.text("activation", "tanh");
  o.recurrent_activation = c.text("recurrent_activation", "sigmoid");
  o.use_bias = c.flag("use_bias", true);
  o.unit_forget_bias = c.flag("unit_forget_bias", true);
  o.return_sequences = c.flag("return_sequences", false);
  o.go_backwards = c.flag("go_backwards", false);
  o.dropout = static_cast<float>(c.number("dropout", 0.0));
  o.recurrent_dropout = static_cast<float>(c.number("recurrent_dropout", 0.0));
  if (!(o.dropout >= 0.0f && o.dropout < 1.0f) || !(o.recurrent_dropout >= 0.0f && o.recurrent_dropout < 1.0f))
    fail(c.where(), "dropout and recurrent_dropout must be in [0, 1)");
  return std::make_unique<ConvLstmLayer>(c.name(), c.positive_integer("filters"), per_axis("kernel_size"), o);
}

}  // namespace model_detail

namespace layers {
std::unique_ptr<Layer> ConvLSTM(std::int64_t filters, const std::vector<std::int64_t>& kernel_size,
                                const ConvLstmOptions& options) {
  const std::string base = "conv_lstm" + std::to_string(kernel_size.size()) + "d";
  return std::make_unique<model_detail::ConvLstmLayer>(
      options.name.empty() ? model_detail::auto_name(base) : options.name, filters, kernel_size, options);
}
}  // namespace layers

}  // namespace rnnkit
