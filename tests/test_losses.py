"""Losses: values against float64 numpy closed forms, gradients against finite differences of those closed forms,
Keras 3 weighting/mask/reduction rules, lookup, and an oracle group against keras.losses (torch autograd).

Tolerances: float32 values agree with the float64 forms to rtol 1e-5; analytic float32 gradients agree with
central differences (h = 1e-6 in float64) to rtol 1e-4, atol 1e-6.
"""
import numpy as np
import pytest

from rnnkit import losses

EPS = 1e-7


# ---- float64 references: per-sample losses -----------------------------------------------------------------------
def _softmax_log(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def ref_per_sample(kind, t, p, from_logits=False, label_smoothing=0.0, delta=1.0, apply_class_balancing=False,
                   alpha=0.25, gamma=2.0):
    t, p = np.asarray(t, np.float64), np.asarray(p, np.float64)
    if kind in ("hinge", "squared_hinge"):
        y = 2 * t - 1 if np.all((t == 0) | (t == 1)) else t
        margin = np.maximum(1 - y * p, 0)
        return (margin if kind == "hinge" else margin ** 2).mean(-1)
    if kind == "categorical_hinge":
        return np.maximum(((1 - t) * p).max(-1) - (t * p).sum(-1) + 1, 0)
    if kind == "cosine_similarity":
        unit = lambda v: v * np.minimum(1 / np.sqrt((v * v).sum(-1, keepdims=True)), 1e7)  # noqa: E731
        return -(unit(t) * unit(p)).sum(-1)
    if kind == "binary_focal_crossentropy":
        t = t * (1 - label_smoothing) + 0.5 * label_smoothing
        q = 1 / (1 + np.exp(-p)) if from_logits else p
        clipped = np.clip(q, EPS, 1 - EPS)
        bce = -(t * np.log(clipped) + (1 - t) * np.log(1 - clipped))
        focal = (1 - (t * q + (1 - t) * (1 - q))) ** gamma * bce
        weight = t * alpha + (1 - t) * (1 - alpha) if apply_class_balancing else 1
        return (weight * focal).mean(-1)
    if kind == "mean_squared_error":
        return ((p - t) ** 2).mean(-1)
    if kind == "huber":
        e = p - t
        return np.where(np.abs(e) <= delta, 0.5 * e ** 2, delta * np.abs(e) - 0.5 * delta ** 2).mean(-1)
    if kind == "log_cosh":
        return np.log(np.cosh(p - t)).mean(-1)
    if kind == "mean_squared_logarithmic_error":
        return ((np.log(np.maximum(p, EPS) + 1) - np.log(np.maximum(t, EPS) + 1)) ** 2).mean(-1)
    if kind == "mean_absolute_percentage_error":
        return 100 * (np.abs(t - p) / np.maximum(np.abs(t), EPS)).mean(-1)
    if kind == "kl_divergence":
        t, p = np.clip(t, EPS, 1), np.clip(p, EPS, 1)
        return (t * np.log(t / p)).sum(-1)
    if kind == "poisson":
        return (p - t * np.log(p + EPS)).mean(-1)
    if kind == "mean_absolute_error":
        return np.abs(p - t).mean(-1)
    if kind == "binary_crossentropy":
        t = t * (1 - label_smoothing) + 0.5 * label_smoothing
        if from_logits:
            return (np.maximum(p, 0) - p * t + np.log1p(np.exp(-np.abs(p)))).mean(-1)
        q = np.clip(p, EPS, 1 - EPS)
        return -(t * np.log(q) + (1 - t) * np.log(1 - q)).mean(-1)
    if kind == "sparse_categorical_crossentropy":
        t = np.eye(p.shape[-1])[np.asarray(t, int)]
        kind = "categorical_crossentropy"
    if kind == "categorical_crossentropy":
        t = t * (1 - label_smoothing) + label_smoothing / p.shape[-1]
        log_q = _softmax_log(p) if from_logits else np.log(np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS))
        return -(t * log_q).sum(-1)
    raise AssertionError(kind)


