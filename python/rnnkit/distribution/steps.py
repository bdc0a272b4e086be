"""One distributed training or test step: local forward/backward on this process's slice, then one all-reduce.

A Keras loss with the default "sum_over_batch_size" reduction is a ratio: the weighted sum of the per-element
losses over the number of elements (the number of unmasked ones when the output has a mask). The loss of the
global batch is therefore sum(numerators) / sum(divisors) over the processes, with numerator = local value ×
local divisor, and its gradient the sum of the local gradients scaled by local divisor / global divisor. This is
exact for uneven slices, sample weights and masks alike.
"""
import numpy as np

from rnnkit.models.model import _gradient_or_zeros, _with_penalty


def broadcast_state(comm, model):
    """Rank 0's weights and optimizer state on every process, so ranks that built or loaded different weights
    start identical (the optimizer is built first so that its slots exist everywhere)."""
    optimizer = model.optimizer
    if not getattr(optimizer, "built", True):
        optimizer.build(model.trainable_variables)
    for variable in list(model.weights) + list(getattr(optimizer, "variables", [])):
        comm.Bcast(variable.value, root=0)


def train_step(parallel, model, x, y, sample_weight):
    """Global (loss, sample count) of the step; every process applies the same averaged gradients."""
    state, numerators, divisors, d_outputs, metrics_before = _local_losses(model, x, y, sample_weight, True)
    several = sum(loss is not None for loss in model._losses) > 1
    if several:
        # The outputs' divisors differ, so each output's gradient needs its own global divisor before the
        # backward pass mixes them into one gradient per weight: one small extra all-reduce.
        totals = parallel.allreduce(divisors.copy())
        d_outputs = [None if d is None else d / np.float32(max(total, 1e-30)) for d, total in zip(d_outputs, totals)]
    variables = model.trainable_variables
    weight_grads = model._backward(state, d_outputs) if state is not None else {}
    grads = [_gradient_or_zeros(weight_grads, v) for v in variables]
    scalars = np.concatenate([numerators, divisors, [len(x[0])], _metric_delta(model, metrics_before)])
    buffer = parallel.allreduce(np.concatenate([g.ravel() for g in grads] + [scalars]).astype(np.float32))
    grad_size = sum(g.size for g in grads)
    global_scalars = buffer[grad_size:].astype(np.float64)
    loss, count = _set_globals(model, global_scalars, metrics_before)
    if not several:
        total = global_scalars[len(model._losses):2 * len(model._losses)].sum()
        buffer[:grad_size] /= np.float32(total if total > 0 else 1.0)
    offsets = np.cumsum([0] + [g.size for g in grads])
    penalty, penalty_grads = model._weight_penalties(variables)  # the same weights everywhere: added once, after
    model.optimizer.apply([_with_penalty(buffer[a:b].reshape(v.shape), penalty_grads, v)
                           for a, b, v in zip(offsets, offsets[1:], variables)], variables)
    return loss + penalty, count


def test_step(parallel, model, x, y, sample_weight):
    _, numerators, divisors, _, metrics_before = _local_losses(model, x, y, sample_weight, False)
    scalars = np.concatenate([numerators, divisors, [len(x[0])], _metric_delta(model, metrics_before)])
    loss, count = _set_globals(model, parallel.allreduce(scalars), metrics_before)
    return loss + model._weight_penalties()[0], count


def loss_divisor(loss, y_true, y_pred, mask):
    """What Keras 3 divides this slice's loss sum by: the number of per-sample loss values (the output's shape
    without its last axis; a 1-D output is averaged over the batch), of which only the unmasked ones count when
    there is a mask or an ``ignore_class``."""
    reduction = getattr(loss, "reduction", "sum_over_batch_size")
    if reduction not in ("sum_over_batch_size", "mean"):
        raise ValueError(f"DataParallel: loss reduction {reduction!r} is not supported; use Keras' default "
                         "'sum_over_batch_size'")
    shape = y_pred.shape[:-1] if y_pred.ndim > 1 else y_pred.shape
    ignore_class = getattr(loss, "ignore_class", None)
    if ignore_class is not None:
        valid = np.asarray(y_true).reshape(shape) != ignore_class
        mask = valid if mask is None else np.broadcast_to(_aligned(mask, shape), shape) & valid
    if mask is None:
        return float(np.prod(shape))
    return float(np.count_nonzero(np.broadcast_to(_aligned(mask, shape), shape)))


