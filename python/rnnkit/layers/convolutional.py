"""Conv1D, DepthwiseConv1D, SeparableConv1D and Conv1DTranspose over the steps axis, computed in the core: Conv1D as
one GEMM over the unrolled windows (cpp/src/nn/conv1d.cpp), the depthwise taps as multiply-adds along the channels
(cpp/src/nn/depthwise_conv1d.cpp), SeparableConv1D's pointwise kernel as a GEMM, Conv1DTranspose as the adjoint of
Conv1D (cpp/src/nn/conv1d_transpose.cpp)."""
import numpy as np

from rnnkit import _core, activations, constraints, initializers, regularizers
from rnnkit.layers import _windows
from rnnkit.layers._gradients import for_trainable_weights
from rnnkit.layers._validation import expect_rank, float_input, positive_int, unsupported_options
from rnnkit.layers.layer import Layer


class _Window1D(Layer):
    """What Conv1D, DepthwiseConv1D and SeparableConv1D share: the window over the steps axis, the data format, the
    bias and the activation. A subclass makes its weights (_build_weights), computes the pre-activation product
    (_product, returning it and what its backward needs) and that product's backward (_product_backward)."""

    weight_arguments = ()  # the subclass's (name, Keras argument) pairs of initializer/regularizer/constraint

    def __init__(self, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                 bias_initializer, bias_regularizer, activity_regularizer, bias_constraint, paddings, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.kernel_size = _windows.one_int(self.name, "kernel_size", kernel_size)
        self.strides = _windows.one_int(self.name, "strides", strides)
        self.dilation_rate = _windows.one_int(self.name, "dilation_rate", dilation_rate)
        if self.strides > 1 and self.dilation_rate > 1:
            raise ValueError(f"{self.name}: strides > 1 is not supported with dilation_rate > 1 (as in Keras), "
                             f"received strides={self.strides}, dilation_rate={self.dilation_rate}")
        self.padding = _windows.padding_name(self.name, padding, paddings)
        self.data_format = _windows.data_format_name(self.name, data_format)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.bias_initializer = initializers.get(bias_initializer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.bias_constraint = constraints.get(bias_constraint)

    def build(self, input_shape):
        expect_rank(self.name, input_shape, 3)
        _, channels = _windows.steps_and_channels(input_shape, self.data_format)
        if channels is None:
            raise ValueError(f"{self.name}: the channel dimension of the input must be known, received {input_shape}")
        self._build_weights(channels)
        self.bias = (self.add_weight((self._output_channels(channels),), self.bias_initializer, name="bias",
                                     regularizer=self.bias_regularizer, constraint=self.bias_constraint)
                     if self.use_bias else None)
        self.built = True

    def _steps_out(self, steps):
        span = self.dilation_rate * (self.kernel_size - 1) + 1
        return _windows.steps_out(self.name, steps, self.kernel_size, self.strides, self.dilation_rate, self.padding,
                                  f"the kernel's span {span}")

    def compute_output_shape(self, input_shape):
        expect_rank(self.name, input_shape, 3)
        steps, channels = _windows.steps_and_channels(input_shape, self.data_format)
        out = None if channels is None else self._output_channels(channels)
        return _windows.output_shape(input_shape, self._steps_out(steps), out, self.data_format)

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        expect_rank(self.name, x.shape, 3)
        x = _windows.steps_middle(x, self.data_format)
        self._steps_out(x.shape[1])
        z, saved = self._product(x)
        y = self.activation(z)
        name = activations.serialize(self.activation)
        ctx = (x, saved, z if name in activations.NEEDS_INPUT else None, y) if training else None
        return _windows.steps_middle(y, self.data_format), ctx

    def backward(self, ctx, d_outputs):
        x, saved, z, y = ctx
        d_y = _windows.steps_middle(np.asarray(d_outputs, dtype=np.float32), self.data_format)
        d_z = activations.gradient(activations.serialize(self.activation), y, np.ascontiguousarray(d_y), z)
        d_x, gradients, d_bias = self._product_backward(x, saved, d_z)
        gradients += [(self.bias, d_bias)] if self.use_bias else []
        return _windows.steps_middle(d_x, self.data_format), for_trainable_weights(self, gradients)

    def _window(self):
        return self.strides, self.dilation_rate, self.padding

    def get_config(self):
        weights = {}
        for attribute, argument in self.weight_arguments:
            weights[f"{argument}_initializer"] = initializers.serialize(getattr(self, f"{attribute}_initializer"))
            weights[f"{argument}_regularizer"] = regularizers.serialize(getattr(self, f"{attribute}_regularizer"))
            weights[f"{argument}_constraint"] = constraints.serialize(getattr(self, f"{attribute}_constraint"))
        return {**super().get_config(), "kernel_size": (self.kernel_size,), "strides": (self.strides,),
                "padding": self.padding, "data_format": self.data_format, "dilation_rate": (self.dilation_rate,),
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias, **weights,
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "bias_constraint": constraints.serialize(self.bias_constraint)}

    def _set_weight_arguments(self, attribute, initializer, regularizer, constraint):
        setattr(self, f"{attribute}_initializer", initializers.get(initializer))
        setattr(self, f"{attribute}_regularizer", regularizers.get(regularizer))
        setattr(self, f"{attribute}_constraint", constraints.get(constraint))

    def _add_kernel(self, attribute, name, shape):
        return self.add_weight(shape, getattr(self, f"{attribute}_initializer"), name=name,
                               regularizer=getattr(self, f"{attribute}_regularizer"),
                               constraint=getattr(self, f"{attribute}_constraint"))


class Conv1D(_Window1D):
    """Keras 3's Conv1D: y[t] = activation(bias + sum over k of x[t * strides - pad + k * dilation_rate] kernel[k]).
    Like Keras it drops an incoming mask."""

    weight_arguments = (("kernel", "kernel"),)

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, **kwargs):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         bias_initializer, bias_regularizer, activity_regularizer, bias_constraint,
                         ("valid", "same", "causal"), **kwargs)
        self.filters = positive_int(self.name, "filters", filters)
        if groups != 1:
            raise ValueError(f"{self.name}: rnnkit supports groups=1 only, received groups={groups!r}")
        self._set_weight_arguments("kernel", kernel_initializer, kernel_regularizer, kernel_constraint)
        unsupported_options(self.name, lora_rank=lora_rank)

    def _output_channels(self, channels):
        return self.filters

    def _build_weights(self, channels):
        self.kernel = self._add_kernel("kernel", "kernel", (self.kernel_size, channels, self.filters))

    def _product(self, x):
        bias = self.bias.value if self.use_bias else None
        return _core.conv1d_forward(x, self.kernel.value, bias, *self._window()), None

    def _product_backward(self, x, saved, d_z):
        d_x, d_kernel, d_bias = _core.conv1d_backward(x, self.kernel.value, d_z, *self._window(), self.use_bias)
        return d_x, [(self.kernel, d_kernel)], d_bias

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "groups": 1}