def ref_reduce(values, sample_weight=None, mask=None, reduction="sum_over_batch_size"):
    """Keras 3 reduce_weighted_values written out: mask -> weights total/valid (0/1 under 'sum'), then mean."""
    weights = np.ones_like(values)
    if sample_weight is not None:
        sw = np.asarray(sample_weight, np.float64)
        weights = weights * sw.reshape(sw.shape + (1,) * (values.ndim - sw.ndim))
    if mask is not None:
        mask = np.asarray(mask, np.float64)
        if reduction == "sum_over_batch_size":
            valid = mask.sum()
            mask = mask * (mask.size / valid if valid else 0.0)
        weights = weights * mask
    total = (values * weights).sum()
    return total if reduction == "sum" else total / values.size


def ref_loss(kind, t, p, sample_weight=None, mask=None, reduction="sum_over_batch_size", **options):
    return ref_reduce(ref_per_sample(kind, t, p, **options), sample_weight, mask, reduction)


def finite_difference(f, p, h=1e-6):
    p = np.asarray(p, np.float64)
    grad = np.zeros_like(p)
    for index in np.ndindex(p.shape):
        up, down = p.copy(), p.copy()
        up[index] += h
        down[index] -= h
        grad[index] = (f(up) - f(down)) / (2 * h)
    return grad


# ---- data -------------------------------------------------------------------------------------------------------
def _data(kind, shape=(4, 5, 3), seed=0, from_logits=False):
    rng = np.random.default_rng(seed)
    if kind in ("mean_squared_error", "mean_absolute_error", "huber", "log_cosh"):
        return rng.standard_normal(shape).astype(np.float32), 1.5 * rng.standard_normal(shape).astype(np.float32)
    if kind == "mean_squared_logarithmic_error":
        return rng.uniform(0, 3, shape).astype(np.float32), rng.uniform(0.01, 3, shape).astype(np.float32)
    if kind == "mean_absolute_percentage_error":
        t = rng.uniform(0.5, 2, shape) * rng.choice([-1, 1], shape)
        return t.astype(np.float32), rng.standard_normal(shape).astype(np.float32)
    if kind == "poisson":
        return rng.poisson(2.0, shape).astype(np.float32), rng.uniform(0.1, 4, shape).astype(np.float32)
    if kind == "kl_divergence":
        t = rng.uniform(size=shape)
        return (t / t.sum(-1, keepdims=True)).astype(np.float32), rng.uniform(0.05, 1, shape).astype(np.float32)
    if kind in ("hinge", "squared_hinge"):
        return rng.integers(0, 2, shape).astype(np.float32), rng.standard_normal(shape).astype(np.float32)
    if kind in ("categorical_hinge", "cosine_similarity"):
        labels = np.eye(shape[-1], dtype=np.float32)[rng.integers(0, shape[-1], shape[:-1])]
        t = labels if kind == "categorical_hinge" else rng.standard_normal(shape).astype(np.float32)
        return t, rng.standard_normal(shape).astype(np.float32)
    if kind in ("binary_crossentropy", "binary_focal_crossentropy"):
        t = rng.integers(0, 2, shape).astype(np.float32)
        p = rng.standard_normal(shape) * 2 if from_logits else rng.uniform(0.05, 0.95, shape)
        return t, p.astype(np.float32)
    p = rng.standard_normal(shape) * 2 if from_logits else rng.uniform(0.05, 1.0, shape)
    labels = rng.integers(0, shape[-1], shape[:-1])
    if kind == "sparse_categorical_crossentropy":
        return labels.astype(np.float32), p.astype(np.float32)
    return np.eye(shape[-1], dtype=np.float32)[labels], p.astype(np.float32)


CLASSES = {"mean_squared_error": losses.MeanSquaredError, "mean_absolute_error": losses.MeanAbsoluteError,
           "binary_crossentropy": losses.BinaryCrossentropy,
           "categorical_crossentropy": losses.CategoricalCrossentropy,
           "sparse_categorical_crossentropy": losses.SparseCategoricalCrossentropy, "huber": losses.Huber,
           "log_cosh": losses.LogCosh, "mean_squared_logarithmic_error": losses.MeanSquaredLogarithmicError,
           "mean_absolute_percentage_error": losses.MeanAbsolutePercentageError,
           "kl_divergence": losses.KLDivergence, "poisson": losses.Poisson, "hinge": losses.Hinge,
           "squared_hinge": losses.SquaredHinge, "categorical_hinge": losses.CategoricalHinge,
           "cosine_similarity": losses.CosineSimilarity, "binary_focal_crossentropy": losses.BinaryFocalCrossentropy}
