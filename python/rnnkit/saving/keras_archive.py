"""Models saved by Keras 3 as `.keras` archives: a zip of `config.json` (the model's Keras config), `metadata.json`
and `model.weights.h5` (the `.weights.h5` layout, read by keras_h5; needs h5py, the "h5" extra).

Nothing is extracted to disk and nothing is executed: the two members are read into memory, each at most
MAX_MEMBER_BYTES (a zip's declared sizes can lie, so the reads themselves are bounded), and layers are looked up
by class name as for `.rnnkit` files.
"""
import io
import json
import os
import zipfile

# The largest config.json or model.weights.h5 read (a weights file of 2 GiB is half a billion float32 weights).
MAX_MEMBER_BYTES = 2 << 30
CONFIG_MEMBER, WEIGHTS_MEMBER = "config.json", "model.weights.h5"


def _read_member(archive, name, path):
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise ValueError(f"load_model: {os.fspath(path)!r} is not a Keras 3 model archive: no {name}") from None
    if info.file_size > MAX_MEMBER_BYTES:
        raise ValueError(f"load_model: {os.fspath(path)!r}: {name} declares {info.file_size} bytes, more than "
                         f"the {MAX_MEMBER_BYTES} read")
    with archive.open(info) as member:
        data = member.read(MAX_MEMBER_BYTES + 1)
    if len(data) > MAX_MEMBER_BYTES:
        raise ValueError(f"load_model: {os.fspath(path)!r}: {name} holds more than the {MAX_MEMBER_BYTES} bytes read")
    return data


def read_keras_archive(path):
    """(the model's Keras config as a dict, the weights file's bytes)."""
    try:
        with zipfile.ZipFile(os.fspath(path)) as archive:
            config_bytes = _read_member(archive, CONFIG_MEMBER, path)
            weights = _read_member(archive, WEIGHTS_MEMBER, path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError) as error:
        # NotImplementedError: a compression method zipfile lacks; RuntimeError: an encrypted member.
        raise ValueError(f"load_model: {os.fspath(path)!r} is not a readable .keras archive: {error}") from error
    try:
        config = json.loads(config_bytes)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"load_model: {os.fspath(path)!r}: {CONFIG_MEMBER} is not JSON: {error}") from error
    if not isinstance(config, dict):
        raise ValueError(f"load_model: {os.fspath(path)!r}: {CONFIG_MEMBER} holds no model config")
    return config, io.BytesIO(weights)
