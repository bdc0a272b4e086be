"""Operations on the shape of a tensor: x[key] (GetItem), and rnnkit.ops' mean, sum, max, min (over axes, with
keepdims), expand_dims, squeeze, transpose and concatenate, as Keras' classes of the same names. max and min share
the gradient evenly among tied maxima (torch.amax's rule, Keras on torch)."""
import numpy as np

from rnnkit.layers.operations import Operation, checked_axes, serialize_constant


def _axes(name, axis, rank):
    """`axis` (None, an int or a sequence) as sorted non-negative axes of a tensor of `rank` axes."""
    axes = range(rank) if axis is None else ([axis] if isinstance(axis, int) else list(axis))
    normalised = sorted({a % rank if -rank <= a < rank else -1 for a in axes}) if rank else []
    if -1 in normalised or (rank == 0 and axis not in (None, [], ())):
        raise ValueError(f"{name}: axis {axis!r} is out of range for a tensor of rank {rank}")
    return tuple(normalised)


class GetItem(Operation):
    """``x[key]`` with integers, slices, None (a new axis) and one Ellipsis, as numpy's basic indexing."""

    def _check_constant(self, key):
        items = key if isinstance(key, (tuple, list)) else (key,)
        for item in items:
            if not (item is None or item is Ellipsis or isinstance(item, slice)
                    or (isinstance(item, int) and not isinstance(item, bool))):
                raise TypeError(f"{self.name}: expected an index of integers, slices, None and Ellipsis, received "
                                f"{key!r}")
            if isinstance(item, slice) and not all(
                    v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in (item.start, item.stop,
                                                                                          item.step)):
                raise TypeError(f"{self.name}: expected slices of integers, received {item!r}")
            if isinstance(item, slice) and item.step == 0:
                raise ValueError(f"{self.name}: slice step cannot be zero, received {key!r}")
        if sum(item is Ellipsis for item in items) > 1:
            raise ValueError(f"{self.name}: an index may hold one Ellipsis, received {key!r}")
        return tuple(key) if isinstance(key, list) else key

    def node_arguments(self, tensor_refs):
        # Keras' GetItem takes an integer or a list as its key: a lone slice, None or Ellipsis goes in a list.
        key = self._arguments[1]
        key = list(key) if isinstance(key, tuple) else (key if isinstance(key, int) else [key])
        return [tensor_refs[0], [serialize_constant(item) for item in key] if isinstance(key, list) else key]

    def output_shape(self, values):
        shape, key = values
        items = list(key) if isinstance(key, tuple) else [key]
        if Ellipsis not in items:
            items.append(Ellipsis)
        consumed = sum(item is not None and item is not Ellipsis for item in items)
        if consumed > len(shape):
            raise ValueError(f"{self.name}: an index of {consumed} axes for a tensor of shape {tuple(shape)}")
        remaining, output = list(shape), []
        for item in items:
            if item is Ellipsis:
                span = len(remaining) - sum(i is not None and i is not Ellipsis for i in items[items.index(item) + 1:])
                output += remaining[:span]
                remaining = remaining[span:]
            elif item is None:
                output.append(1)
            else:
                size = remaining.pop(0)
                if isinstance(item, slice):
                    output.append(None if size is None else len(range(*item.indices(size))))
                elif size is not None and not -size <= item < size:
                    raise ValueError(f"{self.name}: index {item} is out of range for an axis of size {size} "
                                     f"(tensor shape {tuple(shape)})")
        return tuple(output)

    def forward(self, inputs, *, training=False, mask=None):
        x, key = self._values(inputs)
        x = np.asarray(x)
        try:
            y = x[key]
        except IndexError as error:
            raise ValueError(f"{self.name}: cannot index an array of shape {x.shape} with {key!r}: {error}") from None
        # reshape: ascontiguousarray alone makes a 0-d result (x[0] of a vector) 1-d.
        return np.ascontiguousarray(y).reshape(np.shape(y)), (x.shape if training else None)

    def backward(self, ctx, d_outputs):
        d_x = np.zeros(ctx, np.float32)
        d_x[self._arguments[1]] = d_outputs  # basic indexing: each element of x at most once
        return [d_x], []


