"""Operations on symbolic tensors: ``x[:, -1]``, ``x + y``, ``1.0 - x``, ``rnnkit.ops.mean(x, axis=1)``, ...

Keras 3 records each such expression in a functional graph as a node of an operation (module keras.src.ops.numpy
or keras.src.ops.nn: GetItem, Add, Mean, Tanh, ...), whose options (axis, keepdims) are its config and whose
constant operands (a number, the indexing key) sit in the node's arguments beside the tensors. rnnkit does the
same, so such models run, train, save and load, and Keras' own configs of them load. As in Keras, an operation's
output carries no mask. The operations themselves are in the operations_*.py modules beside this one; values known
when the graph is written (rnnkit.ops' creators) are operations_constants.py's Constant arrays.
"""
from rnnkit.layers.layer import Layer

NUMPY_MODULE, NN_MODULE = "keras.src.ops.numpy", "keras.src.ops.nn"


def is_operation_entry(layer_config):
    return str(layer_config.get("module", "")).startswith("keras.src.ops.")


def _is_tensor(value):
    from rnnkit.layers.input_layer import KerasTensor

    return isinstance(value, KerasTensor)


class _Tensor:
    """Where one of the node's tensors goes among an operation's arguments."""


_TENSOR = _Tensor()


class _Tensors(list):
    """An argument that is a list of the node's tensors (concatenate's)."""


class Operation(Layer):
    """One call of an operation on `arguments`: tensors (the node's inputs, in order), lists of tensors, and
    constants kept here. A node's arguments are its operation's, as in Keras, so each call makes a new one."""

    module = NUMPY_MODULE

    def __init__(self, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.built = True
        self._arguments = None

    def __call__(self, *arguments):
        tensors = self._take_arguments(arguments, _is_tensor)
        if not tensors:
            raise TypeError(f"operation '{self.name}': expected at least one symbolic tensor among its arguments")
        output = self._call_symbolic(tensors)
        outputs = output if isinstance(output, list) else [output]  # split and top_k give several
        dtypes = self.output_dtype([tensor.dtype for tensor in tensors])
        for tensor, dtype in zip(outputs, dtypes if isinstance(dtypes, list) else [dtypes] * len(outputs)):
            tensor.dtype = dtype
        return output

    def _take_arguments(self, arguments, is_tensor):
        """Keeps the arguments' constants, with the places of the tensors (is_tensor; alone or in a list), and
        returns the tensors in order."""
        if self._arguments is not None:
            raise ValueError(f"operation '{self.name}' was already called; each call is a new operation")
        tensors = []

        def place(value):
            if is_tensor(value):
                tensors.append(value)
                return _TENSOR
            if isinstance(value, (list, tuple)) and value and all(is_tensor(item) for item in value):
                return _Tensors(place(item) for item in value)
            return self._check_constant(value)

        self._arguments = [place(argument) for argument in arguments]
        return tensors

    def _check_constant(self, value):
        import numpy as np

        from rnnkit.layers.operations_constants import Constant, constant

        if isinstance(value, Constant):
            return value
        if isinstance(value, np.ndarray):  # Keras takes numpy arrays as constants (its __numpy__); a copy is kept
            return constant(value)
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"operation '{self.name}': expected tensors and Python numbers as operands (or values "
                            f"made by rnnkit.ops, such as ops.ones(...) or ops.convert_to_tensor(array)), received "
                            f"{value!r}")
        return value.item() if isinstance(value, np.generic) else value  # a number a config can hold

    def _constants(self):
        return [argument for argument in self._arguments if argument is not _TENSOR and
                not isinstance(argument, _Tensors)]

    @property
    def _tensor_positions(self):
        """The positions of the arguments that are single tensors."""
        return [i for i, argument in enumerate(self._arguments) if argument is _TENSOR]

    def _values(self, tensors):
        """The arguments with `tensors` (one per node input, in order) in the tensors' places."""
        remaining = iter(tensors)

        def fill(argument):
            if argument is _TENSOR:
                return next(remaining)
            if isinstance(argument, _Tensors):
                return [fill(item) for item in argument]
            return argument

        return [fill(argument) for argument in self._arguments]

    def node_arguments(self, tensor_refs):
        """The inbound node's args as Keras writes them: the tensors' references in their places among the
        constants."""
        return [serialize_constant(value) for value in self._values(tensor_refs)]

    def compute_output_shape(self, input_shape):
        return self.output_shape(self._values(input_shape))

    def output_dtype(self, input_dtypes):
        """Integers stay integers (ids[:, 1:], ids + 1); anything with a float in it is float32."""
        return "float32" if "float32" in input_dtypes or "float32" in map(constant_dtype, self._constants()) \
            else input_dtypes[0]

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def checked_axes(operation, key, value, *, several=True, optional=True):
    """A config's axis argument as Keras gives it: an integer, a list of integers (`several`) or None (`optional`);
    anything else a ValueError naming the operation."""
    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    if (value is None and optional) or is_int(value):
        return value
    if several and isinstance(value, (list, tuple)) and all(is_int(v) for v in value):
        return list(value)
    raise ValueError(f"{operation}: expected {key} to be an integer{', a list of integers' if several else ''}"
                     f"{' or None' if optional else ''}, received {value!r}")