CASES = [("mean_squared_error", {}), ("mean_absolute_error", {}),
         ("huber", {}), ("huber", {"delta": 0.5}), ("log_cosh", {}), ("mean_squared_logarithmic_error", {}),
         ("mean_absolute_percentage_error", {}), ("kl_divergence", {}), ("poisson", {}),
         ("hinge", {}), ("squared_hinge", {}), ("categorical_hinge", {}), ("cosine_similarity", {}),
         ("binary_focal_crossentropy", {}), ("binary_focal_crossentropy", {"from_logits": True, "gamma": 1.5}),
         ("binary_focal_crossentropy", {"apply_class_balancing": True, "alpha": 0.4, "label_smoothing": 0.1}),
         ("binary_crossentropy", {}), ("binary_crossentropy", {"from_logits": True}),
         ("binary_crossentropy", {"label_smoothing": 0.2}),
         ("categorical_crossentropy", {}), ("categorical_crossentropy", {"from_logits": True}),
         ("categorical_crossentropy", {"from_logits": True, "label_smoothing": 0.1}),
         ("sparse_categorical_crossentropy", {}), ("sparse_categorical_crossentropy", {"from_logits": True})]
IDS = [f"{k}-{'-'.join(f'{a}={b}' for a, b in o.items()) or 'default'}" for k, o in CASES]


def _weights_and_mask(seed=1, shape=(4, 5)):
    rng = np.random.default_rng(seed)
    mask = rng.uniform(size=shape) > 0.3
    mask[0, 0] = True
    return rng.uniform(0.1, 2.0, shape[:1]).astype(np.float32), mask


@pytest.mark.parametrize("weighting", ["plain", "sample_weight", "mask", "both"])
@pytest.mark.parametrize("kind,options", CASES, ids=IDS)
def test_value_and_gradient_match_closed_forms(kind, options, weighting):
    t, p = _data(kind, from_logits=options.get("from_logits", False))
    weights, mask = _weights_and_mask()
    sw = weights if weighting in ("sample_weight", "both") else None
    mk = mask if weighting in ("mask", "both") else None
    value, grad = CLASSES[kind](**options).value_and_grad(t, p, sample_weight=sw, mask=mk)
    expected = ref_loss(kind, t, p, sw, mk, **options)
    assert value == pytest.approx(expected, rel=1e-5)
    assert grad.dtype == np.float32 and grad.shape == p.shape
    numeric = finite_difference(lambda q: ref_loss(kind, t, q, sw, mk, **options), p)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind,options", CASES, ids=IDS)
def test_call_matches_value_and_per_sample_functions(kind, options):
    t, p = _data(kind, shape=(6, 3), from_logits=options.get("from_logits", False))
    loss = CLASSES[kind](**options)
    assert loss(t, p) == pytest.approx(ref_loss(kind, t, p, **options), rel=1e-5)
    function = getattr(losses, kind)
    np.testing.assert_allclose(function(t, p, **options), ref_per_sample(kind, t, p, **options), rtol=1e-5)


def test_mask_excludes_positions_and_renormalises_the_mean():
    t, p = _data("categorical_crossentropy", from_logits=True)
    _, mask = _weights_and_mask()
    loss = losses.CategoricalCrossentropy(from_logits=True)
    value, grad = loss.value_and_grad(t, p, mask=mask)
    # The same as the plain mean over the kept positions alone...
    assert value == pytest.approx(loss(t[mask], p[mask]), rel=1e-6)
    # ...and masked positions receive no gradient while kept ones do.
    assert np.all(grad[~mask] == 0) and np.all(np.any(grad[mask] != 0, axis=-1))


def test_all_masked_gives_zero_loss_and_gradient():
    t, p = _data("mean_squared_error")
    value, grad = losses.MeanSquaredError().value_and_grad(t, p, mask=np.zeros((4, 5), bool))
    assert value == 0.0 and not grad.any()


