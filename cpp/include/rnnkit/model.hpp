// Models in C++: rnnkit::load_model(path) reads a .rnnkit file saved by Python's model.save and predicts with the
// same kernels; rnnkit::Model also trains (forward with caches, backward, gradients for every weight).
#pragma once
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace rnnkit {

// Per-example or whole-array shape; -1 marks a size known only at run time (e.g. the sequence length).
using Shape = std::vector<std::int64_t>;

// A dense float32 row-major array that owns its values. Token ids for Embedding are passed as floats, as Keras
// casts them.
struct Tensor {
  Shape shape;
  std::vector<float> values;

  Tensor() = default;
  explicit Tensor(Shape shape);               // zeros; std::length_error when the size overflows
  Tensor(Shape shape, std::vector<float> values);  // std::invalid_argument unless values.size() matches shape
  std::int64_t size() const { return static_cast<std::int64_t>(values.size()); }
};

// A read-only view of caller-owned row-major float32 memory; the caller keeps `data` alive during the call.
struct TensorView {
  Shape shape;
  const float* data = nullptr;
};

// A layer weight under its Keras variable name ("kernel", "recurrent_kernel", "bias", "embeddings", ...).
// Non-trainable weights are BatchNormalization's moving statistics, state the layer's training forward updates
// itself, and every weight of a frozen layer (Layer::set_trainable(false)): their gradients are zero and optimizers
// leave them alone, as Keras leaves them out of trainable_variables.
struct Weight {
  std::string name;
  Tensor value;
  bool trainable = true;
};

// (batch, time) keep flags (non-zero = keep) that Embedding(mask_zero) and Masking create and recurrent layers
// and GlobalAveragePooling1D consume; empty when the sequence is unmasked.
using StepMask = std::vector<std::uint8_t>;

// What a layer's backward needs from its forward; each layer keeps its own derived type here.
class LayerCache {
 public:
  virtual ~LayerCache() = default;
};

// Passed to Layer::forward when training: dropout draws from `rng`, the layer leaves its cache in `cache`.
struct TrainingStep {
  std::mt19937_64& rng;
  std::unique_ptr<LayerCache> cache;
};

// Gradients from Layer::backward: d_x has x's shape; d_weights line up with Layer::weights().
struct LayerGradients {
  Tensor d_x;
  std::vector<Tensor> d_weights;
};

// A layer of a model: Keras 3 semantics. Create them with the functions in rnnkit/layers.hpp or load_model.
class Layer {
 public:
  explicit Layer(std::string name) : name_(std::move(name)) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  const std::string& name() const { return name_; }
  virtual const char* class_name() const = 0;

  // Keras' layer.trainable. Freezing a layer makes its weights non-trainable (those it creates later too) and, for
  // BatchNormalization, makes a training forward normalise with the moving statistics and leave them unchanged.
  // A wrapper passes the setting on to the layers inside, as Keras' setter does; load_model reads it from each
  // layer's config and save_model writes it back.
  bool trainable() const { return trainable_; }
  void set_trainable(bool trainable);

  // Checks that the layer can take a per-example input of this shape, creates its weights on the first call
  // (drawn from `rng` by Keras' default initializers; when rng is null, only their shapes, with empty values for
  // the caller to fill, as load_model does) and returns the output shape. std::invalid_argument naming the layer
  // when the shape does not fit.
  virtual Shape build(const Shape& input, std::mt19937_64* rng) = 0;

  // Inference when training == nullptr, which leaves the layer unchanged. `mask` is read and replaced by the
  // output's mask. A training forward may update the layer's non-trainable weights (BatchNormalization's moving
  // statistics), so it needs the layer to itself, as Model::forward_train has its model.
  virtual Tensor forward(const Tensor& x, StepMask& mask, TrainingStep* training) const = 0;
  // From the cache of one training forward and dL/dy: dL/dx and dL/dw for every weight (zeros for the
  // non-trainable ones).
  virtual LayerGradients backward(const LayerCache& cache, const Tensor& d_y) const = 0;

  // The layer's Keras 3 config as a JSON object (what Python's layer.get_config() returns), for save_model.
  virtual std::string config_json() const = 0;

  // Weights in Keras' layer.weights order (wrappers list their inner layers' weights).
  std::vector<Weight*> weights();
  std::vector<const Weight*> weights() const;

 protected:
  virtual void collect_weights(std::vector<Weight*>& out) = 0;
  // What set_trainable changes besides the flag: by default every weight's trainable; BatchNormalization keeps its
  // moving statistics non-trainable and wrappers set their inner layers'.
  virtual void apply_trainable(bool trainable);

 private:
  std::string name_;
  bool trainable_ = true;
};

// A stack of layers (Keras Sequential) or, when loaded from a file, a functional graph of them.
class Model {
 public:
  // A Sequential model for per-example inputs of `input_shape`; builds every layer, drawing new weights from
  // `seed` for layers that have none yet.
  Model(Shape input_shape, std::vector<std::unique_ptr<Layer>> layers, std::uint64_t seed = 0);
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  // x: (batch, *input_shape()); std::invalid_argument otherwise.
  Tensor predict(const Tensor& x) const;
  Tensor predict(const TensorView& x) const;
  // Also the (batch, time) mask of the output (empty when unmasked), which Keras applies to the loss.
  Tensor predict(const Tensor& x, StepMask& output_mask) const;

  const Shape& input_shape() const;
  const Shape& output_shape() const;  // per example
  std::size_t layer_count() const;
  Layer& layer(std::size_t index);
  const Layer& layer(std::size_t index) const;
  std::vector<Weight*> weights();  // Keras' model.weights order, as in the file
  std::vector<const Weight*> weights() const;

  // Training: the model's output for x with every layer's cache kept in `trace` (and the moving statistics of
  // BatchNormalization layers updated), then the gradients of the loss for every weight (aligned with weights();
  // zeros for non-trainable weights) from dL/d(output). Dropout draws from the model's own generator.
  class Trace;
  Tensor forward_train(const Tensor& x, Trace& trace);
  std::vector<Tensor> backward(const Trace& trace, const Tensor& d_output) const;

  bool is_sequential() const;  // a chain of single-input layers without operations, as save_model writes
  struct Impl;  // layers and the graph that connects them (cpp/src/model/graph.hpp)
  explicit Model(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

// One training forward's caches, in node order; reused across steps.
class Model::Trace {
 public:
  Trace();
  Trace(Trace&&) noexcept;
  Trace& operator=(Trace&&) noexcept;
  ~Trace();
  // The (batch, time) mask of the model's output (Keras masks the loss with it); empty when unmasked.
  const StepMask& output_mask() const;
  struct Data;

 private:
  friend class Model;
  std::unique_ptr<Data> data_;
};

// Writes a Sequential model as a .rnnkit file that Python's rnnkit.saving.load_model (and load_model here) reads:
// architecture and weights, no compile settings. Written to a temporary file beside `path`, then renamed over it.
// std::invalid_argument for graph models; std::runtime_error naming the file when writing fails.
void save_model(const Model& model, const std::string& path);

// Reads a model saved by Python's model.save (Sequential or functional). std::invalid_argument naming the file
// for malformed files and for layers or options the C++ API lacks.
Model load_model(const std::string& path);

}  // namespace rnnkit
