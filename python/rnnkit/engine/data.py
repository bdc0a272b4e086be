"""Turning fit/evaluate/predict arguments into lists of per-input/per-output arrays and batches."""
import numpy as np


def is_dataset(data):
    """A re-iterable of (x, y) or (x, y, sample_weight) batches rather than arrays."""
    return data is not None and not isinstance(data, (np.ndarray, list, tuple, dict)) and hasattr(data, "__iter__")


def batches_per_epoch(x, batch_size):
    """Steps of one epoch: known for arrays and sized datasets (PyDataset), None for other iterables."""
    if not is_dataset(x):
        return -(-len(x[0]) // batch_size)
    return len(x) if hasattr(x, "__len__") else None


def as_array_list(data, names, model_name, what):
    """``data`` (array, list or dict keyed by ``names``) as a list of arrays in ``names`` order; ``names`` None
    (a subclassed model's inputs) takes an array or a list of them, as many as given."""
    if data is None:
        return None
    if type(data) is np.ndarray and data.ndim > 0 and (names is None or len(names) == 1):
        return [data]  # the common case, ahead of the general one below
    if isinstance(data, dict) and names is None:
        raise ValueError(f"Model '{model_name}': {what} as a dict is not supported for a subclassed model by rnnkit; "
                         "pass an array or a list of arrays")
    if isinstance(data, dict):
        missing = [name for name in names if name not in data]
        if missing:
            raise ValueError(f"Model '{model_name}': {what} dict lacks keys {missing}; expected keys {names}")
        data = [data[name] for name in names]
    elif not (isinstance(data, (list, tuple)) and all(isinstance(item, np.ndarray) for item in data)):
        data = [data]
    arrays = [np.asarray(item) for item in data]
    scalars = [i for i, array in enumerate(arrays) if array.ndim == 0]
    if scalars:
        raise ValueError(f"Model '{model_name}': expected {what} arrays with a leading sample axis, received a "
                         f"scalar at position {scalars[0]}")
    if names is not None and len(arrays) != len(names):
        raise ValueError(f"Model '{model_name}' expects {len(names)} {what} array(s), received {len(arrays)}")
    return arrays


def sample_count(model_name, x, y, minimum=1):
    counts = {len(array) for array in x + (y or [])}
    if len(counts) != 1:
        raise ValueError(f"Model '{model_name}': x and y must have the same number of samples, received "
                         f"x sizes {[len(a) for a in x]} and y sizes {[len(a) for a in y or []]}")
    count = counts.pop()
    if count < minimum:
        raise ValueError(f"Model '{model_name}': received 0 samples; training and evaluation need at least one")
    return count


def split_validation(x, y, sample_weight, fraction):
    """Keras' validation_split: the last ``fraction`` of the samples, taken before any shuffling."""
    count = len(x[0])
    split = int(count * (1.0 - fraction))
    head = lambda arrays: None if arrays is None else [a[:split] for a in arrays]  # noqa: E731
    tail = lambda arrays: None if arrays is None else [a[split:] for a in arrays]  # noqa: E731
    return (head(x), head(y), head(sample_weight)), (tail(x), tail(y), tail(sample_weight))


def array_batches(x, y, sample_weight, batch_size, shuffle, rng, rows=None):
    """(x, y, sample_weight) batches of lists of arrays; the order is a permutation from ``rng`` when shuffling.
    ``rows(n)`` -> slice keeps this process's part of each batch of n (the rows are picked before copying)."""
    count = len(x[0])
    order = rng.permutation(count) if shuffle else np.arange(count)
    for start in range(0, count, batch_size):
        index = order[start:start + batch_size]
        if rows is not None:
            index = index[rows(len(index))]
        yield ([a[index] for a in x], None if y is None else [a[index] for a in y],
               None if sample_weight is None else [a[index] for a in sample_weight])
