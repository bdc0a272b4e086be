"""Forward and backward passes over a graph of Nodes (explicit autodiff: each node keeps its layer's ctx)."""
import numpy as np

from rnnkit.layers.rnn.token_table import TokenIds, TokenRowsGradient


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _mirror(template, values):
    return list(values) if isinstance(template, (list, tuple)) else values[0]


class ActivityLosses:
    """The activity regularizers' penalties of one forward pass (Keras 3: regularizer(output) / batch size for each
    output of a layer that has one) and, for training, their gradients by output tensor, which run_backward adds
    to what reaches those tensors from the loss."""

    def __init__(self, with_gradients):
        self.total = 0.0
        self.gradients = {} if with_gradients else None

    def add(self, regularizer, tensor, value):
        value = np.asarray(value)
        batch = value.shape[0] if value.ndim else 1
        if batch == 0:  # Keras divides with divide_no_nan: an empty batch adds nothing
            return
        self.total += regularizer(value) / batch
        if self.gradients is not None:
            _accumulate(self.gradients, id(tensor), regularizer.gradient(value) / np.float32(batch))


def ordered_nodes(outputs):
    """Nodes feeding ``outputs`` in topological order (inputs first), each once."""
    order, visited = [], set()

    def visit(node):
        if id(node) in visited:
            return
        visited.add(id(node))
        for tensor in node.input_tensors:
            visit(tensor.node)
        order.append(node)

    for tensor in outputs:
        visit(tensor.node)
    return order


def keras_layer_order(inputs, outputs):
    """The layers of the graph from ``inputs`` to ``outputs`` in Keras 3's Functional order (keras.src.ops.function
    .map_graph), which model.layers and model.weights follow and Keras' weight files number layers by: deepest
    first (depth: the longest path to an output, a shared layer at its deepest node), ties in the order a
    depth-first walk from the outputs first reaches them; inputs that reach no output last."""
    post_order, first_reached, finished = [], {}, set()

    def visit(node):
        if id(node) in finished:
            return
        first_reached.setdefault(id(node.layer), len(first_reached))
        for tensor in node.input_tensors:
            visit(tensor.node)
        finished.add(id(node))
        post_order.append(node)

    for tensor in outputs:
        visit(tensor.node)
    node_depth, layer_depth, layers = {}, {}, {}
    for node in reversed(post_order):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = node_depth[id(node)] = depth
        layers[id(node.layer)] = node.layer
        for tensor in node.input_tensors:
            node_depth[id(tensor.node)] = max(depth + 1, node_depth.get(id(tensor.node), 0))
    for tensor in inputs:
        if id(tensor.node.layer) not in layers:
            layers[id(tensor.node.layer)] = tensor.node.layer
            layer_depth[id(tensor.node.layer)], first_reached[id(tensor.node.layer)] = 0, -1
    return sorted(layers.values(), key=lambda layer: (-layer_depth[id(layer)], first_reached[id(layer)]))


def embeddings_feeding_one_rnn(nodes, outputs):
    """Embedding nodes whose output only a recurrent layer reads (as its sequence input): that layer may take the
    ids and look its input projection up in a table (rnnkit.layers.rnn.token_table), and in training hands the
    Embedding its gradient as rows (TokenRowsGradient)."""
    from rnnkit.layers.embedding import Embedding

    readers = {}
    for node in nodes:
        for position, tensor in enumerate(node.input_tensors):
            readers.setdefault(id(tensor), []).append((node, position))
    graph_outputs = {id(tensor) for tensor in outputs}
    fused = set()
    for node in nodes:
        # A call with options (ReversibleEmbedding's reverse=True) computes logits, not a lookup of ids.
        if not isinstance(node.layer, Embedding) or len(node.output_tensors) != 1 or node.call_kwargs:
            continue
        tensor = node.output_tensors[0]
        tensor_readers = readers.get(id(tensor), [])
        if (id(tensor) not in graph_outputs and len(tensor_readers) == 1 and tensor_readers[0][1] == 0
                and getattr(tensor_readers[0][0].layer, "accepts_token_ids", False)
                and node.layer.activity_regularizer is None):  # its penalty needs the embedded values
            fused.add(id(node))
    return fused


