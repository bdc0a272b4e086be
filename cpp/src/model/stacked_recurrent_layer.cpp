// Keras' RNN layer over one cell or a StackedRNNCells: one whole-sequence recurrent layer per cell, each reading
// the previous one's outputs. Stacking cells inside a step computes what stacking layers computes (cell k at step
// t reads only cell k-1 at step t), so each cell keeps the core's sequence kernels.
#include <algorithm>

#include "model/recurrent_layer.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

class StackedRecurrentLayer final : public RecurrentLayerBase {
 public:
  // `loop` holds return_sequences, go_backwards and zero_output_for_mask; `stack_name` is the StackedRNNCells' name,
  // empty for an RNN over one bare cell.
  StackedRecurrentLayer(std::string name, std::vector<RecurrentSpec> cells, const layers::RecurrentOptions& loop,
                        std::string stack_name)
      : RecurrentLayerBase(std::move(name)), cells_(std::move(cells)), loop_(loop),
        stack_name_(std::move(stack_name)) {
    if (cells_.empty()) fail_layer(*this, "needs at least one cell");
    if (stack_name_.empty() && cells_.size() != 1) fail_layer(*this, "several cells need a StackedRNNCells");
    for (std::size_t k = 0; k < cells_.size(); ++k) {
      RecurrentSpec stage = cells_[k];
      stage.as_cell = true;
      // Cell k > 0 reads cell k-1's outputs in the order it produced them, so only cell 0 goes backwards and only
      // the last one's outputs are the layer's.
      stage.options.go_backwards = k == 0 && loop_.go_backwards;
      stage.options.return_sequences = loop_.return_sequences || k + 1 < cells_.size();
      stage.options.zero_output_for_mask = k + 1 == cells_.size() && loop_.zero_output_for_mask;
      stages_.push_back(make_recurrent(stage, stage.options.name));
      cells_[k].options.name = stages_.back()->name();
    }
  }
  const char* class_name() const override { return "RNN"; }
  bool return_sequences() const override { return loop_.return_sequences; }

  std::string config_json() const override {
    auto flag = [](bool b) { return std::string(b ? "true" : "false"); };
    std::string cell;
    for (const auto& stage : stages_) cell += (cell.empty() ? "" : ", ") + layer_entry(*stage);
    if (!stack_name_.empty())
      cell = R"({"module": "keras.layers", "class_name": "StackedRNNCells", "config": {"name": )" +
             json_quote(stack_name_) + R"(, "trainable": true, "dtype": "float32", "cells": [)" + cell +
             R"(]}, "registered_name": null})";
    return config_object(*this, "\"return_sequences\": " + flag(loop_.return_sequences) +
                                    ", \"return_state\": false, \"go_backwards\": " + flag(loop_.go_backwards) +
                                    ", \"stateful\": false, \"unroll\": false, \"zero_output_for_mask\": " +
                                    flag(loop_.zero_output_for_mask) + ", \"cell\": " + cell);
  }

  std::unique_ptr<RecurrentLayerBase> reversed_copy(const std::string& name) const override {
    layers::RecurrentOptions loop = loop_;
    loop.go_backwards = !loop.go_backwards;
    auto copy = std::make_unique<StackedRecurrentLayer>(name, cells_, loop, stack_name_);
    copy->set_trainable(trainable());
    return copy;
  }

  Shape build(const Shape& input, std::mt19937_64* rng) override {
    Shape shape = input;
    for (const auto& stage : stages_) shape = stage->build(shape, rng);
    return shape;
  }

  struct Cache final : LayerCache {
    std::vector<std::unique_ptr<LayerCache>> stages;
  };

  Tensor forward(const Tensor& x, StepMask& mask, TrainingStep* training) const override {
    return run(x, nullptr, mask, training);
  }

  bool takes_ids(std::int64_t ids, std::int64_t table_rows) const override {
    return stages_[0]->takes_ids(ids, table_rows);
  }

  Tensor forward_ids(const std::vector<std::int64_t>& ids, std::int64_t batch, std::int64_t time,
                     const Tensor& embeddings, StepMask& mask) const override {
    const IdsInput first{ids, batch, time, embeddings};
    return run(Tensor(), &first, mask, nullptr);
  }

  LayerGradients backward(const LayerCache& base, const Tensor& d_y) const override {
    const auto& cache = static_cast<const Cache&>(base);
    LayerGradients all{d_y, {}};
    for (std::size_t k = stages_.size(); k-- > 0;) {
      LayerGradients g = stages_[k]->backward(*cache.stages[k], all.d_x);
      all.d_x = std::move(g.d_x);
      all.d_weights.insert(all.d_weights.begin(), std::make_move_iterator(g.d_weights.begin()),
                           std::make_move_iterator(g.d_weights.end()));
    }
    return all;
  }

