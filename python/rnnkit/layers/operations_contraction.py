"""rnnkit.ops' einsum and dot (Keras' Einsum and Dot): sums of products over labelled axes, computed by numpy's einsum.

Subscripts are numpy's: letters label axes, "..." stands for the leading axes (broadcast between operands), and
without "->" the output takes "..." and then the labels used once, in alphabetical order. Each "..." is first
spelled out as letters of its own, so every axis has a label. The gradient for an operand is then the einsum of
the output's gradient with the other operands into that operand's labels, spread along the labels only it has,
onto its diagonal where a label repeats ("ii"), and summed over the axes it broadcast. dot is numpy's dot (Keras'
documented rule, and its symbolic shape): the einsum its operands' ranks give.
"""
import string

import numpy as np

from rnnkit.layers.operations import Operation


def explicit_labels(subscripts, ranks):
    """Each operand's labels and the output's (lists of letters), with "..." spelled out by unused letters."""
    spec = subscripts.replace(" ", "")
    inputs, arrow, output = spec.partition("->")
    specs = inputs.split(",")
    if len(specs) != len(ranks):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(specs)} operands, received {len(ranks)}")
    for part in specs + [output]:
        if not part.replace("...", "").isalpha() and part.replace("...", ""):
            raise ValueError(f"einsum: subscripts are letters and '...', received {subscripts!r}")
    spare = [c for c in string.ascii_letters if c not in spec]
    extra = [rank - len(s.replace("...", "")) for s, rank in zip(specs, ranks)]
    for s, n, rank in zip(specs, extra, ranks):
        if n < 0 or (n and "..." not in s):
            raise ValueError(f"einsum: subscript {s!r} does not fit an operand of rank {rank} ({subscripts!r})")
    broadcast = spare[:max(extra, default=0)]
    labels = []
    for s, n in zip(specs, extra):
        head, _, tail = s.partition("...")
        labels.append(list(head) + broadcast[len(broadcast) - n:] + list(tail))
    if arrow:
        head, dots, tail = output.partition("...")
        if broadcast and not dots:
            raise ValueError(f"einsum: the operands' '...' axes need a '...' in the output ({subscripts!r})")
        result = list(head) + (broadcast if dots else []) + list(tail)
    else:
        letters = [c for s in specs for c in s.replace("...", "")]
        result = broadcast + sorted(c for c in set(letters) if letters.count(c) == 1)
    if len(set(result)) != len(result) or not set(result) <= {c for each in labels for c in each}:
        raise ValueError(f"einsum: each output label must appear once and among the operands' ({subscripts!r})")
    return labels, result


def label_sizes(name, labels, shapes):
    """Each label's size across the operands (None when unknown); sizes of 1 broadcast."""
    sizes = {}
    for each, shape in zip(labels, shapes):
        for label, size in zip(each, shape):
            known = sizes.get(label, 1)
            if size is None:
                sizes[label] = None if known == 1 else known
            elif size != 1:
                if known not in (1, None, size):
                    raise ValueError(f"{name}: label {label!r} has sizes {known} and {size} in shapes "
                                     f"{[tuple(s) for s in shapes]}")
                sizes[label] = size
            else:
                sizes.setdefault(label, 1)
    return sizes


def _spec(labels, result):
    return ",".join("".join(each) for each in labels) + "->" + "".join(result)


