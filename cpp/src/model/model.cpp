// rnnkit::Model: runs the graph of layer calls for predict, and forward-with-caches / backward for training.
#include <stdexcept>

#include "model/graph.hpp"
#include "model/support.hpp"
#include "rnnkit/checked.hpp"

namespace rnnkit {

using model_detail::EmbeddingLayerBase;
using model_detail::MergeLayer;
using model_detail::RecurrentLayerBase;
using model_detail::shape_text;

namespace {

MergeLayer* as_merge(Layer& layer) { return dynamic_cast<MergeLayer*>(&layer); }
const MergeLayer* as_merge(const Layer& layer) { return dynamic_cast<const MergeLayer*>(&layer); }

void add_into(Tensor& total, Tensor&& part) {
  if (total.values.empty() && total.shape.empty()) {
    total = std::move(part);
    return;
  }
  for (std::size_t i = 0; i < total.values.size(); ++i) total.values[i] += part.values[i];
}

// At inference, an Embedding whose output only the next node reads, a recurrent layer: that layer takes the ids
// and looks its input projection up in embeddings · kernel, when it finds that the table pays (takes_ids).
const RecurrentLayerBase* folded_reader(const Model::Impl& impl, std::size_t n, const Tensor& ids,
                                        const std::vector<std::size_t>& readers) {
  const auto* embedding = dynamic_cast<const EmbeddingLayerBase*>(impl.layers[impl.nodes[n].layer].get());
  if (!embedding || n + 1 >= impl.nodes.size() || readers[n + 1] != 1 || impl.output_slot == n + 1 ||
      impl.nodes[n + 1].inputs != std::vector<std::size_t>{n + 1} || ids.shape.size() != 2)
    return nullptr;
  const auto* reader = dynamic_cast<const RecurrentLayerBase*>(impl.layers[impl.nodes[n + 1].layer].get());
  return reader && reader->takes_ids(ids.size(), embedding->embeddings().shape[0]) ? reader : nullptr;
}

// The whole model's forward; with `trace`, every node keeps its cache there. The output's mask goes to `mask_out`.
Tensor run(const Model::Impl& impl, const Tensor& x, Model::Trace::Data* trace, std::mt19937_64* rng,
           StepMask* mask_out) {
  const std::size_t slots = impl.nodes.size() + 1;
  std::vector<std::size_t> last_use(slots, 0), readers(slots, 0);  // values are freed after their last reader
  for (std::size_t n = 0; n < impl.nodes.size(); ++n)
    for (std::size_t s : impl.nodes[n].inputs) last_use[s] = n, ++readers[s];
  std::vector<Tensor> values(slots);  // slot 0, the input, is read where the caller keeps it
  auto value = [&](std::size_t s) -> const Tensor& { return s == 0 ? x : values[s]; };
  std::vector<StepMask> masks(slots);
  if (trace) {
    trace->caches.clear();
    trace->caches.resize(impl.nodes.size());
  }
  for (std::size_t n = 0; n < impl.nodes.size(); ++n) {
    const GraphNode& node = impl.nodes[n];
    const Layer& layer = *impl.layers[node.layer];
    const Tensor& first_input = value(node.inputs[0]);
    if (const RecurrentLayerBase* reader = trace ? nullptr : folded_reader(impl, n, first_input, readers)) {
      const auto& embedding = static_cast<const EmbeddingLayerBase&>(layer);
      StepMask& mask = masks[n + 2];
      const std::vector<std::int64_t> ids = embedding.token_ids(first_input, mask);
      values[n + 2] = reader->forward_ids(ids, first_input.shape[0], first_input.shape[1], embedding.embeddings(),
                                          mask);
      if (last_use[node.inputs[0]] == n && node.inputs[0] != impl.output_slot) values[node.inputs[0]] = Tensor();
      ++n;  // the recurrent node ran too
      continue;
    }
    auto call = [&](TrainingStep* training) {
      if (const MergeLayer* merge = as_merge(layer)) {
        std::vector<const Tensor*> xs;
        std::vector<const StepMask*> ms;
        for (std::size_t s : node.inputs) {
          xs.push_back(&value(s));
          ms.push_back(&masks[s]);
        }
        values[n + 1] = merge->merge(xs, ms, masks[n + 1], training);
      } else {
        masks[n + 1] = masks[node.inputs[0]];
        values[n + 1] = layer.forward(value(node.inputs[0]), masks[n + 1], training);
      }
    };
    if (trace) {
      TrainingStep step{*rng, nullptr};
      call(&step);
      trace->caches[n] = std::move(step.cache);
    } else {
      call(nullptr);
    }
    for (std::size_t s : node.inputs)
      if (last_use[s] == n && s != impl.output_slot) values[s] = Tensor();
  }
  if (mask_out) *mask_out = std::move(masks[impl.output_slot]);
  return impl.output_slot == 0 ? x : std::move(values[impl.output_slot]);
}

}  // namespace

void Model::Impl::build(std::mt19937_64* init_rng) {
  std::vector<Shape> shapes(nodes.size() + 1);
  shapes[0] = input_shape;
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    Layer& layer = *layers[nodes[n].layer];
    if (MergeLayer* merge = as_merge(layer)) {
      std::vector<Shape> inputs;
      for (std::size_t s : nodes[n].inputs) inputs.push_back(shapes[s]);
      shapes[n + 1] = merge->build_merge(inputs);
    } else {
      if (nodes[n].inputs.size() != 1)
        model_detail::fail_layer(layer, "takes one input, received " + std::to_string(nodes[n].inputs.size()));
      shapes[n + 1] = layer.build(shapes[nodes[n].inputs[0]], init_rng);
    }
  }
  output_shape = shapes[output_slot];
}

