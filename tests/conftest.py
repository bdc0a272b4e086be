"""Shared test setup.

The oracle group compares rnnkit with Keras 3 on the torch backend; Keras picks its backend at import time,
so it is fixed here before any test module imports keras.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")


import pytest  # noqa: E402

ISA_ORDER = ["generic", "avx2", "avx512"]


@pytest.fixture(params=ISA_ORDER)
def isa(request):
    """Runs the test once per instruction set this CPU supports, forced through the core's dispatch."""
    from rnnkit import _core

    detected = _core.detected_isa()
    if ISA_ORDER.index(request.param) > ISA_ORDER.index(detected):
        pytest.skip(f"this CPU lacks {request.param} (detected {detected})")
    previous = _core.isa()
    _core.set_isa(request.param)
    yield request.param
    _core.set_isa(previous)
