// The inference layers behind rnnkit::Model and their construction from Keras 3 layer configs.
#include "model/layers.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "rnnkit/activations.hpp"
#include "rnnkit/checked.hpp"
#include "rnnkit/layer_ops.hpp"
#include "rnnkit/rnn.hpp"

namespace rnnkit {

namespace {

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw std::invalid_argument(source + ": " + what);
}

std::int64_t element_count(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n = checked_mul(n, d, "rnnkit::Model tensor size");
  return n;
}

Tensor make_tensor(std::vector<std::int64_t> shape) {
  Tensor t;
  t.values.assign(static_cast<std::size_t>(element_count(shape)), 0.0f);
  t.shape = std::move(shape);
  return t;
}

struct LayerConfig {
  const Json& config;
  std::string where;  // "<file>: layer <name> (<class>)" for messages
  const std::string& source;

  const Json* get(const char* key) const { return config.find(key); }
  std::int64_t integer(const char* key) const {
    const Json* v = get(key);
    if (v == nullptr || !v->is_integer || v->integer <= 0) fail(source, where + " needs a positive integer " + key);
    return v->integer;
  }
  bool flag(const char* key, bool fallback) const {
    const Json* v = get(key);
    return v != nullptr && v->kind == Json::Kind::boolean ? v->boolean : fallback;
  }
  std::string text(const char* key, const std::string& fallback) const {
    const Json* v = get(key);
    if (v == nullptr || v->kind == Json::Kind::null) return fallback;
    if (v->kind != Json::Kind::string) fail(source, where + ": " + key + " must be a string");
    return v->string;
  }
};

// Activations applied over the last axis; softmax is the one that needs the axis, the rest are element-wise.
struct OutputActivation {
  bool softmax = false;
  Activation elementwise = Activation::linear;

  static OutputActivation parse(const std::string& name, const LayerConfig& cfg) {
    OutputActivation a;
    if (name == "softmax") { a.softmax = true; return a; }
    try {
      a.elementwise = parse_activation(name, "rnnkit::load_model");
    } catch (const std::invalid_argument&) {
      fail(cfg.source, cfg.where + ": activation \"" + name + "\" is not supported by the C++ model API");
    }
    return a;
  }

  void apply(Tensor& t) const {
    if (!softmax) {
      activation_forward(elementwise, t.values.data(), t.values.data(), static_cast<std::int64_t>(t.values.size()));
      return;
    }
    const std::int64_t width = t.shape.back();
    for (std::size_t row = 0; width > 0 && row < t.values.size(); row += static_cast<std::size_t>(width)) {
      float* v = t.values.data() + row;
      const float peak = *std::max_element(v, v + width);
      float total = 0.0f;
      for (std::int64_t k = 0; k < width; ++k) total += (v[k] = std::exp(v[k] - peak));
      for (std::int64_t k = 0; k < width; ++k) v[k] /= total;
    }
  }
};

class IdentityLayer final : public SequentialLayer {
 public:
  Tensor forward(const Tensor& x, StepMask&) const override { return x; }
};

class ActivationLayer final : public SequentialLayer {
 public:
  explicit ActivationLayer(OutputActivation activation) : activation_(activation) {}
  Tensor forward(const Tensor& x, StepMask&) const override {
    Tensor y = x;
    activation_.apply(y);
    return y;
  }

 private:
  OutputActivation activation_;
};

class DenseLayer final : public SequentialLayer {
 public:
  DenseLayer(std::int64_t in, std::int64_t units, std::vector<float> kernel, std::vector<float> bias,
             OutputActivation activation)
      : in_(in), units_(units), kernel_(std::move(kernel)), bias_(std::move(bias)), activation_(activation) {}

