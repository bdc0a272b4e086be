"""Rounding and integer division, element-wise with numpy's broadcasting: rnnkit.ops' sign, floor, ceil, round,
floor_divide and mod (Keras' Sign, Floor, Ceil, Round, FloorDivide and Mod). Their values move in steps: Keras on
torch passes a zero gradient through sign, floor, ceil and round and none through floor_divide (PyTorch defines no
derivative for it), so none of them passes a gradient here; mod passes dL/dy to x1 and -floor(x1 / x2) dL/dy to x2,
as torch.remainder does."""
import numpy as np

from rnnkit.layers.operations_elementwise import _Elementwise


class _Step(_Elementwise):
    def backward(self, ctx, d_outputs):
        return [None] * len(self._tensor_positions), []


class Sign(_Step):
    def output_dtype(self, input_dtypes):
        return input_dtypes[0]

    compute = staticmethod(np.sign)


class _ToFloat(_Step):
    """floor and ceil of integers are floats, as Keras types them (numpy 2 keeps them integers)."""

    def output_dtype(self, input_dtypes):
        return "float32"

    def compute(self, a):
        return self.step(np.asarray(a, np.float32))


class Floor(_ToFloat):
    step = staticmethod(np.floor)


class Ceil(_ToFloat):
    step = staticmethod(np.ceil)


class Round(_Step):
    """Half to even, at `decimals` places (negative: tens, hundreds...), integers staying integers."""

    def __init__(self, decimals=0, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if isinstance(decimals, bool) or not isinstance(decimals, int):
            raise ValueError(f"Round: expected decimals to be an integer, received {decimals!r}")
        self.decimals = decimals

    def output_dtype(self, input_dtypes):
        return input_dtypes[0]

    def compute(self, a):
        return np.round(a, self.decimals)

    def get_config(self):
        return {"name": self.name, "decimals": self.decimals}


class FloorDivide(_Step):
    compute = staticmethod(np.floor_divide)


class Mod(_Elementwise):
    """numpy's and torch's mod: the remainder takes the divisor's sign."""

    def output_dtype(self, input_dtypes):
        dtype = super().output_dtype(input_dtypes)
        return "int32" if dtype == "bool" else dtype

    @staticmethod
    def compute(a, b):
        a, b = (np.asarray(v).astype(np.int32) if np.asarray(v).dtype == bool else v for v in (a, b))
        return np.mod(a, b)

    @staticmethod
    def gradients(d_y, y, a, b):
        return d_y, -d_y * np.floor_divide(a, b)


OPERATIONS = {cls.__name__: cls for cls in (Sign, Floor, Ceil, Round, FloorDivide, Mod)}
