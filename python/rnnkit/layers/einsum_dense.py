"""Keras 3's EinsumDense: y = activation(einsum(equation, x, kernel) + bias), the kernel's and bias' shapes derived
from the equation, ``output_shape`` and ``bias_axes`` by Keras' rules (layers/_einsum_equation.py).

How an equation becomes GEMMs. Each axis label plays one role, by the operands it appears in:

- rows (input and output) and contracted (input and kernel) axes: the input, transposed to (rows, contracted) and
  reshaped, is the (M, K) matrix;
- contracted and columns (kernel and output) axes: the kernel, transposed to (contracted, columns), is (K, N);
- the (M, N) product, reshaped to the rows' and columns' axes and transposed to the output's order, is the output;
- batched axes (input, kernel and output, e.g. ``abc,bcd->abd``'s b) lead all three: one GEMM per index;
- summed axes (the input's alone) are added up first; their gradient is the input gradient broadcast back.

``...`` stands for the input's leading (or, in ``ab...,bc->ac...``, trailing) axes, rows of the product. So
``ab,bc->ac`` is Dense without a copy, ``btd,ndh->btnh`` is (B*T, D) @ (D, N*H) after moving the kernel's d first,
``bquh,uhm->bqm`` is (B*Q, U*H) @ (U*H, M). The bias, shaped by Keras to broadcast against the output from the
right, is added after the product. Backward: d_x = d_y @ kernel^T and d_kernel = x^T @ d_y per GEMM in the core
(``_core.sgemm``), the bias gradient is d_y summed down to the bias' shape.

As in Keras, the layer does not support masking: a mask given to it is not passed on.
"""
import numpy as np

from rnnkit import _core, activations, constraints, initializers, regularizers
from rnnkit.layers._einsum_equation import Equation, GemmLayout, gemm_dims
from rnnkit.layers._gradients import for_trainable_weights
from rnnkit.layers._validation import float_input, unsupported_options
from rnnkit.layers.input_spec import InputSpec
from rnnkit.layers.layer import Layer


def _partial_output_shape(layer, output_shape):
    sizes = (output_shape,) if isinstance(output_shape, (int, np.integer)) else output_shape
    try:
        sizes = tuple(sizes)
    except TypeError as error:
        raise TypeError(f"{layer}: expected output_shape to be an int or a tuple of ints and None, received "
                        f"{output_shape!r}") from error
    for size in sizes:
        if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1):
            raise ValueError(f"{layer}: expected output_shape's sizes to be positive ints or None, received "
                             f"{output_shape!r}")
    return tuple(None if size is None else int(size) for size in sizes)


def _sum_to_shape(values, shape):
    """values summed down to ``shape``, which broadcasts against them from the right."""
    values = values.sum(axis=tuple(range(values.ndim - len(shape))))
    ones = tuple(axis for axis, size in enumerate(shape) if size == 1 and values.shape[axis] != 1)
    return values.sum(axis=ones, keepdims=True) if ones else values


