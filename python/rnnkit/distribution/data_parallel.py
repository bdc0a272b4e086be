"""DataParallel: every process holds the whole model and trains on its slice of each global batch."""
import itertools
import time

import numpy as np

from rnnkit import callbacks as callbacks_module
from rnnkit.distribution import _mpi, steps
from rnnkit.engine import data

# Written by rank 0 only: the others would write the same bytes to the same paths at the same time.
_FILE_WRITERS = (callbacks_module.ModelCheckpoint, callbacks_module.CSVLogger)


class DataParallel:
    """Keras 3's ``DataParallel`` over MPI processes (one "device" each, see ``list_devices``).

    ``batch_size`` stays the global batch: each process takes a contiguous slice of every global batch, and one
    all-reduce per step sums the gradients weighted by what each slice's loss was averaged over, so training
    equals one process with the same global batch. ``auto_shard_dataset=False`` means every process passes its
    own dataset whose batches are already its slices (for data that does not fit on one host).
    """

    def __init__(self, device_mesh=None, devices=None, auto_shard_dataset=True):
        self.comm = _mpi.world()
        if device_mesh is not None:
            raise ValueError("DataParallel: device_mesh is not supported; rnnkit's DataParallel spans every MPI "
                             "process, one device each")
        every_process = [f"cpu:{index}" for index in range(self.comm.size)]
        if devices is not None and list(devices) != every_process:
            raise ValueError(f"DataParallel: devices must be None or list_devices() = {every_process}, received "
                             f"{list(devices)}; choose processes with the MPI launcher (mpiexec -n)")
        _mpi.abort_on_uncaught_exception(self.comm)
        self.auto_shard_dataset = bool(auto_shard_dataset)
        self._broadcast_pending = False
        self.communication_seconds = 0.0

    @property
    def num_processes(self):
        return self.comm.size

    @property
    def is_chief(self):
        return self.comm.rank == 0

    # -- data ------------------------------------------------------------------------------------------------------
    def rows(self, count):
        """This process's contiguous slice of a global batch of ``count`` samples (sizes differ by at most 1)."""
        rank, size = self.comm.rank, self.comm.size
        return slice(count * rank // size, count * (rank + 1) // size)

    def shard(self, x, y, sample_weight):
        part = self.rows(len(x[0]))
        return tuple(None if arrays is None else [a[part] for a in arrays] for arrays in (x, y, sample_weight))

    def dataset_batches(self, batches):
        """Local batches from a dataset: slices of the shared global batches, or with auto_shard_dataset=False
        this process's own batches, checked to run out on every process at the same step (a process that
        stopped early would leave the others waiting in the next all-reduce forever)."""
        if self.auto_shard_dataset:
            yield from (self.shard(*batch) for batch in batches)
            return
        iterator = iter(batches)
        for step in itertools.count():
            batch = next(iterator, None)
            have = self.comm.allgather(batch is not None)
            if not any(have):
                return
            if not all(have):
                empty = [rank for rank, flag in enumerate(have) if not flag]
                raise ValueError(f"DataParallel(auto_shard_dataset=False): process(es) {empty} ran out of batches "
                                 f"at step {step} while others had more; every process's dataset must yield "
                                 "equally many batches")
            yield batch

    def array_batches(self, x, y, sample_weight, batch_size, shuffle, rng):
        """This process's slices of the global batches of arrays every process passes in full."""
        counts = self.comm.allgather(len(x[0]))
        if len(set(counts)) > 1:
            raise ValueError(f"DataParallel: every process must pass the same arrays, but they hold {counts} samples "
                             "(batch_size is the global batch; for per-process data pass a dataset and "
                             "DataParallel(auto_shard_dataset=False))")
        return data.array_batches(x, y, sample_weight, batch_size, shuffle, _SharedPermutations(rng, self.comm),
                                  rows=self.rows)

    # -- fit, evaluate, predict ------------------------------------------------------------------------------------
    def begin_fit(self, model, verbose, callbacks):
        """fit's verbosity and callbacks on this process; marks weights and optimizer state for broadcast from
        rank 0 at the first step, once the model is built."""
        stateful = [layer.name for layer in model.layers if getattr(layer, "stateful", False)]
        if stateful:
            raise ValueError(f"DataParallel: stateful RNN layer(s) {stateful} carry states across batches, which "
                             "a batch split over processes would break; train them in one process")
        self._broadcast_pending = True
        if self.is_chief:
            return verbose, callbacks
        return 0, [callback for callback in callbacks or [] if not isinstance(callback, _FILE_WRITERS)]

    def agree(self, flag):
        """Rank 0's value of ``flag`` on every process, e.g. stop_training, so every rank stops at the same epoch."""
        return bool(self.comm.bcast(bool(flag), root=0))

    def train_step(self, model, x, y, sample_weight):
        model._ensure_built(x)
        _refuse_activity_regularizers(model)
        if self._broadcast_pending:
            steps.broadcast_state(self.comm, model)
            self._broadcast_pending = False
        return steps.train_step(self, model, x, y, sample_weight)

    def test_step(self, model, x, y, sample_weight):
        model._ensure_built(x)
        _refuse_activity_regularizers(model)
        return steps.test_step(self, model, x, y, sample_weight)

    def allreduce(self, buffer):
        """Sums ``buffer`` over the processes in place. The time is added to ``communication_seconds``; it includes
        waiting for slower processes, so it measures what a step loses to being distributed."""
        from mpi4py import MPI  # here, not at the top: importing rnnkit.distribution must not need mpi4py

        start = time.perf_counter()
        self.comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
        self.communication_seconds += time.perf_counter() - start
        return buffer

    def predict_chunks(self, model, batches, from_dataset):
        """Every process's predictions of its slices of ``batches`` (lists of input arrays), gathered on every
        process in sample order (with per-process datasets: rank 0's samples, then rank 1's, ...)."""
        shared = self.auto_shard_dataset or not from_dataset
        local = []
        for x in batches:
            if shared:
                x = [a[self.rows(len(a))] for a in x]
            local.append(model.predict_on_batch(x))
        gathered = self.comm.allgather(local)
        by_sample = zip(*gathered) if shared else gathered
        return [chunk for group in by_sample for chunk in group]


class _SharedPermutations:
    """Stands in for the numpy Generator when shuffling: rank 0 draws each permutation and every process uses it,
    so the global batches are the same everywhere, and the same as one process seeded like rank 0."""

    def __init__(self, rng, comm):
        self.rng, self.comm = rng, comm

    def permutation(self, count):
        order = np.asarray(self.rng.permutation(count), np.int64) if self.comm.rank == 0 else np.empty(count, np.int64)
        self.comm.Bcast(order, root=0)
        return order


def _refuse_activity_regularizers(model):
    """A penalty on outputs divides by the batch size: over a split batch its sum and gradient need their own
    reduction, which the distributed step does not make; refused rather than computed per slice."""
    regularized = [layer.name for layer in model.layers if getattr(layer, "activity_regularizer", None) is not None]
    if regularized:
        raise ValueError(f"DataParallel: layer(s) {regularized} have an activity_regularizer, which is not supported "
                         "over several processes; train them in one process")
