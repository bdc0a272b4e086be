"""Keras 3's clone_model and model_from_json: new models from a model's config (new weights, as Keras makes them)."""
import json


def model_from_json(json_string, custom_objects=None):
    """The model that ``model.to_json()`` describes, with newly initialised weights."""
    from rnnkit import saving

    return saving._model_from_config(json.loads(json_string), custom_objects, "model_from_json")


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False, **kwargs):
    """A model of the same architecture with new weights, compiled as the model is, as Keras 3's clone_model:
    ``clone_function(layer)`` makes each layer (default: a new layer from the layer's config; a layer shared by
    several calls is cloned once), ``call_function(layer, *args, **kwargs)`` makes each call of a functional model,
    ``recursive`` clones nested Sequential and functional models layer by layer, ``input_tensors`` (functional
    models) are symbolic tensors, in the structure of ``model.input``, to build the clone on."""
    from rnnkit import saving
    from rnnkit.models.functional import Functional
    from rnnkit.models.sequential import Sequential

    cache = kwargs.pop("cache", None)
    if kwargs:
        raise ValueError(f"clone_model: unexpected keyword argument(s) {tuple(kwargs)}")
    clone = _cached_clone_function(clone_function, call_function, recursive, {} if cache is None else cache)
    if isinstance(model, Sequential):
        if call_function is not None:
            raise ValueError("clone_model: call_function is not supported with Sequential models (their layers are "
                             "listed, not called, when the model is made); use it with functional models")
        if input_tensors is not None:
            raise NotImplementedError("clone_model: input_tensors is supported for functional models only")
        cloned = _clone_sequential(model, clone)
    elif isinstance(model, Functional):
        cloned = _clone_functional(model, clone, input_tensors, call_function)
    else:
        if clone_function is not None or input_tensors is not None or call_function is not None:
            raise ValueError("clone_model: clone_function, call_function and input_tensors are only supported for "
                             f"Sequential and functional models, received a {type(model).__name__}")
        cloned = saving._model_from_config(saving._model_config(model), None, "clone_model")
    if model.compiled:
        saving._compile_from_config(cloned, model.compile_config)
    return cloned


def _cached_clone_function(clone_function, call_function, recursive, cache):
    """clone_function (default: from the layer's config) applied once per layer, nested models cloned through
    clone_model when recursive."""
    from rnnkit.models.functional import Functional
    from rnnkit.models.sequential import Sequential

    def from_config(layer):
        return layer.__class__.from_config(layer.get_config())

    make = from_config if clone_function is None else clone_function

    def cached(layer):
        if id(layer) not in cache:
            if recursive and isinstance(layer, (Sequential, Functional)):
                cache[id(layer)] = clone_model(layer, clone_function=clone_function, recursive=True, cache=cache,
                                               call_function=None if isinstance(layer, Sequential) else call_function)
            else:
                cache[id(layer)] = make(layer)
        return cache[id(layer)]

    return cached


def _clone_sequential(model, clone):
    from rnnkit.layers.input_layer import Input
    from rnnkit.models.sequential import Sequential

    head = [Input(batch_shape=model.input.shape, dtype=model.input.dtype, name=model.input.node.layer.name)
            ] if model.built else []
    return Sequential(head + [clone(layer) for layer in model.layers], name=model.name, trainable=model.trainable)


def _clone_functional(model, clone, input_tensors, call_function):
    """The model's config replayed with clone(layer) for every layer but the inputs (rebuilt from the config or
    replaced by input_tensors), so the clone is wired as the model is."""
    from rnnkit import saving
    from rnnkit.models.functional import Functional

    config = saving._model_config(model)["config"]
    inputs = None
    if input_tensors is not None:
        expected, given = _flat(model.input), _flat(input_tensors)
        if len(given) != len(expected) or type(input_tensors) is not type(model.input):
            raise ValueError(f"clone_model: input_tensors must have the structure of model.input ({model.input}), "
                             f"received {input_tensors}")
        inputs = {tensor.node.layer.name: new for tensor, new in zip(expected, given)}
    by_name = {layer.name: layer for layer in model._graph_layers}
    return Functional._replay(config, make_layer=lambda name: clone(by_name[name]), inputs=inputs,
                               call_function=call_function)


def _flat(structure):
    if isinstance(structure, dict):
        return [structure[key] for key in sorted(structure)]
    return list(structure) if isinstance(structure, (list, tuple)) else [structure]
