"""The .rnnkit container on its own: numpy writer -> C++ reader round trips, layout guarantees."""
import io
import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from rnnkit.saving.file_format import ALIGNMENT, MAGIC, PREAMBLE_BYTES, read_model_file, write_model_file


def write(path, tensors, **fields):
    with open(path, "wb") as stream:
        write_model_file(stream, tensors, **fields)
    return path


def test_round_trip_keeps_values_dtypes_shapes_and_header(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {
        "dense/kernel": rng.standard_normal((3, 5)).astype(np.float32),
        "dense/bias": np.zeros(5, np.float32),
        "optimizer/iterations": np.array(7, np.int64),
        "empty": np.zeros((0, 4), np.float32),
        "lstm/größe": rng.standard_normal((2, 3, 4)).astype(np.float32),
    }
    config = {"class_name": "Sequential", "config": {"name": "modèle ✓"}}
    path = write(tmp_path / "m.rnnkit", tensors, model_config=config, compile_config={"loss": "mse"},
                 weights=["dense/kernel", "dense/bias"], optimizer_variables=["optimizer/iterations"])
    header, loaded = read_model_file(path)
    assert header["model_config"] == config
    assert header["compile_config"] == {"loss": "mse"}
    assert header["weights"] == ["dense/kernel", "dense/bias"]
    assert header["optimizer_variables"] == ["optimizer/iterations"]
    assert list(loaded) == list(tensors)
    for name, value in tensors.items():
        assert loaded[name].dtype == value.dtype
        np.testing.assert_array_equal(loaded[name], value)


def test_layout_is_aligned_little_endian_with_documented_preamble():
    stream = io.BytesIO()
    write_model_file(stream, {"a": np.arange(3, dtype=np.float32), "b": np.arange(2, dtype=np.int64)})
    raw = stream.getvalue()
    assert raw[:7] == MAGIC and raw[7] == 1
    (header_length,) = struct.unpack("<Q", raw[8:16])
    data_start = PREAMBLE_BYTES + header_length
    assert data_start % ALIGNMENT == 0
    header = json.loads(raw[PREAMBLE_BYTES:data_start])
    for name, expected in (("a", np.arange(3, dtype="<f4")), ("b", np.arange(2, dtype="<i8"))):
        begin, end = header["tensors"][name]["offsets"]
        assert begin % ALIGNMENT == 0
        assert raw[data_start + begin:data_start + end] == expected.tobytes()


def test_other_dtypes_are_converted_or_refused(tmp_path):
    path = write(tmp_path / "c.rnnkit", {"f64": np.ones(2), "i32": np.ones(2, np.int32)})
    _, loaded = read_model_file(path)
    assert loaded["f64"].dtype == np.float32 and loaded["i32"].dtype == np.int64
    with pytest.raises(ValueError, match="'text'.*cannot be stored"):
        write_model_file(io.BytesIO(), {"text": np.array(["x"])})


def test_weight_list_must_name_stored_tensors():
    with pytest.raises(ValueError, match="weights names tensors that are not stored"):
        write_model_file(io.BytesIO(), {"a": np.zeros(1, np.float32)}, weights=["a", "missing"])


@settings(max_examples=25, deadline=None)
@given(st.lists(hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)),
                min_size=0, max_size=4))
def test_any_float_arrays_round_trip_bit_exactly(tmp_path_factory, arrays):
    path = tmp_path_factory.mktemp("prop") / "p.rnnkit"
    tensors = {f"t{i}": a for i, a in enumerate(arrays)}
    _, loaded = read_model_file(write(path, tensors, weights=list(tensors)))
    for name, value in tensors.items():
        assert loaded[name].shape == value.shape
        assert loaded[name].tobytes() == value.tobytes()
