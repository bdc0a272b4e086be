"""F-beta / F1 and R2 scores: against float64 numpy computations written out from their definitions (per-class
counts; 1 - residual / total sums of squares), over several batches with sample weights; Keras' names, configs and
the oracle against keras.metrics. Tolerances: rtol 1e-5 (Keras' epsilon 1e-7 in the ratios is kept)."""
import numpy as np
import pytest

from rnnkit import metrics

EPS = 1e-7


def classification_batches(seed=0, classes=4):
    rng = np.random.default_rng(seed)
    for size in (6, 9):
        labels = np.eye(classes)[rng.integers(0, classes, size)]
        yield labels, rng.uniform(size=(size, classes)), rng.uniform(0.5, 2, size)


def reference_fbeta(batches, beta, threshold, average):
    tp = fp = fn = support = 0
    for t, p, w in batches:
        predicted = (p > threshold) if threshold is not None else (p >= p.max(-1, keepdims=True))
        predicted, w = predicted.astype(float), w[:, None]
        axis = None if average == "micro" else 0
        tp = tp + (predicted * t * w).sum(axis)
        fp = fp + (predicted * (1 - t) * w).sum(axis)
        fn = fn + ((1 - predicted) * t * w).sum(axis)
        support = support + (t * w).sum(axis)
    precision, recall = tp / (tp + fp + EPS), tp / (tp + fn + EPS)
    score = (1 + beta ** 2) * precision * recall / (beta ** 2 * precision + recall + EPS)
    if average == "weighted":
        return (score * support / (support.sum() + EPS)).sum()
    return score.mean() if average else score


@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
@pytest.mark.parametrize("beta,threshold", [(1.0, None), (2.0, 0.5), (0.5, 0.3)])
def test_fbeta_matches_its_definition(average, beta, threshold):
    metric = metrics.FBetaScore(average=average, beta=beta, threshold=threshold)
    for t, p, w in classification_batches():
        metric.update_state(t, p, sample_weight=w)
    np.testing.assert_allclose(metric.result(), reference_fbeta(classification_batches(), beta, threshold, average),
                               rtol=1e-5)
    metric.reset_state()
    assert metric.result() == 0


def test_r2_matches_one_minus_residual_over_total_squares():
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.standard_normal((20, 3)), rng.standard_normal((20, 3))
    weights = rng.uniform(0.5, 2, 20)
    for aggregation in (None, "uniform_average", "variance_weighted_average"):
        metric = metrics.R2Score(class_aggregation=aggregation)
        metric.update_state(y_true[:8], y_pred[:8], sample_weight=weights[:8])
        metric.update_state(y_true[8:], y_pred[8:], sample_weight=weights[8:])
        w = weights[:, None]
        mean = (y_true * w).sum(0) / w.sum()
        total = ((y_true - mean) ** 2 * w).sum(0)
        scores = 1 - ((y_true - y_pred) ** 2 * w).sum(0) / total
        expected = {None: scores, "uniform_average": scores.mean(),
                    "variance_weighted_average": (scores * total).sum() / total.sum()}[aggregation]
        np.testing.assert_allclose(metric.result(), expected, rtol=1e-5)
    adjusted = metrics.R2Score(num_regressors=2)
    adjusted.update_state(y_true, y_pred)
    plain = 1 - ((y_true - y_pred) ** 2).sum(0) / ((y_true - y_true.mean(0)) ** 2).sum(0)
    n = y_true.size
    assert adjusted.result() == pytest.approx(1 - (1 - plain.mean()) * (n - 1) / (n - 2 - 1), rel=1e-5)


def test_names_configs_and_argument_checks():
    assert type(metrics.get("f1_score")) is metrics.F1Score and type(metrics.get("r2_score")) is metrics.R2Score
    assert metrics.F1Score(average="macro").get_config() == {"name": "f1_score", "dtype": "float32",
                                                             "average": "macro", "threshold": None}
    with pytest.raises(ValueError, match="average"):
        metrics.F1Score(average="binary")
    with pytest.raises(ValueError, match="2D inputs"):
        metrics.F1Score().update_state(np.zeros(3), np.zeros(3))


@pytest.mark.parametrize("name,options", [("F1Score", {"average": "macro"}), ("F1Score", {"threshold": 0.4}),
                                          ("FBetaScore", {"beta": 2.0, "average": "weighted"}),
                                          ("FBetaScore", {"average": "micro"}), ("R2Score", {}),
                                          ("R2Score", {"class_aggregation": "variance_weighted_average"})])
def test_oracle_keras_scores(name, options):
    keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")
    pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
    ours, theirs = getattr(metrics, name)(**options), getattr(keras.metrics, name)(**options)
    for t, p, w in classification_batches(seed=2):
        t, p, w = t.astype(np.float32), p.astype(np.float32), w.astype(np.float32)
        ours.update_state(t, p, sample_weight=w)
        theirs.update_state(t, p, sample_weight=w)
    np.testing.assert_allclose(ours.result(), np.asarray(theirs.result()), rtol=1e-5, atol=1e-6)
    assert ours.get_config() == theirs.get_config()