def constant_dtype(value):
    """The dtype of a constant operand as Keras types Python numbers: float32 for floats, int32 for integers."""
    import numpy as np

    kind = np.asarray(value).dtype.kind
    return "float32" if kind == "f" else "bool" if kind == "b" else "int32"


def _registry():
    from rnnkit.layers import (operations_activations, operations_arrangement, operations_constants,
                               operations_contraction, operations_elementwise, operations_gather, operations_indices,
                               operations_linear, operations_math, operations_norm, operations_reductions,
                               operations_rounding, operations_shape, operations_sorting)

    modules = (operations_elementwise, operations_shape, operations_linear, operations_activations, operations_indices,
               operations_constants, operations_rounding, operations_reductions, operations_norm,
               operations_arrangement, operations_gather, operations_sorting, operations_contraction, operations_math)
    return {name: cls for module in modules for name, cls in module.OPERATIONS.items()}


def serialize(operation):
    name = type(operation).__name__
    return {"module": operation.module, "class_name": name, "config": operation.get_config(), "registered_name": name}


def deserialize(config):
    name = config.get("class_name")
    operations = _registry()
    if name not in operations or operations[name].module != config.get("module"):
        raise ValueError(f"Keras operation {config.get('module')}.{name} is not supported by rnnkit (supported: "
                         f"{sorted(operations)})")
    return operations[name].from_config(dict(config.get("config") or {}))


def call(class_name, *arguments, **config):
    """ops.<function>(...): a node of the graph when an argument is symbolic, else computed now on the numpy arrays
    among the arguments (the rest being constants, as in a graph), giving Constants as Keras gives tensors."""
    import numpy as np

    from rnnkit.layers.operations_constants import as_constants
    from rnnkit.layers.tracing import operand

    arguments = [operand(argument) for argument in arguments]  # a layer's Variables: tensors of a trace, or values
    operation = _registry()[class_name](**config)
    if any(_is_tensor(a) or (isinstance(a, (list, tuple)) and any(_is_tensor(i) for i in a)) for a in arguments):
        return operation(*arguments)
    arrays = operation._take_arguments(arguments, lambda value: isinstance(value, np.ndarray))
    arrays = [a if a.dtype.kind in "iub" else a.astype(np.float32, copy=False) for a in arrays]
    return as_constants(operation.forward(arrays)[0])


def serialize_constant(value):
    from rnnkit.layers import operations_constants

    if isinstance(value, operations_constants.Constant):
        return operations_constants.serialize(value)
    if isinstance(value, slice):
        return {"class_name": "__slice__", "config": {"start": value.start, "stop": value.stop, "step": value.step}}
    if value is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(value, tuple):
        return [serialize_constant(item) for item in value]
    return value


def deserialize_constant(value):
    """A constant of a config's inbound node: Keras' slice and Ellipsis dicts, its tensors (Constants), lists
    (indexing keys) as tuples."""
    from rnnkit.layers import operations_constants

    if isinstance(value, dict) and value.get("class_name") in ("__tensor__", "__numpy__"):
        return operations_constants.deserialize(value.get("config") or {})
    if isinstance(value, dict) and value.get("class_name") == "__slice__":
        config = value.get("config") or {}
        return slice(config.get("start"), config.get("stop"), config.get("step"))
    if isinstance(value, dict) and value.get("class_name") == "__ellipsis__":
        return Ellipsis
    if isinstance(value, list):
        return tuple(deserialize_constant(item) for item in value)
    return value
