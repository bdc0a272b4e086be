"""keras.utils.plot_model and model_to_dot: the model's layer graph, drawn by Graphviz through pydot. Both are
optional (`pip install "rnnkit[plot]"` for pydot, and Graphviz's `dot` program, e.g. `apt-get install graphviz`);
without them these raise Keras' ImportError. One box per layer, an edge per connection; a subclassed model is one
box, as in Keras."""
import os

_NOT_BUILT = ("This model has not yet been built. Build the model first by calling `build()` or by calling the "
              "model on a batch of data.")


def _pydot(function):
    try:
        import pydot
    except ImportError as error:
        raise ImportError(f"You must install pydot (`pip install pydot`) for `{function}` to work.") from error
    return pydot


def _outputs_text(tensors, attribute):
    from rnnkit.models.summary import shape_text

    texts = [shape_text(t.shape) if attribute == "shape" else str(t.dtype) for t in tensors]
    return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"


def _label(layer, node, show_layer_names, show_shapes, show_dtype, show_layer_activations, show_trainable):
    lines = [f"{layer.name} ({type(layer).__name__})" if show_layer_names else type(layer).__name__]
    if show_shapes:
        lines.append("Output shape: " + (_outputs_text(node.output_tensors, "shape") if node else "?"))
    if show_dtype:
        lines.append("Output dtype: " + (_outputs_text(node.output_tensors, "dtype") if node else "?"))
    activation = getattr(layer, "activation", None)
    if show_layer_activations and activation is not None:
        from rnnkit import activations

        lines.append(f"Activation: {activations.serialize(activation)}")
    if show_trainable and layer.weights:
        lines.append(f"Trainable: {layer.trainable}")
    return "\n".join(lines)


def _layers_and_edges(model):
    """(layers in graph order with the node that first produced their outputs, (from, to) layer pairs)."""
    from rnnkit.layers.input_layer import InputLayer
    from rnnkit.models.sequential import Sequential

    sequential = isinstance(model, Sequential)
    layers, first_node, edges = [], {}, []
    for node in model._nodes:
        layer = node.layer
        if sequential and isinstance(layer, InputLayer):
            continue
        if id(layer) not in first_node:
            layers.append(layer)
            first_node[id(layer)] = node
        for tensor in node.input_tensors:
            source = tensor.node.layer
            if (sequential and isinstance(source, InputLayer)) or (source, layer) in edges:
                continue
            edges.append((source, layer))
    return layers, first_node, edges


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True, rankdir="TB",
                 expand_nested=False, dpi=200, subgraph=False, show_layer_activations=False, show_trainable=False,
                 splines="ortho", **kwargs):
    """A pydot.Dot of the model's layers (a pydot.Cluster with subgraph=True)."""
    from rnnkit.models.functional import Functional
    from rnnkit.models.model import Model

    if not model.built:
        raise ValueError(_NOT_BUILT)
    pydot = _pydot("model_to_dot")
    if kwargs:
        raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
    if subgraph:
        dot = pydot.Cluster(graph_name=model.name, style="dashed", label=model.name, labeljust="l")
    else:
        dot = pydot.Dot(graph_type="digraph", rankdir=rankdir, concentrate=True, dpi=dpi, splines=splines)
    dot.set_node_defaults(shape="box")
    options = (show_layer_names, show_shapes, show_dtype, show_layer_activations, show_trainable)
    if not isinstance(model, Functional):  # subclassed: no graph to draw
        dot.add_node(pydot.Node(str(id(model)), label=_label(model, None, *options)))
        return dot
    layers, first_node, edges = _layers_and_edges(model)
    if expand_nested and any(isinstance(layer, Model) for layer in layers):
        raise NotImplementedError(f"model_to_dot: expand_nested is not supported by rnnkit (model '{model.name}' "
                                  "nests models; each is drawn as one box)")
    for layer in layers:
        dot.add_node(pydot.Node(str(id(layer)), label=_label(layer, first_node[id(layer)], *options)))
    for source, target in edges:
        dot.add_edge(pydot.Edge(str(id(source)), str(id(target))))
    return dot


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False, show_layer_names=False,
               rankdir="TB", expand_nested=False, dpi=200, show_layer_activations=False, show_trainable=False,
               splines="ortho", **kwargs):
    """Writes the model's graph to `to_file` in the format its extension names (png without one); returns an
    IPython Image of it where IPython is installed and can show the format (png, jpeg, gif), else None."""
    if not model.built:
        raise ValueError(_NOT_BUILT)
    pydot = _pydot("plot_model")
    try:
        pydot.Dot().create()
    except (OSError, AssertionError) as error:  # pydot's report of a missing `dot` program
        raise ImportError("You must install graphviz (see instructions at https://graphviz.gitlab.io/download/) "
                          "for `plot_model` to work.") from error
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype, show_layer_names=show_layer_names,
                       rankdir=rankdir, expand_nested=expand_nested, dpi=dpi,
                       show_layer_activations=show_layer_activations, show_trainable=show_trainable, splines=splines,
                       **kwargs)
    to_file = os.fspath(to_file)
    extension = os.path.splitext(to_file)[1][1:] or "png"
    dot.write(to_file, format=extension)
    if extension not in ("png", "jpg", "jpeg", "gif"):  # the formats IPython's Image shows
        return None
    try:
        from IPython import display
    except ImportError:
        return None
    return display.Image(filename=to_file, format=extension)
