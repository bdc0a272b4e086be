"""Keras 3 ``keras.distribution`` names over MPI processes: synchronous data-parallel training.

Run a script as ``mpiexec -n 4 python train.py``; see docs/distributed.md. Importing this package never imports
mpi4py: initialize() and DataParallel() do, and name the ``rnnkit[mpi]`` extra when it is missing.
"""
from rnnkit.distribution import _mpi
from rnnkit.distribution.data_parallel import DataParallel

__all__ = ["initialize", "set_distribution", "distribution", "DataParallel", "list_devices", "get_device_count",
           "process_id", "num_processes"]

_current = None


def initialize(job_addresses=None, num_processes=None, process_id=None):
    """Joins the job started by the MPI launcher, which decides every process's rank and host. Keras' arguments
    are accepted only to check them against MPI: rnnkit never opens connections of its own."""
    comm = _mpi.world()
    if job_addresses is not None:
        raise ValueError("initialize: job_addresses is not used; place processes with the MPI launcher "
                         "(mpiexec -n N -f hostfile python script.py)")
    for name, given, actual in (("num_processes", num_processes, comm.size), ("process_id", process_id, comm.rank)):
        if given is not None and given != actual:
            raise ValueError(f"initialize: {name}={given} but the MPI launcher started this process with {actual}")
    _mpi.abort_on_uncaught_exception(comm)


def set_distribution(value):
    """Makes ``value`` (a DataParallel, or None for none) govern fit, evaluate and predict from now on."""
    global _current
    if value is not None and not isinstance(value, DataParallel):
        raise TypeError(f"set_distribution expects a DataParallel or None, received {type(value).__name__}")
    _current = value


def distribution():
    """The distribution set by set_distribution, or None."""
    return _current


def active():
    """The distribution models must follow: None when unset or when this is the only process, so a script run
    without a launcher trains exactly as it would without distribution code."""
    return _current if _current is not None and _current.num_processes > 1 else None


def num_processes():
    return _mpi.world().size if _mpi.available() else 1


def process_id():
    """This process's MPI rank (0 without mpi4py); rank 0 prints and writes files."""
    return _mpi.world().rank if _mpi.available() else 0


def list_devices(device_type=None):
    """One device per MPI process, as Keras names them ("cpu:0", "cpu:1", ...)."""
    if device_type not in (None, "cpu", "CPU"):
        raise ValueError(f"list_devices: rnnkit runs on CPUs only, received device_type={device_type!r}")
    return [f"cpu:{index}" for index in range(num_processes())]


def get_device_count(device_type=None):
    return len(list_devices(device_type))
