"""The shared random stream behind initializers, dropout and shuffling."""
import random as python_random

import numpy as np

_generator = np.random.default_rng()


def set_random_seed(seed):
    """Seed Python's ``random``, numpy's global state and rnnkit's stream, as ``keras.utils.set_random_seed``."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"set_random_seed expects an integer seed, received {seed!r}")
    python_random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    _generator = np.random.default_rng(int(seed))


def generator():
    """The numpy Generator every initializer, dropout mask and shuffle draws from."""
    return _generator
