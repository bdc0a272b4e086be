"""Metrics that average a loss (MAPE, MSLE, log-cosh, Poisson, KL divergence, the crossentropies): weighted means of
float64 numpy per-sample values over several batches, Keras' names, and an oracle group against keras.metrics.
Tolerance: rtol 1e-5 (float32 per-sample values)."""
import numpy as np
import pytest

from rnnkit import metrics

EPS = 1e-7


def per_sample(name, t, p):
    t, p = np.asarray(t, np.float64), np.asarray(p, np.float64)
    if name == "MeanAbsolutePercentageError":
        return 100 * (np.abs(t - p) / np.maximum(np.abs(t), EPS)).mean(-1)
    if name == "MeanSquaredLogarithmicError":
        return ((np.log(np.maximum(p, EPS) + 1) - np.log(np.maximum(t, EPS) + 1)) ** 2).mean(-1)
    if name == "LogCoshError":
        return np.log(np.cosh(p - t)).mean(-1)
    if name == "Poisson":
        return (p - t * np.log(p + EPS)).mean(-1)
    if name == "KLDivergence":
        t, p = np.clip(t, EPS, 1), np.clip(p, EPS, 1)
        return (t * np.log(t / p)).sum(-1)
    if name == "BinaryCrossentropy":
        q = np.clip(p, EPS, 1 - EPS)
        return -(t * np.log(q) + (1 - t) * np.log(1 - q)).mean(-1)
    if name == "CategoricalCrossentropy":
        return -(t * np.log(np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS))).sum(-1)
    if name in ("Hinge", "SquaredHinge"):
        margin = np.maximum(1 - (2 * t - 1) * p, 0)  # 0/1 labels taken as -1/1
        return margin.mean(-1) if name == "Hinge" else (margin ** 2).mean(-1)
    if name == "CategoricalHinge":
        return np.maximum(((1 - t) * p).max(-1) - (t * p).sum(-1) + 1, 0)
    if name == "CosineSimilarity":
        return (t * p).sum(-1) / np.linalg.norm(t, axis=-1) / np.linalg.norm(p, axis=-1)
    raise AssertionError(name)


NAMES = ["MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "LogCoshError", "Poisson", "KLDivergence",
         "BinaryCrossentropy", "CategoricalCrossentropy", "Hinge", "SquaredHinge", "CategoricalHinge",
         "CosineSimilarity"]


def batches(name, seed=0):
    rng = np.random.default_rng(seed)
    for size in (4, 6):
        if name in ("BinaryCrossentropy", "Hinge", "SquaredHinge"):
            t = rng.integers(0, 2, (size, 3)).astype(np.float32)
        elif name in ("CategoricalCrossentropy", "KLDivergence", "CategoricalHinge"):
            t = np.eye(3, dtype=np.float32)[rng.integers(0, 3, size)]
        else:
            t = rng.uniform(0.5, 3, (size, 3)).astype(np.float32)
        p = rng.uniform(0.05, 0.95, (size, 3)).astype(np.float32)
        yield t, p, rng.uniform(0.2, 2, size).astype(np.float32)


@pytest.mark.parametrize("name", NAMES)
def test_result_is_the_weighted_mean_of_the_per_sample_losses(name):
    metric = getattr(metrics, name)()
    values, weights = [], []
    for t, p, w in batches(name):
        metric.update_state(t, p, sample_weight=w)
        values.append(per_sample(name, t, p))
        weights.append(w)
    values, weights = np.concatenate(values), np.concatenate(weights).astype(np.float64)
    assert metric.result() == pytest.approx((values * weights).sum() / weights.sum(), rel=1e-5)


def test_sparse_crossentropy_equals_the_categorical_one_on_one_hot_labels():
    sparse, dense = metrics.SparseCategoricalCrossentropy(), metrics.CategoricalCrossentropy()
    for t, p, _ in batches("CategoricalCrossentropy"):
        sparse.update_state(t.argmax(-1), p)
        dense.update_state(t, p)
    assert sparse.result() == pytest.approx(dense.result(), rel=1e-6)


@pytest.mark.parametrize("identifier,cls", [("mape", metrics.MeanAbsolutePercentageError),
                                            ("MSLE", metrics.MeanSquaredLogarithmicError),
                                            ("log_cosh_error", metrics.LogCoshError), ("bce", metrics.BinaryCrossentropy),
                                            ("kl_divergence", metrics.KLDivergence), ("poisson", metrics.Poisson),
                                            ("sparse_categorical_crossentropy", metrics.SparseCategoricalCrossentropy)])
def test_keras_names_resolve_to_the_classes(identifier, cls):
    metric = metrics.get(identifier)
    assert type(metric) is cls and metric.name == identifier


@pytest.mark.parametrize("name", NAMES + ["SparseCategoricalCrossentropy"])
def test_oracle_keras_metric_values_and_configs(name):
    keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")
    pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
    ours, theirs = getattr(metrics, name)(), getattr(keras.metrics, name)()
    for t, p, w in batches("CategoricalCrossentropy" if name.startswith("Sparse") else name, seed=1):
        t = t.argmax(-1) if name.startswith("Sparse") else t
        ours.update_state(t, p, sample_weight=w)
        theirs.update_state(t, p, sample_weight=w)
    assert ours.result() == pytest.approx(float(theirs.result()), rel=1e-5)
    assert ours.get_config() == theirs.get_config()
