"""Keras 3's InputSpec: what a layer accepts (rank, sizes along some axes, dtype), set as `layer.input_spec`
(typically in a custom layer's __init__ or build) and checked whenever the layer is called, on arrays and on a
functional model's symbolic tensors alike, with Keras' messages."""


class InputSpec:
    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None, axes=None,
                 allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype = None if dtype is None else str(dtype)
        self.shape = None if shape is None else tuple(None if size is None else int(size) for size in shape)
        self.ndim = len(self.shape) if self.shape is not None else ndim
        self.max_ndim, self.min_ndim = max_ndim, min_ndim
        self.name, self.optional = name, optional
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        try:
            self.axes = {int(axis): size for axis, size in (axes or {}).items()}
        except (AttributeError, TypeError, ValueError) as error:
            raise TypeError(f"InputSpec: axes must be a dict with integer keys, received axes={axes!r}") from error
        highest = self.ndim if self.ndim is not None else self.max_ndim
        if self.axes and highest is not None and max(self.axes) >= highest:
            raise ValueError(f"InputSpec: axis {max(self.axes)} is beyond the rank {highest} it also asks for")

    def __repr__(self):
        parts = [f"{key}={getattr(self, key)}" for key in ("dtype", "shape", "ndim", "max_ndim", "min_ndim", "axes")
                 if getattr(self, key)]
        return f"InputSpec({', '.join(parts)})"

    def get_config(self):
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim, "max_ndim": self.max_ndim,
                "min_ndim": self.min_ndim, "axes": self.axes}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def check_inputs(layer, inputs):
    """Raises Keras' ValueError where `inputs` (one or a list of arrays or symbolic tensors) do not fit
    `layer.input_spec`."""
    specs = layer.input_spec if isinstance(layer.input_spec, (list, tuple)) else [layer.input_spec]
    given = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if len(specs) > 1 and len(given) != len(specs):
        raise ValueError(f'Layer "{layer.name}" expects {len(specs)} input(s), but it received {len(given)} input '
                         "tensors.")
    for index, (spec, x) in enumerate(zip(specs, given)):
        if spec is None or (x is None and spec.optional):
            continue
        shape, dtype = tuple(x.shape), getattr(x, "dtype", None)
        ndim = len(shape)

        def incompatible(detail):
            return ValueError(f"Input {index} with name '{spec.name}' of layer '{layer.name}' is incompatible with "
                              f"the layer: {detail}")

        squeezed = spec.allow_last_axis_squeeze and spec.ndim is not None and ndim in (spec.ndim - 1, spec.ndim + 1)
        if spec.ndim is not None and ndim != spec.ndim and not squeezed:
            raise incompatible(f"expected ndim={spec.ndim}, found ndim={ndim}. Full shape received: {shape}")
        if spec.max_ndim is not None and ndim > spec.max_ndim:
            raise incompatible(f"expected max_ndim={spec.max_ndim}, found ndim={ndim}")
        if spec.min_ndim is not None and ndim < spec.min_ndim:
            raise incompatible(f"expected min_ndim={spec.min_ndim}, found ndim={ndim}. Full shape received: {shape}")
        if spec.dtype is not None and dtype is not None and str(dtype) != spec.dtype:
            raise incompatible(f"expected dtype={spec.dtype}, found dtype={dtype}")
        for axis, size in spec.axes.items():
            if size is not None and -ndim <= axis < ndim and shape[axis] not in (size, None):
                raise incompatible(f"expected axis {axis} of input shape to have value {size}, but received input "
                                   f"with shape {shape}")
        if spec.shape is not None and ndim == len(spec.shape):
            if any(want is not None and got is not None and want != got for want, got in zip(spec.shape, shape)):
                raise incompatible(f"expected shape={spec.shape}, found shape={shape}")
