// Helpers shared by the layer implementations in cpp/src/model/: tensor allocation, error messages, reading a
// layer's Keras config, the weight initializers, and the per-class factories load_model dispatches to.
#pragma once
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "rnnkit/model.hpp"
#include "rnnkit/model_file.hpp"

namespace rnnkit::model_detail {

[[noreturn]] void fail(const std::string& where, const std::string& what);  // std::invalid_argument "where: what"
std::string who(const Layer& layer);  // "layer <name> (<class>)"
[[noreturn]] void fail_layer(const Layer& layer, const std::string& what);  // "layer <name> (<class>) <what>"

std::int64_t element_count(const Shape& shape);  // checked product

// Keras-style unique default names: "lstm", then "lstm_1", "lstm_2", ... (process-wide, thread-safe).
std::string auto_name(const std::string& base);

// JSON pieces for config_json: a quoted string, a float32 number, and {"name", "trainable", "dtype"} + fields.
std::string json_quote(const std::string& text);
std::string json_number(double value);
std::string json_list(const std::vector<std::int64_t>& values);  // [2, -1]
std::string config_object(const Layer& layer, const std::string& fields);
// {"module": "keras.layers", "class_name", "config", "registered_name": null} of a layer.
std::string layer_entry(const Layer& layer);
std::string shape_text(const Shape& shape);       // "(batch, 5, 3)" style; -1 prints as None

// A caller's shape for the batch axis plus a per-example shape.
Shape with_batch(std::int64_t batch, const Shape& per_example);

// Keras' default initializers drawn from `rng`; with rng null, a tensor of that shape whose values stay empty.
enum class Init { zeros, ones, glorot_uniform, orthogonal, embedding_uniform };
Tensor initial_value(Shape shape, Init init, std::mt19937_64* rng);

// Creates the weight on the first build; later builds check that its shape still fits.
void ensure_weight(std::vector<Weight>& weights, std::size_t index, const Layer& layer, const char* name,
                   const Shape& shape, Init init, std::mt19937_64* rng, bool trainable = true);

// The size of a per-example input's last axis, which a normalisation layer normalises: refuses an unknown size, or
// an `axis` (Keras' count, which includes the batch axis) other than the last.
std::int64_t normalized_axis_size(const Layer& layer, const Shape& input, std::int64_t axis);
// gamma (when scale) then beta (when center), `size` each, from index 0 of `weights`: Keras' order.
void ensure_gamma_beta(std::vector<Weight>& weights, const Layer& layer, std::int64_t size, bool scale, bool center,
                       std::mt19937_64* rng);

// The activations of Dense, Activation and Conv1D (rnnkit/layer_activations.hpp). checked_activation returns `name`
// when the C++ API has it, else throws std::invalid_argument "<where>: ...".
std::string checked_activation(const std::string& name, const std::string& where);
// The activation over the last axis (softmax's axis), with rows = everything before it.
void activate(const std::string& activation, Tensor& t);
// `input` is the activation's input, read only where layer_activation_needs_input (else it may be empty).
void activate_backward(const std::string& activation, const Tensor& input, const Tensor& y, Tensor& d);

// The training cache of a layer that applies its activation to a product of its input x (Dense, Conv1D): the
// pre-activation only where the activation's backward needs it.
struct ActivatedCache final : LayerCache {
  Tensor x, pre_activation, y;
};
// Zero gradients for a backward to fill: d_x of x_shape and one per weight of `layer`, in its weights' order.
LayerGradients zero_gradients(const Shape& x_shape, const Layer& layer);

// n inverted-dropout keep factors: 0, or 1 / (1 - rate) with probability 1 - rate.
std::vector<float> keep_mask(std::mt19937_64& rng, std::int64_t n, float rate);

// product := activation(product); in training, its ActivatedCache goes to `training`.
void activate_and_cache(const std::string& activation, const Tensor& x, Tensor& product, TrainingStep* training);
// dL/d(product) from the cache and dL/dy.
Tensor pre_activation_gradient(const std::string& activation, const ActivatedCache& cache, const Tensor& d_y);

// A layer whose output is activation(product(x)) for a product of x and its weights (Dense and the convolutions):
// the activation, its training cache and the gradient through it wrap the product the subclass computes and
// differentiates. Its weights are kernel-like first and the bias (when use_bias) last.
class ActivatedProductLayer : public Layer {
 public:
  Tensor forward(const Tensor& x, StepMask& mask, TrainingStep* training) const override;
  LayerGradients backward(const LayerCache& cache, const Tensor& d_y) const override;