def test_reductions_sum_and_none():
    t, p = _data("mean_absolute_error", shape=(5, 2))
    weights = np.arange(1, 6, dtype=np.float32)
    per_sample = ref_per_sample("mean_absolute_error", t, p)
    assert losses.MeanAbsoluteError(reduction="sum")(t, p, sample_weight=weights) == pytest.approx(
        (per_sample * weights).sum(), rel=1e-5)
    np.testing.assert_allclose(losses.MeanAbsoluteError(reduction=None)(t, p, sample_weight=weights),
                               per_sample * weights, rtol=1e-5)
    assert losses.MeanAbsoluteError(reduction="mean_with_sample_weight")(t, p, sample_weight=weights) == \
        pytest.approx((per_sample * weights).sum() / weights.sum(), rel=1e-5)
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanAbsoluteError(reduction="average")


def test_probability_clip_has_zero_gradient_where_active():
    t = np.array([[1.0, 0.0]], np.float32)
    p = np.array([[0.0, 1.0]], np.float32)  # both outside [eps, 1 - eps]
    value, grad = losses.BinaryCrossentropy().value_and_grad(t, p)
    # The clip bounds are float32 numbers, as in Keras: 1 - 1e-7 rounds to 1 - 2**-23.
    low, high = float(np.float32(EPS)), float(np.float32(1 - EPS))
    assert value == pytest.approx(-(np.log(low) + np.log(1 - high)) / 2, rel=1e-5)
    assert not grad.any()


def test_rank_fixing_of_a_trailing_unit_axis():
    y_true = np.array([0.0, 1.0, 1.0], np.float32)
    y_pred = np.array([[0.2], [0.7], [0.4]], np.float32)
    value, grad = losses.MeanSquaredError().value_and_grad(y_true, y_pred)
    assert value == pytest.approx(np.mean((y_pred[:, 0] - y_true) ** 2), rel=1e-6)
    assert grad.shape == (3, 1)
    labels = np.array([[1], [0]], np.float32)
    probs = np.array([[0.3, 0.7], [0.6, 0.4]], np.float32)
    assert losses.SparseCategoricalCrossentropy()(labels, probs) == pytest.approx(
        -np.mean(np.log([0.7, 0.6])), rel=1e-6)


def test_large_batches_give_bit_identical_values_for_any_thread_count():
    import rnnkit

    t, p = _data("categorical_crossentropy", shape=(64, 50, 10), from_logits=True)
    results = []
    previous = rnnkit.get_num_threads()
    try:
        for threads in (1, 2):
            rnnkit.set_num_threads(threads)
            results.append(losses.CategoricalCrossentropy(from_logits=True).value_and_grad(t, p))
    finally:
        rnnkit.set_num_threads(previous)
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_sparse_labels_out_of_range_raise():
    with pytest.raises(ValueError, match="labels"):
        losses.SparseCategoricalCrossentropy()(np.array([3.0]), np.array([[0.5, 0.5]]))


def test_sparse_ignore_class_is_masked_out():
    labels = np.array([0, 2, 1], np.float32)
    probs = np.array([[0.5, 0.5], [0.1, 0.9], [0.2, 0.8]], np.float32)
    value, grad = losses.SparseCategoricalCrossentropy(ignore_class=2).value_and_grad(labels, probs)
    assert value == pytest.approx(-np.mean(np.log([0.5, 0.8])), rel=1e-6)
    assert not grad[1].any()


@pytest.mark.parametrize("identifier,cls", [
    ("mse", losses.MeanSquaredError), ("MSE", losses.MeanSquaredError), ("mae", losses.MeanAbsoluteError),
    ("mean_squared_error", losses.MeanSquaredError), ("binary_crossentropy", losses.BinaryCrossentropy),
    ("categorical_crossentropy", losses.CategoricalCrossentropy),
    ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
    ("SparseCategoricalCrossentropy", losses.SparseCategoricalCrossentropy),
    ("huber", losses.Huber), ("log_cosh", losses.LogCosh), ("msle", losses.MeanSquaredLogarithmicError),
    ("MAPE", losses.MeanAbsolutePercentageError), ("kld", losses.KLDivergence), ("poisson", losses.Poisson),
])
def test_get_resolves_keras_names(identifier, cls):
    assert type(losses.get(identifier)) is cls


def test_unknown_loss_suggests_the_closest():
    with pytest.raises(ValueError, match="Did you mean 'mean_squared_error'"):
        losses.get("mean_squared_eror")


