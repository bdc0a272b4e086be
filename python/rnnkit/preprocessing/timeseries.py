"""Sliding windows over an array, batched, with Keras 3's `timeseries_dataset_from_array` semantics."""
import numpy as np

from rnnkit.preprocessing.dataset_methods import DatasetMethods


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"timeseries_dataset_from_array: `{name}` must be a positive integer, received {value!r}")


class TimeseriesDataset(DatasetMethods):
    """Re-iterable batches of windows: yields (x, y) numpy arrays, or x alone when built without targets.

    x has shape (batch, sequence_length, *data.shape[1:]); `len()` is the number of batches;
    `as_arrays()` returns every window concatenated, as (x, y) or x.
    """

    def __init__(self, data, targets, start_positions, window_offsets, batch_size, shuffle_seed):
        self._data = data
        self._targets = targets
        self._start_positions = start_positions
        self._window_offsets = window_offsets
        self._batch_size = batch_size
        self._shuffle_rng = None if shuffle_seed is None else np.random.RandomState(shuffle_seed)

    def __len__(self):
        if self._batch_size is None:
            return len(self._start_positions)
        return -(-len(self._start_positions) // self._batch_size)

    def _batch(self, positions):
        windows = self._data[positions[:, None] + self._window_offsets]
        if self._targets is None:
            return windows
        return windows, self._targets[positions]

    def __iter__(self):
        positions = self._start_positions
        if self._shuffle_rng is not None:  # a new order every pass, like a reshuffling tf.data pipeline
            positions = positions[self._shuffle_rng.permutation(len(positions))]
        if self._batch_size is None:
            for position in positions:
                window = self._data[position + self._window_offsets]
                yield window if self._targets is None else (window, self._targets[position])
            return
        for begin in range(0, len(positions), self._batch_size):
            yield self._batch(positions[begin:begin + self._batch_size])

    def as_arrays(self):
        """All windows in one array (and all targets), in iteration order."""
        return self._batch(self._start_positions)


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1,
                                  batch_size=128, shuffle=False, seed=None, start_index=None, end_index=None):
    """Windows data[start + i*sampling_rate for i < sequence_length] for start every `sequence_stride` steps.

    The target of a window is targets[start] (relative to start_index, as in Keras). Without shuffle the
    windows come in order; with shuffle the order differs from Keras's tf.data shuffle but is reproducible
    for a fixed seed and changes on each pass.
    """
    data = np.asarray(data)
    if data.ndim == 0:
        raise ValueError("timeseries_dataset_from_array: `data` must have at least one dimension, received a scalar")
    _check_positive_int("sequence_length", sequence_length)
    _check_positive_int("sampling_rate", sampling_rate)
    _check_positive_int("sequence_stride", sequence_stride)
    if batch_size is not None:
        _check_positive_int("batch_size", batch_size)
    if start_index:
        if start_index < 0:
            raise ValueError(f"timeseries_dataset_from_array: `start_index` must be 0 or greater, "
                             f"received start_index={start_index}")
        if start_index >= len(data):
            raise ValueError(f"timeseries_dataset_from_array: `start_index` must be lower than the length of the "
                             f"data, received start_index={start_index} for data of length {len(data)}")
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError(f"timeseries_dataset_from_array: `end_index` must be higher than `start_index`, "
                             f"received start_index={start_index}, end_index={end_index}")
        if end_index >= len(data):
            raise ValueError(f"timeseries_dataset_from_array: `end_index` must be lower than the length of the data, "
                             f"received end_index={end_index} for data of length {len(data)}")
        if end_index <= 0:
            raise ValueError(f"timeseries_dataset_from_array: `end_index` must be higher than 0, "
                             f"received end_index={end_index}")
    if sampling_rate >= len(data):
        raise ValueError(f"timeseries_dataset_from_array: `sampling_rate` must be lower than the length of the "
                         f"data, received sampling_rate={sampling_rate} for data of length {len(data)}")
    if sequence_stride >= len(data):
        raise ValueError(f"timeseries_dataset_from_array: `sequence_stride` must be lower than the length of the "
                         f"data, received sequence_stride={sequence_stride} for data of length {len(data)}")
    start_index = start_index or 0
    end_index = len(data) if end_index is None else end_index
    window_count = end_index - start_index - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = np.asarray(targets)
        if targets.ndim == 0:
            raise ValueError("timeseries_dataset_from_array: `targets` must be None or an array, received a scalar")
        window_count = min(window_count, len(targets) - start_index)
    start_positions = start_index + np.arange(0, max(window_count, 0), sequence_stride, dtype=np.int64)
    if shuffle and seed is None:
        seed = np.random.randint(1_000_000)
    window_offsets = np.arange(sequence_length, dtype=np.int64) * sampling_rate
    return TimeseriesDataset(data, targets, start_positions, window_offsets, batch_size,
                             seed if shuffle else None)
