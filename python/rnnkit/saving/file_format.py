"""The .rnnkit container (docs/file_format.md): written here with numpy, read by the C++ reader in _core."""
import json
import struct

import numpy as np

MAGIC = b"RNNKIT\x00"
FORMAT_VERSION = 1
ALIGNMENT = 64
PREAMBLE_BYTES = 16
_DTYPES = {np.dtype(np.float32): "float32", np.dtype(np.int64): "int64"}


def _as_stored_array(name, value):
    array = np.asarray(value)
    if array.dtype.kind == "f":
        array = array.astype("<f4", copy=False)
    elif array.dtype.kind in "iub":
        array = array.astype("<i8", copy=False)
    else:
        raise ValueError(f"tensor {name!r}: dtype {array.dtype} cannot be stored (float32 or int64 only)")
    return np.asarray(array, order="C")  # ascontiguousarray would turn a scalar into shape (1,)


def _padding(size):
    return (-size) % ALIGNMENT


def write_tensor_data(stream, arrays):
    """Writes each array followed by zero padding to the next alignment boundary."""
    for array in arrays:
        stream.write(array.tobytes())
        stream.write(b"\x00" * _padding(array.nbytes))


def write_model_file(stream, tensors, *, model_config=None, compile_config=None, weights=(),
                     optimizer_variables=(), layer_assets=None):
    """Writes one .rnnkit file to a binary stream. `tensors` maps names to arrays, in file order; `layer_assets`
    (layers' vocabularies, saving.layer_assets) goes into the header when given."""
    arrays = {name: _as_stored_array(name, value) for name, value in tensors.items()}
    entries, offset = {}, 0
    for name, array in arrays.items():
        entries[name] = {"dtype": _DTYPES[array.dtype.newbyteorder("=")], "shape": list(array.shape),
                         "offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes + _padding(array.nbytes)
    for list_name, names in (("weights", weights), ("optimizer_variables", optimizer_variables)):
        missing = [n for n in names if n not in arrays]
        if missing:
            raise ValueError(f"write_model_file: {list_name} names tensors that are not stored: {missing}")
    header = {
        "format_version": FORMAT_VERSION,
        "model_config": model_config,
        "compile_config": compile_config,
        "tensors": entries,
        "weights": list(weights),
        "optimizer_variables": list(optimizer_variables),
    }
    if layer_assets is not None:
        header["layer_assets"] = layer_assets
    header = json.dumps(header, ensure_ascii=False, allow_nan=False).encode("utf-8")
    # Spaces are JSON whitespace: padding the header keeps the data section aligned in the file too.
    header += b" " * _padding(PREAMBLE_BYTES + len(header))
    stream.write(MAGIC + bytes([FORMAT_VERSION]) + struct.pack("<Q", len(header)))
    stream.write(header)
    write_tensor_data(stream, arrays.values())


def read_model_file(path):
    """Returns (header dict, {name: ndarray}); ValueError naming the file for anything malformed."""
    from rnnkit import _core

    header_text, tensors = _core.read_model_file(str(path))
    return json.loads(header_text), tensors
