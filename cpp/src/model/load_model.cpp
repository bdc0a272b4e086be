// rnnkit::load_model: a .rnnkit file's model_config (Sequential or functional) turned into a Model whose weights
// come from the file, in Keras' model.weights order.
#include <algorithm>
#include <map>
#include <stdexcept>

#include "model/graph.hpp"
#include "model/support.hpp"
#include "rnnkit/model_file.hpp"

namespace rnnkit {

namespace model_detail {

LayerFactory factory_for(const std::string& class_name) {
  static const std::map<std::string, LayerFactory> factories = {
      {"Dense", dense_from_config},
      {"Activation", activation_from_config},
      {"ReLU", relu_from_config},
      {"LeakyReLU", leaky_relu_from_config},
      {"ELU", elu_from_config},
      {"Softmax", softmax_from_config},
      {"Dropout", dropout_from_config},
      {"SpatialDropout1D", spatial_dropout_1d_from_config},
      {"GaussianNoise", gaussian_noise_from_config},
      {"GaussianDropout", gaussian_dropout_from_config},
      {"AlphaDropout", alpha_dropout_from_config},
      {"Rescaling", rescaling_from_config},
      {"ZeroPadding1D", zero_padding_1d_from_config},
      {"Cropping1D", cropping_1d_from_config},
      {"UpSampling1D", up_sampling_1d_from_config},
      {"Identity", identity_from_config},
      {"BatchNormalization", batch_normalization_from_config},
      {"GroupNormalization", group_normalization_from_config},
      {"LayerNormalization", layer_normalization_from_config},
      {"MultiHeadAttention", multi_head_attention_from_config},
      {"GroupedQueryAttention", grouped_query_attention_from_config},
      {"SinePositionEncoding", sine_position_encoding_from_config},
      {"PositionEmbedding", position_embedding_from_config},
      {"Masking", masking_from_config},
      {"Flatten", flatten_from_config},
      {"RepeatVector", repeat_vector_from_config},
      {"Reshape", reshape_from_config},
      {"Permute", permute_from_config},
      {"Embedding", embedding_from_config},
      {"ReversibleEmbedding", reversible_embedding_from_config},
      {"GlobalAveragePooling1D", global_average_pooling_from_config},
      {"GlobalMaxPooling1D", global_max_pooling_from_config},
      {"Conv1D", conv1d_from_config},
      {"DepthwiseConv1D", depthwise_conv1d_from_config},
      {"SeparableConv1D", separable_conv1d_from_config},
      {"Conv1DTranspose", conv1d_transpose_from_config},
      {"ConvLSTM1D", conv_lstm_from_config},
      {"ConvLSTM2D", conv_lstm_from_config},
      {"ConvLSTM3D", conv_lstm_from_config},
      {"MaxPooling1D", max_pooling_1d_from_config},
      {"AveragePooling1D", average_pooling_1d_from_config},
      {"AdaptiveAveragePooling1D", adaptive_average_pooling_1d_from_config},
      {"AdaptiveMaxPooling1D", adaptive_max_pooling_1d_from_config},
      {"SimpleRNN", recurrent_from_config},
      {"LSTM", recurrent_from_config},
      {"PeepholeLSTM", recurrent_from_config},
      {"GRU", recurrent_from_config},
      {"RNN", rnn_from_config},
      {"Bidirectional", bidirectional_from_config},
      {"TimeDistributed", time_distributed_from_config},
      {"Concatenate", concatenate_from_config},
      {"Add", add_from_config},
      {"Subtract", subtract_from_config},
      {"Average", average_from_config},
      {"Multiply", multiply_from_config},
      {"Maximum", maximum_from_config},
      {"Minimum", minimum_from_config},
      {"Dot", dot_from_config},
  };
  const auto it = factories.find(class_name);
  return it == factories.end() ? nullptr : it->second;
}

std::unique_ptr<Layer> layer_from_entry(const Json& entry, const std::string& source) {
  const ConfigReader config(entry, source);
  // Operation nodes (some named like layers: Add, Multiply) only exist in functional graphs, which read them apart.
  if (is_operation_entry(entry)) fail(config.where(), "operation nodes belong to functional models");
  const LayerFactory factory = factory_for(config.class_name());
  if (factory == nullptr)
    fail(config.where(), "layer class \"" + config.class_name() + "\" is not supported by the C++ model API");
  std::unique_ptr<Layer> layer = factory(config);
  // Only a frozen layer is set: a wrapper's true must not overwrite the false of a layer inside it.
  if (!config.flag("trainable", true)) layer->set_trainable(false);
  return layer;
}

}  // namespace model_detail

namespace {

using model_detail::ConfigReader;
using model_detail::fail;

// The per-example input shape (batch dropped, unknown sizes as -1) from an InputLayer or build_input_shape.
Shape shape_without_batch(const Json& dims, const std::string& source) {
  if (dims.kind != Json::Kind::array || dims.array.empty()) fail(source, "input shape must be a non-empty list");
  Shape shape;
  for (std::size_t i = 1; i < dims.array.size(); ++i) {
    const Json& d = dims.array[i];
    if (d.kind == Json::Kind::null) shape.push_back(-1);
    else if (d.is_integer && d.integer >= 0) shape.push_back(d.integer);
    else fail(source, "input shape entries must be non-negative integers or null");
  }
  return shape;
}

Shape input_layer_shape(const Json& entry, const std::string& source) {
  const Json* config = entry.find("config");
  const Json* batch_shape = config ? config->find("batch_shape") : nullptr;
  if (batch_shape == nullptr) fail(source, "InputLayer has no batch_shape");
  return shape_without_batch(*batch_shape, source);
}

bool is_input_layer(const Json& entry) {
  const Json* c = entry.find("class_name");
  return c && c->kind == Json::Kind::string && c->string == "InputLayer";
}

// A Lambda layer's traced graph of operations (a functional config Python writes beside Keras' form of the
// function), or null for any other entry. A Lambda without one (Keras' own) holds only Python code: refused.
const Json* lambda_graph(const Json& entry, const std::string& path) {
  const Json* c = entry.find("class_name");
  if (c == nullptr || c->kind != Json::Kind::string || c->string != "Lambda") return nullptr;
  const ConfigReader reader(entry, path);
  const Json* graph = reader.get("graph");
  if (graph == nullptr || graph->kind != Json::Kind::object)
    fail(reader.where(), "holds its function only as Python code (no traced operations), which is not run");
  return graph;
}

// add_functional's input_slot for a model's own graph (its input is value slot 0); a Lambda's graph reads another.
constexpr std::size_t kModelInput = static_cast<std::size_t>(-1);
std::size_t add_functional(Model::Impl& impl, const Json& config, const std::string& path, std::size_t input_slot);

std::unique_ptr<Model::Impl> sequential(const Json& config, const std::string& path) {
  const Json* entries = config.find("layers");
  if (entries == nullptr || entries->kind != Json::Kind::array) fail(path, "Sequential config has no \"layers\" list");
  auto impl = std::make_unique<Model::Impl>();
  bool shape_known = false;
  if (const Json* built = config.find("build_input_shape"); built && built->kind == Json::Kind::array) {
    impl->input_shape = shape_without_batch(*built, path);
    shape_known = true;
  }
  std::size_t slot = 0;  // the value the next layer reads
  for (const Json& entry : entries->array) {
    if (is_input_layer(entry)) {
      impl->input_shape = input_layer_shape(entry, path);
      shape_known = true;
      continue;
    }
    if (const Json* graph = lambda_graph(entry, path)) {
      slot = add_functional(*impl, *graph, path, slot);
      continue;
    }
    const std::size_t index = impl->layers.size();
    impl->layers.push_back(model_detail::layer_from_entry(entry, path));
    impl->nodes.push_back(GraphNode{index, {slot}});
    slot = impl->nodes.size();
  }
  if (!shape_known) fail(path, "the model's input shape is unknown (no InputLayer and no build_input_shape)");
  impl->output_slot = slot;
  return impl;
}

// A tensor reference of a functional config: Python's ["__keras_tensor__", layer, node, index] or Keras 3's
// {"class_name": "__keras_tensor__", "config": {"keras_history": [layer, node, index]}}.
struct TensorRef {
  std::string layer;
  std::int64_t node = 0, index = 0;
};

bool parse_ref(const Json& json, TensorRef& ref) {
  const Json* history = nullptr;
  std::size_t first = 0;
  if (json.kind == Json::Kind::array && json.array.size() == 4 && json.array[0].kind == Json::Kind::string &&
      json.array[0].string == "__keras_tensor__") {
    history = &json;
    first = 1;
  } else if (json.kind == Json::Kind::object) {
    const Json* config = json.find("config");
    history = config ? config->find("keras_history") : nullptr;
  } else if (json.kind == Json::Kind::array && json.array.size() == 3 && json.array[0].kind == Json::Kind::string) {
    history = &json;  // input_layers / output_layers entries: [layer, node, index]
  }
  if (history == nullptr || history->kind != Json::Kind::array || history->array.size() != first + 3) return false;
  const Json& name = history->array[first];
  const Json& node = history->array[first + 1];
  const Json& index = history->array[first + 2];
  if (name.kind != Json::Kind::string || !node.is_integer || !index.is_integer) return false;
  ref = TensorRef{name.string, node.integer, index.integer};
  return true;
}

// The tensor references an attention layer's node passes: query, value (and key) as positional tensors, the key
// possibly as Keras' keyword; use_causal_mask goes to `use_causal_mask`. Keras records every call argument, so
// return_attention_scores=false and null masks pass.
std::vector<TensorRef> attention_arguments(const Json& args, const Json* kwargs, const std::string& where,
                                           bool& use_causal_mask) {
  std::vector<TensorRef> refs(args.array.size());
  for (std::size_t i = 0; i < refs.size(); ++i)
    if (!parse_ref(args.array[i], refs[i])) fail(where, "malformed tensor reference in an inbound node");
  if (kwargs && kwargs->kind == Json::Kind::object)
    for (const auto& [key, value] : kwargs->object) {
      TensorRef ref;
      const bool scores_off = key == "return_attention_scores" && value.kind == Json::Kind::boolean && !value.boolean;
      if (key == "use_causal_mask" && value.kind == Json::Kind::boolean) use_causal_mask = value.boolean;
      else if (key == "key" && refs.size() == 2 && parse_ref(value, ref)) refs.push_back(ref);
      else if (!scores_off && value.kind != Json::Kind::null && key != "training" && key != "mask")
        fail(where, "call argument \"" + key + "\" is not supported by the C++ model API");
    }
  return refs;
}

// The tensor references one inbound node passes to its layer (one, or a list for merge layers). An attention
// layer's node (`use_causal_mask` given) may pass its inputs as positional tensors and use_causal_mask.
std::vector<TensorRef> node_arguments(const Json& node, const std::string& where, bool* use_causal_mask = nullptr) {
  const Json* args = node.find("args");
  const Json* kwargs = node.find("kwargs");
  if (use_causal_mask && args && args->kind == Json::Kind::array && args->array.size() > 1)
    return attention_arguments(*args, kwargs, where, *use_causal_mask);
  if (args == nullptr || args->kind != Json::Kind::array || args->array.size() != 1)
    fail(where, "inbound nodes must pass exactly one positional argument (a tensor or a list of tensors)");
  if (kwargs && kwargs->kind == Json::Kind::object)
    for (const auto& [key, value] : kwargs->object) {
      if (key == "use_causal_mask" && use_causal_mask && value.kind == Json::Kind::boolean) {
        *use_causal_mask = value.boolean;
        continue;
      }
      if (value.kind != Json::Kind::null && key != "training" && key != "mask")
        fail(where, "call argument \"" + key + "\" is not supported by the C++ model API");
    }
  std::vector<TensorRef> refs;
  TensorRef ref;
  if (parse_ref(args->array[0], ref)) return {ref};
  if (args->array[0].kind != Json::Kind::array) fail(where, "malformed inbound node");
  for (const Json& item : args->array[0].array) {
    if (!parse_ref(item, ref)) fail(where, "malformed tensor reference in an inbound node");
    refs.push_back(ref);
  }
  return refs;
}

// An operation node's arguments in order: null for each tensor (whose reference goes to `refs`), also for each
// tensor of a list of them (concatenate's), else the constant.
std::vector<const Json*> operation_arguments(const Json& node, const std::string& where, std::vector<TensorRef>& refs) {
  const Json* args = node.find("args");
  const Json* kwargs = node.find("kwargs");
  if (args == nullptr || args->kind != Json::Kind::array) fail(where, "malformed inbound node");
  if (kwargs && kwargs->kind == Json::Kind::object && !kwargs->object.empty())
    fail(where, "call argument \"" + kwargs->object[0].first + "\" is not supported by the C++ model API");
  std::vector<const Json*> arguments;
  // Python writes a reference as ["__keras_tensor__", layer, node, index], Keras as an object.
  auto is_ref = [](const Json& arg, TensorRef& ref) {
    return (arg.kind == Json::Kind::object || arg.array.size() == 4) && parse_ref(arg, ref);
  };
  for (const Json& arg : args->array) {
    TensorRef ref;
    const bool listed = arg.kind == Json::Kind::array && !arg.array.empty() && !is_ref(arg, ref) &&
                        std::all_of(arg.array.begin(), arg.array.end(), [&](const Json& a) { return is_ref(a, ref); });
    if (listed) {
      for (const Json& item : arg.array) {
        is_ref(item, ref);
        refs.push_back(ref);
        arguments.push_back(nullptr);
      }
      continue;
    }
    const bool tensor = is_ref(arg, ref);
    if (tensor) refs.push_back(ref);
    arguments.push_back(tensor ? nullptr : &arg);
  }
  return arguments;
}

// The layers and nodes of a functional config added to `impl`, its one InputLayer standing for value slot
// `input_slot` (kModelInput: the model's input, slot 0, whose shape it gives); returns the slot of its one output.
// A Lambda adds the graph it was traced into, once per call of it.
std::size_t add_functional(Model::Impl& impl, const Json& config, const std::string& path, std::size_t input_slot) {
  const Json* entries = config.find("layers");
  const Json* inputs = config.find("input_layers");
  const Json* outputs = config.find("output_layers");
  if (entries == nullptr || entries->kind != Json::Kind::array || inputs == nullptr || outputs == nullptr)
    fail(path, "functional config needs \"layers\", \"input_layers\" and \"output_layers\"");
  auto single = [&](const Json& list, const char* what) {
    TensorRef ref;
    if (parse_ref(list, ref)) return ref;
    if (list.kind != Json::Kind::array || list.array.size() != 1 || !parse_ref(list.array[0], ref))
      fail(path, std::string("the C++ model API supports models (and Lambda layers) with exactly one ") + what);
    return ref;
  };
  const TensorRef input = single(*inputs, "input"), output = single(*outputs, "output");

  std::map<std::pair<std::string, std::int64_t>, std::size_t> slot_of;  // (layer, node) -> value slot
  constexpr std::size_t kNoLayer = static_cast<std::size_t>(-1);
  struct Pending {
    std::size_t layer;     // into impl.layers, or kNoLayer for a Lambda
    const Json* graph;     // a Lambda's traced graph, else null
    std::string name, where;
    std::vector<TensorRef> args;
    std::int64_t node_index;
  };
  std::vector<Pending> pending;
  bool input_found = false;
  for (const Json& entry : entries->array) {
    if (is_input_layer(entry)) {
      const ConfigReader reader(entry, path);
      if (reader.name() != input.layer) fail(path, "the C++ model API supports models with exactly one input");
      if (input_slot == kModelInput) impl.input_shape = input_layer_shape(entry, path);
      slot_of[{reader.name(), 0}] = input_slot == kModelInput ? 0 : input_slot;
      input_found = true;
      continue;
    }
    const Json* inbound = entry.find("inbound_nodes");
    const std::size_t index = impl.layers.size();
    if (const Json* graph = lambda_graph(entry, path)) {
      const ConfigReader reader(entry, path);
      if (inbound == nullptr || inbound->kind != Json::Kind::array) fail(reader.where(), "has no inbound_nodes list");
      for (std::size_t k = 0; k < inbound->array.size(); ++k)
        pending.push_back(Pending{kNoLayer, graph, reader.name(), reader.where(),
                                  node_arguments(inbound->array[k], reader.where()), static_cast<std::int64_t>(k)});
      continue;
    }
    std::unique_ptr<Layer> layer;
    if (model_detail::is_operation_entry(entry)) {
      const ConfigReader reader(entry, path);
      if (inbound == nullptr || inbound->kind != Json::Kind::array || inbound->array.size() != 1)
        fail(reader.where(), "an operation node needs exactly one inbound node");
      std::vector<TensorRef> refs;
      const std::vector<const Json*> arguments = operation_arguments(inbound->array[0], reader.where(), refs);
      layer = model_detail::operation_from_config(reader, arguments);
      impl.has_operations = true;
      pending.push_back(Pending{index, nullptr, layer->name(), reader.where(), std::move(refs), 0});
    } else {
      if (input_slot != kModelInput)  // as Python's, where a Lambda's graph has no weights: here no layers at all
        fail(ConfigReader(entry, path).where(), "the C++ model API runs Lambda layers whose function only calls "
                                                "operations");
      layer = model_detail::layer_from_entry(entry, path);
      const std::string where = path + ": layer " + layer->name();
      if (inbound == nullptr || inbound->kind != Json::Kind::array) fail(where, "has no inbound_nodes list");
      auto* attention = dynamic_cast<model_detail::AttentionLayerBase*>(layer.get());
      for (std::size_t k = 0; k < inbound->array.size(); ++k) {
        bool causal = false;
        pending.push_back(Pending{index, nullptr, layer->name(), where,
                                  node_arguments(inbound->array[k], where, attention ? &causal : nullptr),
                                  static_cast<std::int64_t>(k)});
        // The option lives on the layer: a layer shared by nodes must be called with one value.
        if (attention && k > 0 && causal != attention->use_causal_mask())
          fail(where, "is called with and without use_causal_mask, which the C++ model API does not support");
        if (attention) attention->set_use_causal_mask(causal);
      }
    }
    impl.layers.push_back(std::move(layer));
  }
  if (!input_found) fail(path, "the functional config has no InputLayer named " + input.layer);
  // Nodes are placed once all their inputs exist (Keras' from_config does the same with a queue).
  while (!pending.empty()) {
    bool progress = false;
    for (auto it = pending.begin(); it != pending.end();) {
      std::vector<std::size_t> slots;
      for (const TensorRef& ref : it->args) {
        if (ref.index != 0) fail(it->where, "reads output " + std::to_string(ref.index) + " of " + ref.layer +
                                                "; layers with several outputs are not supported");
        const auto found = slot_of.find({ref.layer, ref.node});
        if (found == slot_of.end()) break;
        slots.push_back(found->second);
      }
      if (slots.size() != it->args.size()) {
        ++it;
        continue;
      }
      if (it->graph != nullptr) {
        if (slots.size() != 1) fail(it->where, "the C++ model API runs Lambda layers of one input");
        slot_of[{it->name, it->node_index}] = add_functional(impl, *it->graph, path, slots[0]);
      } else {
        impl.nodes.push_back(GraphNode{it->layer, slots});
        slot_of[{it->name, it->node_index}] = impl.nodes.size();
      }
      it = pending.erase(it);
      progress = true;
    }
    if (!progress) fail(path, "the functional graph references tensors no layer produces");
  }
  const auto out = slot_of.find({output.layer, output.node});
  if (out == slot_of.end() || output.index != 0) fail(path, "the model output " + output.layer + " is not produced");
  return out->second;
}

std::unique_ptr<Model::Impl> functional(const Json& config, const std::string& path) {
  auto impl = std::make_unique<Model::Impl>();
  impl->output_slot = add_functional(*impl, config, path, kModelInput);
  return impl;
}

Model load_model_file(const std::string& path) {
  const ModelFile file = read_model_file(path);
  const Json* model = file.header.find("model_config");
  if (model == nullptr || model->kind != Json::Kind::object) fail(path, "has no model_config (a weights-only file?)");
  const Json* class_name = model->find("class_name");
  const Json* config = model->find("config");
  if (class_name == nullptr || class_name->kind != Json::Kind::string || config == nullptr ||
      config->kind != Json::Kind::object)
    fail(path, "model_config needs a \"class_name\" and a \"config\" object");
  std::unique_ptr<Model::Impl> impl;
  if (class_name->string == "Sequential") impl = sequential(*config, path);
  else if (class_name->string == "Functional" || class_name->string == "Model") impl = functional(*config, path);
  else fail(path, "model class \"" + class_name->string + "\" is not supported (Sequential or functional)");

  impl->build(nullptr);
  Model result(std::move(impl));
  const std::vector<Weight*> weights = result.weights();
  if (weights.size() != file.weights.size())
    fail(path, "holds " + std::to_string(file.weights.size()) + " weights but the model's layers use " +
                   std::to_string(weights.size()) + (file.weights.size() > weights.size() ? " (more weights than the "
                                                     "layers use)" : ""));
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const TensorInfo& info = file.tensor(file.weights[i]);
    if (info.dtype != DType::float32 || info.shape != weights[i]->value.shape)
      fail(path, "weight \"" + file.weights[i] + "\" does not have the shape the layer config implies (" +
                     weights[i]->name + " " + model_detail::shape_text(weights[i]->value.shape) + ")");
    weights[i]->value.values = file.float32_values(file.weights[i]);
  }
  return result;
}

}  // namespace

Model load_model(const std::string& path) {
  try {
    return load_model_file(path);
  } catch (const std::invalid_argument& error) {
    const std::string what = error.what();
    if (what.compare(0, path.size(), path) == 0) throw;
    throw std::invalid_argument(path + ": " + what);  // layer-level messages gain the file's name
  } catch (const std::length_error& error) {  // a config whose sizes overflow is a bad file, named as such
    throw std::invalid_argument(path + ": " + error.what());
  }
}

}  // namespace rnnkit
