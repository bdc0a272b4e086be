"""Minimal SGD and MSE with the engine-contract interface, used by the engine tests until rnnkit.optimizers and
rnnkit.losses land in the tree (their own tests cover them; these only feed the training loop)."""
import numpy as np


class MeanSquaredError:
    """Keras 3 "sum_over_batch_size": per-sample mean over the last axis, weighted, divided by the sample count."""

    def __call__(self, y_true, y_pred, sample_weight=None):
        return self.value_and_grad(y_true, y_pred, sample_weight)[0]

    def value_and_grad(self, y_true, y_pred, sample_weight=None, mask=None):
        y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
        per_sample = ((y_pred - y_true) ** 2).mean(axis=-1)
        weights = np.ones_like(per_sample) if sample_weight is None else np.broadcast_to(
            np.asarray(sample_weight, np.float64).reshape(per_sample.shape[:1] + (1,) * (per_sample.ndim - 1)),
            per_sample.shape)
        if mask is not None:
            weights = weights * mask
        count = per_sample.size
        grad = 2 * (y_pred - y_true) / y_true.shape[-1] * weights[..., None] / count
        return float((per_sample * weights).sum() / count), grad.astype(np.float32)


class SGD:
    def __init__(self, learning_rate=0.01):
        self.learning_rate = learning_rate

    def apply(self, grads, variables):
        for gradient, variable in zip(grads, variables):
            variable.value -= np.float32(self.learning_rate) * gradient
