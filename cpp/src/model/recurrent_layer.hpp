// One recurrent cell run over a sequence by the core's whole-sequence kernels: the SimpleRNN, LSTM, PeepholeLSTM
// and GRU layers, and each cell of an RNN over a cell or a stack of them (stacked_recurrent_layer.cpp).
#pragma once
#include <memory>
#include <string>

#include "model/support.hpp"
#include "rnnkit/layers.hpp"
#include "rnnkit/rnn.hpp"

namespace rnnkit::model_detail {

struct RecurrentSpec {
  CellKind cell = CellKind::lstm;
  bool peephole = false;
  std::int64_t units = 0;
  layers::RecurrentOptions options;
  // A cell of Keras' RNN(cell) or StackedRNNCells: class_name() is the cell's (LSTMCell, ...) and config_json() holds
  // only the cell's fields; the loop options come from the RNN around it.
  bool as_cell = false;
};

// The layer of `spec`, named `name` or, when empty, automatically ("lstm", "lstm_cell", ...).
std::unique_ptr<RecurrentLayerBase> make_recurrent(const RecurrentSpec& spec, const std::string& name);

// A (batch, time) mask in the order a layer going `backwards` (or not) processes the steps.
StepMask processing_order(const StepMask& mask, std::int64_t batch, std::int64_t time, bool backwards);

// The cell kind, size and cell options (activations, use_bias, dropouts, unit_forget_bias, reset_after) of a
// SimpleRNN/LSTM/PeepholeLSTM/GRU layer's or SimpleRNNCell/LSTMCell/PeepholeLSTMCell/GRUCell's config.
RecurrentSpec cell_spec_from_config(const ConfigReader& config);

}  // namespace rnnkit::model_detail