 protected:
  ActivatedProductLayer(std::string name, std::string activation, bool use_bias)
      : Layer(std::move(name)), activation_(std::move(activation)), use_bias_(use_bias) {}
  virtual Tensor product(const Tensor& x) const = 0;
  // Adds dL/dx and the weights' gradients to g (zeros on entry) from dL/d(product).
  virtual void product_backward(const Tensor& x, const Tensor& d_product, LayerGradients& g) const = 0;
  // Keras 3's Dense keeps the mask; its convolutions support none and drop it.
  virtual bool keeps_mask() const { return false; }
  void collect_weights(std::vector<Weight*>& out) override;
  const float* weight(std::size_t index) const { return weights_[index].value.values.data(); }
  const float* bias() const { return use_bias_ ? weights_.back().value.values.data() : nullptr; }
  float* d_bias(LayerGradients& g) const { return use_bias_ ? g.d_weights.back().values.data() : nullptr; }

  std::string activation_;
  bool use_bias_;
  std::vector<Weight> weights_;
};

// Reads the "config" object of one Keras layer entry; messages name the file and the layer.
class ConfigReader {
 public:
  ConfigReader(const Json& layer_entry, const std::string& source);
  const std::string& class_name() const { return class_name_; }
  const std::string& name() const { return name_; }
  const std::string& where() const { return where_; }  // "<file>: layer <name> (<class>)"
  const std::string& source() const { return source_; }

  const Json* get(const char* key) const { return config_->find(key); }
  std::int64_t positive_integer(const char* key) const;
  // A positive size of a 1-D layer, written n or [n] (Keras saves its 1-D tuples as one-element lists); the first
  // form requires the key, the second gives `fallback` when it is absent or null.
  std::int64_t size_1d(const char* key) const;
  std::int64_t size_1d(const char* key, std::int64_t fallback) const;
  std::int64_t integer(const char* key, std::int64_t fallback) const;
  std::vector<std::int64_t> integers(const char* key) const;  // a required list of integers (a saved tuple)
  // Keras' "axis", written as an int or, from a tuple, a list of one; -1 when absent. Layers that act over the last
  // axis only check it when built, once they know the input's rank.
  std::int64_t axis() const;
  double number(const char* key, double fallback) const;
  bool flag(const char* key, bool fallback) const;
  std::string text(const char* key, const std::string& fallback) const;
  const Json& object(const char* key) const;  // a nested layer entry
  // Options rnnkit's C++ layers lack must hold their default, else a clear error.
  void require_default(const char* key, bool expected) const;

 private:
  std::int64_t size_1d(const Json& value, const char* key) const;

