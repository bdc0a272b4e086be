// What rnnkit::Model holds: its layers and the graph of nodes that calls them (a chain for Sequential).
#pragma once
#include <cstddef>
#include <memory>
#include <random>
#include <vector>

#include "rnnkit/model.hpp"

namespace rnnkit {

// One call of a layer. Value slot 0 is the model input; node i writes slot i + 1.
struct GraphNode {
  std::size_t layer = 0;             // index into Model::Impl::layers
  std::vector<std::size_t> inputs;   // value slots; several only for merge layers
};

struct Model::Impl {
  Shape input_shape;                           // per example, -1 where any size is accepted
  std::vector<std::unique_ptr<Layer>> layers;  // Keras' model.layers order, which is the weights' order
  std::vector<GraphNode> nodes;                // topological order
  std::size_t output_slot = 0;
  bool has_operations = false;                 // operation nodes (of a functional graph or a Lambda's)
  Shape output_shape;
  std::mt19937_64 rng;                         // dropout draws while training

  // Builds every node's layer in order (weights drawn from rng when given) and records the output shape.
  void build(std::mt19937_64* init_rng);
};

struct Model::Trace::Data {
  std::vector<std::unique_ptr<LayerCache>> caches;  // one per node
  StepMask output_mask;
};

}  // namespace rnnkit
