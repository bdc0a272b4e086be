"""keras.utils.model_to_dot / plot_model: one box per layer with the asked-for lines, an edge per connection, Keras'
errors without pydot or Graphviz; the drawing itself where Graphviz's `dot` is installed; the same edges as Keras'."""
import shutil
import sys

import pytest

import rnnkit
from rnnkit import layers, utils

pydot = pytest.importorskip("pydot", reason="plot_model needs pydot (pip install 'rnnkit[plot]')")


def two_branch_model(lib):
    a, b = lib.Input((5, 3), name="a"), lib.Input((5, 3), name="b")
    x = lib.layers.LSTM(4, return_sequences=True, name="lstm")(a)
    y = lib.layers.GRU(4, return_sequences=True, name="gru")(b)
    merged = lib.layers.Concatenate(name="concatenate")([x, y])
    pooled = lib.layers.GlobalAveragePooling1D(name="pool")(merged)
    return lib.Model([a, b], lib.layers.Dense(1, activation="sigmoid", name="dense")(pooled))


def named_edges(model, dot):
    names = {str(id(layer)): layer.name for layer in model.layers}
    return {(names[e.get_source()], names[e.get_destination()]) for e in dot.get_edges()}


def boxes(dot):
    return [node for node in dot.get_nodes() if node.get_name() not in ("node", "edge")]  # not the defaults


def labels(dot):
    return {node.get_label().strip('"') for node in boxes(dot)}


def test_functional_graph_has_a_box_per_layer_and_an_edge_per_connection():
    model = two_branch_model(rnnkit)
    dot = utils.model_to_dot(model, show_shapes=True, show_dtype=True, show_layer_activations=True,
                             show_trainable=True)
    assert named_edges(model, dot) == {("a", "lstm"), ("b", "gru"), ("lstm", "concatenate"),
                                       ("gru", "concatenate"), ("concatenate", "pool"), ("pool", "dense")}
    assert "dense (Dense)\nOutput shape: (None, 1)\nOutput dtype: float32\nActivation: sigmoid\nTrainable: True" \
        in labels(dot)
    assert "pool (GlobalAveragePooling1D)\nOutput shape: (None, 8)\nOutput dtype: float32" in labels(dot)
    assert labels(utils.model_to_dot(model, show_layer_names=False)) >= {"LSTM", "GRU", "Dense", "InputLayer"}


def test_sequential_draws_its_layers_without_the_input():
    model = rnnkit.Sequential([rnnkit.Input((5, 3)), layers.SimpleRNN(4, name="rnn"), layers.Dense(1, name="out")])
    dot = utils.model_to_dot(model, show_shapes=True)
    assert labels(dot) == {"rnn (SimpleRNN)\nOutput shape: (None, 4)", "out (Dense)\nOutput shape: (None, 1)"}
    assert named_edges(model, dot) == {("rnn", "out")}


def test_subclassed_model_is_one_box_and_unbuilt_models_are_refused():
    class Tiny(rnnkit.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    tiny = Tiny()
    with pytest.raises(ValueError, match="not yet been built"):
        utils.model_to_dot(tiny)
    tiny(rnnkit.ops.ones((1, 3)))
    assert len(boxes(utils.model_to_dot(tiny))) == 1
    with pytest.raises(ValueError, match="Unrecognized keyword"):
        utils.model_to_dot(two_branch_model(rnnkit), layer_range=["a", "b"])


def test_nested_models_are_not_expanded():
    inner = rnnkit.Sequential([rnnkit.Input((3,)), layers.Dense(2)])
    outer = rnnkit.Sequential([rnnkit.Input((3,)), inner, layers.Dense(1)])
    assert len(boxes(utils.model_to_dot(outer))) == 2
    with pytest.raises(NotImplementedError, match="expand_nested"):
        utils.model_to_dot(outer, expand_nested=True)


def test_without_pydot_the_error_is_kerass(monkeypatch):
    monkeypatch.setitem(sys.modules, "pydot", None)  # makes `import pydot` raise ImportError
    with pytest.raises(ImportError, match=r"You must install pydot \(`pip install pydot`\) for `plot_model`"):
        utils.plot_model(two_branch_model(rnnkit))


@pytest.mark.skipif(shutil.which("dot") is None, reason="drawing needs Graphviz's dot program (apt-get install "
                                                        "graphviz)")
@pytest.mark.parametrize("name, magic", [("model.png", b"\x89PNG"), ("model.svg", b"<?xml"), ("model", b"\x89PNG")])
def test_plot_model_writes_the_format_its_extension_names(tmp_path, name, magic):
    target = tmp_path / name
    utils.plot_model(two_branch_model(rnnkit), to_file=target, show_shapes=True)
    assert target.read_bytes().startswith(magic)


def test_oracle_edges_match_keras():
    keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")
    theirs, ours = two_branch_model(keras), two_branch_model(rnnkit)
    assert named_edges(ours, utils.model_to_dot(ours)) == named_edges(theirs, keras.utils.model_to_dot(theirs))