def _aligned(mask, shape):
    """The mask with trailing axes of 1 added so that it broadcasts over the per-sample loss shape."""
    mask = np.asarray(mask, bool)
    return mask.reshape(mask.shape + (1,) * (len(shape) - mask.ndim))


def _local_losses(model, x, y, sample_weight, training):
    """Forward pass on this process's slice: (ctx, numerators, divisors, d(numerator)/d(outputs), metric state
    before this batch's update); an empty slice (global batch smaller than the process count) adds nothing."""
    count = len(model._losses)
    numerators, divisors, d_outputs = np.zeros(count), np.zeros(count), [None] * count
    if len(x[0]) == 0:
        if model._metrics is None:
            raise ValueError("DataParallel: the first global batch must hold at least one sample per process")
        return None, numerators, divisors, d_outputs, _metric_state(model)
    y_pred, masks, state = model._forward(x, training=training)
    model._ensure_metrics(y, y_pred)
    metrics_before = _metric_state(model)
    for index, loss in enumerate(model._losses):
        if loss is None:
            continue
        weight = None if sample_weight is None else sample_weight[min(index, len(sample_weight) - 1)]
        divisor = loss_divisor(loss, y[index], y_pred[index], masks[index])
        if divisor == 0:
            # A fully masked slice adds nothing (its own mean would be 0/0).
            d_outputs[index] = np.zeros_like(y_pred[index])
            continue
        value, grad = loss.value_and_grad(y[index], y_pred[index], sample_weight=weight, mask=masks[index])
        numerators[index], divisors[index] = float(value) * divisor, divisor
        if training:
            d_outputs[index] = np.asarray(grad, np.float32) * np.float32(divisor * model._loss_weights[index])
    model._update_metrics(y, y_pred, sample_weight, masks, output_losses=None)  # losses: after the reduction
    return (state if training else None), numerators, divisors, d_outputs, metrics_before


def _set_globals(model, scalars, metrics_before):
    """Global loss and sample count from the reduced scalars; metric states become before + every process's
    update, so result() reports the whole global batch on every process."""
    count = len(model._losses)
    numerators, divisors = scalars[:count], scalars[count:2 * count]
    loss = sum(weight * n / d for weight, n, d in zip(model._loss_weights, numerators, divisors) if d > 0)
    _add_metric_updates(model, metrics_before, scalars[2 * count + 1:])
    samples = int(round(scalars[2 * count]))
    # Each output's loss over the global batch (its own divisor: masks may keep different counts per process).
    for compiled in model._metrics or []:
        if compiled.role == "loss" and divisors[compiled.index] > 0:
            compiled.metric.update_state([numerators[compiled.index] / divisors[compiled.index]],
                                         sample_weight=[samples])
    return float(loss), samples


def _metric_fields(model):
    """(metric, attribute) of every compiled metric's additive state: sums over samples (a Mean's total and
    count, confusion counts), so adding every process's update gives the update of the whole global batch."""
    fields = []
    for metric in (compiled.metric for compiled in model._metrics or []):
        names = getattr(metric, "additive_state", None)
        if not names:
            raise ValueError(f"DataParallel: metric {metric.name!r} names no additive state (its additive_state "
                             "attribute) to sum over processes")
        fields += [(metric, name) for name in names]
    return fields


def _metric_state(model):
    """A copy of each additive state (in place updates must not reach it); None where a metric has not built its
    state yet (a multi-label AUC before its first batch), which counts as zeros."""
    return [None if value is None else np.array(value, np.float64)
            for value in (getattr(metric, name) for metric, name in _metric_fields(model))]


def _metric_delta(model, metrics_before):
    """This process's update of every additive state since ``metrics_before``, flattened into one vector."""
    parts = [np.ravel(after - (0.0 if before is None else before))
             for after, before in zip(_metric_state(model), metrics_before) if after is not None]
    return np.concatenate(parts) if parts else np.zeros(0)


def _add_metric_updates(model, metrics_before, updates):
    """Sets each additive state to its value before the batch plus its slice of the summed ``updates``."""
    offset = 0
    for (metric, name), before in zip(_metric_fields(model), metrics_before):
        current = getattr(metric, name)
        if current is None:
            continue
        shape = np.shape(current)
        size = int(np.prod(shape))
        value = (0.0 if before is None else before) + np.reshape(updates[offset:offset + size], shape)
        offset += size
        setattr(metric, name, float(value) if shape == () else value)
