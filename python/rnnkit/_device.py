"""Keras 3's `keras.device` scope, for the one kind of device rnnkit computes on."""
import contextlib
import re

_CPU = re.compile(r"cpu(:\d+)?", re.IGNORECASE)


@contextlib.contextmanager
def device(device_name):
    """`with rnnkit.device("cpu:0"):` as with Keras: what runs inside runs on the CPU, as everything in rnnkit
    does. Another device ("gpu:0", "cuda") is refused at once rather than ignored: a model meant for it would run
    on the CPU without a word."""
    if not isinstance(device_name, str) or not _CPU.fullmatch(device_name):
        raise ValueError(f"rnnkit computes on the CPU only: expected a device name such as 'cpu' or 'cpu:0', "
                         f"received {device_name!r}")
    yield
