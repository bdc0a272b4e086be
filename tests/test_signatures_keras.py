"""Oracle: the positional parameters of rnnkit's public classes against Keras 3's (the layers are checked in
test_layers_oracle.py). A Keras user's positional arguments must land on the same parameters in rnnkit."""
import inspect

import pytest

torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

import rnnkit  # noqa: E402

pytestmark = pytest.mark.oracle

MODULES = ("metrics", "losses", "callbacks", "initializers", "regularizers", "constraints", "optimizers")
# Kept apart on purpose (docs/differences.md): CallbackList is rnnkit's internal hook fan-out, not Keras' class for
# custom training loops.
OWN_SHAPE = {("callbacks", "CallbackList")}


def positional_parameters(function):
    return [name for name, p in inspect.signature(function).parameters.items()
            if name != "self" and p.kind == p.POSITIONAL_OR_KEYWORD]


def shared_classes(module):
    ours, theirs = getattr(rnnkit, module), getattr(keras, module)
    return [(module, name) for name in sorted(dir(ours))
            if not name.startswith("_") and inspect.isclass(getattr(ours, name))
            and inspect.isclass(getattr(theirs, name, None)) and (module, name) not in OWN_SHAPE]


@pytest.mark.parametrize("module, name", [pair for module in MODULES for pair in shared_classes(module)])
def test_positional_parameters_are_keras_own(module, name):
    ours = positional_parameters(getattr(getattr(rnnkit, module), name).__init__)
    theirs = positional_parameters(getattr(getattr(keras, module), name).__init__)
    if module == "optimizers":
        # An optimizer's own arguments come in Keras' order; the ones every Keras optimizer shares (weight_decay,
        # clipnorm, ..., name) are keyword-only in rnnkit, so a positional one is an error, never a wrong binding.
        assert theirs[:len(ours)] == ours
    else:
        assert ours[:len(theirs)] == theirs


@pytest.mark.parametrize("module", ["initializers", "metrics", "layers", "losses", "optimizers"])
def test_keras_other_names_of_shared_objects_are_rnnkit_names_too(module):
    """Keras exports some objects under two names (IdentityInitializer is Identity) and some of another module's
    (metrics.hinge is losses.hinge): rnnkit has both names where it has the object."""
    ours, theirs = getattr(rnnkit, module), getattr(keras, module)
    public = [name for name in dir(theirs) if not name.startswith("_")]
    for alias in public:
        for name in public:
            if alias != name and getattr(theirs, alias) is getattr(theirs, name) and hasattr(ours, name):
                assert getattr(ours, alias, None) is getattr(ours, name), f"{module}.{alias}"
    if module == "metrics":
        for name in public:
            if getattr(theirs, name) is getattr(keras.losses, name, None) and hasattr(rnnkit.losses, name):
                assert getattr(ours, name, None) is getattr(rnnkit.losses, name), f"metrics.{name}"


def test_is_keras_tensor():
    assert rnnkit.backend.is_keras_tensor(rnnkit.Input((3,))) and rnnkit.utils.is_keras_tensor(rnnkit.Input((3,)))
    assert not rnnkit.backend.is_keras_tensor(rnnkit.ops.ones((3,)))


@pytest.mark.parametrize("name", ["add", "subtract", "average", "multiply", "maximum", "minimum", "concatenate", "dot"])
def test_functional_merge_forms_take_keras_parameters(name):
    ours, theirs = getattr(rnnkit.layers, name), getattr(keras.layers, name)
    assert str(inspect.signature(ours)) == str(inspect.signature(theirs))
