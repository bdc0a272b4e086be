"""Matching computed weight gradients to ``layer.trainable_weights``, the order the engine contract fixes."""


def for_trainable_weights(layer, gradients):
    """``gradients`` pairs (Variable, gradient) for every weight the layer computed one for."""
    by_variable = {id(variable): gradient for variable, gradient in gradients}
    return [by_variable[id(variable)] for variable in layer.trainable_weights]
