"""model.summary() in the tf.keras table style: layer rows, then total / trainable / non-trainable counts."""
from rnnkit.layers.input_layer import InputLayer


def shape_text(shape):
    """A shape as Keras prints it: (None, 8), (None,), or a list of such for several outputs."""
    if isinstance(shape, list):
        return "[" + ", ".join(shape_text(item) for item in shape) + "]"
    return "(" + ", ".join("None" if size is None else str(size) for size in shape) + ("," if len(shape) == 1 else "") \
        + ")"


_TRAINABLE_WIDTH = 11  # " Trainable" and a space


def _row(fields, positions):
    line, start = "", 0
    for field, end in zip(fields, positions):
        cell = (" " + str(field))[:end - start]
        line += cell + " " * (end - start - len(cell))
        start = end
    return line


def _is_sequential(model):
    from rnnkit.models.sequential import Sequential

    return isinstance(model, Sequential)


def _is_subclassed(model):
    from rnnkit.models.functional import Functional

    return not isinstance(model, Functional)


def print_summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                  layer_range=None):
    from rnnkit.models.model import Model

    if layer_range is not None:
        raise NotImplementedError(f"Model '{model.name}'.summary: layer_range is not supported by rnnkit")
    if expand_nested and any(isinstance(layer, Model) for layer in model.layers):
        raise NotImplementedError(f"Model '{model.name}'.summary: expand_nested is not supported by rnnkit (the "
                                  "nested models are listed as one row each)")
    print_fn = print_fn or print
    sequential = _is_sequential(model) or _is_subclassed(model)  # Keras: both without "Connected to"
    line_length = line_length or (65 if sequential else 98) + (_TRAINABLE_WIDTH if show_trainable else 0)
    fractions = positions or ([0.45, 0.85, 1.0] if sequential else [0.33, 0.55, 0.67, 1.0])
    if show_trainable and not positions:  # the other columns keep their widths; "Trainable" gets the last ones
        fractions = [f * (line_length - _TRAINABLE_WIDTH) / line_length for f in fractions] + [1.0]
    columns = [int(line_length * f) if f <= 1 else int(f) for f in fractions]
    headers = (["Layer (type)", "Output Shape", "Param #"] + ([] if sequential else ["Connected to"])
               + (["Trainable"] if show_trainable else []))
    print_fn(f'Model: "{model.name}"')
    print_fn("_" * line_length)
    print_fn(_row(headers, columns))
    print_fn("=" * line_length)
    rows = _rows(model, sequential)
    for index, (layer, row) in enumerate(rows):
        if show_trainable:  # "-" for a layer without weights, as in Keras 3
            row = row + ["-" if not layer.weights else "Y" if layer.trainable else "N"]
        print_fn(_row(row, columns))
        print_fn(("=" if index == len(rows) - 1 else " ") * line_length)
    trainable = sum(int(v.value.size) for v in model.trainable_weights)
    total = sum(int(v.value.size) for v in model.weights)
    print_fn(f"Total params: {total:,}")
    print_fn(f"Trainable params: {trainable:,}")
    print_fn(f"Non-trainable params: {total - trainable:,}")
    print_fn("_" * line_length)


def _rows(model, sequential):
    """(layer, the row's fields) for each row."""
    if not model.built:
        return [(layer, [f"{layer.name} ({type(layer).__name__})", "(unbuilt)", layer.count_params()])
                for layer in model.layers]
    if _is_subclassed(model):
        return [(layer, _subclassed_row(model, layer)) for layer in model.layers]
    rows = []
    for node in model._nodes:
        layer = node.layer
        if sequential and isinstance(layer, InputLayer):
            continue
        shapes = [tensor.shape for tensor in node.output_tensors]
        row = [f"{layer.name} ({type(layer).__name__})", shape_text(shapes if len(shapes) > 1 else shapes[0]),
               str(layer.count_params()) if node is _first_node(model, layer) else "0"]
        if not sequential:
            row.append(", ".join(f"{t.node.layer.name}[{_node_position(model, t.node)}][{t.index}]"
                                 for t in node.input_tensors))
        rows.append((layer, row))
    return rows


def _first_node(model, layer):
    return next(node for node in model._nodes if node.layer is layer)


def _node_position(model, node):
    return [n for n in model._nodes if n.layer is node.layer].index(node)


def _subclassed_row(model, layer):
    """A subclassed model's layer with its output in call()'s first trace ("?" when that trace never called it)."""
    node = next((node for node in model._first_trace()._nodes if node.layer is layer), None)
    if node is None:
        return [f"{layer.name} ({type(layer).__name__})", "?", str(layer.count_params())]
    shapes = [tensor.shape for tensor in node.output_tensors]
    return [f"{layer.name} ({type(layer).__name__})", shape_text(shapes if len(shapes) > 1 else shapes[0]),
            str(layer.count_params())]
