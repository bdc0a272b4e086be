"""EinsumDense's equation: Keras' three forms parsed, the kernel, bias and output shapes derived by Keras' rules
(keras/src/layers/core/einsum_dense.py), and the axes of one contraction sorted into the roles of a GEMM."""
import math
import re

# Keras' forms ab,bc->ac, ...ab,bc->...ac and ab...,bc->ac..., each with where its ellipsis stands.
_FORMS = ((re.compile(r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)"), None),
          (re.compile(r"\.\.\.([a-zA-Z]+),([a-zA-Z]+)->\.\.\.([a-zA-Z]+)"), "left"),
          (re.compile(r"([a-zA-Z]{2,})\.\.\.,([a-zA-Z]+)->([a-zA-Z]+)\.\.\."), "right"))


class Equation:
    """The input's, kernel's and output's letters of an equation Keras accepts and a GEMM can compute."""

    def __init__(self, layer, equation):
        if not isinstance(equation, str):
            raise TypeError(f"{layer}: expected equation to be a string, received {equation!r}")
        for pattern, ellipsis in _FORMS:
            match = pattern.fullmatch(equation)
            if match:
                break
        else:
            raise ValueError(f"{layer}: invalid einsum equation {equation!r}; equations must be in the form "
                             "[X],[Y]->[Z], ...[X],[Y]->...[Z], or [X]...,[Y]->[Z]...")
        self.text, self.ellipsis = equation, ellipsis
        self.inputs, self.kernel, self.outputs = match.groups()
        for role, letters in (("input", self.inputs), ("kernel", self.kernel), ("output", self.outputs)):
            repeated = sorted({letter for letter in letters if letters.count(letter) > 1})
            if repeated:
                # einsum reads a repeated letter as a diagonal, which no matrix product computes
                raise ValueError(f"{layer}: equation {equation!r} repeats {repeated} in its {role}; EinsumDense "
                                 "computes one matrix product, which takes each axis once")
        for letter in self.outputs:
            if letter not in self.inputs and letter not in self.kernel:
                raise ValueError(f"{layer}: output axis '{letter}' of equation {equation!r} is in neither the input "
                                 f"'{self.inputs}' nor the kernel '{self.kernel}'")
        for letter in self.kernel:
            if letter not in self.inputs and letter not in self.outputs:
                raise ValueError(f"{layer}: kernel axis '{letter}' of equation {equation!r} is in neither the input "
                                 f"'{self.inputs}' nor the output '{self.outputs}'; the kernel must be fully "
                                 "specified")

    def _elided(self, layer, rank):
        elided = rank - len(self.inputs)
        if elided < 0 or (self.ellipsis is None and elided):
            expected = f"{len(self.inputs)} or more" if self.ellipsis else str(len(self.inputs))
            raise ValueError(f"{layer}: equation {self.text!r} takes inputs of rank {expected}, received rank {rank}")
        return elided

    def shapes(self, layer, input_shape, output_shape, bias_axes):
        """(kernel shape, bias shape or None, output shape, the kernel's input axes, its output axes).

        ``output_shape`` is Keras' partial one: the output without its first axis (the batch) and without the
        ellipsis' axes; its None sizes, and the ellipsis', are the input's.
        """
        input_shape = tuple(input_shape)
        elided = self._elided(layer, len(input_shape))
        input_offset = elided if self.ellipsis == "left" else 0
        if self.ellipsis == "left":
            full = list(input_shape[:elided]) + list(output_shape)
        else:
            full = [input_shape[0]] + list(output_shape) + list(input_shape[len(input_shape) - elided:])
        if len(full) != len(self.outputs) + (elided if self.ellipsis else 0):
            raise ValueError(f"{layer}: output_shape {tuple(output_shape)} does not fit equation {self.text!r}: "
                             f"its output '{self.outputs}' less the batch axis"
                             f"{' (none with a leading ...)' if self.ellipsis == 'left' else ''} needs "
                             f"{len(self.outputs) - (self.ellipsis != 'left')} sizes")

        def input_size(letter):
            return input_shape[input_offset + self.inputs.index(letter)]

        def output_size(letter):
            return full[input_offset + self.outputs.index(letter)]

        for letter in self.inputs:
            if letter in self.outputs and output_size(letter) is not None and output_size(letter) != input_size(letter):
                raise ValueError(f"{layer}: input shape and output shape do not match at shared dimension "
                                 f"'{letter}'. Input shape is {input_size(letter)}, and output shape is "
                                 f"{output_size(letter)}.")
        kernel_shape = [output_size(letter) if letter in self.outputs else input_size(letter) for letter in self.kernel]
        if None in kernel_shape:
            raise ValueError(f"{layer}: the kernel '{self.kernel}' of equation {self.text!r} needs known sizes, "
                             f"received kernel shape {tuple(kernel_shape)} from input shape {input_shape} and "
                             f"output_shape {tuple(output_shape)}")
        input_axes = [axis for axis, letter in enumerate(self.kernel) if letter not in self.outputs]
        output_axes = [axis for axis, letter in enumerate(self.kernel) if letter in self.outputs]
        bias_shape = None if bias_axes is None else self._bias_shape(layer, bias_axes, output_size, elided)
        known = [input_size(letter) if letter in self.inputs and input_size(letter) is not None
                 else output_size(letter) for letter in self.outputs]
        if self.ellipsis == "left":
            known = list(input_shape[:elided]) + known
        elif self.ellipsis == "right":
            known += list(input_shape[len(input_shape) - elided:])
        return tuple(kernel_shape), bias_shape, tuple(known), input_axes, output_axes

    def _bias_shape(self, layer, bias_axes, output_size, elided):
        """Keras' bias: the output's axes from the first in bias_axes on, size 1 along those not in it (and along
        a trailing ellipsis), so it broadcasts against the output from the right."""
        for letter in bias_axes:
            if letter not in self.outputs:
                raise ValueError(f"{layer}: bias dimension '{letter}' was requested, but is not part of the output "
                                 f"spec '{self.outputs}'")
        first = min(self.outputs.index(letter) for letter in bias_axes)
        shape = [output_size(letter) if letter in bias_axes else 1 for letter in self.outputs[first:]]
        if None in shape:
            raise ValueError(f"{layer}: bias axes '{bias_axes}' need known sizes, received bias shape {tuple(shape)}")
        return tuple(shape) + (1,) * (elided if self.ellipsis == "right" else 0)

    def labels(self, layer, rank):
        """The input's, kernel's and output's axis labels for an input of ``rank``: letters, and integers for the
        ellipsis' axes."""
        elided = self._elided(layer, rank)
        dots = list(range(elided))
        inputs, kernel, outputs = list(self.inputs), list(self.kernel), list(self.outputs)
        if self.ellipsis == "left":
            return dots + inputs, kernel, dots + outputs
        if self.ellipsis == "right":
            return inputs + dots, kernel, outputs + dots
        return inputs, kernel, outputs


class GemmLayout:
    """The axes of y = einsum(x, kernel) in the roles of a batch of GEMMs (B, M, K) @ (B, K, N) -> (B, M, N).

    batched: in input, kernel and output (one GEMM each); rows M: input and output; contracted K: input and kernel;
    columns N: kernel and output; summed: the input's alone, added up before the product. The rows keep the
    output's order and the contracted axes the kernel's, so Dense's ``ab,bc->ac`` needs no transposes at all.
    """

    def __init__(self, input_labels, kernel_labels, output_labels):
        batched = [label for label in output_labels if label in input_labels and label in kernel_labels]
        rows = [label for label in output_labels if label in input_labels and label not in kernel_labels]
        columns = [label for label in output_labels if label in kernel_labels and label not in input_labels]
        contracted = [label for label in kernel_labels if label in input_labels and label not in output_labels]
        self.summed = tuple(axis for axis, label in enumerate(input_labels)
                            if label not in kernel_labels and label not in output_labels)
        kept = [label for label in input_labels if label in kernel_labels or label in output_labels]
        self.input_order = [kept.index(label) for label in batched + rows + contracted]
        self.kernel_order = [kernel_labels.index(label) for label in batched + contracted + columns]
        product = batched + rows + columns
        self.output_order = [product.index(label) for label in output_labels]
        self.product_order = [output_labels.index(label) for label in product]
        self.counts = len(batched), len(rows), len(contracted), len(columns)


def gemm_dims(shape, *counts):
    """The products of consecutive groups of ``counts`` axes of ``shape``."""
    starts = [sum(counts[:i]) for i in range(len(counts) + 1)]
    return tuple(math.prod(shape[begin:end]) for begin, end in zip(starts, starts[1:]))