  Tensor forward(const Tensor& x, StepMask&) const override {
    std::vector<std::int64_t> shape = x.shape;
    shape.back() = units_;
    Tensor y = make_tensor(shape);
    const std::int64_t rows = static_cast<std::int64_t>(x.values.size()) / in_;
    dense_forward(x.values.data(), kernel_.data(), bias_.empty() ? nullptr : bias_.data(), rows, in_, units_,
                  y.values.data());
    activation_.apply(y);
    return y;
  }

 private:
  std::int64_t in_, units_;
  std::vector<float> kernel_, bias_;
  OutputActivation activation_;
};

class EmbeddingLayer final : public SequentialLayer {
 public:
  EmbeddingLayer(std::int64_t vocab, std::int64_t dim, std::vector<float> table, bool mask_zero)
      : vocab_(vocab), dim_(dim), table_(std::move(table)), mask_zero_(mask_zero) {}

  Tensor forward(const Tensor& x, StepMask& mask) const override {
    std::vector<std::int64_t> ids(x.values.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const float id = x.values[i];
      if (!(id >= 0.0f && id < static_cast<float>(vocab_)))
        throw std::invalid_argument("rnnkit::Model::predict: Embedding id " + std::to_string(id) +
                                    " is outside [0, " + std::to_string(vocab_) + ")");
      ids[i] = static_cast<std::int64_t>(id);
    }
    std::vector<std::int64_t> shape = x.shape;
    shape.push_back(dim_);
    Tensor y = make_tensor(shape);
    embedding_forward(ids.data(), static_cast<std::int64_t>(ids.size()), table_.data(), vocab_, dim_, y.values.data());
    mask.clear();
    if (mask_zero_)
      for (std::int64_t id : ids) mask.push_back(id != 0);
    return y;
  }

 private:
  std::int64_t vocab_, dim_;
  std::vector<float> table_;
  bool mask_zero_;
};

class FlattenLayer final : public SequentialLayer {
 public:
  Tensor forward(const Tensor& x, StepMask& mask) const override {
    Tensor y = x;
    y.shape = {x.shape[0], x.shape[0] == 0 ? 0 : static_cast<std::int64_t>(x.values.size()) / x.shape[0]};
    mask.clear();
    return y;
  }
};

class RepeatVectorLayer final : public SequentialLayer {
 public:
  explicit RepeatVectorLayer(std::int64_t n) : n_(n) {}
  Tensor forward(const Tensor& x, StepMask& mask) const override {
    const std::int64_t batch = x.shape[0], features = x.shape[1];
    Tensor y = make_tensor({batch, n_, features});
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t t = 0; t < n_; ++t)
        std::copy_n(x.values.data() + b * features, features, y.values.data() + (b * n_ + t) * features);
    mask.clear();
    return y;
  }

 private:
  std::int64_t n_;
};

class GlobalAveragePoolingLayer final : public SequentialLayer {
 public:
  Tensor forward(const Tensor& x, StepMask& mask) const override {
    Tensor y = make_tensor({x.shape[0], x.shape[2]});
    global_average_pool_1d_forward(x.values.data(), mask.empty() ? nullptr : mask.data(), x.shape[0], x.shape[1],
                                   x.shape[2], y.values.data());
    mask.clear();
    return y;
  }
};

class RecurrentLayer final : public SequentialLayer {
 public:
  RecurrentLayer(RnnConfig config, std::vector<float> kernel, std::vector<float> recurrent_kernel,
                 std::vector<float> bias, bool return_sequences)
      : config_(config), kernel_(std::move(kernel)), recurrent_kernel_(std::move(recurrent_kernel)),
        bias_(std::move(bias)), return_sequences_(return_sequences) {}

