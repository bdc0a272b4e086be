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
    # Header length: past the 100 MiB limit with the bytes present or absent, and zero.
    "header_length_just_over_limit": (assemble(b"{}", declared_length=100 * 2**20 + 1), "exceeds the limit"),
    "header_length_max_u64": (assemble(b"{}", declared_length=2**64 - 1), "exceeds the limit"),
    "header_length_zero": (assemble(b"", declared_length=0), "invalid JSON"),
    # Shapes that are not lists of non-negative integers (JSON has no NaN: a writer's NaN is invalid JSON).
    "nan_in_shape": (assemble(b'{"format_version": 1, "tensors": {"t": {"dtype": "float32", "shape": [NaN], '
                              b'"offsets": [0, 4]}}, "weights": [], "optimizer_variables": []}'), "invalid JSON"),
    "infinity_in_shape": (assemble(b'{"format_version": 1, "tensors": {"t": {"dtype": "float32", '
                                   b'"shape": [Infinity]}}}'), "invalid JSON"),
    "float_dimension": (assemble(one_tensor(shape=[4.0])), "shape entry must be a non-negative integer"),
    "exponent_dimension": (assemble(one_tensor(shape=[4e0])), "shape entry must be a non-negative integer"),
    "huge_float_dimension": (assemble(b'{"format_version": 1, "tensors": {"t": {"dtype": "float32", '
                                      b'"shape": [1e400], "offsets": [0, 16]}}, "weights": [], '
                                      b'"optimizer_variables": []}'), "shape entry must be a non-negative"),
    "string_dimension": (assemble(one_tensor(shape=["4"])), "shape entry must be a non-negative integer"),
    "bool_dimension": (assemble(one_tensor(shape=[True])), "shape entry must be a non-negative integer"),
    "null_dimension": (assemble(one_tensor(shape=[None])), "shape entry must be a non-negative integer"),
    "shape_not_a_list": (assemble(one_tensor(shape=4)), 'field "shape" has the wrong JSON type'),
    "dimension_2_to_63": (assemble(one_tensor(shape=[2**63])), "fits in 64 bits"),
    "zero_times_overflow": (assemble(one_tensor(shape=[0, 2**62, 2**62], offsets=[0, 0])), "overflows"),
    # Offsets and other fields of the wrong kind.
    "three_offsets": (assemble(one_tensor(offsets=[0, 16, 32])), "offsets must be [begin, end]"),
    "negative_offset": (assemble(one_tensor(offsets=[-16, 0])), "begin offset must be a non-negative"),
    "float_offset": (assemble(one_tensor(offsets=[0, 16.0])), "end offset must be a non-negative"),
    "offset_beyond_int64": (assemble(one_tensor(offsets=[0, 2**64 + 16])), "end offset must be a non-negative"),
    "dtype_not_a_string": (assemble(one_tensor(dtype=32)), 'field "dtype" has the wrong JSON type'),
    "missing_offsets": (assemble({"tensors": {"t": {"dtype": "float32", "shape": [4]}}}), 'has no "offsets"'),
    "tensors_is_a_list": (assemble({"tensors": [1, 2]}), '"tensors" has the wrong JSON type'),
    "weights_not_a_list": (assemble({"tensors": {}, "weights": "kernel"}), '"weights" has the wrong JSON type'),
    "weights_list_of_numbers": (assemble({"tensors": {}, "weights": [1]}), '"weights" must list tensor names'),
    "header_version_mismatch": (assemble({"format_version": 2, "tensors": {}}), "format_version 2"),
    "header_version_string": (assemble({"format_version": "1", "tensors": {}}), '"format_version" has the wrong'),
    # JSON syntax.
    "bad_json_truncated": (assemble(b'{"format_version": 1, "tensors": {'), "invalid JSON"),
    "bad_json_single_quotes": (assemble(b"{'format_version': 1}"), "invalid JSON"),
    "bad_json_unterminated_string": (assemble(b'{"format_version'), "invalid JSON"),
    "bad_json_control_character": (assemble(b'{"x": "a\x01b"}'), "control character"),
    "bad_json_unknown_escape": (assemble(b'{"x": "\\q"}'), "unknown escape"),
    "bad_json_trailing_data": (assemble(b'{} {}'), "unexpected data after the JSON value"),
    "bad_json_leading_zero": (assemble(b'{"format_version": 01}'), "invalid JSON"),
    "bad_json_nul_byte": (assemble(b'{"format_version": 1}\x00'), "unexpected data after the JSON value"),
    "lone_low_surrogate": (assemble(b'{"x": "\\udc00"}'), "unpaired low surrogate"),
    "utf8_encoded_surrogate": (assemble(b'{"x": "\xed\xa0\x80"}'), "not valid UTF-8"),
    "utf8_above_max": (assemble(b'{"x": "\xf4\x90\x80\x80"}'), "not valid UTF-8"),
    "deeply_nested_objects": (assemble(b'{"a":' * 10_000), "nesting deeper than"),
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


