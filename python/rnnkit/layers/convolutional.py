"""Conv1D over the steps axis, computed in the core as one GEMM over the unrolled windows (cpp/src/nn/conv1d.cpp)."""
import numpy as np

from rnnkit import _core, activations, constraints, initializers, regularizers
from rnnkit.layers import _windows
from rnnkit.layers._gradients import for_trainable_weights
from rnnkit.layers._validation import expect_rank, float_input, positive_int, unsupported_options
from rnnkit.layers.layer import Layer


class Conv1D(Layer):
    """Keras 3's Conv1D: y[t] = activation(bias + sum over k of x[t * strides - pad + k * dilation_rate] kernel[k]).
    Like Keras it drops an incoming mask."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.filters = positive_int(self.name, "filters", filters)
        self.kernel_size = _windows.one_int(self.name, "kernel_size", kernel_size)
        self.strides = _windows.one_int(self.name, "strides", strides)
        self.dilation_rate = _windows.one_int(self.name, "dilation_rate", dilation_rate)
        if self.strides > 1 and self.dilation_rate > 1:
            raise ValueError(f"{self.name}: strides > 1 is not supported with dilation_rate > 1 (as in Keras), "
                             f"received strides={self.strides}, dilation_rate={self.dilation_rate}")
        self.padding = _windows.padding_name(self.name, padding, ("valid", "same", "causal"))
        self.data_format = _windows.data_format_name(self.name, data_format)
        if groups != 1:
            raise ValueError(f"{self.name}: rnnkit supports groups=1 only, received groups={groups!r}")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        unsupported_options(self.name, lora_rank=lora_rank)

    def build(self, input_shape):
        expect_rank(self.name, input_shape, 3)
        _, channels = _windows.steps_and_channels(input_shape, self.data_format)
        if channels is None:
            raise ValueError(f"{self.name}: the channel dimension of the input must be known, received {input_shape}")
        self.kernel = self.add_weight((self.kernel_size, channels, self.filters), self.kernel_initializer,
                                      name="kernel", regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = (self.add_weight((self.filters,), self.bias_initializer, name="bias",
                                     regularizer=self.bias_regularizer, constraint=self.bias_constraint)
                     if self.use_bias else None)
        self.built = True

    def _steps_out(self, steps):
        span = self.dilation_rate * (self.kernel_size - 1) + 1
        return _windows.steps_out(self.name, steps, self.kernel_size, self.strides, self.dilation_rate, self.padding,
                                  f"the kernel's span {span}")

    def compute_output_shape(self, input_shape):
        expect_rank(self.name, input_shape, 3)
        steps, _ = _windows.steps_and_channels(input_shape, self.data_format)
        return _windows.output_shape(input_shape, self._steps_out(steps), self.filters, self.data_format)

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        expect_rank(self.name, x.shape, 3)
        x = _windows.steps_middle(x, self.data_format)
        self._steps_out(x.shape[1])
        z = _core.conv1d_forward(x, self.kernel.value, self.bias.value if self.use_bias else None, self.strides,
                                 self.dilation_rate, self.padding)
        y = self.activation(z)
        name = activations.serialize(self.activation)
        ctx = (x, z if name in activations.NEEDS_INPUT else None, y) if training else None
        return _windows.steps_middle(y, self.data_format), ctx

    def backward(self, ctx, d_outputs):
        x, z, y = ctx
        d_y = _windows.steps_middle(np.asarray(d_outputs, dtype=np.float32), self.data_format)
        d_z = activations.gradient(activations.serialize(self.activation), y, np.ascontiguousarray(d_y), z)
        d_x, d_kernel, d_bias = _core.conv1d_backward(x, self.kernel.value, d_z, self.strides, self.dilation_rate,
                                                      self.padding, self.use_bias)
        gradients = [(self.kernel, d_kernel)] + ([(self.bias, d_bias)] if self.use_bias else [])
        return _windows.steps_middle(d_x, self.data_format), for_trainable_weights(self, gradients)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": (self.kernel_size,),
                "strides": (self.strides,), "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": (self.dilation_rate,), "groups": 1,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer), "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint)}