  Tensor forward(const Tensor& x, StepMask& mask) const override {
    RnnConfig config = config_;
    config.batch = x.shape[0];
    config.time = x.shape[1];
    // rnn_forward fills every output; the layer returns the sequence or the last output as configured.
    Tensor sequence = make_tensor({config.batch, config.time, config.units});
    Tensor last = make_tensor({config.batch, config.units});
    std::vector<float> h_last(last.values.size()), c_last(last.values.size());
    RnnInputs in;
    in.x = x.values.data();
    in.kernel = kernel_.data();
    in.recurrent_kernel = recurrent_kernel_.data();
    in.bias = bias_.empty() ? nullptr : bias_.data();
    in.mask = mask.empty() ? nullptr : mask.data();
    RnnOutputs out;
    out.outputs = sequence.values.data();
    out.last_output = last.values.data();
    out.h_last = h_last.data();
    out.c_last = c_last.data();
    rnn_forward(config, in, out, /*training=*/false);
    Tensor& y = return_sequences_ ? sequence : last;
    if (!return_sequences_) mask.clear();
    return std::move(y);
  }

  bool return_sequences() const { return return_sequences_; }

 private:
  RnnConfig config_;
  std::vector<float> kernel_, recurrent_kernel_, bias_;
  bool return_sequences_;
};

class BidirectionalLayer final : public SequentialLayer {
 public:
  BidirectionalLayer(std::unique_ptr<RecurrentLayer> forward, std::unique_ptr<RecurrentLayer> backward,
                     std::string merge_mode)
      : forward_(std::move(forward)), backward_(std::move(backward)), merge_mode_(std::move(merge_mode)) {}

  Tensor forward(const Tensor& x, StepMask& mask) const override {
    StepMask backward_mask = mask;
    const Tensor f = forward_->forward(x, mask);
    Tensor b = backward_->forward(x, backward_mask);
    const std::int64_t units = f.shape.back();
    if (backward_->return_sequences()) reverse_time(b);  // backward outputs come in processing order
    if (merge_mode_ != "concat") {
      Tensor y = f;
      for (std::size_t i = 0; i < y.values.size(); ++i) {
        if (merge_mode_ == "sum") y.values[i] += b.values[i];
        else if (merge_mode_ == "mul") y.values[i] *= b.values[i];
        else y.values[i] = 0.5f * (y.values[i] + b.values[i]);
      }
      return y;
    }
    std::vector<std::int64_t> shape = f.shape;
    shape.back() = 2 * units;
    Tensor y = make_tensor(shape);
    const std::size_t rows = f.values.size() / static_cast<std::size_t>(units);
    for (std::size_t r = 0; r < rows; ++r) {
      std::copy_n(f.values.data() + r * units, units, y.values.data() + r * 2 * units);
      std::copy_n(b.values.data() + r * units, units, y.values.data() + r * 2 * units + units);
    }
    return y;
  }

 private:
  static void reverse_time(Tensor& t) {
    const std::int64_t time = t.shape[1], width = t.shape[2];
    for (std::int64_t b = 0; b < t.shape[0]; ++b)
      for (std::int64_t s = 0; s < time / 2; ++s)
        std::swap_ranges(t.values.data() + (b * time + s) * width, t.values.data() + (b * time + s + 1) * width,
                         t.values.data() + (b * time + time - 1 - s) * width);
  }

  std::unique_ptr<RecurrentLayer> forward_, backward_;
  std::string merge_mode_;
};

class TimeDistributedLayer final : public SequentialLayer {
 public:
  explicit TimeDistributedLayer(std::unique_ptr<SequentialLayer> inner) : inner_(std::move(inner)) {}
  // The time mask passes through unchanged, as in Keras.
  Tensor forward(const Tensor& x, StepMask&) const override {
    Tensor folded = x;
    folded.shape.erase(folded.shape.begin() + 1);
    folded.shape[0] = x.shape[0] * x.shape[1];
    StepMask no_mask;
    Tensor y = inner_->forward(folded, no_mask);
    y.shape.insert(y.shape.begin() + 1, x.shape[1]);
    y.shape[0] = x.shape[0];
    return y;
  }

 private:
  std::unique_ptr<SequentialLayer> inner_;
};