# -- the same files through the C++ model loader, and under an address-space limit ------------------------------
_LIMITED_LOADER = """
import json, resource, sys
from rnnkit import _core
from rnnkit.saving.file_format import read_model_file
# Every hostile file is at most a few KiB: 256 MiB of address space above what the interpreter already holds is
# far more than a reader that never trusts declared sizes needs, and far less than any declared size here.
with open("/proc/self/status") as status:
    in_use = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, (in_use + 256 * 2**20, resource.RLIM_INFINITY))
for path in sys.argv[1:]:
    for reader in ("python", "cpp_model"):
        try:
            read_model_file(path) if reader == "python" else _core.CppModel(path)
            result = {"error": None}
        except Exception as error:
            result = {"error": type(error).__name__, "message": str(error)}
        print(json.dumps({"path": path, "reader": reader, **result}), flush=True)
"""


@pytest.fixture(scope="module")
def limited_results(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hostile_limited")
    paths = {}
    for name, (content, _) in CASES.items():
        paths[name] = directory / f"{name}.rnnkit"
        paths[name].write_bytes(content)
    child = subprocess.run([sys.executable, "-c", _LIMITED_LOADER, *map(str, paths.values())],
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, f"a reader crashed (exit {child.returncode}): {child.stderr[-2000:]}"
    by_key = {(r["path"], r["reader"]): r for r in map(json.loads, child.stdout.splitlines())}
    return {(name, reader): by_key[(str(path), reader)] for name, path in paths.items()
            for reader in ("python", "cpp_model")}


@pytest.mark.parametrize("reader", ["python", "cpp_model"])
@pytest.mark.parametrize("case", list(CASES))
def test_hostile_file_needs_no_large_allocation_in_either_reader(limited_results, case, reader):
    result = limited_results[(case, reader)]
    assert result["error"] == "ValueError", result
    assert result["path"] in result["message"]
    assert CASES[case][1] in result["message"]


# -- headers built to make the parser slow -------------------------------------------------------------------------
@pytest.mark.parametrize("build", ["many_keys", "many_tensors", "many_names"])
def test_large_headers_are_checked_in_linear_time(tmp_path, build):
    count = 100_000
    if build == "many_keys":
        header = b"{" + b",".join(b'"k%d": 0' % i for i in range(count)) + b', "format_version": 1}'
        expected = 'no "tensors"'
    elif build == "many_tensors":
        tensors = {f"t{i}": {"dtype": "int64", "shape": [], "offsets": [0, 8]} for i in range(count)}
        header = json.dumps({"format_version": 1, "tensors": tensors, "weights": [],
                             "optimizer_variables": []}).encode()
        expected = "overlap"
    else:
        header = json.dumps({"format_version": 1, "tensors": {"t": {"dtype": "int64", "shape": [],
                             "offsets": [0, 8]}}, "weights": ["t"] * count + ["ghost"],
                             "optimizer_variables": []}).encode()
        expected = '"ghost"'
    path = tmp_path / "big_header.rnnkit"
    path.write_bytes(assemble(header))
    child = subprocess.run([sys.executable, "-c", _LOADER, str(path)], capture_output=True, text=True, timeout=60)
    result = json.loads(child.stdout)
    assert result["error"] == "ValueError" and expected in result["message"], result


# -- valid containers whose model description is hostile -----------------------------------------------------------
def _model_file(path, model_config, weights=None, compile_config=None):
    tensors = weights or {}
    with open(path, "wb") as stream:
        write_model_file(stream, tensors, model_config=model_config, compile_config=compile_config,
                         weights=list(tensors))
    return path


def _sequential(*layer_configs):
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": "s", "layers": list(layer_configs)}}


def _layer(class_name, **config):
    return {"module": "keras.layers", "class_name": class_name, "config": config, "registered_name": None}


MODEL_CASES = {
    "model_config_not_an_object": ("just text", r"s|model"),
    "unknown_model_class": ({"class_name": "os.system", "config": {}}, "Unknown layer class 'os.system'"),
    "unknown_layer_class": (_sequential(_layer("InputLayer", batch_shape=[None, 3]), _layer("PyFunc", function="x")),
                            "Unknown layer class 'PyFunc'"),
    "lambda_with_code_only": (_sequential(_layer("InputLayer", batch_shape=[None, 3]), _layer(
        "Lambda", function={"class_name": "__lambda__", "config": {"code": "YQ==", "defaults": None, "closure": None}})),
        "does not run from a file"),
    "module_path_class": (_sequential(_layer("InputLayer", batch_shape=[None, 3]),
                                      {"module": "builtins", "class_name": "eval", "config": {}}),
                          "Unknown layer class 'eval'"),
    "string_units": (_sequential(_layer("InputLayer", batch_shape=[None, 3]), _layer("Dense", units="4")),
                     "positive int"),
    "negative_units": (_sequential(_layer("InputLayer", batch_shape=[None, 3]), _layer("Dense", units=-4)),
                       "units > 0"),
    "unknown_argument": (_sequential(_layer("InputLayer", batch_shape=[None, 3]),
                                     _layer("Dense", units=2, __class__="x")), "unexpected keyword"),
    "unknown_activation": (_sequential(_layer("InputLayer", batch_shape=[None, 3]),
                                       _layer("Dense", units=2, activation="__import__")), "Unknown activation"),
    "layers_not_a_list": ({"class_name": "Sequential", "config": {"name": "s", "layers": 7}}, "model_config"),
    "layer_config_not_a_dict": (_sequential(["Dense", 3]), "model_config"),
    "functional_without_inputs": ({"class_name": "Functional", "config": {"name": "f", "layers": []}},
                                  "input_layers"),
    "functional_unknown_inbound_layer": (
        {"class_name": "Functional", "config": {
            "name": "f", "input_layers": [["in", 0, 0]], "output_layers": [["d", 0, 0]],
            "layers": [dict(_layer("InputLayer", batch_shape=[None, 3], name="in"), name="in", inbound_nodes=[]),
                       dict(_layer("Dense", units=2, name="d"), name="d",
                            inbound_nodes=[{"args": [["__keras_tensor__", "ghost", 0, 0]], "kwargs": {}}])]}},
        "ghost"),
}


@pytest.mark.parametrize("case", list(MODEL_CASES))
def test_hostile_model_config_is_a_clear_error_and_runs_no_code(tmp_path, case, monkeypatch):
    from rnnkit import saving

    config, message = MODEL_CASES[case]
    path = _model_file(tmp_path / f"{case}.rnnkit", config)
    monkeypatch.setattr("builtins.eval", lambda *a, **k: pytest.fail("eval called while loading"))
    monkeypatch.setattr("builtins.exec", lambda *a, **k: pytest.fail("exec called while loading"))
    with pytest.raises(ValueError, match=message) as error:
        saving.load_model(str(path))
    assert str(path) in str(error.value)


def test_weights_of_the_wrong_count_or_shape_are_clear_errors(tmp_path):
    from rnnkit import saving

    config = _sequential(_layer("InputLayer", batch_shape=[None, 3]), _layer("Dense", units=2, name="d"))
    path = _model_file(tmp_path / "count.rnnkit", config, {"weights/0000/d/kernel": np.ones((3, 2), np.float32)})
    with pytest.raises(ValueError, match=r"count.rnnkit.*1 weights but the model has 2"):
        saving.load_model(str(path))
    path = _model_file(tmp_path / "shape.rnnkit", config, {"weights/0000/d/kernel": np.ones((3, 5), np.float32),
                                                           "weights/0001/d/bias": np.ones(2, np.float32)})
    with pytest.raises(ValueError, match=r"shape.rnnkit.*\(3, 5\).*d/kernel.*\(3, 2\)"):
        saving.load_model(str(path))


# -- the C++ loader (rnnkit::load_model) on hostile model configs ---------------------------------------------------
_INPUT_SEQ = _layer("InputLayer", batch_shape=[None, 5, 3])
CPP_MODEL_CASES = {
    # Weights declared by a few bytes of config: 30000 LSTM units would be 14 GB of zeros if allocated up front.
    "lstm_units_many_gigabytes": (_sequential(_INPUT_SEQ, _layer("LSTM", units=30_000)), "holds 0 weights"),
    "embedding_many_gigabytes": (_sequential(_layer("InputLayer", batch_shape=[None, 5]),
                                             _layer("Embedding", input_dim=2**31, output_dim=8)), "holds 0 weights"),
    "dense_units_overflow": (_sequential(_layer("InputLayer", batch_shape=[None, 3]), _layer("Dense", units=2**62)),
                             "overflows"),
    "lstm_gates_overflow": (_sequential(_INPUT_SEQ, _layer("LSTM", units=2**62)), "overflows"),
    "input_shape_overflow": (_sequential(_layer("InputLayer", batch_shape=[None, 2**40, 2**40]), _layer("Flatten"),
                                         _layer("Dense", units=1)), "overflows"),
    "negative_units": (_sequential(_layer("InputLayer", batch_shape=[None, 3]), _layer("Dense", units=-1)),
                       "positive integer units"),
    "unknown_merge_mode": (_sequential(_INPUT_SEQ, _layer("Bidirectional", layer=_layer("LSTM", units=2),
                                                          merge_mode="xx")), 'merge_mode "xx"'),
    "layers_not_a_list": ({"class_name": "Sequential", "config": {"name": "s", "layers": 7}}, '"layers"'),
}

_CPP_LOADER = _LIMITED_LOADER.replace('for reader in ("python", "cpp_model")', 'for reader in ("cpp_model",)')


def test_cpp_loader_refuses_hostile_configs_without_large_allocations(tmp_path):
    paths = {name: _model_file(tmp_path / f"{name}.rnnkit", config) for name, (config, _) in CPP_MODEL_CASES.items()}
    child = subprocess.run([sys.executable, "-c", _CPP_LOADER, *map(str, paths.values())],
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, f"the C++ loader crashed (exit {child.returncode}): {child.stderr[-2000:]}"
    results = {r["path"]: r for r in map(json.loads, child.stdout.splitlines())}
    for name, path in paths.items():
        result = results[str(path)]
        assert result["error"] == "ValueError", (name, result)
        assert result["message"].startswith(str(path)) and CPP_MODEL_CASES[name][1] in result["message"], result