  const Json* config_;
  std::string class_name_, name_, where_, source_;
};

using LayerFactory = std::unique_ptr<Layer> (*)(const ConfigReader& config);
// nullptr when `class_name` is not a layer the C++ API builds.
LayerFactory factory_for(const std::string& class_name);

// The layers' from_config functions, defined next to each layer class.
std::unique_ptr<Layer> dense_from_config(const ConfigReader& config);
std::unique_ptr<Layer> activation_from_config(const ConfigReader& config);
std::unique_ptr<Layer> relu_from_config(const ConfigReader& config);
std::unique_ptr<Layer> leaky_relu_from_config(const ConfigReader& config);
std::unique_ptr<Layer> elu_from_config(const ConfigReader& config);
std::unique_ptr<Layer> softmax_from_config(const ConfigReader& config);
std::unique_ptr<Layer> dropout_from_config(const ConfigReader& config);
std::unique_ptr<Layer> masking_from_config(const ConfigReader& config);
std::unique_ptr<Layer> rescaling_from_config(const ConfigReader& config);
std::unique_ptr<Layer> alpha_dropout_from_config(const ConfigReader& config);
std::unique_ptr<Layer> flatten_from_config(const ConfigReader& config);
std::unique_ptr<Layer> repeat_vector_from_config(const ConfigReader& config);
std::unique_ptr<Layer> reshape_from_config(const ConfigReader& config);
std::unique_ptr<Layer> permute_from_config(const ConfigReader& config);
std::unique_ptr<Layer> spatial_dropout_1d_from_config(const ConfigReader& config);
std::unique_ptr<Layer> gaussian_noise_from_config(const ConfigReader& config);
std::unique_ptr<Layer> gaussian_dropout_from_config(const ConfigReader& config);
std::unique_ptr<Layer> zero_padding_1d_from_config(const ConfigReader& config);
std::unique_ptr<Layer> cropping_1d_from_config(const ConfigReader& config);
std::unique_ptr<Layer> up_sampling_1d_from_config(const ConfigReader& config);
std::unique_ptr<Layer> identity_from_config(const ConfigReader& config);
std::unique_ptr<Layer> batch_normalization_from_config(const ConfigReader& config);
std::unique_ptr<Layer> group_normalization_from_config(const ConfigReader& config);
std::unique_ptr<Layer> layer_normalization_from_config(const ConfigReader& config);
std::unique_ptr<Layer> multi_head_attention_from_config(const ConfigReader& config);
std::unique_ptr<Layer> grouped_query_attention_from_config(const ConfigReader& config);
std::unique_ptr<Layer> sine_position_encoding_from_config(const ConfigReader& config);
std::unique_ptr<Layer> position_embedding_from_config(const ConfigReader& config);
std::unique_ptr<Layer> embedding_from_config(const ConfigReader& config);
std::unique_ptr<Layer> reversible_embedding_from_config(const ConfigReader& config);
std::unique_ptr<Layer> global_average_pooling_from_config(const ConfigReader& config);
std::unique_ptr<Layer> global_max_pooling_from_config(const ConfigReader& config);
std::unique_ptr<Layer> conv1d_from_config(const ConfigReader& config);
std::unique_ptr<Layer> depthwise_conv1d_from_config(const ConfigReader& config);
std::unique_ptr<Layer> separable_conv1d_from_config(const ConfigReader& config);
std::unique_ptr<Layer> conv1d_transpose_from_config(const ConfigReader& config);
std::unique_ptr<Layer> conv_lstm_from_config(const ConfigReader& config);
std::unique_ptr<Layer> max_pooling_1d_from_config(const ConfigReader& config);
std::unique_ptr<Layer> average_pooling_1d_from_config(const ConfigReader& config);
std::unique_ptr<Layer> adaptive_average_pooling_1d_from_config(const ConfigReader& config);
std::unique_ptr<Layer> adaptive_max_pooling_1d_from_config(const ConfigReader& config);
std::unique_ptr<Layer> recurrent_from_config(const ConfigReader& config);  // SimpleRNN, LSTM, GRU, PeepholeLSTM
std::unique_ptr<Layer> rnn_from_config(const ConfigReader& config);  // RNN over a cell or StackedRNNCells
std::unique_ptr<Layer> bidirectional_from_config(const ConfigReader& config);
std::unique_ptr<Layer> time_distributed_from_config(const ConfigReader& config);
std::unique_ptr<Layer> concatenate_from_config(const ConfigReader& config);
std::unique_ptr<Layer> add_from_config(const ConfigReader& config);
std::unique_ptr<Layer> subtract_from_config(const ConfigReader& config);
std::unique_ptr<Layer> average_from_config(const ConfigReader& config);
std::unique_ptr<Layer> multiply_from_config(const ConfigReader& config);
std::unique_ptr<Layer> maximum_from_config(const ConfigReader& config);
std::unique_ptr<Layer> minimum_from_config(const ConfigReader& config);
std::unique_ptr<Layer> dot_from_config(const ConfigReader& config);
std::unique_ptr<Layer> layer_from_entry(const Json& entry, const std::string& source);  // any of the above

// Operation nodes (modules keras.src.ops.*: x[...], x + y, ops.mean(x, axis=1), ...): built from the config and the
// node's arguments, null where an argument is one of the node's tensors (each tensor of a list of them too).
bool is_operation_entry(const Json& entry);
std::unique_ptr<Layer> operation_from_config(const ConfigReader& config, const std::vector<const Json*>& arguments);
// The indexing, reduction and shape operations among them (GetItem, Mean, Sum, Max, Min, ExpandDims, Squeeze,
// Transpose, Concatenate, Cast); null for any other class.
std::unique_ptr<Layer> shape_operation_from_config(const ConfigReader& config,
                                                  const std::vector<const Json*>& arguments);
// Matmul, Softmax, Reshape and Stack; null for any other class.
std::unique_ptr<Layer> linear_operation_from_config(const ConfigReader& config,
                                                   const std::vector<const Json*>& arguments);

// A layer with several inputs (Concatenate, Add, Subtract, Average, Multiply, Maximum, Minimum, Dot): only
// functional models feed it; forward() refuses one tensor.
class MergeLayer : public Layer {
 public:
  using Layer::Layer;
  virtual Shape build_merge(const std::vector<Shape>& inputs) = 0;
  virtual Tensor merge(const std::vector<const Tensor*>& xs, const std::vector<const StepMask*>& masks,
                       StepMask& out_mask, TrainingStep* training) const = 0;
  virtual std::vector<Tensor> unmerge(const LayerCache& cache, const Tensor& d_y) const = 0;
  // unmerge and, for a merge layer with weights (attention), d_weights in weights() order; others leave it empty.
  virtual std::vector<Tensor> unmerge_with_weights(const LayerCache& cache, const Tensor& d_y,
                                                   std::vector<Tensor>& d_weights) const {
    d_weights.clear();
    return unmerge(cache, d_y);
  }

