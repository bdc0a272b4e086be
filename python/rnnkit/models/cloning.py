"""Keras 3's clone_model and model_from_json: new models from a model's config (new weights, as Keras makes them)."""
import json


def model_from_json(json_string, custom_objects=None):
    """The model that ``model.to_json()`` describes, with newly initialised weights."""
    from rnnkit import saving

    return saving._model_from_config(json.loads(json_string), custom_objects, "model_from_json")


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False, **kwargs):
    """A model of the same architecture with new weights. ``clone_function(layer)`` makes each layer of a Sequential
    model (default: a new layer from the layer's config)."""
    from rnnkit import saving
    from rnnkit.models.sequential import Sequential

    unsupported = {"input_tensors": input_tensors, "call_function": call_function, **kwargs}
    for argument, value in unsupported.items():
        if value is not None:
            raise NotImplementedError(f"clone_model: {argument} is not supported by rnnkit (received {value!r})")
    if clone_function is None:
        return saving._model_from_config(saving._model_config(model), None, "clone_model")
    if not isinstance(model, Sequential):
        raise NotImplementedError("clone_model: clone_function is supported for Sequential models only; a "
                                  "functional model is cloned from its config")
    from rnnkit.layers.input_layer import Input

    head = [Input(batch_shape=model.input.shape, dtype=model.input.dtype)] if model.built else []
    return Sequential(head + [clone_function(layer) for layer in model.layers], name=model.name,
                      trainable=model.trainable)
