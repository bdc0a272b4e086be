"""rnnkit: recurrent neural networks on a fast C++17 SIMD/OpenMP core, with a Keras-compatible API."""
# Developer builds put _core in <build>/python/rnnkit; extend_path lets PYTHONPATH=<build>/python:python find it.
__path__ = __import__("pkgutil").extend_path(__path__, __name__)

from rnnkit._runtime import config, set_num_threads, get_num_threads  # noqa: E402
from rnnkit import backend, callbacks, distribution, layers, models, ops, preprocessing, random  # noqa: E402
from rnnkit import saving, utils  # noqa: E402
from rnnkit import constraints, losses, metrics, optimizers, regularizers  # noqa: E402
from rnnkit.layers import Input  # noqa: E402
from rnnkit.models import Model, Sequential  # noqa: E402

__version__ = "0.1.0"
__all__ = [
    "config", "set_num_threads", "get_num_threads", "__version__",
    "backend", "callbacks", "distribution", "layers", "models", "ops", "preprocessing", "random", "saving", "utils",
    "constraints", "losses", "metrics", "optimizers", "regularizers",
    "Input", "Model", "Sequential",
]