std::unique_ptr<RecurrentLayer> make_recurrent(const std::string& class_name, const LayerConfig& cfg,
                                               std::vector<std::int64_t>& shape, WeightCursor& weights,
                                               bool force_go_backwards) {
  if (class_name != "SimpleRNN" && class_name != "LSTM" && class_name != "GRU")
    fail(cfg.source, cfg.where + ": only SimpleRNN, LSTM and GRU are supported here, not " + class_name);
  if (shape.size() != 2 || shape[1] <= 0) fail(cfg.source, cfg.where + " needs a (time, features) input");
  if (cfg.flag("return_state", false) || cfg.flag("stateful", false))
    fail(cfg.source, cfg.where + ": return_state and stateful are not supported by the C++ model API");
  RnnConfig rc;
  rc.cell = class_name == "LSTM" ? CellKind::lstm : class_name == "GRU" ? CellKind::gru : CellKind::simple_rnn;
  rc.input = shape[1];
  rc.units = cfg.integer("units");
  const OutputActivation activation = OutputActivation::parse(cfg.text("activation", "tanh"), cfg);
  const OutputActivation recurrent_activation = OutputActivation::parse(cfg.text("recurrent_activation", "sigmoid"), cfg);
  if (activation.softmax || recurrent_activation.softmax)
    fail(cfg.source, cfg.where + ": softmax is not supported inside a recurrent cell");
  rc.activation = activation.elementwise;
  rc.recurrent_activation = recurrent_activation.elementwise;
  rc.reset_after = cfg.flag("reset_after", true);
  rc.go_backwards = cfg.flag("go_backwards", false) != force_go_backwards;
  const std::int64_t width = checked_mul(gate_count(rc.cell), rc.units, "rnnkit::load_model gates");
  std::vector<float> kernel = weights.next({rc.input, width}, cfg.where);
  std::vector<float> recurrent = weights.next({rc.units, width}, cfg.where);
  std::vector<float> bias;
  if (cfg.flag("use_bias", true))
    bias = rc.cell == CellKind::gru && rc.reset_after ? weights.next({2, width}, cfg.where)
                                                      : weights.next({width}, cfg.where);
  const bool sequences = cfg.flag("return_sequences", false);
  shape = sequences ? std::vector<std::int64_t>{shape[0], rc.units} : std::vector<std::int64_t>{rc.units};
  return std::make_unique<RecurrentLayer>(rc, std::move(kernel), std::move(recurrent), std::move(bias), sequences);
}

const Json& inner_layer(const LayerConfig& cfg, const char* key) {
  const Json* inner = cfg.get(key);
  if (inner == nullptr || inner->kind != Json::Kind::object) fail(cfg.source, cfg.where + " has no \"" + key + "\"");
  return *inner;
}

}  // namespace

std::vector<float> WeightCursor::next(const std::vector<std::int64_t>& expected_shape, const std::string& layer) {
  if (index_ >= file_.weights.size()) fail(source_, layer + " needs more weights than the file holds");
  const std::string& name = file_.weights[index_++];
  if (file_.tensor(name).shape != expected_shape)
    fail(source_, layer + ": weight \"" + name + "\" does not have the shape the layer config implies");
  return file_.float32_values(name);
}

