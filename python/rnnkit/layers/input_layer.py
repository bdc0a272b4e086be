"""Symbolic tensors and graph nodes: ``Input`` makes a KerasTensor, layers called on KerasTensors add Nodes."""
from rnnkit.layers import operation_functions as functions, operations
from rnnkit.layers.layer import Layer


class Node:
    """One call of ``layer`` on symbolic ``inputs`` (a KerasTensor or a list) producing ``outputs``."""

    def __init__(self, layer, inputs, outputs, call_kwargs=None):
        self.layer = layer
        self.inputs = inputs
        self.outputs = outputs
        self.call_kwargs = dict(call_kwargs or {})
        # Whether the layer computes with its inputs' mask. Keras 3 fills in a call's mask only when the call has
        # one tensor argument: a recurrent layer given initial_state (more tensor arguments) runs unmasked unless
        # passed mask= itself, while its output still carries the sequence's mask (RNN.__call__ clears this).
        self.mask_reaches_call = True
        # Flat tuples, built once: every forward and backward pass walks them.
        self.input_tensors = tuple(inputs) if isinstance(inputs, (list, tuple)) else (inputs,)
        self.output_tensors = tuple(outputs) if isinstance(outputs, (list, tuple)) else (outputs,)
        layer._inbound_nodes.append(self)


class KerasTensor:
    """A placeholder with a shape (None for the batch and unknown sizes); ``node`` is the call that made it."""

    def __init__(self, shape, dtype="float32", name=None, node=None, index=0, has_mask=False):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.name = name
        self.node = node
        self.index = index
        self.has_mask = has_mask

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    # Expressions on symbolic tensors become operation nodes of the graph, as in Keras: each operator is the
    # rnnkit.ops function of the same operation. numpy arrays defer to them (array * x is x.__rmul__(array)),
    # rather than making an object array of nodes.
    __array_ufunc__ = None

    def __getitem__(self, key):
        return operations.call("GetItem", self, key)

    def __add__(self, other):
        return functions.add(self, other)

    def __radd__(self, other):
        return functions.add(other, self)

    def __sub__(self, other):
        return functions.subtract(self, other)

    def __rsub__(self, other):
        return functions.subtract(other, self)

    def __mul__(self, other):
        return functions.multiply(self, other)

    def __rmul__(self, other):
        return functions.multiply(other, self)

    def __truediv__(self, other):
        return functions.true_divide(self, other)

    def __rtruediv__(self, other):
        return functions.true_divide(other, self)

    def __neg__(self):
        return functions.negative(self)

    def __abs__(self):
        return functions.absolute(self)

    def __floordiv__(self, other):
        return functions.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return functions.floor_divide(other, self)

    def __mod__(self, other):
        return functions.mod(self, other)

    def __rmod__(self, other):
        return functions.mod(other, self)

    def __pow__(self, other):
        return functions.power(self, other)

    def __rpow__(self, other):
        return functions.power(other, self)

    def __matmul__(self, other):
        return functions.matmul(self, other)

    def __rmatmul__(self, other):
        return functions.matmul(other, self)

    # As in Keras, == stays identity (tensors are dictionary keys); the other comparisons are operations.
    def __lt__(self, other):
        return functions.less(self, other)

    def __le__(self, other):
        return functions.less_equal(self, other)

    def __gt__(self, other):
        return functions.greater(self, other)

    def __ge__(self, other):
        return functions.greater_equal(self, other)

    def __ne__(self, other):
        return functions.not_equal(self, other)

    def __and__(self, other):
        return functions.logical_and(self, other)

    def __rand__(self, other):
        return functions.logical_and(other, self)

    def __or__(self, other):
        return functions.logical_or(self, other)

    def __ror__(self, other):
        return functions.logical_or(other, self)

    def __xor__(self, other):
        return functions.logical_xor(self, other)

    def __rxor__(self, other):
        return functions.logical_xor(other, self)

    def __invert__(self):
        return functions.logical_not(self)

    def __bool__(self):  # `if x > 0:` on a symbolic tensor has no answer until the model runs
        raise TypeError(f"a symbolic tensor cannot be used as a boolean: {self!r}")

    def __iter__(self):  # or Python would iterate through __getitem__ without end over an unknown batch size
        raise TypeError(f"a symbolic tensor cannot be iterated over: {self!r}")


class InputLayer(Layer):
    """The layer behind ``Input``: it owns the graph's entry tensor. Its arguments are Keras 3's, in its order;
    rnnkit's inputs are dense, required arrays, so sparse, ragged and optional inputs and an input_tensor are
    refused."""

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        for flag, value in (("sparse", sparse), ("ragged", ragged), ("optional", optional)):
            if value:
                raise ValueError(f"InputLayer '{self.name}': {flag}=True inputs are not supported by rnnkit")
        if input_tensor is not None:
            raise ValueError(f"InputLayer '{self.name}': input_tensor is not supported by rnnkit; pass shape= or "
                             "batch_shape=")
        if batch_shape is None:
            if shape is None:
                raise ValueError(f"InputLayer '{self.name}': pass shape= or batch_shape=, received neither")
            batch_shape = (batch_size,) + tuple(shape)
        self.batch_shape = tuple(None if size is None else int(size) for size in batch_shape)
        self.input_dtype = dtype or "float32"
        output = KerasTensor(self.batch_shape, self.input_dtype, name=self.name)
        output.node = Node(self, [], output)  # what self.output returns
        self.built = True

    def compute_output_shape(self, input_shape):
        return self.batch_shape

    def forward(self, inputs, *, training=False, mask=None):
        return inputs, None

    def backward(self, ctx, d_outputs):
        return d_outputs, []

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.input_dtype, "sparse": False,
                "name": self.name}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None, name=None,
          tensor=None, optional=False):
    """A symbolic model input of per-sample ``shape``; ``batch_size`` fixes the batch (stateful RNNs need it).
    Keras 3's arguments in its order (see InputLayer for what is refused)."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse, ragged=ragged,
                      batch_shape=batch_shape, input_tensor=tensor, optional=optional, name=name).output