def operand_gradient(d_y, result, operands, labels, index):
    """dL/d(operands[index]) of einsum(labels -> result) given dL/dy."""
    own, shape = labels[index], np.shape(operands[index])
    others = [(each, value) for i, (each, value) in enumerate(zip(labels, operands)) if i != index]
    present = set(result).union(*(each for each, _ in others))
    unique = list(dict.fromkeys(own))
    computed = [label for label in unique if label in present]
    gradient = np.einsum(_spec([result] + [each for each, _ in others], computed), d_y,
                         *(value for _, value in others), optimize=True)
    size = {label: n for label, n in zip(own, shape)}
    for position, label in enumerate(unique):
        if label not in present:  # summed within this operand alone: each of its elements had slope 1
            gradient = np.expand_dims(gradient, position)
    gradient = np.broadcast_to(gradient, [max(size[label], n) for label, n in zip(unique, np.shape(gradient))])
    broadcast = tuple(i for i, label in enumerate(unique) if size[label] == 1 and np.shape(gradient)[i] != 1)
    gradient = np.sum(gradient, axis=broadcast, keepdims=True)
    if len(unique) == len(own):
        return gradient
    # A repeated label reads a diagonal: the gradient goes to that diagonal, zeros elsewhere.
    grids = np.ogrid[tuple(slice(size[label]) for label in unique)]
    d_x = np.zeros(shape, gradient.dtype)
    d_x[tuple(grids[unique.index(label)] for label in own)] = gradient
    return d_x


class _Contraction(Operation):
    """Operands: tensors, Constants and numbers (0-d operands)."""

    def subscripts(self, ranks):
        raise NotImplementedError

    def _labels(self, shapes):
        return explicit_labels(self.subscripts([len(s) for s in shapes]), [len(s) for s in shapes])

    def output_shape(self, values):
        shapes = [v if isinstance(v, tuple) else np.shape(v) for v in values]
        labels, result = self._labels(shapes)
        sizes = label_sizes(self.name, labels, shapes)
        return tuple(sizes[label] for label in result)

    def forward(self, inputs, *, training=False, mask=None):
        operands = [np.asarray(v) for v in self._values(inputs)]
        if any(v.dtype.kind == "f" for v in operands):
            operands = [v.astype(np.float32, copy=False) for v in operands]
        labels, result = self._labels([v.shape for v in operands])
        try:
            y = np.einsum(_spec(labels, result), *operands, optimize=True)
        except ValueError as error:
            raise ValueError(f"{self.name}: cannot contract arrays of shapes {[v.shape for v in operands]}: {error}") \
                from None
        # Integer operands stay integers of the (first) tensor's dtype, a Python int's int64 notwithstanding.
        tensors = [operands[i] for i in self._tensor_positions]
        y = np.asarray(y) if y.dtype.kind == "f" or not tensors else np.asarray(y, tensors[0].dtype)
        return y, ((operands, labels, result) if training else None)

    def backward(self, ctx, d_outputs):
        operands, labels, result = ctx
        d_y = np.asarray(d_outputs, np.float32)
        return [np.ascontiguousarray(operand_gradient(d_y, result, operands, labels, i), np.float32)
                for i in self._tensor_positions], []


class Einsum(_Contraction):
    def __init__(self, subscripts, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if not isinstance(subscripts, str):
            raise ValueError(f"Einsum: expected subscripts to be a string, received {subscripts!r}")
        self.subscripts_text = subscripts

    def subscripts(self, ranks):
        return self.subscripts_text

    def get_config(self):
        return {"name": self.name, "subscripts": self.subscripts_text}


class Dot(_Contraction):
    """numpy's dot: a product with a scalar; otherwise x1's last axis against x2's only axis (x2 of rank 1) or its
    second-to-last one, the output x1's other axes, then x2's."""

    def subscripts(self, ranks):
        rank1, rank2 = ranks
        letters = iter(string.ascii_letters)
        first = [next(letters) for _ in range(rank1)]
        if rank1 == 0 or rank2 == 0:
            second = [next(letters) for _ in range(rank2)]
            return f"{''.join(first)},{''.join(second)}->{''.join(first + second)}"
        second = [next(letters) for _ in range(rank2)]
        second[-1 if rank2 == 1 else -2] = first[-1]
        kept = first[:-1] + [label for label in second if label != first[-1]]
        return f"{''.join(first)},{''.join(second)}->{''.join(kept)}"


OPERATIONS = {cls.__name__: cls for cls in (Einsum, Dot)}