class _Reduction(Operation):
    def __init__(self, axis=None, keepdims=False, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.axis = checked_axes(type(self).__name__, "axis", axis)
        self.keepdims = bool(keepdims)

    def output_dtype(self, input_dtypes):
        return "float32" if self.float_output else input_dtypes[0]

    def output_shape(self, values):
        (shape,) = values
        axes = _axes(self.name, self.axis, len(shape))
        if self.keepdims:
            return tuple(1 if i in axes else size for i, size in enumerate(shape))
        return tuple(size for i, size in enumerate(shape) if i not in axes)

    def forward(self, inputs, *, training=False, mask=None):
        (x,) = self._values(inputs)
        axes = _axes(self.name, self.axis, np.ndim(x))
        if any(np.shape(x)[a] == 0 for a in axes) and self.needs_elements:
            raise ValueError(f"{self.name}: cannot reduce an empty axis of a tensor of shape {np.shape(x)}")
        y = self.reduce(np.asarray(x), axes)
        y = y.astype(np.float32, copy=False) if y.dtype.kind == "f" or self.float_output else y
        return (y if self.keepdims else np.squeeze(y, axes)), ((x, y, axes) if training else None)

    def backward(self, ctx, d_outputs):
        x, y, axes = ctx
        d_y = np.expand_dims(np.asarray(d_outputs, np.float32), axes) if not self.keepdims else d_outputs
        return [np.ascontiguousarray(np.broadcast_to(self.spread(d_y, x, y, axes), np.shape(x)), np.float32)], []

    def get_config(self):
        return {"name": self.name, "axis": self.axis, "keepdims": self.keepdims}


class Mean(_Reduction):
    float_output, needs_elements = True, False

    @staticmethod
    def reduce(x, axes):
        return np.mean(x, axis=axes, keepdims=True, dtype=np.float64)

    @staticmethod
    def spread(d_y, x, y, axes):
        return d_y / max(1, int(np.prod([np.shape(x)[a] for a in axes])))


class Sum(_Reduction):
    float_output, needs_elements = False, False

    @staticmethod
    def reduce(x, axes):
        return np.sum(x, axis=axes, keepdims=True)

    @staticmethod
    def spread(d_y, x, y, axes):
        return d_y


class _Extreme(_Reduction):
    float_output, needs_elements = False, True

    def __init__(self, axis=None, keepdims=False, initial=None, name=None, **kwargs):
        if initial is not None:
            raise ValueError(f"{type(self).__name__}: initial= is not supported by rnnkit, received {initial!r}")
        super().__init__(axis=axis, keepdims=keepdims, name=name, **kwargs)

    def spread(self, d_y, x, y, axes):
        winners = np.asarray(x) == y
        return d_y * winners / np.sum(winners, axis=axes, keepdims=True)

    def get_config(self):
        return {**super().get_config(), "initial": None}


class Max(_Extreme):
    reduce = staticmethod(lambda x, axes: np.max(x, axis=axes, keepdims=True))


class Min(_Extreme):
    reduce = staticmethod(lambda x, axes: np.min(x, axis=axes, keepdims=True))


class _Reshaping(Operation):
    """An operation that only reshapes: its forward keeps the input's shape as ctx, its backward reshapes back."""

    def output_dtype(self, input_dtypes):
        return input_dtypes[0]

    def backward(self, ctx, d_outputs):
        return [np.reshape(np.asarray(d_outputs, np.float32), ctx)], []


class ExpandDims(_Reshaping):
    def __init__(self, axis, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.axis = checked_axes("ExpandDims", "axis", axis, several=False, optional=False)

    def _axis(self, rank):
        if not -rank - 1 <= self.axis <= rank:
            raise ValueError(f"{self.name}: axis {self.axis} is out of range for a tensor of rank {rank}")
        return self.axis % (rank + 1)

    def output_shape(self, values):
        (shape,) = values
        axis = self._axis(len(shape))
        return tuple(shape[:axis]) + (1,) + tuple(shape[axis:])

    def forward(self, inputs, *, training=False, mask=None):
        (x,) = self._values(inputs)
        return np.expand_dims(x, self._axis(np.ndim(x))), (np.shape(x) if training else None)

    def get_config(self):
        return {"name": self.name, "axis": self.axis}


class Squeeze(_Reshaping):
    def __init__(self, axis=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.axis = checked_axes("Squeeze", "axis", axis)
        self._squeezed = None  # with axis None: the axes of size 1 in the symbolic shape

    def output_shape(self, values):
        (shape,) = values
        if self.axis is None:
            # Known to be 1 when the graph was written: a batch (or other unknown axis) of 1 at run time stays.
            self._squeezed = tuple(i for i, size in enumerate(shape) if size == 1)
            return tuple(size for size in shape if size != 1)
        axes = _axes(self.name, self.axis, len(shape))
        for a in axes:
            if shape[a] not in (1, None):
                raise ValueError(f"{self.name}: cannot squeeze axis {a} of size {shape[a]} (shape {tuple(shape)})")
        return tuple(size for i, size in enumerate(shape) if i not in axes)

    def forward(self, inputs, *, training=False, mask=None):
        (x,) = self._values(inputs)
        axes = _axes(self.name, self.axis, np.ndim(x)) if self.axis is not None else self._squeezed
        try:
            y = np.squeeze(x, axes)
        except ValueError:
            raise ValueError(f"{self.name}: cannot squeeze axes {axes} of a tensor of shape {np.shape(x)}") from None
        return y, (np.shape(x) if training else None)

    def get_config(self):
        return {"name": self.name, "axis": self.axis}


class Transpose(Operation):
    def __init__(self, axes=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.axes = checked_axes("Transpose", "axes", [axes] if isinstance(axes, int) else axes)

    def output_dtype(self, input_dtypes):
        return input_dtypes[0]

    def _order(self, rank):
        order = list(range(rank))[::-1] if self.axes is None else [a % rank if -rank <= a < rank else -1
                                                                     for a in self.axes]
        if sorted(order) != list(range(rank)):
            raise ValueError(f"{self.name}: axes {self.axes} are not a permutation of the {rank} axes of the tensor")
        return order

    def output_shape(self, values):
        (shape,) = values
        return tuple(shape[a] for a in self._order(len(shape)))

    def forward(self, inputs, *, training=False, mask=None):
        (x,) = self._values(inputs)
        order = self._order(np.ndim(x))
        return np.ascontiguousarray(np.transpose(x, order)), (order if training else None)

    def backward(self, ctx, d_outputs):
        return [np.ascontiguousarray(np.transpose(np.asarray(d_outputs, np.float32), np.argsort(ctx)))], []

    def get_config(self):
        return {"name": self.name, "axes": self.axes}


class Moveaxis(Transpose):
    """numpy's moveaxis: the `source` axes moved to `destination`, the others kept in order."""

    def __init__(self, source, destination, name=None, **kwargs):
        Operation.__init__(self, name=name, **kwargs)
        self.source, self.destination = source, destination
        self._source = checked_axes("Moveaxis", "source", [source] if isinstance(source, int) else source)
        self._destination = checked_axes("Moveaxis", "destination",
                                         [destination] if isinstance(destination, int) else destination)
        if len(self._source) != len(self._destination):
            raise ValueError(f"{self.name}: source {source} and destination {destination} must name as many axes")

    def _order(self, rank):
        source = [a % rank if -rank <= a < rank else -1 for a in self._source]
        destination = [a % rank if -rank <= a < rank else -1 for a in self._destination]
        if -1 in source + destination or len(set(source)) < len(source) or len(set(destination)) < len(source):
            raise ValueError(f"{self.name}: source {self.source} and destination {self.destination} must be "
                             f"distinct axes of a tensor of rank {rank}")
        order = [axis for axis in range(rank) if axis not in source]
        for to, axis in sorted(zip(destination, source)):
            order.insert(to, axis)
        return order

    def get_config(self):
        return {"name": self.name, "source": self.source, "destination": self.destination}


class Swapaxes(Transpose):
    def __init__(self, axis1, axis2, name=None, **kwargs):
        Operation.__init__(self, name=name, **kwargs)
        self.axis1, self.axis2 = int(axis1), int(axis2)

    def _order(self, rank):
        if not (-rank <= self.axis1 < rank and -rank <= self.axis2 < rank):
            raise ValueError(f"{self.name}: axes {self.axis1} and {self.axis2} are not both axes of a tensor of rank "
                             f"{rank}")
        order = list(range(rank))
        order[self.axis1], order[self.axis2] = order[self.axis2], order[self.axis1]
        return order

    def get_config(self):
        return {"name": self.name, "axis1": self.axis1, "axis2": self.axis2}


class Concatenate(Operation):
    """ops.concatenate(xs, axis=0): note Keras' default axis, the batch axis."""

    def __init__(self, axis=0, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.axis = checked_axes("Concatenate", "axis", axis, several=False, optional=False)

    def _check_constant(self, value):
        raise TypeError(f"{self.name}: expected a list of tensors to concatenate, received {value!r}")

    def output_shape(self, values):
        (shapes,) = values
        rank = len(shapes[0])
        if any(len(shape) != rank for shape in shapes) or not -rank <= self.axis < rank:
            raise ValueError(f"{self.name}: cannot concatenate shapes {[tuple(s) for s in shapes]} on axis {self.axis}")
        axis = self.axis % rank
        output = []
        for i in range(rank):
            sizes = [shape[i] for shape in shapes]
            if i == axis:
                output.append(None if None in sizes else sum(sizes))
            else:
                known = {size for size in sizes if size is not None}
                if len(known) > 1:
                    raise ValueError(f"{self.name}: shapes {[tuple(s) for s in shapes]} differ off axis {self.axis}")
                output.append(known.pop() if known else None)
        return tuple(output)

    def forward(self, inputs, *, training=False, mask=None):
        (xs,) = self._values(inputs)
        try:
            y = np.concatenate(xs, axis=self.axis)
        except ValueError as error:
            raise ValueError(f"{self.name}: {error}") from None
        return y, ([np.shape(x)[self.axis] for x in xs] if training else None)

    def backward(self, ctx, d_outputs):
        parts = np.split(np.asarray(d_outputs, np.float32), np.cumsum(ctx)[:-1], axis=self.axis)
        return [np.ascontiguousarray(part) for part in parts], []

    def get_config(self):
        return {"name": self.name, "axis": self.axis}


OPERATIONS = {cls.__name__: cls for cls in (GetItem, Mean, Sum, Max, Min, ExpandDims, Squeeze, Transpose, Moveaxis,
                                            Swapaxes, Concatenate)}