def run_forward(nodes, inputs, input_values, outputs, *, training, token_fed=None, activity=None):
    """Values and masks of ``outputs``, plus one ctx per node when training. ``token_fed``: the result of
    embeddings_feeding_one_rnn for these nodes, when the caller keeps it (computed here otherwise). ``activity``:
    an ActivityLosses that collects the activity regularizers' penalties (ignored when None)."""
    values = {id(tensor): value for tensor, value in zip(inputs, input_values)}
    masks = {id(tensor): None for tensor in inputs}
    if token_fed is None:
        token_fed = embeddings_feeding_one_rnn(nodes, outputs)
    contexts = []
    for node in nodes:
        if not node.input_tensors:
            contexts.append(None)
            continue
        node_inputs = _mirror(node.inputs, [values[id(tensor)] for tensor in node.input_tensors])
        node_masks = [masks[id(tensor)] for tensor in node.input_tensors]
        mask = _mirror(node.inputs, node_masks) if any(m is not None for m in node_masks) else None
        if id(node) in token_fed:
            result, ctx = TokenIds(node.layer.ids(node_inputs), node.layer), None
        else:
            # call_kwargs: per-call options recorded at the symbolic call (use_causal_mask, return_attention_scores).
            result, ctx = node.layer.forward(node_inputs, training=training,
                                             mask=mask if node.mask_reaches_call else None, **node.call_kwargs)
        out_mask = node.layer.compute_mask(node_inputs, mask)
        for index, tensor in enumerate(node.output_tensors):
            values[id(tensor)] = _as_list(result)[index] if isinstance(node.outputs, list) else result
            masks[id(tensor)] = _as_list(out_mask)[index] if isinstance(out_mask, (list, tuple)) else out_mask
            if activity is not None and node.layer.activity_regularizer is not None:
                activity.add(node.layer.activity_regularizer, tensor, values[id(tensor)])
        contexts.append(ctx)
    return [values[id(t)] for t in outputs], [masks[id(t)] for t in outputs], contexts


def run_backward(nodes, contexts, inputs, outputs, d_outputs, input_gradients=True, activity=None):
    """From dL/d(outputs): gradients per trainable Variable id (summed over the nodes of a shared layer) and
    dL/d(inputs) (None for an input nothing depends on). input_gradients=False: dL/d(inputs) is not wanted
    (training a model, not a model nested in another), so layers reading only the inputs that can skip their
    input gradient (skips_input_gradients: the recurrent layers, where it is a product as large as dL/dW) do.
    ``activity``: the forward pass's ActivityLosses, whose penalties' gradients join the loss's."""
    graph_inputs = {id(tensor) for tensor in inputs}
    grads = {}
    for tensor, gradient in zip(outputs, d_outputs):
        _accumulate(grads, id(tensor), gradient)
    for key, gradient in (activity.gradients if activity is not None else {}).items():
        _accumulate(grads, key, gradient)
    weight_grads = {}
    for node, ctx in zip(reversed(nodes), reversed(contexts)):
        if not node.input_tensors:
            continue
        d_node = [grads.get(id(tensor)) for tensor in node.output_tensors]
        if all(gradient is None for gradient in d_node):
            continue
        if not isinstance(node.outputs, list):
            d_node = d_node[0]
        if (not input_gradients and getattr(node.layer, "skips_input_gradients", False)
                and all(id(tensor) in graph_inputs for tensor in node.input_tensors)):
            d_inputs, d_weights = node.layer.backward(ctx, d_node, input_gradients=False)
        else:
            d_inputs, d_weights = node.layer.backward(ctx, d_node)
        for variable, gradient in zip(node.layer.trainable_weights, d_weights):
            _accumulate(weight_grads, id(variable), gradient)
        for tensor, gradient in zip(node.input_tensors, _as_list(d_inputs) if isinstance(node.inputs, list)
                                    else [d_inputs]):
            _accumulate(grads, id(tensor), gradient)
    return weight_grads, [grads.get(id(tensor)) for tensor in inputs]


def _accumulate(store, key, gradient):
    if gradient is None:
        return
    if not isinstance(gradient, TokenRowsGradient):
        gradient = np.asarray(gradient, dtype=np.float32)
    store[key] = gradient if key not in store else store[key] + gradient
