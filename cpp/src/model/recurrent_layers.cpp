// SimpleRNN, LSTM, PeepholeLSTM and GRU over the core's whole-sequence kernels (rnn_forward / rnn_backward).
#include <algorithm>

#include "model/kept_token_table.hpp"
#include "model/recurrent_layer.hpp"
#include "rnnkit/activations.hpp"
#include "rnnkit/checked.hpp"
#include "rnnkit/gemm.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

const char* class_of(const RecurrentSpec& s) {
  if (s.cell == CellKind::simple_rnn) return s.as_cell ? "SimpleRNNCell" : "SimpleRNN";
  if (s.cell == CellKind::gru) return s.as_cell ? "GRUCell" : "GRU";
  if (s.peephole) return s.as_cell ? "PeepholeLSTMCell" : "PeepholeLSTM";
  return s.as_cell ? "LSTMCell" : "LSTM";
}

// Keras' default names, the snake case of the class names.
std::string default_name(const RecurrentSpec& s) {
  const std::string layer = s.cell == CellKind::simple_rnn ? "simple_rnn"
                            : s.cell == CellKind::gru      ? "gru"
                            : s.peephole                   ? "peephole_lstm"
                                                           : "lstm";
  return s.as_cell ? layer + "_cell" : layer;
}

Activation cell_activation(const std::string& name, const Layer& layer) {
  try {
    return parse_activation(name, "rnnkit recurrent layer");
  } catch (const std::invalid_argument&) {
    fail_layer(layer, ": activation \"" + name + "\" is not supported inside a recurrent cell (" +
                          activation_names() + ")");
  }
}

class RecurrentLayer final : public RecurrentLayerBase {
 public:
  RecurrentLayer(std::string name, RecurrentSpec spec) : RecurrentLayerBase(std::move(name)), spec_(std::move(spec)) {
    const auto& o = spec_.options;
    if (spec_.units <= 0) fail_layer(*this, "units must be positive, received " + std::to_string(spec_.units));
    if (!(o.dropout >= 0.0f && o.dropout < 1.0f) || !(o.recurrent_dropout >= 0.0f && o.recurrent_dropout < 1.0f))
      fail_layer(*this, "dropout and recurrent_dropout must be in [0, 1)");
    config_.cell = spec_.cell;
    config_.units = spec_.units;
    config_.activation = cell_activation(o.activation, *this);
    config_.recurrent_activation = cell_activation(o.recurrent_activation, *this);
    config_.reset_after = o.reset_after;
    config_.go_backwards = o.go_backwards;
  }
  const char* class_name() const override { return class_of(spec_); }
  bool return_sequences() const override { return spec_.options.return_sequences; }

  std::string config_json() const override {
    const auto& o = spec_.options;
    auto flag = [](bool b) { return std::string(b ? "true" : "false"); };
    std::string fields = "\"units\": " + std::to_string(spec_.units) + ", \"activation\": " + json_quote(o.activation);
    if (spec_.cell != CellKind::simple_rnn) fields += ", \"recurrent_activation\": " + json_quote(o.recurrent_activation);
    fields += ", \"use_bias\": " + flag(o.use_bias) + ", \"dropout\": " + json_number(o.dropout) +
              ", \"recurrent_dropout\": " + json_number(o.recurrent_dropout);
    if (spec_.cell == CellKind::lstm) fields += ", \"unit_forget_bias\": " + flag(o.unit_forget_bias);
    if (spec_.cell == CellKind::gru) fields += ", \"reset_after\": " + flag(o.reset_after);
    if (!spec_.as_cell)
      fields += ", \"return_sequences\": " + flag(o.return_sequences) + ", \"go_backwards\": " +
                flag(o.go_backwards) + ", \"zero_output_for_mask\": " + flag(o.zero_output_for_mask);
    return config_object(*this, fields);
  }

  std::unique_ptr<RecurrentLayerBase> reversed_copy(const std::string& name) const override {
    RecurrentSpec spec = spec_;
    spec.options.go_backwards = !spec.options.go_backwards;
    auto copy = std::make_unique<RecurrentLayer>(name, spec);
    copy->set_trainable(trainable());
    return copy;
  }

  Shape build(const Shape& input, std::mt19937_64* rng) override {
    if (input.size() != 2 || input[1] <= 0)
      fail_layer(*this, "needs a (time, features) input with known features, received " + shape_text(input));
    config_.input = input[1];
    const std::int64_t width = checked_mul(gate_count(spec_.cell), spec_.units, "recurrent layer gates");
    ensure_weight(weights_, 0, *this, "kernel", {config_.input, width}, Init::glorot_uniform, rng);
    ensure_weight(weights_, 1, *this, "recurrent_kernel", {spec_.units, width}, Init::orthogonal, rng);
    std::size_t next = 2;
    if (spec_.options.use_bias) {
      const bool split = spec_.cell == CellKind::gru && spec_.options.reset_after;
      const bool fresh = weights_.size() == next;
      ensure_weight(weights_, next++, *this, "bias", split ? Shape{2, width} : Shape{width}, Init::zeros, rng);
      if (fresh && rng && spec_.cell == CellKind::lstm && spec_.options.unit_forget_bias)
        std::fill_n(weights_[2].value.values.begin() + spec_.units, spec_.units, 1.0f);  // gates [i f c o]
    }
    if (spec_.peephole)
      ensure_weight(weights_, next, *this, "peephole_weights", {3, spec_.units}, Init::glorot_uniform, rng);
    return return_sequences() ? Shape{input[0], spec_.units} : Shape{spec_.units};
  }