Model::Model(Shape input_shape, std::vector<std::unique_ptr<Layer>> layers, std::uint64_t seed)
    : impl_(std::make_unique<Impl>()) {
  impl_->input_shape = std::move(input_shape);
  impl_->rng.seed(seed);
  for (std::size_t i = 0; i < layers.size(); ++i) {
    if (!layers[i]) throw std::invalid_argument("rnnkit::Model: layer " + std::to_string(i) + " is null");
    impl_->nodes.push_back(GraphNode{i, {i}});
  }
  impl_->layers = std::move(layers);
  impl_->output_slot = impl_->nodes.size();
  std::mt19937_64 init_rng(seed);
  impl_->build(&init_rng);
}

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model::Trace::Trace() : data_(std::make_unique<Data>()) {}
Model::Trace::Trace(Trace&&) noexcept = default;
Model::Trace& Model::Trace::operator=(Trace&&) noexcept = default;
Model::Trace::~Trace() = default;
const StepMask& Model::Trace::output_mask() const { return data_->output_mask; }

bool Model::is_sequential() const {
  if (impl_->has_operations) return false;
  for (std::size_t n = 0; n < impl_->nodes.size(); ++n)
    if (impl_->nodes[n].layer != n || impl_->nodes[n].inputs != std::vector<std::size_t>{n}) return false;
  return impl_->output_slot == impl_->nodes.size();
}

const Shape& Model::input_shape() const { return impl_->input_shape; }
const Shape& Model::output_shape() const { return impl_->output_shape; }
std::size_t Model::layer_count() const { return impl_->layers.size(); }
Layer& Model::layer(std::size_t index) { return *impl_->layers.at(index); }
const Layer& Model::layer(std::size_t index) const { return *impl_->layers.at(index); }

std::vector<Weight*> Model::weights() {
  std::vector<Weight*> out;
  for (auto& layer : impl_->layers)
    for (Weight* w : layer->weights()) out.push_back(w);
  return out;
}

std::vector<const Weight*> Model::weights() const {
  std::vector<const Weight*> out;
  for (const auto& layer : impl_->layers)
    for (const Weight* w : static_cast<const Layer&>(*layer).weights()) out.push_back(w);
  return out;
}

