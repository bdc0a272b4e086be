"""Operations that move, copy or mask elements: rnnkit.ops' flip, roll, tile, repeat, broadcast_to, pad, split, tril
and triu, as Keras' classes of the same names (numpy's semantics). Each element of the output is an element of the
input (or a constant: pad's fill, tril's and triu's zeros), so the gradient adds each output's back to the element
it came from."""
import math

import numpy as np

from rnnkit.layers.merging import _unbroadcast
from rnnkit.layers.operations import Operation, checked_axes
from rnnkit.layers.operations_shape import _axes


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _ints(operation, key, value, several=True):
    """A config's integer (or list of integers) as Keras writes it, tuples as lists."""
    if _is_int(value):
        return int(value)
    if several and isinstance(value, (list, tuple)) and all(_is_int(v) for v in value):
        return [int(v) for v in value]
    raise ValueError(f"{operation}: expected {key} to be an integer{' or a list of integers' if several else ''}, "
                     f"received {value!r}")


class _Arrangement(Operation):
    """One tensor in, its elements rearranged: the dtype stays."""

    def output_dtype(self, input_dtypes):
        return input_dtypes[0]


class Flip(_Arrangement):
    def __init__(self, axis=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.axis = checked_axes("Flip", "axis", axis)

    def output_shape(self, values):
        _axes(self.name, self.axis, len(values[0]))
        return tuple(values[0])

    def forward(self, inputs, *, training=False, mask=None):
        (x,) = self._values(inputs)
        return np.flip(x, _axes(self.name, self.axis, np.ndim(x))).copy(), None

    def backward(self, ctx, d_outputs):
        d_y = np.asarray(d_outputs, np.float32)
        return [np.flip(d_y, _axes(self.name, self.axis, d_y.ndim)).copy()], []

    def get_config(self):
        return {"name": self.name, "axis": self.axis}


class Roll(_Arrangement):
    """numpy's roll: a shift (one per axis, or one for all) along axes; without an axis, of the flattened tensor."""

    def __init__(self, shift, axis=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.shift = _ints("Roll", "shift", shift)
        self.axis = checked_axes("Roll", "axis", axis)
        if isinstance(self.shift, list) and not (isinstance(self.axis, list) and len(self.axis) == len(self.shift)):
            raise ValueError(f"Roll: expected one shift per axis, received shift={shift!r} and axis={axis!r}")

    def output_shape(self, values):
        if self.axis is not None:
            _axes(self.name, self.axis, len(values[0]))
        return tuple(values[0])

    def forward(self, inputs, *, training=False, mask=None):
        (x,) = self._values(inputs)
        return np.roll(x, self.shift, self.axis), None

    def backward(self, ctx, d_outputs):
        back = [-s for s in self.shift] if isinstance(self.shift, list) else -self.shift
        return [np.roll(np.asarray(d_outputs, np.float32), back, self.axis)], []

    def get_config(self):
        return {"name": self.name, "shift": self.shift, "axis": self.axis}


class Tile(_Arrangement):
    """numpy's tile: more repeats than axes add leading axes, fewer repeat the last axes."""

    def __init__(self, repeats, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.repeats = _ints("Tile", "repeats", repeats)
        if min(self._repeat_list()) < 0:
            raise ValueError(f"Tile: expected repeats >= 0, received {repeats!r}")

    def _repeat_list(self):
        return self.repeats if isinstance(self.repeats, list) else [self.repeats]

    def _aligned(self, shape):
        """The shape and the repeats padded with leading 1s to the same length."""
        repeats, shape = self._repeat_list(), list(shape)
        rank = max(len(repeats), len(shape))
        return [1] * (rank - len(shape)) + shape, [1] * (rank - len(repeats)) + repeats

    def output_shape(self, values):
        shape, repeats = self._aligned(values[0])
        return tuple(None if size is None else size * r for size, r in zip(shape, repeats))

    def forward(self, inputs, *, training=False, mask=None):
        (x,) = self._values(inputs)
        return np.tile(x, self.repeats), (np.shape(x) if training else None)

    def backward(self, ctx, d_outputs):
        shape, repeats = self._aligned(ctx)
        # Each axis of the output as (repeat, position): summing over the repeats gives each element's gradient.
        split = np.reshape(np.asarray(d_outputs, np.float32), [n for pair in zip(repeats, shape) for n in pair])
        return [np.sum(split, axis=tuple(range(0, 2 * len(shape), 2))).reshape(ctx)], []

    def get_config(self):
        return {"name": self.name, "repeats": self.repeats}


class Repeat(_Arrangement):
    """numpy's repeat: each element `repeats` times (one count, or one per element) along an axis; without one,
    of the flattened tensor."""

    def __init__(self, repeats, axis=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.repeats = _ints("Repeat", "repeats", repeats)
        self.axis = checked_axes("Repeat", "axis", axis, several=False)
        counts = self.repeats if isinstance(self.repeats, list) else [self.repeats]
        if min(counts, default=0) < 0:
            raise ValueError(f"Repeat: expected repeats >= 0, received {repeats!r}")

    def output_shape(self, values):
        shape = list(values[0])
        axis = 0 if self.axis is None else _axes(self.name, self.axis, len(shape))[0]
        if self.axis is None:
            shape = [None if None in shape else math.prod(shape)]
        if isinstance(self.repeats, list) and len(self.repeats) != 1 and shape[axis] not in (None,
                                                                                            len(self.repeats)):
            raise ValueError(f"{self.name}: {len(self.repeats)} repeats for an axis of size {shape[axis]}")
        if shape[axis] is not None:
            counts = self.repeats if isinstance(self.repeats, list) else [self.repeats]
            shape[axis] = shape[axis] * counts[0] if len(counts) == 1 else sum(counts)
        return tuple(shape)

    def forward(self, inputs, *, training=False, mask=None):
        (x,) = self._values(inputs)
        try:
            y = np.repeat(x, self.repeats, axis=self.axis)
        except ValueError as error:
            raise ValueError(f"{self.name}: {error}") from None
        return y, (np.shape(x) if training else None)

    def backward(self, ctx, d_outputs):
        d_y = np.asarray(d_outputs, np.float32)
        axis = 0 if self.axis is None else self.axis % len(ctx)
        size = math.prod(ctx) if self.axis is None else ctx[axis]
        sources = np.repeat(np.arange(size), self.repeats)  # the element each output position copies
        d_x = np.zeros((size,) + (() if self.axis is None else tuple(np.delete(ctx, axis))), np.float32)
        np.add.at(d_x, sources, np.moveaxis(d_y, axis, 0))
        return [np.moveaxis(d_x, 0, axis).reshape(ctx)], []

    def get_config(self):
        return {"name": self.name, "repeats": self.repeats, "axis": self.axis}


class BroadcastTo(_Arrangement):
    """numpy's broadcast_to a fixed shape (the batch axis included)."""

    def __init__(self, shape, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.shape = checked_axes("BroadcastTo", "shape", [shape] if _is_int(shape) else shape, optional=False)

    def output_shape(self, values):
        (shape,) = values
        if len(shape) > len(self.shape) or any(
                size not in (None, 1, target) for size, target in zip(shape[::-1], self.shape[::-1])):
            raise ValueError(f"{self.name}: cannot broadcast shape {tuple(shape)} to {tuple(self.shape)}")
        return tuple(self.shape)

    def forward(self, inputs, *, training=False, mask=None):
        (x,) = self._values(inputs)
        try:
            y = np.array(np.broadcast_to(x, self.shape))
        except ValueError:
            raise ValueError(f"{self.name}: cannot broadcast an array of shape {np.shape(x)} to "
                             f"{tuple(self.shape)}") from None
        return y, (np.shape(x) if training else None)

    def backward(self, ctx, d_outputs):
        return [np.array(_unbroadcast(np.asarray(d_outputs, np.float32), ctx), np.float32)], []

    def get_config(self):
        return {"name": self.name, "shape": list(self.shape)}


class Pad(_Arrangement):
    """numpy's pad: pad_width an int, one (before, after) pair for every axis or a pair per axis; modes that copy
    elements ("constant" with the node's constant_values, default 0, "edge", "reflect", "symmetric", "wrap").
    constant_values is the node's second argument: Keras reads it there, and writes it as a call keyword."""

    MODES = ("constant", "edge", "reflect", "symmetric", "wrap")
    keyword_operands = ("constant_values",)  # where Keras' configs write it (rnnkit.models.functional)

    def __init__(self, pad_width, mode="constant", name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if mode not in self.MODES:
            raise ValueError(f"Pad: rnnkit pads in the modes {self.MODES}, received mode={mode!r}")
        self.pad_width = self._checked_width(pad_width)
        self.mode = mode

    @staticmethod
    def _checked_width(pad_width):
        def pair(value):
            return isinstance(value, (list, tuple)) and len(value) in (1, 2) and all(
                _is_int(v) and v >= 0 for v in value)

        if (_is_int(pad_width) and pad_width >= 0) or pair(pad_width) or (
                isinstance(pad_width, (list, tuple)) and pad_width and all(pair(p) for p in pad_width)):
            return int(pad_width) if _is_int(pad_width) else [
                [int(v) for v in p] if isinstance(p, (list, tuple)) else int(p) for p in pad_width]
        raise ValueError(f"Pad: expected pad_width to be an integer >= 0, a pair of them or one pair per axis, "
                         f"received {pad_width!r}")

    def _widths(self, rank):
        """((before, after), ...) for each of `rank` axes."""
        width = self.pad_width
        if _is_int(width) or _is_int(width[0]):  # the same padding on every axis
            pairs = [[width, width]] if _is_int(width) else [width]
        else:
            pairs = width
        pairs = [(p[0], p[-1]) for p in pairs]
        if len(pairs) == 1:
            pairs = pairs * rank
        if len(pairs) != rank:
            raise ValueError(f"{self.name}: pad_width {self.pad_width!r} has {len(pairs)} pairs for a tensor of "
                             f"rank {rank}")
        return pairs

    def _check_constant(self, value):
        if self.mode != "constant":
            raise ValueError(f"{self.name}: constant_values is for mode 'constant', not {self.mode!r}")
        return super()._check_constant(value)

    def output_shape(self, values):
        shape = values[0]
        return tuple(None if size is None else size + before + after
                     for size, (before, after) in zip(shape, self._widths(len(shape))))

    def forward(self, inputs, *, training=False, mask=None):
        x, *fill = self._values(inputs)
        x = np.asarray(x)
        # Which element of x each output position copies (-1: the fill), so the gradient goes back the same way.
        sources = np.arange(x.size).reshape(x.shape)
        widths = self._widths(x.ndim)
        try:
            sources = (np.pad(sources, widths, constant_values=-1) if self.mode == "constant"
                       else np.pad(sources, widths, mode=self.mode))
        except ValueError as error:
            raise ValueError(f"{self.name}: cannot pad an array of shape {x.shape}: {error}") from None
        y = np.where(sources >= 0, x.reshape(-1)[sources], fill[0] if fill else 0).astype(x.dtype)
        return y, ((x.shape, sources) if training else None)

    def backward(self, ctx, d_outputs):
        shape, sources = ctx
        d_x = np.zeros(math.prod(shape), np.float32)
        copied = sources >= 0
        np.add.at(d_x, sources[copied], np.asarray(d_outputs, np.float32)[copied])
        return [d_x.reshape(shape)] + [None] * (len(self._tensor_positions) - 1), []

    def get_config(self):
        return {"name": self.name, "pad_width": self.pad_width, "mode": self.mode}


class Split(_Arrangement):
    """numpy's split into equal sections (an int) or at indices, along `axis` (0 by default, as Keras): several
    outputs."""

    def __init__(self, indices_or_sections, axis=0, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.indices_or_sections = _ints("Split", "indices_or_sections", indices_or_sections)
        self.axis = checked_axes("Split", "axis", axis, several=False, optional=False)
        if _is_int(self.indices_or_sections) and self.indices_or_sections < 1:
            raise ValueError(f"Split: expected at least one section, received {indices_or_sections!r}")

    def output_shape(self, values):
        shape = list(values[0])
        axis = _axes(self.name, self.axis, len(shape))[0]
        size, sections = shape[axis], self.indices_or_sections
        if _is_int(sections):
            if size is not None and size % sections:
                raise ValueError(f"{self.name}: an axis of size {size} does not split into {sections} equal "
                                 "sections")
            sizes = [None if size is None else size // sections] * sections
        else:
            bounds = [0] + sections + [size]
            # An unknown axis leaves the last piece unknown (the others too, were an index negative), as in Keras.
            sizes = [len(range(size)[start:stop]) if size is not None else
                     (stop - start if stop is not None and min(start, stop) >= 0 else None)
                     for start, stop in zip(bounds[:-1], bounds[1:])]
        return [tuple(shape[:axis] + [piece] + shape[axis + 1:]) for piece in sizes]

    def output_dtype(self, input_dtypes):
        return [input_dtypes[0]] * (self.indices_or_sections if _is_int(self.indices_or_sections)
                                    else len(self.indices_or_sections) + 1)

    def forward(self, inputs, *, training=False, mask=None):
        (x,) = self._values(inputs)
        try:
            pieces = np.split(np.asarray(x), self.indices_or_sections, axis=self.axis)
        except ValueError as error:
            raise ValueError(f"{self.name}: {error}") from None
        return [np.ascontiguousarray(piece) for piece in pieces], ([p.shape for p in pieces] if training else None)

    def backward(self, ctx, d_outputs):
        # A piece nothing read has no gradient (None): zeros of its shape.
        parts = [np.zeros(shape, np.float32) if d is None else np.asarray(d, np.float32)
                 for shape, d in zip(ctx, d_outputs)]
        return [np.concatenate(parts, axis=self.axis)], []

    def get_config(self):
        return {"name": self.name, "indices_or_sections": self.indices_or_sections, "axis": self.axis}


class _Triangle(_Arrangement):
    """tril / triu: the last two axes' lower / upper triangle from diagonal k, zeros elsewhere."""

    def __init__(self, k=0, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.k = _ints(type(self).__name__, "k", k, several=False)

    def output_shape(self, values):
        if len(values[0]) < 2:
            raise ValueError(f"{self.name}: expected a tensor of rank 2 or more, received shape {tuple(values[0])}")
        return tuple(values[0])

    def forward(self, inputs, *, training=False, mask=None):
        (x,) = self._values(inputs)
        return self.keep(np.asarray(x), self.k), None

    def backward(self, ctx, d_outputs):
        return [self.keep(np.asarray(d_outputs, np.float32), self.k)], []

    def get_config(self):
        return {"name": self.name, "k": self.k}


class Tril(_Triangle):
    keep = staticmethod(np.tril)


class Triu(_Triangle):
    keep = staticmethod(np.triu)


OPERATIONS = {cls.__name__: cls for cls in (Flip, Roll, Tile, Repeat, BroadcastTo, Pad, Split, Tril, Triu)}
