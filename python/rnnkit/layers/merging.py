"""Merge layers over a list of inputs: Concatenate, Add, Subtract, Average, Multiply, Maximum, Minimum and Dot,
with Keras 3's mask rules."""
import functools

import numpy as np

from rnnkit.layers._validation import float_input
from rnnkit.layers.layer import Layer


def _expect_input_list(layer, inputs):
    if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
        raise ValueError(f"{layer}: expected a list of at least 2 inputs, received {type(inputs).__name__}"
                         f"{'' if not isinstance(inputs, (list, tuple)) else f' of length {len(inputs)}'}")


def _unbroadcast(gradient, shape):
    """Sum a gradient over the axes along which an input of ``shape`` was broadcast."""
    extra = gradient.ndim - len(shape)
    gradient = gradient.sum(axis=tuple(range(extra))) if extra else gradient
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and gradient.shape[i] != 1)
    return gradient.sum(axis=axes, keepdims=True) if axes else gradient


class Concatenate(Layer):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)
        self.supports_masking = True

    def compute_output_shape(self, input_shape):
        _expect_input_list(self.name, input_shape)
        output = list(input_shape[0])
        sizes = [s[self.axis] for s in input_shape]
        output[self.axis] = None if any(d is None for d in sizes) else sum(sizes)
        return tuple(output)

    def _check_shapes(self, shapes):
        rank = len(shapes[0])
        axis = self.axis % rank if rank else 0
        for shape in shapes:
            others = [d for i, d in enumerate(shape) if i != axis]
            reference = [d for i, d in enumerate(shapes[0]) if i != axis]
            if len(shape) != rank or others != reference:
                raise ValueError(f"{self.name}: inputs must match in every axis but the concatenation axis "
                                 f"{self.axis}; received shapes {[tuple(s) for s in shapes]}")

    def forward(self, inputs, *, training=False, mask=None):
        _expect_input_list(self.name, inputs)
        arrays = [float_input(self.name, x) for x in inputs]
        self._check_shapes([a.shape for a in arrays])
        sizes = [a.shape[self.axis] for a in arrays]
        return np.concatenate(arrays, axis=self.axis), (sizes if training else None)

    def backward(self, ctx, d_outputs):
        splits = np.cumsum(ctx)[:-1]
        parts = np.split(np.asarray(d_outputs, dtype=np.float32), splits, axis=self.axis)
        return [np.ascontiguousarray(p) for p in parts], []

    def compute_mask(self, inputs, mask=None):
        if mask is None or all(m is None for m in mask):
            return None
        expanded = []
        for x, m in zip(inputs, mask):
            if m is None:
                expanded.append(np.ones(np.shape(x), dtype=bool))
            elif np.ndim(m) < np.ndim(x):
                expanded.append(np.broadcast_to(np.asarray(m, dtype=bool)[..., None], np.shape(x)))
            else:
                expanded.append(np.asarray(m, dtype=bool))
        return np.any(np.concatenate(expanded, axis=self.axis), axis=-1)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Add(Layer):
    """The element-wise sum of its inputs (broadcast against each other); Subtract and Average reuse it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_output_shape(self, input_shape):
        _expect_input_list(self.name, input_shape)
        rank = max(len(s) for s in input_shape)
        padded = [(1,) * (rank - len(s)) + tuple(s) for s in input_shape]
        output = []
        for sizes in zip(*padded):
            known = {d for d in sizes if d not in (None, 1)}
            if len(known) > 1:
                raise ValueError(f"{self.name}: input shapes {list(input_shape)} cannot be added")
            output.append(known.pop() if known else (None if None in sizes else 1))
        return tuple(output)

    def forward(self, inputs, *, training=False, mask=None):
        _expect_input_list(self.name, inputs)
        arrays = [float_input(self.name, x) for x in inputs]
        try:
            total = np.add.reduce(np.broadcast_arrays(*arrays))
        except ValueError:
            raise ValueError(f"{self.name}: input shapes {[a.shape for a in arrays]} cannot be added") from None
        return total.astype(np.float32), ([a.shape for a in arrays] if training else None)

    def backward(self, ctx, d_outputs):
        d_y = np.asarray(d_outputs, dtype=np.float32)
        return [np.ascontiguousarray(_unbroadcast(d_y, shape)) for shape in ctx], []

    def compute_mask(self, inputs, mask=None):
        if mask is None or any(m is None for m in mask):
            return None
        return np.logical_or.reduce([np.asarray(m, dtype=bool) for m in mask])


class Subtract(Add):
    """inputs[0] - inputs[1], exactly two inputs."""

    def _check_count(self, inputs):
        if isinstance(inputs, (list, tuple)) and len(inputs) != 2:
            raise ValueError(f"{self.name}: expected exactly 2 inputs, received {len(inputs)}")

    def compute_output_shape(self, input_shape):
        self._check_count(input_shape)
        return super().compute_output_shape(input_shape)

    def forward(self, inputs, *, training=False, mask=None):
        self._check_count(inputs)
        _expect_input_list(self.name, inputs)
        first, second = (float_input(self.name, x) for x in inputs)
        try:
            difference = np.subtract(first, second)
        except ValueError:
            raise ValueError(f"{self.name}: input shapes {[first.shape, second.shape]} cannot be subtracted") from None
        return difference.astype(np.float32), ([first.shape, second.shape] if training else None)

    def backward(self, ctx, d_outputs):
        d_first, d_second = super().backward(ctx, d_outputs)[0]
        return [d_first, np.negative(d_second)], []


class Average(Add):
    """The element-wise mean of its inputs."""

    def forward(self, inputs, *, training=False, mask=None):
        total, ctx = super().forward(inputs, training=training, mask=mask)
        return (total / np.float32(len(inputs))).astype(np.float32), ctx

    def backward(self, ctx, d_outputs):
        return super().backward(ctx, np.asarray(d_outputs, dtype=np.float32) / np.float32(len(ctx)))


def _feature_masks(layer, arrays, mask):
    """Each input's step mask broadcast over its last axis (None for an input without one), as Keras' merges
    expand them inside the merge."""
    if mask is None:
        return [None] * len(arrays)
    if not isinstance(mask, (list, tuple)) or len(mask) != len(arrays):
        raise ValueError(f"{layer}: expected one mask (or None) per input, received {mask!r}")
    return [None if m is None else np.broadcast_to(np.asarray(m, dtype=bool)[..., None], x.shape)
            for x, m in zip(arrays, mask)]


class Multiply(Add):
    """The element-wise product of its inputs. Keras 3's masks: a masked step of an input counts as 1, and when
    every input has a mask, the steps none of them keeps are 0."""

    def forward(self, inputs, *, training=False, mask=None):
        _expect_input_list(self.name, inputs)
        arrays = [float_input(self.name, x) for x in inputs]
        masks = _feature_masks(self.name, arrays, mask)
        factors = [x if m is None else np.where(m, x, np.float32(1.0)) for x, m in zip(arrays, masks)]
        try:
            product = functools.reduce(np.multiply, factors)
        except ValueError:
            raise ValueError(f"{self.name}: input shapes {[a.shape for a in arrays]} cannot be multiplied") from None
        kept = None if any(m is None for m in masks) else np.logical_or.reduce(np.broadcast_arrays(*masks))
        if kept is not None:
            product = np.where(kept, product, np.float32(0.0))
        ctx = (factors, masks, kept, [a.shape for a in arrays]) if training else None
        return product.astype(np.float32), ctx

    def backward(self, ctx, d_outputs):
        factors, masks, kept, shapes = ctx
        d_y = np.asarray(d_outputs, dtype=np.float32)
        if kept is not None:
            d_y = np.where(kept, d_y, np.float32(0.0))
        gradients = []
        for i, (m, shape) in enumerate(zip(masks, shapes)):
            gradient = functools.reduce(np.multiply, [f for j, f in enumerate(factors) if j != i], d_y)
            if m is not None:  # the input's masked entries were replaced by 1
                gradient = np.where(m, gradient, np.float32(0.0))
            gradients.append(np.ascontiguousarray(_unbroadcast(gradient, shape), dtype=np.float32))
        return gradients, []


class Maximum(Add):
    """The element-wise maximum of its inputs, taken pairwise in input order as Keras 3 does: a masked entry of
    the next input takes the running output's value and a masked entry of the running output the next input's,
    so masked steps never win over kept ones. Equal values share the gradient (half each), as PyTorch's maximum."""

    _op = staticmethod(np.maximum)

    def forward(self, inputs, *, training=False, mask=None):
        _expect_input_list(self.name, inputs)
        arrays = [float_input(self.name, x) for x in inputs]
        masks = _feature_masks(self.name, arrays, mask)
        output, output_mask, steps = arrays[0], masks[0], []
        try:
            for x, m in zip(arrays[1:], masks[1:]):
                if m is not None:
                    x = np.where(m, x, output)
                shape_before = output.shape
                if output_mask is not None:
                    output = np.where(output_mask, output, x)
                steps.append((m, output_mask, output, x, shape_before))
                output_mask = None if m is None or output_mask is None else output_mask | m
                output = self._op(output, x)
        except ValueError:
            raise ValueError(f"{self.name}: input shapes {[a.shape for a in arrays]} cannot be merged") from None
        return output.astype(np.float32), ((steps, [a.shape for a in arrays]) if training else None)

    def backward(self, ctx, d_outputs):
        steps, shapes = ctx
        zero = np.float32(0.0)
        d_output = np.asarray(d_outputs, dtype=np.float32)
        gradients = [None] * len(shapes)
        for i in range(len(steps), 0, -1):
            m, output_mask, left, right, shape_before = steps[i - 1]
            wins = left > right if self._op is np.maximum else left < right
            loses = left < right if self._op is np.maximum else left > right
            half = d_output / np.float32(2.0)
            tie = left == right
            d_left = np.where(tie, half, np.where(loses, zero, d_output))
            d_right = np.where(tie, half, np.where(wins, zero, d_output))
            if output_mask is not None:  # output = where(output_mask, output, x)
                d_right = d_right + np.where(output_mask, zero, d_left)
                d_left = np.where(output_mask, d_left, zero)
            if m is not None:  # x = where(m, x, output)
                d_left = d_left + np.where(m, zero, d_right)
                d_right = np.where(m, d_right, zero)
            gradients[i] = _unbroadcast(d_right, shapes[i])
            d_output = _unbroadcast(d_left, shape_before)
        gradients[0] = d_output
        return [np.ascontiguousarray(g, dtype=np.float32) for g in gradients], []