std::unique_ptr<SequentialLayer> make_layer(const Json& layer, std::vector<std::int64_t>& shape,
                                            WeightCursor& weights, const std::string& source) {
  const Json* class_json = layer.find("class_name");
  const Json* config = layer.find("config");
  if (class_json == nullptr || class_json->kind != Json::Kind::string || config == nullptr ||
      config->kind != Json::Kind::object)
    fail(source, "model_config layer entries need \"class_name\" and a \"config\" object");
  const std::string& name = class_json->string;
  const Json* layer_name = config->find("name");
  const LayerConfig cfg{*config,
                        "layer " + (layer_name && layer_name->kind == Json::Kind::string ? layer_name->string : name) +
                            " (" + name + ")",
                        source};
  if (name == "Dropout") return std::make_unique<IdentityLayer>();
  if (name == "Activation")
    return std::make_unique<ActivationLayer>(OutputActivation::parse(cfg.text("activation", "linear"), cfg));
  if (name == "Dense") {
    if (shape.empty() || shape.back() <= 0) fail(source, cfg.where + " needs a known last input dimension");
    const std::int64_t in = shape.back(), units = cfg.integer("units");
    std::vector<float> kernel = weights.next({in, units}, cfg.where);
    std::vector<float> bias = cfg.flag("use_bias", true) ? weights.next({units}, cfg.where) : std::vector<float>{};
    shape.back() = units;
    return std::make_unique<DenseLayer>(in, units, std::move(kernel), std::move(bias),
                                        OutputActivation::parse(cfg.text("activation", "linear"), cfg));
  }
  if (name == "Embedding") {
    const std::int64_t vocab = cfg.integer("input_dim"), dim = cfg.integer("output_dim");
    std::vector<float> table = weights.next({vocab, dim}, cfg.where);
    shape.push_back(dim);
    return std::make_unique<EmbeddingLayer>(vocab, dim, std::move(table), cfg.flag("mask_zero", false));
  }
  if (name == "Flatten") {
    std::int64_t n = 1;
    for (std::int64_t d : shape) n = checked_mul(n, d, "Flatten");
    shape = {n};
    return std::make_unique<FlattenLayer>();
  }
  if (name == "RepeatVector") {
    if (shape.size() != 1) fail(source, cfg.where + " needs a (features,) input");
    shape.insert(shape.begin(), cfg.integer("n"));
    return std::make_unique<RepeatVectorLayer>(shape.front());
  }
  if (name == "GlobalAveragePooling1D") {
    if (shape.size() != 2) fail(source, cfg.where + " needs a (time, features) input");
    shape = {shape[1]};
    return std::make_unique<GlobalAveragePoolingLayer>();
  }
  if (name == "SimpleRNN" || name == "LSTM" || name == "GRU") return make_recurrent(name, cfg, shape, weights, false);
  if (name == "Bidirectional") {
    const Json& inner = inner_layer(cfg, "layer");
    const Json* inner_class = inner.find("class_name");
    const Json* inner_config = inner.find("config");
    if (inner_class == nullptr || inner_config == nullptr || inner_class->kind != Json::Kind::string)
      fail(source, cfg.where + ": malformed wrapped layer");
    const LayerConfig inner_cfg{*inner_config, cfg.where + " wrapping " + inner_class->string, source};
    std::vector<std::int64_t> backward_shape = shape;
    auto forward = make_recurrent(inner_class->string, inner_cfg, shape, weights, false);
    auto backward = make_recurrent(inner_class->string, inner_cfg, backward_shape, weights, true);
    const std::string merge = cfg.text("merge_mode", "concat");
    if (merge != "concat" && merge != "sum" && merge != "mul" && merge != "ave")
      fail(source, cfg.where + ": merge_mode \"" + merge + "\" is not supported");
    if (merge == "concat") shape.back() *= 2;
    return std::make_unique<BidirectionalLayer>(std::move(forward), std::move(backward), merge);
  }
  if (name == "TimeDistributed") {
    if (shape.size() < 2) fail(source, cfg.where + " needs a time axis");
    std::vector<std::int64_t> inner_shape(shape.begin() + 1, shape.end());
    auto inner = make_layer(inner_layer(cfg, "layer"), inner_shape, weights, source);
    inner_shape.insert(inner_shape.begin(), shape[0]);
    shape = inner_shape;
    return std::make_unique<TimeDistributedLayer>(std::move(inner));
  }
  fail(source, cfg.where + ": layer class \"" + name + "\" is not supported by the C++ model API");
}

}  // namespace rnnkit
