"""Variables: named float32 arrays owned by layers and updated in place by optimizers."""
import numpy as np


class Variable:
    """A layer weight. ``value`` is a C-contiguous float32 numpy array that optimizers update in place.

    ``path`` is Keras 3's ``"<layer name>/<weight name>"``.
    """

    def __init__(self, value, name, path=None, trainable=True):
        # np.require keeps 0-d weights 0-d (ascontiguousarray would make them shape (1,)).
        self.value = np.require(np.asarray(value, dtype=np.float32), requirements=["C", "W", "O"])
        self.name = name
        self.path = path or name
        self.trainable = trainable

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
