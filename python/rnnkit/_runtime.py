"""Run-time configuration of the C++ core: ISA in use, thread count, build facts."""
from rnnkit import _core


def core_config():
    """Return a dict describing the core: ``isa`` in use, ``detected_isa``, ``num_threads``, ``openmp``, ``build``."""
    return {
        "isa": _core.isa(),
        "detected_isa": _core.detected_isa(),
        "num_threads": _core.num_threads(),
        "openmp": _core.built_with_openmp(),
        "build": _core.build_info(),
    }


def set_num_threads(n):
    """Set the number of threads the kernels use (overrides ``RNNKIT_NUM_THREADS``)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads expects a positive int, received {n!r}")
    _core.set_num_threads(n)


def get_num_threads():
    return _core.num_threads()
