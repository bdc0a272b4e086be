"""Malformed and hostile .rnnkit files: each must raise ValueError naming the file and the problem.

The reader runs in a child process so that a crash (segfault, abort) fails the tests loudly instead of
killing pytest or going unnoticed.
"""
import io
import json
import struct
import subprocess
import sys

import numpy as np
import pytest

from rnnkit.saving.file_format import MAGIC, write_model_file


def valid_file_bytes():
    stream = io.BytesIO()
    write_model_file(stream, {"kernel": np.ones((2, 3), np.float32), "step": np.array(1, np.int64)},
                     weights=["kernel"], optimizer_variables=["step"])
    return stream.getvalue()


def assemble(header, data=b"\x00" * 64, *, magic=MAGIC + b"\x01", declared_length=None):
    """Builds a file from parts; `header` is a dict (JSON-encoded here) or raw bytes."""
    if isinstance(header, dict):
        header = json.dumps({"format_version": 1, "model_config": None, "compile_config": None,
                             "weights": [], "optimizer_variables": [], **header}).encode()
    length = len(header) if declared_length is None else declared_length
    return magic + struct.pack("<Q", length) + header + data


def one_tensor(**entry):
    return {"tensors": {"t": {"dtype": "float32", "shape": [4], "offsets": [0, 16], **entry}}}


VALID = valid_file_bytes()
CASES = {
    "empty": (b"", "too short"),
    "truncated_preamble": (VALID[:11], "too short"),
    "truncated_header": (VALID[:40], "runs past the end"),
    "truncated_data": (VALID[:-60], "outside the data section"),
    "corrupted_magic": (b"RNNKIX\x00" + VALID[7:], "magic"),
    "future_version": (VALID[:7] + b"\x09" + VALID[8:], "unsupported file version 9"),
    "header_length_past_end": (assemble(b"{}", declared_length=10_000), "runs past the end"),
    "header_length_huge": (assemble(b"{}", declared_length=2**63 + 5), "exceeds the limit"),
    "offsets_outside_data": (assemble(one_tensor(offsets=[64, 80])), "outside the data section"),
    "offsets_reversed": (assemble(one_tensor(offsets=[16, 0])), "outside the data section"),
    "offsets_misaligned": (assemble(one_tensor(offsets=[4, 20])), "not a multiple of 8"),
    "overlapping_tensors": (assemble({"tensors": {
        "a": {"dtype": "float32", "shape": [4], "offsets": [0, 16]},
        "b": {"dtype": "float32", "shape": [4], "offsets": [8, 24]}}}), "overlap"),
    "unknown_dtype": (assemble(one_tensor(dtype="float16")), 'unknown dtype "float16"'),
    "size_mismatch": (assemble(one_tensor(shape=[5])), "need 20"),
    "shape_product_overflow": (assemble(one_tensor(shape=[2**32, 2**32, 4])), "overflows"),
    "byte_size_overflow": (assemble(one_tensor(shape=[2**62])), "overflows"),
    "huge_declared_size": (assemble(one_tensor(shape=[2**40], offsets=[0, 2**42])), "outside the data section"),
    "dimension_beyond_int64": (assemble(one_tensor(shape=[10**30])), "fits in 64 bits"),
    "negative_dimension": (assemble(one_tensor(shape=[-4])), "non-negative"),
    "weights_name_missing_tensor": (assemble({"tensors": {}, "weights": ["ghost"]}), '"ghost"'),
    "non_utf8_header": (assemble(b'{"format_version": 1, "x": "\xff\xfe"}'), "not valid UTF-8"),
    "overlong_utf8": (assemble(b'{"x": "\xc0\xaf"}'), "not valid UTF-8"),
    "lone_surrogate_escape": (assemble(b'{"x": "\\ud800"}'), "surrogate"),
    "deeply_nested_json": (assemble(b"[" * 100_000), "nesting deeper than"),
    "trailing_comma": (assemble(b'{"format_version": 1,}'), "invalid JSON"),
    "duplicate_key": (assemble(b'{"format_version": 1, "format_version": 1}'), "duplicate key"),
    "header_not_object": (assemble(b"[1, 2]"), "must be a JSON object"),
    "missing_tensors_field": (assemble(b'{"format_version": 1}'), 'no "tensors"'),
    "tensor_entry_not_object": (assemble({"tensors": {"t": 3}}), "must be a JSON object"),
}

_LOADER = """
import json, sys
from rnnkit.saving.file_format import read_model_file
for path in sys.argv[1:]:
    try:
        read_model_file(path)
        result = {"error": None}
    except Exception as error:
        result = {"error": type(error).__name__, "message": str(error)}
    print(json.dumps({"path": path, **result}), flush=True)
"""


@pytest.fixture(scope="module")
def load_results(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hostile")
    paths = {}
    for name, (content, _) in CASES.items():
        paths[name] = directory / f"{name}.rnnkit"
        paths[name].write_bytes(content)
    child = subprocess.run([sys.executable, "-c", _LOADER, *map(str, paths.values())],
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, f"the reader crashed (exit {child.returncode}): {child.stderr[-2000:]}"
    by_path = {r["path"]: r for r in map(json.loads, child.stdout.splitlines())}
    return {name: by_path[str(path)] for name, path in paths.items()}


def test_the_unmodified_file_loads(tmp_path):
    path = tmp_path / "valid.rnnkit"
    path.write_bytes(VALID)
    child = subprocess.run([sys.executable, "-c", _LOADER, str(path)], capture_output=True, text=True, timeout=60)
    assert json.loads(child.stdout)["error"] is None


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_file_raises_clear_value_error(load_results, case):
    result = load_results[case]
    assert result["error"] == "ValueError", result
    assert result["path"] in result["message"], "the message must name the file"
    assert CASES[case][1] in result["message"]
