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
