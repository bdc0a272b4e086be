"""Odd arrays (issue 8): empty input, every memory layout and dtype numpy can hand us, and sizes that cannot be
allocated or whose element count overflows 64 bits. Results must be correct or the error clear; never a crash.

Allocation tests use sizes beyond the 2**47-byte user address space of x86-64 Linux, so they fail on any machine
instead of depending on its RAM or overcommit policy. The ones that might misbehave run in a child process."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from rnnkit import _core, layers
from rnnkit.models import Sequential


def _model():
    model = Sequential([layers.Input(shape=(6, 3)),
                        layers.Bidirectional(layers.LSTM(4, return_sequences=True)),
                        layers.GRU(3), layers.Dense(2)])
    return model


def _x(seed=0, shape=(5, 6, 3)):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# -- layouts and dtypes --------------------------------------------------------------------------------------------
LAYOUTS = {
    "fortran_order": lambda x: np.asfortranarray(x),
    "float64": lambda x: x.astype(np.float64),
    "float16": lambda x: x.astype(np.float16),
    "big_endian": lambda x: x.astype(">f4"),
    "big_endian_float64": lambda x: x.astype(">f8"),
    "strided_time": lambda x: np.repeat(x, 2, axis=1)[:, ::2],
    "negative_strides": lambda x: x[::-1, ::-1, ::-1].copy()[::-1, ::-1, ::-1],
    "transposed_view": lambda x: np.ascontiguousarray(x.transpose(2, 1, 0)).transpose(2, 1, 0),
    "read_only": lambda x: _read_only(x),
    "unaligned": lambda x: _unaligned(x),
}


def _read_only(x):
    x = x.copy()
    x.setflags(write=False)
    return x


def _unaligned(x):
    """Same values at an odd byte offset: SIMD loads that assume alignment would fault or misread (the
    sanitizer build reports any misaligned load)."""
    raw = np.empty(x.nbytes + 1, np.uint8)
    view = raw[1:].view(x.dtype).reshape(x.shape)
    view[...] = x
    assert not view.flags.aligned
    return view


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_predict_on_any_layout_equals_float32_c_order(layout):
    model, x = _model(), _x()
    odd = LAYOUTS[layout](x)
    if layout == "float16":
        x = odd.astype(np.float32)  # float16 rounding is the input's, not rnnkit's
    expected = model.predict(x, verbose=0)
    np.testing.assert_array_equal(model.predict(odd, verbose=0), expected)
    np.testing.assert_array_equal(model(odd), expected)


@pytest.mark.parametrize("ids_layout", ["big_endian", "int32", "uint8", "fortran_order", "strided", "unaligned"])
def test_embedding_ids_on_any_layout(ids_layout):
    ids = np.random.default_rng(1).integers(0, 7, size=(4, 5))
    odd = {"big_endian": ids.astype(">i8"), "int32": ids.astype(np.int32), "uint8": ids.astype(np.uint8),
           "fortran_order": np.asfortranarray(ids), "strided": np.repeat(ids, 3, axis=1)[:, ::3],
           "unaligned": _unaligned(ids.astype(np.int64))}[ids_layout]
    embedding = layers.Embedding(7, 3)
    expected = embedding(ids)
    np.testing.assert_array_equal(embedding(odd), expected)
    np.testing.assert_array_equal(expected, embedding.get_weights()[0][ids])


def test_set_weights_accepts_big_endian_fortran_float64_and_stores_float32_c_order():
    model, x = _model(), _x()
    weights = model.get_weights()
    expected = model.predict(x, verbose=0)
    odd = [np.asfortranarray(w.astype(">f8")) if w.ndim == 2 else w.astype(">f4") for w in weights]
    model.set_weights([w * 0 for w in weights])
    model.set_weights(odd)
    for variable in model.weights:
        assert variable.value.dtype == np.float32 and variable.value.flags.c_contiguous
        assert variable.value.dtype.byteorder in "=|<"
    np.testing.assert_array_equal(model.predict(x, verbose=0), expected)


def test_fit_on_big_endian_fortran_targets_matches_native_ones():
    from rnnkit.losses import MeanSquaredError
    from rnnkit.optimizers import SGD

    x, y = _x(2, (8, 6, 3)), _x(3, (8, 2))
    results = []
    for xs, ys in ((x, y), (np.asfortranarray(x.astype(">f8")), np.asfortranarray(y.astype(">f4")))):
        from rnnkit import random as rnnkit_random

        rnnkit_random.set_random_seed(0)
        model = _model()
        model.compile(optimizer=SGD(0.1), loss=MeanSquaredError())
        history = model.fit(xs, ys, batch_size=4, epochs=2, shuffle=False, verbose=0)
        results.append((history.history["loss"], model.get_weights()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-6)
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


# -- empty input ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer_class", [layers.SimpleRNN, layers.LSTM, layers.GRU])
def test_recurrent_layer_with_zero_samples_returns_an_empty_batch(layer_class):
    layer = layer_class(4, return_sequences=True)
    layer(np.zeros((1, 5, 3), np.float32))
    out = layer(np.zeros((0, 5, 3), np.float32))
    assert out.shape == (0, 5, 4) and out.dtype == np.float32


@pytest.mark.parametrize("layer_class", [layers.SimpleRNN, layers.LSTM, layers.GRU])
def test_recurrent_layer_with_zero_timesteps_is_a_clear_error(layer_class):
    layer = layer_class(4, name="rec_layer")
    with pytest.raises(ValueError, match=r"rec_layer.*at least one timestep.*\(2, 0, 3\)"):
        layer(np.zeros((2, 0, 3), np.float32))


def test_dense_and_embedding_with_zero_samples():
    dense = layers.Dense(3)
    assert dense(np.zeros((0, 4), np.float32)).shape == (0, 3)
    embedding = layers.Embedding(5, 2)
    assert embedding(np.zeros((0, 7), np.int64)).shape == (0, 7, 2)


def test_dense_with_zero_input_features_outputs_the_bias():
    dense = layers.Dense(3, bias_initializer="ones")
    np.testing.assert_array_equal(dense(np.zeros((2, 0), np.float32)), np.ones((2, 3), np.float32))


def test_model_with_zero_samples():
    model = _model()
    assert model.predict(np.zeros((0, 6, 3), np.float32), verbose=0).shape == (0, 2)
    from rnnkit.losses import MeanSquaredError
    from rnnkit.optimizers import SGD

    model.compile(optimizer=SGD(), loss=MeanSquaredError())
    with pytest.raises(ValueError, match=r"sequential.*0 samples"):
        model.fit(np.zeros((0, 6, 3), np.float32), np.zeros((0, 2), np.float32), verbose=0)
    with pytest.raises(ValueError, match=r"sequential.*0 samples"):
        model.evaluate(np.zeros((0, 6, 3), np.float32), np.zeros((0, 2), np.float32), verbose=0)


# -- huge sizes ----------------------------------------------------------------------------------------------------
def test_weights_that_cannot_be_allocated_raise_memory_error_naming_the_layer():
    with pytest.raises(MemoryError, match=r"huge.*kernel.*\(1024, 1099511627776\)"):
        layers.Dense(2**40, name="huge", use_bias=False)(np.zeros((1, 1024), np.float32))


def test_weights_whose_element_count_overflows_int64_are_a_clear_error():
    with pytest.raises(ValueError, match=r"huge.*kernel.*\(8, 4611686018427387904\).*64-bit"):
        layers.Dense(2**62, name="huge", use_bias=False)(np.zeros((1, 8), np.float32))
    with pytest.raises(ValueError, match=r"huge_rnn.*kernel.*64-bit"):
        layers.LSTM(2**61, name="huge_rnn")(np.zeros((1, 2, 8), np.float32))


def test_input_that_cannot_be_converted_raises_memory_error_naming_the_layer():
    # 2**50 float64 zeros through a zero-stride view: 8 bytes of memory, 4 PiB once converted to float32.
    x = np.broadcast_to(np.float64(0), (2**20, 2**20, 2**10))
    with pytest.raises(MemoryError, match="rec_layer"):
        layers.LSTM(2, name="rec_layer")(x)


_CHILD = """
import numpy as np
from rnnkit import _core, layers
def expect(error_types, fn, *args):
    try:
        fn(*args)
    except error_types as error:
        print(type(error).__name__, str(error)[:200].replace("\\n", " "), flush=True)
    else:
        raise SystemExit(f"{fn} returned instead of raising")
big = (MemoryError, ValueError)
# Dense outputs of 2**64 and 2**50 elements from zero-size inputs and kernels (no memory behind them).
expect(big, _core.dense_forward, np.zeros((2**33, 0), np.float32), np.zeros((0, 2**31), np.float32))
expect(big, _core.dense_forward, np.zeros((2**20, 0), np.float32), np.zeros((0, 2**30), np.float32))
expect(big, layers.Dense(2**31, use_bias=False), np.zeros((2**33, 0), np.float32))
# Ids into a 2**60-wide table that has no rows: no row may be read.
expect(big, _core.embedding_forward, np.zeros((3,), np.int64), np.zeros((0, 2**60), np.float32))
print("done", flush=True)
"""


def test_sizes_whose_products_overflow_raise_instead_of_crashing():
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(_CHILD)], capture_output=True, text=True,
                           timeout=120)
    assert child.returncode == 0, f"exit {child.returncode}: {child.stdout[-1500:]} {child.stderr[-1500:]}"
    lines = child.stdout.splitlines()
    assert lines[-1] == "done" and len(lines) == 5, lines
