"""rnnkit: recurrent neural networks on a fast C++17 SIMD/OpenMP core, with a Keras-compatible API."""
# Developer builds put _core in <build>/python/rnnkit; extend_path lets PYTHONPATH=<build>/python:python find it.
__path__ = __import__("pkgutil").extend_path(__path__, __name__)

from rnnkit._runtime import set_num_threads, get_num_threads  # noqa: E402
from rnnkit import backend, callbacks, config, distribution, layers, models, ops, preprocessing, random  # noqa: E402
from rnnkit import saving, tree, utils  # noqa: E402
from rnnkit import activations, constraints, initializers, losses, metrics, optimizers, regularizers  # noqa: E402
from rnnkit import dtype_policies, mixed_precision  # noqa: E402
from rnnkit.dtype_policies import DTypePolicy, FloatDTypePolicy  # noqa: E402
from rnnkit._device import device  # noqa: E402
from rnnkit.initializers import Initializer  # noqa: E402
from rnnkit.layers import Input, InputSpec, Layer  # noqa: E402
from rnnkit.layers.input_layer import KerasTensor  # noqa: E402
from rnnkit.losses import Loss  # noqa: E402
from rnnkit.metrics import Metric  # noqa: E402
from rnnkit.models import Model, Sequential  # noqa: E402
from rnnkit.optimizers import Optimizer  # noqa: E402
from rnnkit.regularizers import Regularizer  # noqa: E402
from rnnkit.variables import Variable  # noqa: E402

__version__ = "0.1.0"


def version():
    return __version__


__all__ = [
    "config", "set_num_threads", "get_num_threads", "__version__", "version", "device",
    "backend", "callbacks", "distribution", "layers", "models", "ops", "preprocessing", "random", "saving", "tree",
    "utils",
    "activations", "constraints", "initializers", "losses", "metrics", "optimizers", "regularizers",
    "Input", "Model", "Sequential", "Layer", "InputSpec", "KerasTensor", "Initializer", "Loss", "Metric", "Optimizer",
    "Regularizer", "Variable", "dtype_policies", "mixed_precision", "DTypePolicy", "FloatDTypePolicy",
]