class Minimum(Maximum):
    """The element-wise minimum of its inputs, with Maximum's rules for masks and ties."""

    _op = staticmethod(np.minimum)


# Keras' normalize on the dot axes: x * min(1 / sqrt(sum x^2), 1 / epsilon), epsilon = Keras' backend epsilon.
_NORMALIZE_EPSILON = 1e-7


def _l2_normalized(x, axis):
    """(x scaled to unit L2 norm along axis, the scale, whether the scale was clamped to 1 / epsilon)."""
    with np.errstate(divide="ignore"):  # an all-zero slice: infinity, clamped below
        inverse_norm = np.float32(1.0) / np.sqrt(np.sum(np.square(x), axis=axis, keepdims=True, dtype=np.float32))
    clamped = ~(inverse_norm < np.float32(1.0 / _NORMALIZE_EPSILON))
    scale = np.where(clamped, np.float32(1.0 / _NORMALIZE_EPSILON), inverse_norm).astype(np.float32)
    return (x * scale).astype(np.float32), scale, clamped


class Dot(Layer):
    """Keras' batch_dot of two inputs over one axis of each (axes count the batch axis, which they may not name):
    the output has the first input's other axes, then the second's, or (batch, 1) when none are left. With
    normalize, each input is first scaled to unit L2 norm along its dot axis (cosine similarity). Masks are not
    used and the output has none, as in Keras."""

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2 or not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes):
                raise ValueError(f"{self.name}: axes must be an int or a list of two ints, received {axes!r}")
            axes = [int(a) for a in axes]
        elif isinstance(axes, bool) or not isinstance(axes, (int, np.integer)):
            raise TypeError(f"{self.name}: axes must be an int or a list of two ints, received {axes!r}")
        else:
            axes = int(axes)
        self.axes, self.normalize = axes, bool(normalize)
        self.supports_masking = True

    def _resolved_axes(self, shapes):
        if not isinstance(shapes, (list, tuple)) or len(shapes) != 2:
            raise ValueError(f"{self.name}: expected a list of exactly 2 inputs, received "
                             f"{len(shapes) if isinstance(shapes, (list, tuple)) else type(shapes).__name__}")
        pair = self.axes if isinstance(self.axes, list) else [self.axes, self.axes]
        axes = []
        for shape, axis in zip(shapes, pair):
            rank = len(shape)
            if rank < 2:
                raise ValueError(f"{self.name}: inputs need a batch axis and at least one more, received shapes "
                                 f"{[tuple(s) for s in shapes]}")
            resolved = axis % rank if axis < 0 else axis
            if not 1 <= resolved < rank:
                raise ValueError(f"{self.name}: axes {self.axes} do not name a non-batch axis of inputs of shapes "
                                 f"{[tuple(s) for s in shapes]}")
            axes.append(resolved)
        first, second = (shapes[0][axes[0]], shapes[1][axes[1]])
        if first is not None and second is not None and first != second:
            raise ValueError(f"{self.name}: sizes {first} and {second} along axes {axes} differ; input shapes "
                             f"{[tuple(s) for s in shapes]}")
        return axes

    def compute_output_shape(self, input_shape):
        axes = self._resolved_axes(input_shape)
        first = [d for i, d in enumerate(input_shape[0]) if i != axes[0]]
        second = [d for i, d in enumerate(input_shape[1]) if i not in (0, axes[1])]
        output = first + second
        return tuple(output if len(output) > 1 else output + [1])

    def forward(self, inputs, *, training=False, mask=None):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{self.name}: expected a list of exactly 2 inputs, received {type(inputs).__name__}")
        arrays = [float_input(self.name, x) for x in inputs]
        axes = self._resolved_axes([a.shape for a in arrays])
        scales = None
        if self.normalize:
            normalized = [_l2_normalized(x, axis) for x, axis in zip(arrays, axes)]
            scales = [(scale, clamped) for _, scale, clamped in normalized]
            operands = [n for n, _, _ in normalized]
        else:
            operands = arrays
        # Each operand as a matrix per sample: (batch, others, d) and (batch, d, others).
        left = np.moveaxis(operands[0], axes[0], -1)
        right = np.moveaxis(operands[1], axes[1], 1)
        batch, depth = left.shape[0], left.shape[-1]
        product = np.matmul(left.reshape(batch, -1, depth), right.reshape(batch, depth, -1))
        output_shape = (batch,) + self.compute_output_shape([a.shape for a in arrays])[1:]
        ctx = (arrays, operands, scales, axes, left.shape, right.shape) if training else None
        return product.reshape(output_shape).astype(np.float32), ctx

    def backward(self, ctx, d_outputs):
        arrays, operands, scales, axes, left_shape, right_shape = ctx
        batch, depth = left_shape[0], left_shape[-1]
        left = np.moveaxis(operands[0], axes[0], -1).reshape(batch, -1, depth)
        right = np.moveaxis(operands[1], axes[1], 1).reshape(batch, depth, -1)
        d_product = np.asarray(d_outputs, dtype=np.float32).reshape(batch, left.shape[1], right.shape[2])
        d_left = np.moveaxis((d_product @ right.transpose(0, 2, 1)).reshape(left_shape), -1, axes[0])
        d_right = np.moveaxis((left.transpose(0, 2, 1) @ d_product).reshape(right_shape), 1, axes[1])
        gradients = [d_left, d_right]
        if scales is not None:  # through x * s, s = (sum x^2)^-1/2 unless clamped
            for i, ((scale, clamped), x, axis) in enumerate(zip(scales, arrays, axes)):
                g = gradients[i]
                through_norm = np.sum(g * x, axis=axis, keepdims=True) * scale ** 3
                gradients[i] = g * scale - np.where(clamped, np.float32(0.0), through_norm) * x
        return [np.ascontiguousarray(g, dtype=np.float32) for g in gradients], []

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}



# Keras 3's functional forms: a new merge layer called on the inputs (a list of tensors or arrays).
def _merge_function(layer_class):
    def merge(inputs, **kwargs):
        return layer_class(**kwargs)(inputs)

    merge.__name__ = merge.__qualname__ = layer_class.__name__.lower()
    merge.__doc__ = f"{layer_class.__name__}(**kwargs)(inputs), as Keras' keras.layers.{merge.__name__}."
    return merge


add, subtract, average, multiply, maximum, minimum = (
    _merge_function(c) for c in (Add, Subtract, Average, Multiply, Maximum, Minimum))


def concatenate(inputs, axis=-1, **kwargs):
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    return Dot(axes=axes, **kwargs)(inputs)
