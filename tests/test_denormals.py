"""Denormal floats (below float32's smallest normal, 1.18e-38): the GEMM and the recurrent core compute with them
flushed to zero, as TensorFlow does (gradients that vanish into that range made BPTT ~11x slower), and hand the
calling thread back its own floating-point mode. numpy, which keeps denormals, is the reference for both."""
import platform

import numpy as np
import pytest

import rnnkit
from rnnkit import _core, ops

pytestmark = pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"),
                                reason="rnnkit sets the flush modes on x86 only (MXCSR); other CPUs keep theirs")

SMALL = np.float32(1e-20)  # normal, but the product of two is 1e-40: denormal


def assert_numpy_keeps_denormals():
    product = SMALL * SMALL  # computed on this thread by numpy
    assert 0 < product < np.finfo(np.float32).tiny


@pytest.mark.parametrize("threads", [1, 2])
def test_the_gemm_flushes_denormal_products_and_inputs(isa, threads):
    previous = rnnkit.get_num_threads()
    rnnkit.set_num_threads(threads)
    try:
        # Every product term is 1e-40; numpy's sums of 256 of them reach 2.6e-38, a normal number.
        a = np.full((256, 256), SMALL, np.float32)
        c = np.empty((256, 256), np.float32)
        expected = a @ a
        assert (expected > np.finfo(np.float32).tiny).all()
        _core.sgemm(False, False, 1.0, a, a, 0.0, c)
        assert not c.any()
        # A denormal input reads as zero: numpy gives 1e-39 * 1e30 = 1e-9.
        tiny_in = np.full((256, 256), np.float32(1e-39), np.float32)
        large = np.full((256, 256), np.float32(1e30), np.float32)
        assert (tiny_in @ large > 0).all()
        _core.sgemm(False, False, 1.0, tiny_in, large, 0.0, c)
        assert not c.any()
    finally:
        rnnkit.set_num_threads(previous)
    assert_numpy_keeps_denormals()


@pytest.mark.parametrize("cell", ["simple_rnn", "gru", "lstm"])
def test_the_recurrent_core_flushes_and_restores_the_callers_mode(cell):
    gates = {"simple_rnn": 1, "gru": 3, "lstm": 4}[cell]
    x = np.full((2, 5, 3), SMALL, np.float32)
    kernel = np.full((3, gates * 4), SMALL, np.float32)
    recurrent_kernel = np.full((4, gates * 4), 0.5, np.float32)
    result = ops.rnn_forward(cell, x, kernel, recurrent_kernel, training=True)
    # x·W is 3e-40 per unit; with it flushed every state stays exactly zero (and GRU's h = z*h + (1-z)*tanh(0)).
    assert not result.outputs.any()
    grads = ops.rnn_backward(result.cache, d_outputs=np.full(result.outputs.shape, SMALL, np.float32))
    # dL/dW = x^T · dG: terms of 1e-20 * (at most ~1e-20) are denormal, flushed.
    assert not grads["kernel"].any()
    assert_numpy_keeps_denormals()
