"""Layer state that is neither config nor weights: the vocabulary and idf weights of StringLookup, IntegerLookup and
TextVectorization (their export_state() / import_state()), in both file formats.

- `.rnnkit`: the header's "layer_assets" object, {layer path: {"vocabulary": [str or int] or null, "idf_weights":
  [float] or null}}; JSON keeps every token as it is.
- `.keras`: where Keras' save_assets / save_own_variables put it, so that each side loads the other's archives:
  `assets/<layer path>/vocabulary.txt` (the vocabulary, special tokens first, as text joined by "\\n"; an
  IntegerLookup parses its lines back into integers) and the dataset `<layer path>/vars/idf_weights` of
  model.weights.h5 (tf_idf only).

Layer paths are Keras' (keras_h5): a TextVectorization's state appears at its own path and again at its
`_lookup_layer`'s, as Keras writes it.
"""
import os

import numpy as np

from rnnkit.saving.keras_h5 import attribute_paths, import_h5py, keras_layer_paths

VOCABULARY_FILE = "vocabulary.txt"


def _walk(paths, visited):
    from rnnkit.models.model import Model

    for path, layer in paths:
        if id(layer) in visited:
            continue
        visited.add(id(layer))
        yield path, layer
        held = keras_layer_paths(layer) if isinstance(layer, Model) else attribute_paths(layer)
        yield from _walk([(f"{path}/{name}", item) for name, item in held], visited)


def stateful_layers(model):
    """(Keras path, layer) of each layer of `model`, at any depth, that has state to save besides its weights."""
    return [(path, layer) for path, layer in _walk(keras_layer_paths(model), set()) if hasattr(layer, "export_state")]


# -- .rnnkit ---------------------------------------------------------------------------------------------------------
def rnnkit_layer_assets(model):
    """The header's "layer_assets" object, or None when no layer has such state."""
    assets = {}
    for path, layer in stateful_layers(model):
        state = layer.export_state()
        weights = state["idf_weights"]
        assets[path] = {"vocabulary": state["vocabulary"],
                        "idf_weights": None if weights is None else np.asarray(weights, np.float32).tolist()}
    return assets or None


def restore_rnnkit_layer_assets(model, assets, source):
    """Restores the state a .rnnkit header's "layer_assets" holds."""
    if not isinstance(assets, dict):
        raise ValueError(f"{os.fspath(source)!r}: layer_assets must be a JSON object, received {type(assets).__name__}")
    for path, layer in stateful_layers(model):
        state = assets.get(path)
        if state is None:
            continue
        vocabulary = state.get("vocabulary") if isinstance(state, dict) else None
        weights = state.get("idf_weights") if isinstance(state, dict) else None
        if not isinstance(state, dict) or not (vocabulary is None or isinstance(vocabulary, list)) or \
                not (weights is None or isinstance(weights, list)):
            raise ValueError(f"{os.fspath(source)!r}: layer_assets[{path!r}] must be an object of a vocabulary list "
                             "and an idf_weights list (or nulls)")
        _import(layer, vocabulary, weights, source, path)


def _import(layer, vocabulary, idf_weights, source, path):
    try:
        layer.import_state(vocabulary=vocabulary, idf_weights=idf_weights)
    except (ValueError, TypeError, RuntimeError) as error:
        raise ValueError(f"{os.fspath(source)!r}: the saved state of layer {layer.name!r} ({path}) does not fit it: "
                         f"{error}") from error


# -- .keras ----------------------------------------------------------------------------------------------------------
def keras_vocabulary_text(layer):
    """vocabulary.txt as Keras writes it; refused when Keras' reader (str.splitlines, trailing empty lines dropped)
    would not give the same tokens back, rather than write an archive Keras misreads."""
    vocabulary = [str(token) for token in layer.get_vocabulary()]
    broken = [token for token in vocabulary if token.splitlines() not in ([token], [])]
    if broken or (vocabulary and vocabulary[-1] == ""):
        raise ValueError(f"Layer {layer.name!r}: its vocabulary holds tokens that Keras' vocabulary.txt cannot keep "
                         f"(line breaks or a final empty token: {(broken or [''])[:5]!r}); save the model as .rnnkit")
    return "\n".join(vocabulary)


def keras_asset_members(model):
    """{archive member name: bytes}: each stateful layer's assets/<path>/vocabulary.txt, which Keras' load_model
    requires (the special tokens alone for a layer without a vocabulary, as Keras writes it)."""
    return {f"assets/{path}/{VOCABULARY_FILE}": keras_vocabulary_text(layer).encode("utf-8")
            for path, layer in stateful_layers(model)}


def write_keras_own_variables(vars_group, layer):
    """What Keras' save_own_variables adds to a lookup layer's vars group: its idf_weights in tf_idf mode, those of
    the vocabulary's indices only (Keras also writes pad_to_max_tokens' zeros, and then its own load_assets
    refuses the archive: idf_weights longer than the vocabulary)."""
    if hasattr(layer, "export_state"):
        weights = layer.export_state()["idf_weights"]
        if weights is not None:
            vars_group.create_dataset("idf_weights", data=np.asarray(weights, np.float32)[:layer.vocabulary_size()])


def restore_keras_layer_assets(model, weights_file, source, read_members=None):
    """Restores each stateful layer's idf_weights from a Keras weights file (a path or file object) and, given
    `read_members` (names -> {name: bytes} of the .keras archive), its vocabulary.txt."""
    layers = stateful_layers(model)
    if not layers:
        return
    members = read_members([f"assets/{path}/{VOCABULARY_FILE}" for path, _ in layers]) if read_members else {}
    h5py = import_h5py()
    if hasattr(weights_file, "seek"):
        weights_file.seek(0)
    with h5py.File(weights_file, "r") as file:
        weights = {path: file[f"{path}/vars/idf_weights"][()] for path, _ in layers
                   if isinstance(file.get(f"{path}/vars/idf_weights"), h5py.Dataset)}
    for path, layer in layers:
        text = members.get(f"assets/{path}/{VOCABULARY_FILE}")
        try:
            vocabulary = None if text is None else _keras_vocabulary(text.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise ValueError(f"{os.fspath(source)!r}: assets/{path}/{VOCABULARY_FILE} is not UTF-8: {error}") from None
        idf_weights = weights.get(path)
        if idf_weights is not None and np.asarray(idf_weights).ndim != 1:
            raise ValueError(f"{os.fspath(source)!r}: {path}/vars/idf_weights is not a 1-D array")
        _import(layer, vocabulary, None if idf_weights is None else list(idf_weights), source, path)


def _keras_vocabulary(text):
    """The tokens of a vocabulary.txt: the inverse of Keras' writer ("\n".join, "\r\n" on Windows). Keras' own
    reader (str.splitlines, trailing empty lines dropped) loses a final "" token and splits tokens holding \r or
    \x1c, so that Keras fails to load (or misreads) such archives of its own; rnnkit reads them as written."""
    return text.replace("\r\n", "\n").split("\n")
