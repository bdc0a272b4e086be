// What the layers sliding a window over the steps axis of (batch, steps, channels) share: Conv1D, the 1-D poolings,
// DepthwiseConv1D and SeparableConv1D.
#pragma once
#include <cstdint>
#include <string>

#include "model/support.hpp"
#include "rnnkit/layer_ops.hpp"

namespace rnnkit::model_detail {

// The window over `steps` input steps (-1: unknown, then only steps_out is set, to -1). A "valid" window longer
// than a non-empty input is refused (Keras' backends refuse it when computing), as the Python layers do.
Window1d layer_window(const Layer& layer, std::int64_t steps, std::int64_t size, std::int64_t stride,
                      std::int64_t dilation, const std::string& padding);

// channels_first inputs are (channels, steps), which these layers would misread, so that layout is refused.
void require_channels_last(const ConfigReader& c);

}  // namespace rnnkit::model_detail
