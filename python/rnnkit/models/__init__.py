"""Keras 3 models: Sequential, functional Model, load_model, save_model, clone_model, model_from_json."""
from rnnkit.models.cloning import clone_model, model_from_json
from rnnkit.models.functional import Functional
from rnnkit.models.model import Model
from rnnkit.models.sequential import Sequential


def load_model(filepath, custom_objects=None, compile=True, **kwargs):
    """``rnnkit.saving.load_model`` (imported on use: the saving module imports models)."""
    from rnnkit import saving

    return saving.load_model(filepath, custom_objects=custom_objects, compile=compile, **kwargs)


def save_model(model, filepath, overwrite=True, zipped=None):
    """``model.save(filepath, overwrite, zipped)``; with overwrite=False an existing file is an error (Keras asks
    instead)."""
    return model.save(filepath, overwrite, zipped)


__all__ = ["Model", "Functional", "Sequential", "load_model", "save_model", "clone_model", "model_from_json"]