class EinsumDense(Layer):
    def __init__(self, equation, output_shape, activation=None, bias_axes=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, lora_rank=None, lora_alpha=None, gptq_unpacked_column_size=None,
                 quantization_config=None, **kwargs):
        super().__init__(quantization_config=quantization_config, **kwargs)
        # lora_alpha scales LoRA's update: no LoRA, no effect
        unsupported_options(self.name, lora_rank=lora_rank, gptq_unpacked_column_size=gptq_unpacked_column_size)
        self._equation = Equation(self.name, equation)
        self.equation = equation
        self.partial_output_shape = _partial_output_shape(self.name, output_shape)
        if bias_axes is not None and (not isinstance(bias_axes, str) or not bias_axes):
            raise ValueError(f"{self.name}: expected bias_axes to be a non-empty string of output axes or None, "
                             f"received {bias_axes!r}")
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def _shapes(self, input_shape):
        return self._equation.shapes(self.name, input_shape, self.partial_output_shape, self.bias_axes)

    def _initializer_over_axes(self, input_axes, output_axes):
        """Keras gives a variance-scaling initializer without axes the kernel's input and output axes, so its fans
        count the equation's contracted and produced sizes rather than the kernel's last two axes."""
        initializer = self.kernel_initializer
        if not isinstance(initializer, initializers.VarianceScaling) or (
                initializer.input_axes is not None and initializer.output_axes is not None):
            return initializer
        return type(initializer).from_config({**initializer.get_config(), "input_axes": input_axes,
                                              "output_axes": output_axes})

    def build(self, input_shape):
        kernel_shape, bias_shape, _, input_axes, output_axes = self._shapes(input_shape)
        self.input_spec = InputSpec(ndim=len(input_shape))
        self.kernel = self.add_weight(kernel_shape, self._initializer_over_axes(input_axes, output_axes),
                                      name="kernel", regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = (None if bias_shape is None else
                     self.add_weight(bias_shape, self.bias_initializer, name="bias", regularizer=self.bias_regularizer,
                                     constraint=self.bias_constraint))
        self.built = True

    def compute_output_shape(self, input_shape):
        return self._shapes(input_shape)[2]

    def _layout(self, x):
        input_labels, kernel_labels, output_labels = self._equation.labels(self.name, x.ndim)
        for label, size in zip(kernel_labels, self.kernel.shape):
            if label in input_labels and x.shape[input_labels.index(label)] != size:
                raise ValueError(f"{self.name}: input axis '{label}' of equation {self.equation!r} has size "
                                 f"{x.shape[input_labels.index(label)]}, the kernel's {size}; received input shape "
                                 f"{x.shape}")
        return GemmLayout(input_labels, kernel_labels, output_labels)

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        layout = self._layout(x)
        batched, rows, contracted, columns = layout.counts
        kept = x.sum(axis=layout.summed, dtype=np.float32) if layout.summed else x
        moved = kept.transpose(layout.input_order)
        a = moved.reshape(gemm_dims(moved.shape, batched, rows, contracted))
        moved_kernel = self.kernel.value.transpose(layout.kernel_order)
        w = moved_kernel.reshape(gemm_dims(moved_kernel.shape, batched, contracted, columns))
        product = np.empty((a.shape[0], a.shape[1], w.shape[2]), np.float32)
        for index in range(product.shape[0]):
            _core.sgemm(False, False, 1.0, a[index], w[index], 0.0, product[index])
        z = product.reshape(moved.shape[:batched + rows] + moved_kernel.shape[batched + contracted:])
        z = z.transpose(layout.output_order)
        z = np.ascontiguousarray(z) if self.bias is None else z + self.bias.value
        y = self.activation(z)
        if not training:
            return y, None
        name = activations.serialize(self.activation)
        return y, (layout, x.shape, a, w, moved.shape, moved_kernel.shape,
                   z if name in activations.NEEDS_INPUT else None, y)

    def backward(self, ctx, d_outputs):
        layout, input_shape, a, w, moved_shape, moved_kernel_shape, z, y = ctx
        d_z = activations.gradient(activations.serialize(self.activation), y,
                                   np.asarray(d_outputs, dtype=np.float32).reshape(y.shape), z)
        d_product = d_z.transpose(layout.product_order).reshape(a.shape[0], a.shape[1], w.shape[2])
        d_a, d_w = np.empty(a.shape, np.float32), np.empty(w.shape, np.float32)
        for index in range(a.shape[0]):
            _core.sgemm(False, True, 1.0, d_product[index], w[index], 0.0, d_a[index])
            _core.sgemm(True, False, 1.0, a[index], d_product[index], 0.0, d_w[index])
        d_kernel = np.ascontiguousarray(d_w.reshape(moved_kernel_shape).transpose(np.argsort(layout.kernel_order)))
        d_kept = d_a.reshape(moved_shape).transpose(np.argsort(layout.input_order))
        d_x = (np.array(np.broadcast_to(np.expand_dims(d_kept, layout.summed), input_shape)) if layout.summed
               else np.ascontiguousarray(d_kept))
        gradients = [(self.kernel, d_kernel)]
        if self.bias is not None:
            gradients.append((self.bias, _sum_to_shape(d_z, self.bias.shape)))
        return d_x, for_trainable_weights(self, gradients)

    def get_config(self):
        return {**super().get_config(), "output_shape": self.partial_output_shape, "equation": self.equation,
                "activation": activations.serialize(self.activation), "bias_axes": self.bias_axes,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint), "quantization_config": None}