namespace {
// The layers trust their input's inner sizes, so they are all checked here, once.
void check_input(const Shape& expected, const Shape& shape, std::size_t count, const char* fn) {
  bool matches = shape.size() == expected.size() + 1;
  std::int64_t n = 1;
  for (std::size_t i = 0; matches && i < shape.size(); ++i) {
    matches = shape[i] >= 0 && (i == 0 || expected[i - 1] < 0 || shape[i] == expected[i - 1]);
    n = matches ? checked_mul(n, shape[i], fn) : n;
  }
  if (!matches || static_cast<std::size_t>(n) != count)
    throw std::invalid_argument(std::string(fn) + ": expected an input of shape " +
                                shape_text(model_detail::with_batch(-1, expected)).replace(1, 4, "batch") +
                                " with as many values as its shape holds, received shape " + shape_text(shape) +
                                " with " + std::to_string(count) + " values");
}
}  // namespace

Tensor Model::predict(const Tensor& x) const {
  check_input(impl_->input_shape, x.shape, x.values.size(), "rnnkit::Model::predict");
  return run(*impl_, x, nullptr, nullptr, nullptr);
}

Tensor Model::predict(const Tensor& x, StepMask& output_mask) const {
  check_input(impl_->input_shape, x.shape, x.values.size(), "rnnkit::Model::predict");
  return run(*impl_, x, nullptr, nullptr, &output_mask);
}

Tensor Model::predict(const TensorView& x) const {
  std::size_t count = 0;
  if (x.data != nullptr || x.shape.empty()) count = static_cast<std::size_t>(model_detail::element_count(x.shape));
  check_input(impl_->input_shape, x.shape, count, "rnnkit::Model::predict");
  return run(*impl_, Tensor(x.shape, std::vector<float>(x.data, x.data + count)), nullptr, nullptr, nullptr);
}

Tensor Model::forward_train(const Tensor& x, Trace& trace) {
  check_input(impl_->input_shape, x.shape, x.values.size(), "rnnkit::Model::forward_train");
  return run(*impl_, x, trace.data_.get(), &impl_->rng, &trace.data_->output_mask);
}

std::vector<Tensor> Model::backward(const Trace& trace, const Tensor& d_output) const {
  const auto& caches = trace.data_->caches;
  if (caches.size() != impl_->nodes.size())
    throw std::invalid_argument("rnnkit::Model::backward: the trace does not come from forward_train on this model");
  std::vector<std::size_t> offsets;  // where each layer's weights start in weights()
  std::vector<Tensor> grads;
  for (const auto& layer : impl_->layers) {
    offsets.push_back(grads.size());
    for (const Weight* w : static_cast<const Layer&>(*layer).weights()) grads.emplace_back(w->value.shape);
  }
  std::vector<Tensor> d_values(impl_->nodes.size() + 1);
  d_values[impl_->output_slot] = d_output;
  for (std::size_t n = impl_->nodes.size(); n-- > 0;) {
    Tensor& d_y = d_values[n + 1];
    if (d_y.shape.empty()) continue;  // nothing downstream of this node reaches the output
    const GraphNode& node = impl_->nodes[n];
    const Layer& layer = *impl_->layers[node.layer];
    LayerGradients g;
    if (const MergeLayer* merge = as_merge(layer)) {
      std::vector<Tensor> parts = merge->unmerge_with_weights(*caches[n], d_y, g.d_weights);
      for (std::size_t i = 0; i < parts.size(); ++i) add_into(d_values[node.inputs[i]], std::move(parts[i]));
    } else {
      g = layer.backward(*caches[n], d_y);
      add_into(d_values[node.inputs[0]], std::move(g.d_x));
    }
    const std::vector<const Weight*> weights = layer.weights();
    for (std::size_t k = 0; k < g.d_weights.size(); ++k) {
      if (!weights[k]->trainable) continue;  // frozen: its gradient stays zero
      Tensor& total = grads[offsets[node.layer] + k];
      for (std::size_t i = 0; i < total.values.size(); ++i) total.values[i] += g.d_weights[k].values[i];
    }
    d_y = Tensor();
  }
  return grads;
}

}  // namespace rnnkit