class DepthwiseConv1D(_Window1D):
    """Keras 3's DepthwiseConv1D: each channel c convolved with its own depth_multiplier filters, output channel
    c * depth_multiplier + j (kernel (kernel_size, channels, depth_multiplier)); no mixing across channels."""

    weight_arguments = (("depthwise", "depthwise"),)

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         bias_initializer, bias_regularizer, activity_regularizer, bias_constraint,
                         ("valid", "same"), **kwargs)
        self.depth_multiplier = positive_int(self.name, "depth_multiplier", depth_multiplier)
        self._set_weight_arguments("depthwise", depthwise_initializer, depthwise_regularizer, depthwise_constraint)

    def _output_channels(self, channels):
        return channels * self.depth_multiplier

    def _build_weights(self, channels):
        self.kernel = self._add_kernel("depthwise", "kernel", (self.kernel_size, channels, self.depth_multiplier))

    def _product(self, x):
        bias = self.bias.value if self.use_bias else None
        return _core.depthwise_conv1d_forward(x, self.kernel.value, bias, *self._window()), None

    def _product_backward(self, x, saved, d_z):
        d_x, d_kernel, d_bias = _core.depthwise_conv1d_backward(x, self.kernel.value, d_z, *self._window(),
                                                                self.use_bias)
        return d_x, [(self.kernel, d_kernel)], d_bias

    def get_config(self):
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier}


