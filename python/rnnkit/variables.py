"""Variables: named float32 arrays owned by layers and updated in place by optimizers."""
import numpy as np


class Variable:
    """A layer weight. ``value`` is a C-contiguous float32 numpy array that optimizers update in place.

    ``path`` is Keras 3's ``"<layer name>/<weight name>"``.
    """

    def __init__(self, value, name, path=None, trainable=True, regularizer=None, constraint=None):
        # np.require keeps 0-d weights 0-d (ascontiguousarray would make them shape (1,)).
        self.value = np.require(np.asarray(value, dtype=np.float32), requirements=["C", "W", "O"])
        self.name = name
        self.path = path or name
        self.trainable = trainable
        self.regularizer = regularizer  # rnnkit.regularizers: its penalty joins the training loss
        self.constraint = constraint  # rnnkit.constraints: applied to the value after each optimizer step

    @property
    def shape(self):
        return self.value.shape

    @property
    def dtype(self):
        return "float32"

    def numpy(self):
        return self.value.copy()

    def assign(self, value):
        value = np.asarray(value, dtype=np.float32)
        if value.shape != self.value.shape:
            raise ValueError(
                f"Variable '{self.path}' has shape {self.value.shape}; received a value of shape {value.shape}"
            )
        self.value[...] = value

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self.shape}, dtype=float32>"

    # As Keras' variables: arithmetic on a Variable is the rnnkit.ops operation, which inside a traced call() is a
    # node reading the Variable and outside one computes on its value. numpy defers to these (array * variable).
    __array_ufunc__ = None

    def __array__(self, dtype=None, copy=None):
        return self.value if dtype is None else self.value.astype(dtype)

    def __getitem__(self, key):
        from rnnkit.layers import operations

        return operations.call("GetItem", self, key)

    def __neg__(self):
        from rnnkit.layers import operation_functions

        return operation_functions.negative(self)


def _binary_operator(function_name, reflected):
    def apply(self, other):
        from rnnkit.layers import operation_functions

        function = getattr(operation_functions, function_name)
        return function(other, self) if reflected else function(self, other)

    return apply


for _name, _function in (("add", "add"), ("sub", "subtract"), ("mul", "multiply"), ("truediv", "true_divide"),
                         ("floordiv", "floor_divide"), ("mod", "mod"), ("pow", "power"), ("matmul", "matmul")):
    setattr(Variable, f"__{_name}__", _binary_operator(_function, reflected=False))
    setattr(Variable, f"__r{_name}__", _binary_operator(_function, reflected=True))
