"""The tf.data.Dataset methods Keras' examples chain onto a data set, for rnnkit's re-iterable numpy data sets
(TimeseriesDataset, TextDataset): take, skip, map, cache, prefetch, as_numpy_iterator. Each returns another
re-iterable data set (fit iterates one per epoch), never a tf.data pipeline."""
import itertools


class DatasetMethods:
    """Mixed into a class whose __iter__ yields its elements (batches) afresh on every pass."""

    def take(self, count):
        """The first `count` elements (all of them when count is -1)."""
        count = _count("take", count)
        return _Derived(lambda: itertools.islice(iter(self), None if count < 0 else count),
                        lambda: len(self) if count < 0 else min(count, len(self)))

    def skip(self, count):
        """Every element after the first `count` (none when count is -1)."""
        count = _count("skip", count)
        return _Derived(lambda: itertools.islice(iter(self), len(self) if count < 0 else count, None),
                        lambda: 0 if count < 0 else max(len(self) - count, 0))

    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None):
        """map_func of each element; a tuple element is passed as positional arguments, as tf.data does."""
        if not callable(map_func):
            raise TypeError(f"map: map_func must be callable, received {map_func!r}")
        return _Derived(lambda: (map_func(*element) if isinstance(element, tuple) else map_func(element)
                                 for element in self), lambda: len(self))

    def cache(self, filename="", name=None):
        """The same elements. Batches are made from arrays in memory (or read from small files) on every pass, so
        there is nothing to keep; an order reshuffled on every pass stays reshuffled."""
        return self

    def prefetch(self, buffer_size, name=None):
        """The same elements: rnnkit makes a batch when fit asks for it, with no pipeline to run ahead."""
        return self

    def as_numpy_iterator(self):
        """An iterator over the elements, which are numpy arrays already."""
        return iter(self)


class _Derived(DatasetMethods):
    def __init__(self, elements, length):
        self._elements, self._length = elements, length

    def __iter__(self):
        return iter(self._elements())

    def __len__(self):
        return self._length()


def _count(method, count):
    if isinstance(count, bool) or not isinstance(count, int) or count < -1:
        raise ValueError(f"{method}: count must be an int >= -1, received {count!r}")
    return count