class SeparableConv1D(_Window1D):
    """Keras 3's SeparableConv1D: DepthwiseConv1D (no bias) then a pointwise (1 x channels * depth_multiplier x
    filters) kernel mixing the channels, then the bias and the activation."""

    weight_arguments = (("depthwise", "depthwise"), ("pointwise", "pointwise"))

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         bias_initializer, bias_regularizer, activity_regularizer, bias_constraint,
                         ("valid", "same"), **kwargs)
        self.filters = positive_int(self.name, "filters", filters)
        self.depth_multiplier = positive_int(self.name, "depth_multiplier", depth_multiplier)
        self._set_weight_arguments("depthwise", depthwise_initializer, depthwise_regularizer, depthwise_constraint)
        self._set_weight_arguments("pointwise", pointwise_initializer, pointwise_regularizer, pointwise_constraint)

    def _output_channels(self, channels):
        return self.filters

    def _build_weights(self, channels):
        middle = channels * self.depth_multiplier
        self.depthwise_kernel = self._add_kernel("depthwise", "depthwise_kernel",
                                                 (self.kernel_size, channels, self.depth_multiplier))
        self.pointwise_kernel = self._add_kernel("pointwise", "pointwise_kernel", (1, middle, self.filters))

    def _product(self, x):
        depthwise = _core.depthwise_conv1d_forward(x, self.depthwise_kernel.value, None, *self._window())
        rows = depthwise.reshape(-1, depthwise.shape[-1])
        z = np.empty((rows.shape[0], self.filters), np.float32)
        if self.use_bias:
            z[...] = self.bias.value
        _core.sgemm(False, False, 1.0, rows, self.pointwise_kernel.value[0], 1.0 if self.use_bias else 0.0, z)
        return z.reshape(depthwise.shape[:2] + (self.filters,)), depthwise

    def _product_backward(self, x, depthwise, d_z):
        d_rows, rows = d_z.reshape(-1, self.filters), depthwise.reshape(-1, depthwise.shape[-1])
        d_pointwise = np.empty(self.pointwise_kernel.shape, np.float32)
        _core.sgemm(True, False, 1.0, rows, d_rows, 0.0, d_pointwise[0])
        d_depthwise = np.empty(rows.shape, np.float32)
        _core.sgemm(False, True, 1.0, d_rows, self.pointwise_kernel.value[0], 0.0, d_depthwise)
        d_x, d_kernel, _ = _core.depthwise_conv1d_backward(x, self.depthwise_kernel.value,
                                                           d_depthwise.reshape(depthwise.shape), *self._window(),
                                                           False)
        d_bias = d_rows.sum(axis=0, dtype=np.float32) if self.use_bias else None
        return d_x, [(self.depthwise_kernel, d_kernel), (self.pointwise_kernel, d_pointwise)], d_bias

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "depth_multiplier": self.depth_multiplier}


class Conv1DTranspose(_Window1D):
    """Keras 3's Conv1DTranspose, the adjoint of a Conv1D window: input step i adds x[i] . kernel[k] (kernel
    (kernel_size, filters, channels)) to output step i * strides + k * dilation_rate - crop. Keras' padding and
    output_padding set the crop and the output length: "valid" (steps - 1) * strides + span + output_padding (None:
    max(span, strides) - span), "same" steps * strides (None) or (steps - 1) * strides + span % 2 + output_padding,
    span = dilation_rate * (kernel_size - 1) + 1."""

    weight_arguments = (("kernel", "kernel"),)

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         bias_initializer, bias_regularizer, activity_regularizer, bias_constraint,
                         ("valid", "same"), **kwargs)
        self.filters = positive_int(self.name, "filters", filters)
        self.output_padding = None if output_padding is None else self._output_padding(output_padding)
        self._set_weight_arguments("kernel", kernel_initializer, kernel_regularizer, kernel_constraint)

    def _output_padding(self, value):
        """A non-negative int below strides, or the single one of a one-element tuple or list."""
        padding = value[0] if isinstance(value, (tuple, list)) and len(value) == 1 else value
        if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
            raise ValueError(f"{self.name}: expected output_padding to be None, an int >= 0 or a tuple of one, "
                             f"received {value!r}")
        if padding >= self.strides:
            raise ValueError(f"{self.name}: output_padding must be less than strides, received "
                             f"output_padding={padding}, strides={self.strides}")
        return int(padding)

    def _output_channels(self, channels):
        return self.filters

    def _build_weights(self, channels):
        self.kernel = self._add_kernel("kernel", "kernel", (self.kernel_size, self.filters, channels))

    def _steps_out(self, steps):
        if steps is None:
            return None
        if steps == 0:
            raise ValueError(f"{self.name}: expected an input of at least one step, received 0 steps")
        return _core.conv1d_transpose_steps_out(steps, self.kernel_size, *self._window())

    def _window(self):
        return self.strides, self.dilation_rate, self.padding, self.output_padding

    def _product(self, x):
        bias = self.bias.value if self.use_bias else None
        return _core.conv1d_transpose_forward(x, self.kernel.value, bias, *self._window()), None

    def _product_backward(self, x, saved, d_z):
        d_x, d_kernel, d_bias = _core.conv1d_transpose_backward(x, self.kernel.value, d_z, *self._window(),
                                                                self.use_bias)
        return d_x, [(self.kernel, d_kernel)], d_bias

    def get_config(self):
        output_padding = None if self.output_padding is None else (self.output_padding,)
        return {**super().get_config(), "filters": self.filters, "output_padding": output_padding}