def test_serialize_round_trip():
    loss = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1, name="cce")
    data = losses.serialize(loss)
    assert data["class_name"] == "CategoricalCrossentropy"
    restored = losses.deserialize(data)
    assert type(restored) is losses.CategoricalCrossentropy and restored.get_config() == loss.get_config()


# ---- oracle: Keras 3 on the torch backend --------------------------------------------------------------------------
@pytest.mark.parametrize("weighting", ["plain", "sample_weight", "mask"])
@pytest.mark.parametrize("kind,options", CASES, ids=IDS)
def test_oracle_keras_loss_value_and_gradient(kind, options, weighting):
    keras = pytest.importorskip("keras", reason="the Keras oracle group (keras 3 + torch) is not installed")
    torch = pytest.importorskip("torch", reason="the Keras oracle group (keras 3 + torch) is not installed")
    t, p = _data(kind, from_logits=options.get("from_logits", False), seed=3)
    weights, mask = _weights_and_mask(seed=4)
    sw = weights if weighting == "sample_weight" else None
    mk = mask if weighting == "mask" else None
    class_name = CLASSES[kind].__name__
    y_pred = torch.tensor(p, requires_grad=True)
    if mk is not None:
        y_pred._keras_mask = torch.tensor(mk)  # how Keras 3 carries an output mask into the loss
    reference = getattr(keras.losses, class_name)(**options)(
        torch.tensor(t), y_pred, sample_weight=None if sw is None else torch.tensor(sw)[:, None])
    reference.backward()
    value, grad = CLASSES[kind](**options).value_and_grad(t, p, sample_weight=sw, mask=mk)
    assert value == pytest.approx(float(reference.detach()), rel=1e-5)
    np.testing.assert_allclose(grad, y_pred.grad.numpy(), rtol=1e-4, atol=1e-7)


def test_oracle_keras_loss_configs_match():
    keras = pytest.importorskip("keras", reason="the Keras oracle group (keras 3 + torch) is not installed")
    for cls in CLASSES.values():
        theirs = getattr(keras.losses, cls.__name__)().get_config()
        # Keras 3.15's Huber config leaves out delta (its from_config takes it); rnnkit writes it so none is lost.
        ours = {k: v for k, v in cls().get_config().items() if not (cls is losses.Huber and k == "delta")}
        assert {k: v for k, v in theirs.items() if k != "dtype"} == ours, cls.__name__


def test_a_plain_python_loss_function_is_refused_at_compile_with_the_reason():
    import rnnkit

    model = rnnkit.Sequential([rnnkit.Input((3,)), rnnkit.layers.Dense(1)])
    with pytest.raises(TypeError, match="plain Python function.*value_and_grad"):
        model.compile(optimizer="sgd", loss=lambda y_true, y_pred: ((y_true - y_pred) ** 2).mean())


def test_hinge_converts_labels_only_when_all_are_0_or_1():
    p = np.array([[0.3, -0.8], [1.5, 0.2]], np.float32)
    signed = np.array([[1.0, -1.0], [-1.0, 1.0]], np.float32)
    binary = (signed + 1) / 2
    assert losses.Hinge()(signed, p) == pytest.approx(losses.Hinge()(binary, p), rel=1e-6)
    assert losses.Hinge()(signed, p) == pytest.approx(np.maximum(1 - signed * p, 0).mean(), rel=1e-6)
    mixed = np.array([[1.0, 0.0], [-1.0, 1.0]], np.float32)  # a -1 among them: taken as they are
    assert losses.Hinge()(mixed, p) == pytest.approx(np.maximum(1 - mixed * p, 0).mean(), rel=1e-6)


def test_only_the_last_axis_and_sparse_categorical_takes_axis_as_keras_does():
    labels, probs = np.array([0, 2]), np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], np.float32)
    expected = losses.SparseCategoricalCrossentropy()(labels, probs)
    assert losses.SparseCategoricalCrossentropy(False, None, "sum_over_batch_size", -1)(labels, probs) == expected
    assert "axis" not in losses.SparseCategoricalCrossentropy().get_config()  # as Keras 3 leaves it out
    for loss in (losses.SparseCategoricalCrossentropy, losses.CategoricalCrossentropy, losses.BinaryCrossentropy):
        with pytest.raises(NotImplementedError, match="only axis=-1"):
            loss(axis=0)