  Shape build(const Shape& input, std::mt19937_64* rng) override;
  Tensor forward(const Tensor& x, StepMask& mask, TrainingStep* training) const override;
  LayerGradients backward(const LayerCache& cache, const Tensor& d_y) const override;

 protected:
  void collect_weights(std::vector<Weight*>&) override {}
};

// MultiHeadAttention and GroupedQueryAttention: merge layers with weights, whose graph nodes may pass Keras' call
// argument use_causal_mask (load_model reads it from the inbound node's kwargs).
class AttentionLayerBase : public MergeLayer {
 public:
  using MergeLayer::MergeLayer;
  virtual void set_use_causal_mask(bool causal) = 0;
  virtual bool use_causal_mask() const = 0;
};

// Recurrent layers expose this to Bidirectional, which pairs a forward and a go_backwards copy, and to predict,
// which hands them an Embedding's ids when they are its only reader.
class RecurrentLayerBase : public Layer {
 public:
  using Layer::Layer;
  virtual bool return_sequences() const = 0;
  virtual std::unique_ptr<RecurrentLayerBase> reversed_copy(const std::string& name) const = 0;
  // Inference on (batch, time) token ids: forward() of embeddings[ids], with each step's input projection
  // looked up in embeddings · kernel (rnn.hpp's RnnInputs::ids) instead of multiplied; for the calls takes_ids
  // accepts. takes_ids counts the ids it is asked about: the table pays once the layer has seen as many ids as
  // it has rows.
  virtual bool takes_ids(std::int64_t ids, std::int64_t table_rows) const = 0;
  virtual Tensor forward_ids(const std::vector<std::int64_t>& ids, std::int64_t batch, std::int64_t time,
                             const Tensor& embeddings, StepMask& mask) const = 0;
};

// Embedding exposes its ids and table so predict can fold it into the recurrent layer it feeds.
class EmbeddingLayerBase : public Layer {
 public:
  using Layer::Layer;
  // The ids of x (std::invalid_argument for a value that is not a whole id in range) and, with mask_zero, the
  // (batch, time) mask they make (cleared otherwise).
  virtual std::vector<std::int64_t> token_ids(const Tensor& x, StepMask& mask) const = 0;
  virtual const Tensor& embeddings() const = 0;
};

// A cache that only remembers a tensor (inputs or outputs) for the backward.
struct TensorCache final : LayerCache {
  explicit TensorCache(Tensor t) : tensor(std::move(t)) {}
  Tensor tensor;
};

// A cache that only remembers the input's shape (all a layer that only moves values needs for its backward).
struct ShapeCache final : LayerCache {
  explicit ShapeCache(Shape s) : shape(std::move(s)) {}
  Shape shape;
};

}  // namespace rnnkit::model_detail
