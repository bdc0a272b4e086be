"""Dense: y = activation(x @ kernel + bias) on the last axis of an input of any rank >= 2."""
import numpy as np

from rnnkit import _core, activations, constraints, initializers, regularizers
from rnnkit.layers._gradients import for_trainable_weights
from rnnkit.layers._validation import (expect_last_dim, expect_min_rank, float_input, positive_int,
                                       unsupported_options)
from rnnkit.layers.layer import Layer


class Dense(Layer):
    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, lora_rank=None,
                 lora_alpha=None, quantization_config=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, quantization_config=quantization_config, **kwargs)
        self.units = positive_int(self.name, "units", units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        unsupported_options(self.name, lora_rank=lora_rank)  # lora_alpha scales LoRA's update: no LoRA, no effect
        self.supports_masking = True

    def build(self, input_shape):
        expect_min_rank(self.name, input_shape, 2)
        if input_shape[-1] is None:
            raise ValueError(f"{self.name}: the last dimension of the input must be known, received {input_shape}")
        self.kernel = self.add_weight((input_shape[-1], self.units), self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = (self.add_weight((self.units,), self.bias_initializer, name="bias",
                                     regularizer=self.bias_regularizer, constraint=self.bias_constraint)
                     if self.use_bias else None)
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        expect_min_rank(self.name, x.shape, 2)
        expect_last_dim(self.name, x.shape, self.kernel.shape[0])
        rows = x.reshape(int(np.prod(x.shape[:-1])), x.shape[-1])  # -1 cannot be inferred when a size is 0
        z = _core.dense_forward(rows, self.kernel.value, self.bias.value if self.use_bias else None)
        y = self.activation(z)
        outputs = y.reshape(x.shape[:-1] + (self.units,))
        name = activations.serialize(self.activation)
        return outputs, ((rows, z if name in activations.NEEDS_INPUT else None, y, x.shape) if training else None)

    def backward(self, ctx, d_outputs):
        rows, z, y, input_shape = ctx
        d_y = activations.gradient(activations.serialize(self.activation), y,
                                   np.asarray(d_outputs, dtype=np.float32).reshape(y.shape), z)
        d_x, d_kernel, d_bias = _core.dense_backward(rows, self.kernel.value, d_y, with_bias=self.use_bias)
        gradients = [(self.kernel, d_kernel)] + ([(self.bias, d_bias)] if self.use_bias else [])
        return d_x.reshape(input_shape), for_trainable_weights(self, gradients)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias, "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint)}
