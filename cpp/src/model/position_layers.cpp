// SinePositionEncoding and PositionEmbedding (keras_hub's, as python/rnnkit/layers/positional_encoding.py has them):
// forward next to backward, with their factories and from_config. Both return the encoding to add, of the input's
// shape, for positions 0.. of the second-to-last axis (a graph node's start_index is refused by load_model).
#include <algorithm>
#include <cmath>

#include "model/support.hpp"
#include "rnnkit/layers.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

// Length (the second-to-last axis, counting the batch) and features of an input; rows = everything before them.
struct Positions {
  std::int64_t rows, length, features;
  explicit Positions(const Shape& shape)
      : rows(element_count(Shape(shape.begin(), shape.end() - 2))), length(shape[shape.size() - 2]),
        features(shape.back()) {}
};

// `table` (its first length * features values) repeated for every row of the output.
Tensor broadcast_rows(const Shape& shape, const float* table) {
  const Positions p(shape);
  Tensor y(shape);
  const std::int64_t block = p.length * p.features;
  for (std::int64_t r = 0; r < p.rows; ++r) std::copy_n(table, block, y.values.begin() + r * block);
  return y;
}

class SinePositionEncodingLayer final : public Layer {
 public:
  SinePositionEncodingLayer(std::string name, double max_wavelength)
      : Layer(std::move(name)), max_wavelength_(max_wavelength) {
    if (!(max_wavelength_ > 0.0)) fail_layer(*this, "needs a positive max_wavelength");
  }
  const char* class_name() const override { return "SinePositionEncoding"; }
  std::string config_json() const override {
    return config_object(*this, "\"max_wavelength\": " + json_number(max_wavelength_));
  }

  Shape build(const Shape& input, std::mt19937_64*) override {
    if (input.empty()) fail_layer(*this, "needs inputs of rank 2 or more (counting the batch)");
    return input;
  }

  // sin on even, cos on odd feature indices of angle position * max_wavelength^(-2 * (i / 2) / features), in float64
  // rounded once, as Python computes it.
  Tensor forward(const Tensor& x, StepMask&, TrainingStep* training) const override {
    const Positions p(x.shape);
    std::vector<float> table(static_cast<std::size_t>(p.length * p.features));
    const double features = static_cast<double>(p.features);
    for (std::int64_t t = 0; t < p.length; ++t)
      for (std::int64_t i = 0; i < p.features; ++i) {
        const double exponent = -static_cast<double>(2 * (i / 2)) / features;
        const double angle = static_cast<double>(t) * std::pow(max_wavelength_, exponent);
        table[static_cast<std::size_t>(t * p.features + i)] =
            static_cast<float>(i % 2 ? std::cos(angle) : std::sin(angle));
      }
    if (training) training->cache = std::make_unique<ShapeCache>(x.shape);
    return broadcast_rows(x.shape, table.data());
  }

  // The encoding does not depend on the input's values.
  LayerGradients backward(const LayerCache& cache, const Tensor&) const override {
    return zero_gradients(static_cast<const ShapeCache&>(cache).shape, *this);
  }

 protected:
  void collect_weights(std::vector<Weight*>&) override {}

 private:
  double max_wavelength_;
};

// A learned (sequence_length, features) table: position t gets row t.
class PositionEmbeddingLayer final : public Layer {
 public:
  PositionEmbeddingLayer(std::string name, std::int64_t sequence_length)
      : Layer(std::move(name)), sequence_length_(sequence_length) {
    if (sequence_length_ <= 0) fail_layer(*this, "needs a positive sequence_length");
  }
  const char* class_name() const override { return "PositionEmbedding"; }
  std::string config_json() const override {
    return config_object(*this, "\"sequence_length\": " + std::to_string(sequence_length_));
  }

  Shape build(const Shape& input, std::mt19937_64* rng) override {
    if (input.empty() || input.back() < 0)
      fail_layer(*this, "needs inputs of rank 2 or more (counting the batch) with a known last dimension");
    if (input.size() >= 2 && input[input.size() - 2] > sequence_length_)
      fail_layer(*this, "positions of an input of shape " + shape_text(with_batch(-1, input)) +
                            " exceed sequence_length=" + std::to_string(sequence_length_));
    ensure_weight(weights_, 0, *this, "embeddings", {sequence_length_, input.back()}, Init::glorot_uniform, rng);
    return input;
  }

  Tensor forward(const Tensor& x, StepMask&, TrainingStep* training) const override {
    if (Positions(x.shape).length > sequence_length_)
      fail_layer(*this, "positions 0.." + std::to_string(Positions(x.shape).length - 1) +
                            " exceed sequence_length=" + std::to_string(sequence_length_));
    if (training) training->cache = std::make_unique<ShapeCache>(x.shape);
    return broadcast_rows(x.shape, weights_[0].value.values.data());
  }

  // Row t of the table gets the gradients of position t summed over every row of the output.
  LayerGradients backward(const LayerCache& cache, const Tensor& d_y) const override {
    const Shape& shape = static_cast<const ShapeCache&>(cache).shape;
    LayerGradients g = zero_gradients(shape, *this);
    const Positions p(shape);
    float* d_table = g.d_weights[0].values.data();
    const std::int64_t block = p.length * p.features;
    for (std::int64_t r = 0; r < p.rows; ++r)
      for (std::int64_t k = 0; k < block; ++k) d_table[k] += d_y.values[r * block + k];
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>& out) override { out.push_back(&weights_[0]); }

 private:
  std::int64_t sequence_length_;
  std::vector<Weight> weights_;
};

}  // namespace

std::unique_ptr<Layer> sine_position_encoding_from_config(const ConfigReader& c) {
  return std::make_unique<SinePositionEncodingLayer>(c.name(), c.number("max_wavelength", 10000.0));
}

// The initializer only drew the first values, which the file replaces.
std::unique_ptr<Layer> position_embedding_from_config(const ConfigReader& c) {
  return std::make_unique<PositionEmbeddingLayer>(c.name(), c.positive_integer("sequence_length"));
}

}  // namespace model_detail

namespace layers {
std::unique_ptr<Layer> SinePositionEncoding(double max_wavelength, const std::string& name) {
  return std::make_unique<model_detail::SinePositionEncodingLayer>(
      name.empty() ? model_detail::auto_name("sine_position_encoding") : name, max_wavelength);
}
std::unique_ptr<Layer> PositionEmbedding(std::int64_t sequence_length, const std::string& name) {
  return std::make_unique<model_detail::PositionEmbeddingLayer>(
      name.empty() ? model_detail::auto_name("position_embedding") : name, sequence_length);
}
}  // namespace layers

}  // namespace rnnkit
