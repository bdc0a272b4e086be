"""mpi4py, imported on first use so that importing rnnkit never needs MPI."""
import sys
import time

EXTRA_HINT = 'rnnkit.distribution needs mpi4py and an MPI library: pip install "rnnkit[mpi]"'


def world():
    """MPI.COMM_WORLD; mpi4py initializes MPI on import (a lone process without a launcher is a world of one)."""
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError(f"{EXTRA_HINT} ({error})") from error
    return MPI.COMM_WORLD


def available():
    try:
        import mpi4py  # noqa: F401 -- only probing whether the extra is installed
    except ImportError:
        return False
    return True


_DRAIN_SECONDS = 0.5


def abort_on_uncaught_exception(comm):
    """An exception on one rank would leave the others waiting in a collective forever: print it, then abort
    the whole job so that mpiexec ends every rank and reports the failing one."""
    if comm.size == 1 or getattr(sys.excepthook, "rnnkit_aborts", False):
        return
    previous = sys.excepthook

    def hook(kind, value, traceback):
        # The message goes in this first line, written at once: Abort can end the job before mpiexec has forwarded
        # the whole traceback (seen in CI: the traceback's last line, the message, was lost).
        sys.stderr.write(f"rnnkit.distribution: process {comm.rank} of {comm.size} failed with {kind.__name__}: "
                         f"{value}; aborting the MPI job\n")
        previous(kind, value, traceback)
        sys.stderr.flush()
        # Abort ends every process at once, and mpiexec (MPICH's hydra) may kill them before it has read what
        # they wrote: in about one run in ten the job ended with an empty stderr. A pause lets it drain the pipes.
        time.sleep(_DRAIN_SECONDS)
        comm.Abort(1)

    hook.rnnkit_aborts = True
    sys.excepthook = hook
