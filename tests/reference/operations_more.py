"""Models written once for Keras 3 and rnnkit alike (`lib` is either module) with the ops of
test_layers_operations_more*.py: a Lambda function, a custom layer with weights, and a functional model touching
every op. Each comes with a float64 numpy reference where a test computes one."""
import numpy as np


def mix_steps(ops, h):
    """A Lambda's function of h (batch, 6, 4): causal attention over the steps (a triangle of ones), padded and
    rolled, scaled by norms and deviations, split and reassembled, plus taken steps and a captured arange."""
    scores = ops.einsum("btf,bsf->bts", h, h)
    weights = ops.softmax(ops.where(ops.tril(ops.ones((6, 6))) > 0.0, scores, -1e9), axis=-1)
    mixed = ops.einsum("bts,bsf->btf", weights, h)
    shifted = ops.roll(ops.pad(mixed, ((0, 0), (1, 0), (0, 0)), constant_values=0.5)[:, :-1], 1, axis=2)
    scaled = shifted * (ops.norm(h, axis=-1, keepdims=True) + ops.std(h, axis=1, keepdims=True))
    first, second = ops.split(scaled, 2, axis=-1)
    return (ops.concatenate([second, ops.flip(first, 1)], axis=-1) + ops.arange(4) * 0.1
            + ops.take(h, [5, 0, 1, 2, 3, 4], axis=1))


def mix_steps_reference(h):
    scores = np.einsum("btf,bsf->bts", h, h)
    scores = np.where(np.tril(np.ones((6, 6))) > 0, scores, -1e9)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    mixed = np.einsum("bts,bsf->btf", e / e.sum(axis=-1, keepdims=True), h)
    shifted = np.roll(np.pad(mixed, ((0, 0), (1, 0), (0, 0)), constant_values=0.5)[:, :-1], 1, axis=2)
    scaled = shifted * (np.linalg.norm(h, axis=-1, keepdims=True) + np.std(h, axis=1, keepdims=True))
    first, second = np.split(scaled, 2, axis=-1)
    return np.concatenate([second, np.flip(first, 1)], axis=-1) + np.arange(4) * 0.1 + h[:, [5, 0, 1, 2, 3, 4]]


def top_k_pooling_class(lib):
    ops = lib.ops

    class TopKPooling(lib.layers.Layer):
        """Scores the steps with a weight vector, keeps the k best steps (gated by their sigmoid scores), mixes
        them with a constant upper triangle and projects them with a kernel read through convert_to_tensor; the
        result is scaled down by its norm."""

        def __init__(self, k, units, **kwargs):
            super().__init__(**kwargs)
            self.k, self.units = k, units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="glorot_uniform", name="w")
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform",
                                          name="kernel")

        def call(self, inputs):
            scores = ops.einsum("btf,f->bt", inputs, self.w)
            top, indices = ops.top_k(scores, self.k)
            picked = ops.take_along_axis(inputs, ops.expand_dims(indices, -1), axis=1)
            gated = picked * ops.expand_dims(ops.sigmoid(top), -1)
            mixed = ops.einsum("kj,bjf->bkf", ops.triu(ops.ones((self.k, self.k))) / self.k, gated)
            projected = ops.dot(ops.sum(mixed, axis=1), ops.convert_to_tensor(self.kernel))
            return projected / (1.0 + ops.norm(projected, axis=-1, keepdims=True))

        def get_config(self):
            return {**super().get_config(), "k": self.k, "units": self.units}

    return TopKPooling


def top_k_pooling_reference(x, w, kernel, k):
    scores = np.einsum("btf,f->bt", x, w)
    indices = np.argsort(-scores, axis=-1, kind="stable")[:, :k]
    top = np.take_along_axis(scores, indices, -1)
    gated = np.take_along_axis(x, indices[..., None], axis=1) / (1 + np.exp(-top))[..., None]
    mixed = np.einsum("kj,bjf->bkf", np.triu(np.ones((k, k))) / k, gated)
    projected = mixed.sum(axis=1) @ kernel
    return projected / (1.0 + np.linalg.norm(projected, axis=-1, keepdims=True))


def every_op_model(lib):
    """A functional model through every op of this round (floor_divide and the other steps on the input, which
    needs no gradient: Keras on torch cannot differentiate floor_divide)."""
    ops = lib.ops
    x = lib.Input((6, 4))
    ids = lib.Input((6,), dtype="int32")
    h = lib.layers.Dense(4)(x)
    first, second = ops.split(h, 2, axis=-1)
    values, indices = ops.top_k(h, 2)
    steps = (ops.sign(x) + ops.floor(x) + ops.ceil(x) + ops.round(x, 1) + ops.floor_divide(x, 0.5)
             + ops.mod(h, 0.7))
    statistics = (ops.prod(h, axis=1, keepdims=True) + ops.std(h, axis=1, keepdims=True)
                  + ops.var(h, axis=1, keepdims=True) + ops.norm(h, ord="nuc", axis=(1, 2))[:, None, None]
                  + ops.norm(h, ord=1, axis=-1, keepdims=True))
    truths = ops.cast(ops.any(h > 0.0, axis=-1, keepdims=True), "float32") + ops.cast(
        ops.all(h > -1.0, axis=-1, keepdims=True), "float32")
    moved = (ops.flip(h, 1) + ops.roll(h, 1, axis=1) + ops.tile(first, (1, 1, 2)) + ops.repeat(second, 2, axis=-1)
             + ops.pad(h, ((0, 0), (1, 0), (0, 0)))[:, :-1] + ops.sort(h, axis=1) + ops.tril(h) + ops.triu(h, 1))
    gathered = (ops.take(h, [5, 4, 3, 2, 1, 0], axis=1) + ops.take_along_axis(h, ops.argsort(h, axis=1), axis=1)
                + ops.take_along_axis(h, ops.expand_dims(ids, -1), axis=1))
    contracted = ops.einsum("btf,bsf->bts", h, h)[:, :, :4] + ops.dot(h, ops.eye(4)) + ops.dot(h, ops.ones((4, 4)))
    created = (ops.full_like(h, 0.5) + ops.zeros((4,)) + ops.linspace(0.0, 1.0, 4) + ops.arange(4) * ops.full((4,), 0.1)
               + values[:, :, :1] * ops.cast(indices[:, :, 1:], "float32"))
    total = steps + statistics + truths + moved + gathered + contracted + created
    return lib.Model([x, ids], lib.layers.Dense(2)(total))


def every_op_data(seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((5, 6, 4)).astype(np.float32), rng.integers(0, 6, size=(5, 6)).astype(np.int32)]