  struct Cache final : LayerCache {
    RnnCachePtr rnn;
    StepMask output_mask;  // zero_output_for_mask: the (batch, time) steps whose outputs were zeroed
    Shape x_shape;
  };

  Tensor forward(const Tensor& x, StepMask& mask, TrainingStep* training) const override {
    RnnInputs in = weight_inputs();
    in.x = x.values.data();
    return run(in, x.shape, mask, training);
  }

  bool takes_ids(std::int64_t ids, std::int64_t table_rows) const override {
    return token_table_.pays(ids, table_rows, weights_[0].value.shape[1]);
  }

  Tensor forward_ids(const std::vector<std::int64_t>& ids, std::int64_t batch, std::int64_t time,
                     const Tensor& embeddings, StepMask& mask) const override {
    const std::shared_ptr<const AlignedFloats> table = token_table_.table(embeddings, weights_[0].value);
    RnnInputs in = weight_inputs();
    in.ids = ids.data(), in.input_table = table->get(), in.table_rows = embeddings.shape[0];
    return run(in, {batch, time, config_.input}, mask, nullptr);
  }

  LayerGradients backward(const LayerCache& base, const Tensor& d_y) const override {
    const auto& cache = static_cast<const Cache&>(base);
    Tensor d_outputs = d_y;
    if (!cache.output_mask.empty()) zero_masked(d_outputs, cache.output_mask);
    RnnGradInputs in;
    (spec_.options.return_sequences ? in.d_outputs : in.d_last_output) = d_outputs.values.data();
    LayerGradients g{Tensor(cache.x_shape), {}};
    for (const Weight& w : weights_) g.d_weights.emplace_back(w.value.shape);
    RnnGradients out;
    out.d_x = g.d_x.values.data();
    out.d_kernel = g.d_weights[0].values.data();
    out.d_recurrent_kernel = g.d_weights[1].values.data();
    out.d_bias = spec_.options.use_bias ? g.d_weights[2].values.data() : nullptr;
    out.d_peephole = spec_.peephole ? g.d_weights.back().values.data() : nullptr;
    rnn_backward(*cache.rnn, in, out);
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>& out) override {
    for (Weight& w : weights_) out.push_back(&w);
  }

 private:
  RnnInputs weight_inputs() const {
    RnnInputs in;
    in.kernel = weights_[0].value.values.data();
    in.recurrent_kernel = weights_[1].value.values.data();
    in.bias = spec_.options.use_bias ? weights_[2].value.values.data() : nullptr;
    in.peephole = spec_.peephole ? weights_.back().value.values.data() : nullptr;
    return in;
  }

  // The sequence of x_shape (batch, time, input) from `in` (x or ids, and the weights): dropout, masks, outputs.
  Tensor run(RnnInputs in, const Shape& x_shape, StepMask& mask, TrainingStep* training) const {
    RnnConfig config = config_;
    config.batch = x_shape[0];
    config.time = x_shape[1];
    const auto& o = spec_.options;
    Tensor sequence;
    if (o.return_sequences) sequence = Tensor({config.batch, config.time, config.units});
    Tensor last({config.batch, config.units});
    std::vector<float> h_last(last.values.size()), c_last(last.values.size());
    std::vector<float> input_dropout, recurrent_dropout;
    if (training && o.dropout > 0.0f)
      input_dropout = keep_mask(training->rng, checked_mul(config.batch, config.input, name().c_str()), o.dropout);
    if (training && o.recurrent_dropout > 0.0f)
      recurrent_dropout = keep_mask(training->rng, checked_mul(config.batch, config.units, name().c_str()),
                                    o.recurrent_dropout);
    in.mask = mask.empty() ? nullptr : mask.data();
    in.input_dropout = input_dropout.empty() ? nullptr : input_dropout.data();
    in.recurrent_dropout = recurrent_dropout.empty() ? nullptr : recurrent_dropout.data();
    RnnOutputs out{o.return_sequences ? sequence.values.data() : nullptr, last.values.data(), h_last.data(),
                   c_last.data()};
    RnnCachePtr rnn = rnn_forward(config, in, out, training != nullptr);

    StepMask output_mask;
    if (o.zero_output_for_mask && !mask.empty()) {  // Keras zeroes the last output too when the last step is masked
      output_mask = processing_order(mask, config.batch, config.time, o.go_backwards);
      if (!o.return_sequences)
        for (std::int64_t b = 0; b < config.batch; ++b) output_mask[b] = output_mask[(b + 1) * config.time - 1];
      output_mask.resize(o.return_sequences ? output_mask.size() : static_cast<std::size_t>(config.batch));
      zero_masked(o.return_sequences ? sequence : last, output_mask);
    }
    if (!o.return_sequences) mask.clear();
    if (training) {
      auto cache = std::make_unique<Cache>();
      cache->rnn = std::move(rnn);
      cache->output_mask = std::move(output_mask);
      cache->x_shape = x_shape;
      training->cache = std::move(cache);
    }
    return o.return_sequences ? std::move(sequence) : std::move(last);
  }