 protected:
  void collect_weights(std::vector<Weight*>& out) override {
    for (const auto& stage : stages_)
      for (Weight* w : stage->weights()) out.push_back(w);
  }
  void apply_trainable(bool trainable) override {
    for (const auto& stage : stages_) stage->set_trainable(trainable);
  }

 private:
  struct IdsInput {
    const std::vector<std::int64_t>& ids;
    std::int64_t batch, time;
    const Tensor& embeddings;
  };

  // The stages in turn on x (or, for inference, cell 0 on `ids`); `mask` becomes the layer's output mask: the
  // input's, in time order, with return_sequences.
  Tensor run(const Tensor& x, const IdsInput* ids, StepMask& mask, TrainingStep* training) const {
    const std::int64_t batch = ids ? ids->batch : x.shape[0], time = ids ? ids->time : x.shape[1];
    std::unique_ptr<Cache> cache = training ? std::make_unique<Cache>() : nullptr;
    Tensor y;
    for (std::size_t k = 0; k < stages_.size(); ++k) {
      StepMask stage_mask = k > 0 ? processing_order(mask, batch, time, loop_.go_backwards) : mask;
      if (k == 0 && ids) {
        y = stages_[0]->forward_ids(ids->ids, batch, time, ids->embeddings, stage_mask);
      } else if (training) {
        TrainingStep step{training->rng, nullptr};
        y = stages_[k]->forward(k == 0 ? x : y, stage_mask, &step);
        cache->stages.push_back(std::move(step.cache));
      } else {
        y = stages_[k]->forward(k == 0 ? x : y, stage_mask, nullptr);
      }
    }
    if (!loop_.return_sequences) mask.clear();
    if (cache) training->cache = std::move(cache);
    return y;
  }

  std::vector<RecurrentSpec> cells_;
  layers::RecurrentOptions loop_;
  std::string stack_name_;
  std::vector<std::unique_ptr<RecurrentLayerBase>> stages_;
};

}  // namespace

std::unique_ptr<Layer> rnn_from_config(const ConfigReader& c) {
  c.require_default("return_state", false);
  c.require_default("stateful", false);
  layers::RecurrentOptions loop;
  loop.return_sequences = c.flag("return_sequences", false);
  loop.go_backwards = c.flag("go_backwards", false);
  loop.zero_output_for_mask = c.flag("zero_output_for_mask", false);
  const ConfigReader cell(c.object("cell"), c.source());
  std::vector<RecurrentSpec> cells;
  std::string stack_name;
  if (cell.class_name() == "StackedRNNCells") {
    const Json* list = cell.get("cells");
    if (list == nullptr || list->kind != Json::Kind::array || list->array.empty())
      fail(cell.where(), "needs a non-empty list of cells");
    for (const Json& entry : list->array) cells.push_back(cell_spec_from_config(ConfigReader(entry, c.source())));
    stack_name = cell.name();
  } else {
    cells.push_back(cell_spec_from_config(cell));
  }
  for (const RecurrentSpec& spec : cells)
    if (!spec.as_cell) fail(c.where(), "expected cells (SimpleRNNCell, LSTMCell, PeepholeLSTMCell, GRUCell)");
  return std::make_unique<StackedRecurrentLayer>(c.name(), std::move(cells), loop, stack_name);
}

}  // namespace model_detail

namespace layers {
std::unique_ptr<Layer> RNN(const std::vector<RecurrentCell>& cells, const RecurrentOptions& options) {
  std::vector<model_detail::RecurrentSpec> specs;
  for (const RecurrentCell& cell : cells) {
    model_detail::RecurrentSpec spec;
    spec.cell = cell.type == CellType::simple_rnn ? CellKind::simple_rnn
                : cell.type == CellType::gru      ? CellKind::gru
                                                  : CellKind::lstm;
    spec.peephole = cell.type == CellType::peephole_lstm;
    spec.units = cell.units;
    spec.options = cell.options;
    spec.as_cell = true;
    specs.push_back(std::move(spec));
  }
  const std::string name = options.name.empty() ? model_detail::auto_name("rnn") : options.name;
  return std::make_unique<model_detail::StackedRecurrentLayer>(name, std::move(specs), options,
                                                               model_detail::auto_name("stacked_rnn_cells"));
}
}  // namespace layers

}  // namespace rnnkit
