"""The mask nodes of Keras 3 functional configs, and the mask= arguments they feed.

When a layer's output mask is computed on symbolic tensors, Keras records the ops of its compute_mask as nodes of
the graph and passes their result to the next layers as mask= arguments: NotEqual(ids, 0) for an
Embedding(mask_zero=True), Any(NotEqual(x, mask_value), axis=-1) for a Masking layer. rnnkit's layers hand their
masks on themselves, so such nodes are dropped where each mask= argument they feed is the mask rnnkit's own layers
give there (check_implied_mask); anything else is refused rather than silently ignored.
"""


def tensor_key(ref):
    """(layer, node, index) of a tensor reference in either form, or None when `ref` is not one."""
    if isinstance(ref, list) and len(ref) == 4 and ref[0] == "__keras_tensor__":
        return tuple(ref[1:])
    if isinstance(ref, dict) and ref.get("class_name") == "__keras_tensor__":
        return tuple(ref["config"]["keras_history"])
    return None


def endpoint_refs(refs):
    """A model's input or output references: a list of [layer, node, index], Keras' single one unlisted, or the
    values of a dict of them (a model's dict inputs or outputs)."""
    if isinstance(refs, dict):
        return list(refs.values())
    return [refs] if refs and isinstance(refs[0], str) else refs


def _data_keys(config, skipped=()):
    """The keys of the tensors the config's nodes (but those named in `skipped`) read as arguments, and its
    model's outputs: mask= arguments aside."""
    keys = set()

    def collect(value):
        key = tensor_key(value)
        if key is not None:
            keys.add(key)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    for layer_config in config["layers"]:
        if layer_config["name"] not in skipped:
            for node in layer_config.get("inbound_nodes", []):
                collect(node.get("args", []))
    keys.update(tuple(ref) for ref in endpoint_refs(config.get("output_layers") or []))
    return keys


def _only_node_args(layer_config):
    nodes = layer_config.get("inbound_nodes", [])
    return nodes[0]["args"] if len(nodes) == 1 else []


def mask_sources(config):
    """{key of a mask node's output: (the class whose mask it is, the key of that layer's input, the value it
    compares with)} for the config's mask nodes, each read only by mask= arguments or by another mask node."""
    layers = {layer_config["name"]: layer_config for layer_config in config["layers"]}
    read = _data_keys(config)
    any_nodes = [name for name, c in layers.items() if c.get("class_name") == "Any" and (name, 0, 0) not in read]
    read_outside_masks = _data_keys(config, skipped=set(any_nodes))
    not_equal = {name: c for name, c in layers.items()
                 if c.get("class_name") == "NotEqual" and (name, 0, 0) not in read_outside_masks}

    def compared(name):
        args = _only_node_args(not_equal[name])
        if len(args) != 2 or tensor_key(args[0]) is None or not isinstance(args[1], (int, float)):
            raise ValueError(f"{name!r}: a NotEqual node that feeds masks must compare a tensor with a number; "
                             f"received the arguments {args!r}")
        return tensor_key(args[0]), args[1]

    sources = {}
    for name in any_nodes:
        config_of_any, args = layers[name].get("config", {}), _only_node_args(layers[name])
        source = tensor_key(args[0]) if len(args) == 1 else None
        if (source is None or source[0] not in not_equal or config_of_any.get("axis") not in (-1, [-1])
                or config_of_any.get("keepdims")):
            raise ValueError(f"{name!r}: only Any(NotEqual(x, mask_value), axis=-1), a Masking layer's mask, is "
                             f"supported among Keras' Any nodes that feed masks; received {layers[name]!r}")
        sources[(name, 0, 0)] = ("Masking",) + compared(source[0])
    for name in not_equal:
        if (name, 0, 0) not in read:  # read by mask= arguments only: an Embedding's mask
            ids, value = compared(name)
            if value != 0:
                raise ValueError(f"{name!r}: only NotEqual(ids, 0), an Embedding's mask_zero mask, feeds masks "
                                 f"directly; received a comparison with {value!r}")
            sources[(name, 0, 0)] = ("Embedding", ids, 0)
    return sources


def mask_node_names(sources, config):
    """The names of the nodes behind `sources`: the Any nodes and the NotEqual nodes they and masks read."""
    names = {key[0] for key in sources}
    layers = {layer_config["name"]: layer_config for layer_config in config["layers"]}
    for name in list(names):
        if layers[name].get("class_name") == "Any":
            names.add(tensor_key(_only_node_args(layers[name])[0])[0])
    return names


def check_implied_mask(layer_name, tensor, mask_ref, sources, tensors):
    """A mask= argument is dropped only where rnnkit's own mask is the same: `tensor` comes, through layers that
    pass masks on, from the Embedding(mask_zero=True) or Masking layer whose mask the argument's node computes, of
    the very tensor that node read."""
    from rnnkit.layers.core import Masking
    from rnnkit.layers.embedding import Embedding
    from rnnkit.layers.rnn import RNN

    source = sources.get(tensor_key(mask_ref))
    if source is not None:
        kind, input_key, value = source
        while tensor.node.input_tensors:
            producer = tensor.node.layer
            if isinstance(producer, (Embedding, Masking)):
                same_input = tensor.node.input_tensors[0] is tensors[input_key]
                if same_input and (producer.mask_zero if kind == "Embedding" and isinstance(producer, Embedding)
                                   else kind == "Masking" and isinstance(producer, Masking)
                                   and float(producer.mask_value) == float(value)):
                    return
                break
            # a recurrent layer's output mask is its sequence's, whatever initial_state it is given
            if (len(tensor.node.input_tensors) != 1 and not isinstance(producer, RNN)) or not producer.supports_masking:
                break
            tensor = tensor.node.input_tensors[0]
    raise ValueError(f"layer {layer_name!r}: an explicit mask= argument is supported only where it is the mask of "
                     f"the Embedding(mask_zero=True) or Masking layer the layer's input comes from; received "
                     f"{mask_ref!r}")