  // The rows of `outputs` ((batch, time, units) or (batch, units)) whose mask entry is 0, set to zero.
  static void zero_masked(Tensor& outputs, const StepMask& mask) {
    const std::int64_t width = outputs.shape.back();
    for (std::size_t row = 0; row < mask.size(); ++row)
      if (!mask[row]) std::fill_n(outputs.values.begin() + static_cast<std::int64_t>(row) * width, width, 0.0f);
  }

  RecurrentSpec spec_;
  RnnConfig config_;
  std::vector<Weight> weights_;
  KeptTokenTable token_table_;
};

std::unique_ptr<Layer> make(CellKind cell, bool peephole, std::int64_t units, const layers::RecurrentOptions& o) {
  return make_recurrent(RecurrentSpec{cell, peephole, units, o}, o.name);
}

}  // namespace

StepMask processing_order(const StepMask& mask, std::int64_t batch, std::int64_t time, bool backwards) {
  StepMask ordered = mask;
  if (backwards && !mask.empty())
    for (std::int64_t b = 0; b < batch; ++b)
      std::reverse(ordered.begin() + b * time, ordered.begin() + (b + 1) * time);
  return ordered;
}

std::unique_ptr<RecurrentLayerBase> make_recurrent(const RecurrentSpec& spec, const std::string& name) {
  return std::make_unique<RecurrentLayer>(name.empty() ? auto_name(default_name(spec)) : name, spec);
}

RecurrentSpec cell_spec_from_config(const ConfigReader& c) {
  static const char* const classes[] = {"SimpleRNN", "LSTM", "PeepholeLSTM", "GRU",
                                        "SimpleRNNCell", "LSTMCell", "PeepholeLSTMCell", "GRUCell"};
  const std::string& cls = c.class_name();
  if (std::find(std::begin(classes), std::end(classes), cls) == std::end(classes))
    fail(c.where(), "expected SimpleRNN, LSTM, PeepholeLSTM or GRU, or one of their cells");
  RecurrentSpec spec;
  spec.cell = cls.rfind("SimpleRNN", 0) == 0 ? CellKind::simple_rnn
              : cls.rfind("GRU", 0) == 0     ? CellKind::gru
                                             : CellKind::lstm;
  spec.peephole = cls.rfind("PeepholeLSTM", 0) == 0;
  spec.as_cell = cls.size() > 4 && cls.compare(cls.size() - 4, 4, "Cell") == 0;
  spec.units = c.positive_integer("units");
  layers::RecurrentOptions& o = spec.options;
  o.activation = c.text("activation", "tanh");
  o.recurrent_activation = c.text("recurrent_activation", "sigmoid");
  o.use_bias = c.flag("use_bias", true);
  o.dropout = static_cast<float>(c.number("dropout", 0.0));
  o.recurrent_dropout = static_cast<float>(c.number("recurrent_dropout", 0.0));
  o.unit_forget_bias = c.flag("unit_forget_bias", true);
  o.reset_after = c.flag("reset_after", true);
  o.name = c.name();
  return spec;
}

std::unique_ptr<Layer> recurrent_from_config(const ConfigReader& c) {
  c.require_default("return_state", false);
  c.require_default("stateful", false);
  RecurrentSpec spec = cell_spec_from_config(c);
  if (spec.as_cell) fail(c.where(), "a cell runs inside an RNN layer");
  spec.options.return_sequences = c.flag("return_sequences", false);
  spec.options.go_backwards = c.flag("go_backwards", false);
  spec.options.zero_output_for_mask = c.flag("zero_output_for_mask", false);
  return make_recurrent(spec, spec.options.name);
}

}  // namespace model_detail

namespace layers {
std::unique_ptr<Layer> SimpleRNN(std::int64_t units, const RecurrentOptions& options) {
  return model_detail::make(CellKind::simple_rnn, false, units, options);
}
std::unique_ptr<Layer> LSTM(std::int64_t units, const RecurrentOptions& options) {
  return model_detail::make(CellKind::lstm, false, units, options);
}
std::unique_ptr<Layer> PeepholeLSTM(std::int64_t units, const RecurrentOptions& options) {
  return model_detail::make(CellKind::lstm, true, units, options);
}
std::unique_ptr<Layer> GRU(std::int64_t units, const RecurrentOptions& options) {
  return model_detail::make(CellKind::gru, false, units, options);
}
}  // namespace layers

}  // namespace rnnkit
