"""An optimizer's state in Keras 3's order: how `.keras` archives and `.weights.h5` files hold it, as datasets
`optimizer/vars/0`, `optimizer/vars/1`, ...

Keras lists an optimizer's variables as the iteration count, the learning rate (a variable unless it is a schedule
or a callable), then the slots: a run of one kind over the model's trainable variables, kind after kind, except
the kinds it creates together (Adam's momentum and velocity), which alternate variable by variable (m0, v0, m1,
v1, ...), then any scalar of state (Nadam's momentum-schedule product). rnnkit keeps each kind's slots in a list
of its own, so only the order differs.
"""
import os
import warnings

import numpy as np


def _slot_runs(optimizer):
    """The slot kinds grouped as Keras creates them: [("momentum", "velocity"), ("velocity_hat",)] for AMSGrad."""
    runs = []
    for name in optimizer._active_slot_names():
        together = name in optimizer._keras_interleaved_slots
        if runs and together and runs[-1][0] in optimizer._keras_interleaved_slots:
            runs[-1] += (name,)
        else:
            runs.append((name,))
    return runs


def _keras_slot_order(optimizer, count):
    """(slot kind, variable index) of each slot in Keras' order, for `count` trainable variables."""
    return [(name, i) for run in _slot_runs(optimizer) for i in range(count) for name in run]


def _has_learning_rate_variable(optimizer):
    return isinstance(optimizer._learning_rate, float)


def keras_optimizer_values(optimizer, trainable_variables):
    """The optimizer's state as Keras would save it, built on `trainable_variables` (the model's); an optimizer
    that has not run yet gives its initial slots, which Keras' loader (it builds the optimizer first) accepts."""
    values = [np.asarray(optimizer.iterations.value, np.int64)]
    if _has_learning_rate_variable(optimizer):
        values.append(np.float32(optimizer.learning_rate))
    if optimizer.built:
        count, slot = len(optimizer._trainable_variables), (lambda name, i: optimizer._slots[name][i].value)
    else:
        variables = list(trainable_variables)
        count = len(variables)
        slot = lambda name, i: np.full(  # noqa: E731
            variables[i].shape, optimizer._slot_initial_value(name), np.float32)
    values.extend(slot(name, i) for name, i in _keras_slot_order(optimizer, count))
    values.extend(np.asarray(variable.value) for variable in optimizer._scalar_variables())
    return values


def assign_keras_optimizer_values(optimizer, trainable_variables, values, source):
    """Sets the optimizer's state from a Keras file's values (`source` names the file in errors), building it on
    `trainable_variables` first. A different number of values is Keras' warning and nothing assigned, as in Keras;
    a value of the wrong shape is a ValueError."""
    optimizer.build(trainable_variables)
    slots = [optimizer._slots[name][i]
             for name, i in _keras_slot_order(optimizer, len(optimizer._trainable_variables))]
    slots += optimizer._scalar_variables()
    with_rate = _has_learning_rate_variable(optimizer)
    expected = 1 + with_rate + len(slots)
    if len(values) != expected:
        warnings.warn(f"Skipping variable loading for optimizer '{optimizer.name}', because it has {expected} "
                      f"variables whereas the saved optimizer has {len(values)} variables.", stacklevel=3)
        return
    targets = [optimizer.iterations] + slots
    given = [values[0]] + list(values[1 + with_rate:])
    for index, (target, value) in enumerate(zip(targets, given)):
        if np.shape(value) != tuple(target.shape):
            raise ValueError(f"{os.fspath(source)!r}: optimizer variable {index + (index > 0) * with_rate} has "
                             f"shape {np.shape(value)}, the optimizer's {target.path!r} has shape "
                             f"{tuple(target.shape)}")
    for target, value in zip(targets, given):
        target.assign(value)
    if with_rate:
        optimizer.learning_rate = float(np.asarray(values[1]))
