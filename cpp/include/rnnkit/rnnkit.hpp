// Everything a C++ user of rnnkit needs: models (load, predict, build, train), layers, losses, optimizers, and
// the kernels underneath (GEMM, activations, recurrent sequences, layer ops), plus run-time configuration.
#pragma once
#include "rnnkit/activations.hpp"
#include "rnnkit/additive_attention.hpp"
#include "rnnkit/checked.hpp"
#include "rnnkit/gemm.hpp"
#include "rnnkit/layer_activations.hpp"
#include "rnnkit/layer_ops.hpp"
#include "rnnkit/layers.hpp"
#include "rnnkit/losses.hpp"
#include "rnnkit/model.hpp"
#include "rnnkit/model_file.hpp"
#include "rnnkit/optimizers.hpp"
#include "rnnkit/rnn.hpp"
#include "rnnkit/runtime.hpp"
#include "rnnkit/training.hpp"
