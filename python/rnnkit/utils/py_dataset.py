"""Keras 3's ``keras.utils.PyDataset``: a dataset of batches that fit, evaluate and predict index by position."""


class PyDataset:
    """Subclass it and define ``__len__`` (batches per epoch) and ``__getitem__(index)`` returning a batch ``x``,
    ``(x, y)`` or ``(x, y, sample_weight)``. ``on_epoch_end`` runs after every epoch of ``fit`` (reshuffle there).

    ``workers``, ``use_multiprocessing`` and ``max_queue_size`` are accepted for Keras compatibility; rnnkit builds
    batches in the calling thread, since the C++ core already uses every thread for the step itself.
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index) returning a batch")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__() returning the number of batches")

    @property
    def num_batches(self):
        return len(self)

    def __iter__(self):
        for index in range(len(self)):
            yield self[index]

    def on_epoch_begin(self):
        """Called before every epoch of fit."""

    def on_epoch_end(self):
        """Called after every epoch of fit."""
