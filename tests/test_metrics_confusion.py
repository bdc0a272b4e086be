"""Confusion-matrix metrics (TruePositives ... AUC), RootMeanSquaredError and the top-k accuracies against
float64 references written out here one prediction and one threshold at a time, and through compile and fit.

Tolerance: rtol 1e-6 (the metrics return float32). Predictions are kept away from the thresholds, so the float32
comparisons the metrics make (as Keras does) and the float64 ones of the references agree."""
import numpy as np
import pytest

import rnnkit
from rnnkit import layers, metrics
from rnnkit.models import Sequential

RTOL = 1e-6
EPSILON = 1e-7  # backend.epsilon(): AUC's end thresholds sit this far outside [0, 1]


def reference_counts(y_true, y_pred, thresholds, weights=None):
    """(tp, fp, tn, fn) at each threshold, float64, one prediction at a time."""
    labels = np.ravel(y_true) != 0
    predictions = np.ravel(y_pred).astype(np.float64)
    weights = np.ones(labels.shape) if weights is None else np.ravel(np.broadcast_to(weights, np.shape(y_pred)))
    counts = np.zeros((4, len(thresholds)))
    for j, threshold in enumerate(thresholds):
        for label, prediction, weight in zip(labels, predictions, weights):
            positive = prediction > threshold
            index = {(True, True): 0, (False, True): 1, (False, False): 2, (True, False): 3}[(label, positive)]
            counts[index, j] += weight
    return counts


def reference_auc(y_true, y_pred, inner_thresholds, curve="ROC", summation="interpolation", weights=None):
    """The Riemann sum of Keras' AUC written out: the curve's points at the thresholds (ends just outside
    [0, 1]), each interval's width times its height (mean, lower or higher end)."""
    thresholds = [-EPSILON] + list(inner_thresholds) + [1 + EPSILON]
    tp, fp, tn, fn = reference_counts(y_true, y_pred, thresholds, weights)
    rate = lambda a, b: np.array([x / (x + y) if x + y > 0 else 0.0 for x, y in zip(a, b)])  # noqa: E731
    x, y = (rate(fp, tn), rate(tp, fn)) if curve == "ROC" else (rate(tp, fn), rate(tp, fp))
    height = {"interpolation": lambda a, b: (a + b) / 2, "minoring": min, "majoring": max}[summation]
    return sum((x[i] - x[i + 1]) * height(y[i], y[i + 1]) for i in range(len(thresholds) - 1))


def numeric_pr_auc(y_true, y_pred, inner_thresholds, weights=None, steps=20000):
    """Davis & Goadrich's interpolated PR area by numerical integration: between two thresholds the true positives
    grow linearly with the predicted positives p, and precision = tp / p is integrated over recall by the
    midpoint rule (never at p = 0, where precision is its limit)."""
    thresholds = [-EPSILON] + list(inner_thresholds) + [1 + EPSILON]
    tp, fp, _, fn = reference_counts(y_true, y_pred, thresholds, weights)
    positives, predicted = tp[0] + fn[0], tp + fp
    area = 0.0
    for i in range(len(thresholds) - 1):
        if predicted[i] == predicted[i + 1]:
            continue
        p = np.linspace(predicted[i + 1], predicted[i], steps + 1)
        middle = (p[:-1] + p[1:]) / 2
        tp_middle = tp[i + 1] + (middle - predicted[i + 1]) * (tp[i] - tp[i + 1]) / (predicted[i] - predicted[i + 1])
        d_recall = np.diff(tp[i + 1] + (p - predicted[i + 1]) * (tp[i] - tp[i + 1]) / (predicted[i] - predicted[i + 1]))
        area += np.sum(tp_middle / middle * d_recall) / positives
    return area


def _binary_batches(seed=0, batches=3, size=12, labels=1):
    rng = np.random.default_rng(seed)
    shape = (size, labels)
    return [(rng.integers(0, 2, shape).astype(np.float32), rng.uniform(0.01, 0.99, shape).astype(np.float32),
             rng.uniform(0.2, 2.0, size).astype(np.float32)) for _ in range(batches)]


def _concatenated(batches):
    return [np.concatenate(part) for part in zip(*batches)]


# -- counts, precision, recall ---------------------------------------------------------------------------------
def test_counts_of_a_small_case_by_hand():
    y_true = [0, 1, 1, 0, 1]
    y_pred = [0.6, 0.7, 0.2, 0.1, 0.55]
    expected = {"TruePositives": 2.0, "FalsePositives": 1.0, "TrueNegatives": 1.0, "FalseNegatives": 1.0}
    for name, value in expected.items():
        metric = getattr(metrics, name)()
        metric.update_state(y_true, y_pred)
        assert isinstance(metric.result(), np.float32)
        assert metric.result() == value, name
    weighted = metrics.TruePositives(thresholds=[0.3, 0.6])
    weighted.update_state(y_true, y_pred, sample_weight=[1, 2, 3, 4, 5])
    np.testing.assert_array_equal(weighted.result(), [2 + 5, 2])  # 0.55 is not above 0.6


@pytest.mark.parametrize("thresholds", [None, 0.3, [0.05, 0.5, 0.7, 0.95], [0.8, 0.2], [0.0, 0.5, 1.0],
                                        [0.0, 0.25, 0.5, 0.75, 1.0]])
def test_counts_accumulate_over_weighted_batches(thresholds):
    """Keras buckets predictions for evenly spaced thresholds ([0, .5, 1], [0, .25, ..., 1]) and compares them
    otherwise; both must give the counts, in the order the thresholds were given."""
    batches = _binary_batches(labels=3)
    listed = [0.5] if thresholds is None else list(np.atleast_1d(thresholds))
    expected = reference_counts(*_concatenated(batches)[:2], listed, _concatenated(batches)[2][:, None])
    for index, name in enumerate(["TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives"]):
        metric = getattr(metrics, name)(thresholds=thresholds)
        for y_true, y_pred, weights in batches:
            metric.update_state(y_true, y_pred, sample_weight=weights)
        np.testing.assert_allclose(np.atleast_1d(metric.result()), expected[index], rtol=RTOL, err_msg=name)


@pytest.mark.parametrize("thresholds", [None, [0.05, 0.3, 0.5, 0.9]])
def test_precision_and_recall_over_batches_at_several_thresholds(thresholds):
    batches = _binary_batches(seed=1, labels=2)
    listed = [0.5] if thresholds is None else thresholds
    tp, fp, _, fn = reference_counts(*_concatenated(batches)[:2], listed, _concatenated(batches)[2][:, None])
    precision, recall = metrics.Precision(thresholds=thresholds), metrics.Recall(thresholds=thresholds)
    for y_true, y_pred, weights in batches:
        precision.update_state(y_true, y_pred, sample_weight=weights)
        recall.update_state(y_true, y_pred, sample_weight=weights)
    # The epoch's precision is the ratio of the summed counts, not the mean of the batches' precisions.
    np.testing.assert_allclose(np.atleast_1d(precision.result()), tp / (tp + fp), rtol=RTOL)
    np.testing.assert_allclose(np.atleast_1d(recall.result()), tp / (tp + fn), rtol=RTOL)


def test_precision_and_recall_are_zero_without_positives():
    precision, recall = metrics.Precision(), metrics.Recall()
    precision.update_state([1, 1, 0], [0.1, 0.2, 0.3])  # nothing predicted positive
    recall.update_state([0, 0, 0], [0.9, 0.2, 0.3])  # no positive label
    assert precision.result() == 0.0 and recall.result() == 0.0


def test_top_k_counts_only_each_rows_k_largest_predictions():
    y_true = [[0, 1, 1], [0, 0, 1]]
    y_pred = [[0.1, 0.6, 0.3], [0.5, 0.2, 0.4]]
    # Top 2 of each row: (0.6, 0.3) are both labels; (0.5, 0.4) are a miss and a hit. Every label is in a top 2.
    precision, recall = metrics.Precision(top_k=2), metrics.Recall(top_k=2)
    precision.update_state(y_true, y_pred)
    recall.update_state(y_true, y_pred)
    assert precision.result() == pytest.approx(3 / 4, rel=RTOL)
    assert recall.result() == pytest.approx(1.0, rel=RTOL)
    # With a threshold too: 0.3 falls below 0.35, leaving 0.6 (hit), 0.5 (miss), 0.4 (hit).
    precision, recall = metrics.Precision(top_k=2, thresholds=0.35), metrics.Recall(top_k=2, thresholds=0.35)
    precision.update_state(y_true, y_pred)
    recall.update_state(y_true, y_pred)
    assert precision.result() == pytest.approx(2 / 3, rel=RTOL)
    assert recall.result() == pytest.approx(2 / 3, rel=RTOL)


def test_class_id_looks_at_one_column():
    y_true = [[0, 1, 1], [0, 0, 1]]
    y_pred = [[0.1, 0.6, 0.3], [0.5, 0.2, 0.4]]
    precision, recall = metrics.Precision(class_id=2, thresholds=0.35), metrics.Recall(class_id=2, thresholds=0.35)
    precision.update_state(y_true, y_pred)
    recall.update_state(y_true, y_pred)
    assert precision.result() == pytest.approx(1.0, rel=RTOL)  # column 2: only 0.4 is above, a hit
    assert recall.result() == pytest.approx(0.5, rel=RTOL)  # the label with 0.3 is missed
    top = metrics.Precision(top_k=1, class_id=0)  # 0.5 is row 1's largest, but column 0 holds no label
    top.update_state(y_true, y_pred)
    assert top.result() == 0.0
    with pytest.raises(ValueError, match="class_id is provided, y_pred must be a 2D"):
        metrics.Precision(class_id=0).update_state([1, 0], [0.3, 0.8])


def test_invalid_thresholds_and_top_k_are_refused():
    with pytest.raises(ValueError, match=r"Threshold values must be in \[0, 1\]"):
        metrics.Precision(thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match="top_k=4 is larger than the 3 classes"):
        metrics.Recall(top_k=4).update_state([[0, 1, 0]], [[0.2, 0.3, 0.5]])
    with pytest.raises(ValueError, match="does not match y_pred"):
        metrics.Precision().update_state([[0], [1]], [[0.2, 0.3], [0.5, 0.1]])


# -- AUC -------------------------------------------------------------------------------------------------------
def test_roc_auc_of_separated_predictions_is_the_probability_a_positive_ranks_above_a_negative():
    """With a threshold between every two predictions the trapezoids give the exact (Mann-Whitney) AUC."""
    rng = np.random.default_rng(3)
    y_pred = (rng.permutation(150) + 0.5) / 150  # no two in one bucket of the 199 intervals
    y_true = rng.integers(0, 2, 150)
    pairs = [(p, n) for p in y_pred[y_true == 1] for n in y_pred[y_true == 0]]
    exact = np.mean([p > n for p, n in pairs])
    auc = metrics.AUC(num_thresholds=300)
    auc.update_state(y_true, y_pred)
    assert auc.result() == pytest.approx(exact, rel=RTOL)
    keras_example = metrics.AUC()  # Keras' docstring example
    keras_example.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    assert keras_example.result() == pytest.approx(0.75, rel=RTOL)


@pytest.mark.parametrize("curve", ["ROC", "PR"])
@pytest.mark.parametrize("summation", ["interpolation", "minoring", "majoring"])
@pytest.mark.parametrize("thresholds", [None, [0.15, 0.4, 0.45, 0.8]])
def test_auc_is_the_riemann_sum_over_the_thresholds(curve, summation, thresholds):
    batches = _binary_batches(seed=4, batches=2, size=20)
    y_true, y_pred, weights = _concatenated(batches)
    inner = thresholds or [(i + 1) / 199 for i in range(198)]
    if curve == "PR" and summation == "interpolation":
        expected = numeric_pr_auc(y_true, y_pred, inner, weights[:, None])
    else:
        expected = reference_auc(y_true, y_pred, inner, curve, summation, weights[:, None])
    auc = metrics.AUC(curve=curve, summation_method=summation, thresholds=thresholds)
    for batch_true, batch_pred, batch_weights in batches:
        auc.update_state(batch_true, batch_pred, sample_weight=batch_weights)
    assert auc.result() == pytest.approx(expected, rel=RTOL)


def test_multi_label_auc_averages_the_labels_aucs_weighted_by_label_weights():
    batches = _binary_batches(seed=5, size=16, labels=3)
    y_true, y_pred, weights = _concatenated(batches)
    inner = [(i + 1) / 9 for i in range(8)]
    per_label = np.array([reference_auc(y_true[:, j], y_pred[:, j], inner, weights=weights) for j in range(3)])
    plain = metrics.AUC(num_thresholds=10, multi_label=True)
    weighted = metrics.AUC(num_thresholds=10, multi_label=True, num_labels=3, label_weights=[1.0, 2.0, 0.5])
    for metric in (plain, weighted):
        for batch in batches:
            metric.update_state(batch[0], batch[1], sample_weight=batch[2])
    assert plain.true_positives.shape == (10, 3)
    assert plain.result() == pytest.approx(per_label.mean(), rel=RTOL)
    assert weighted.result() == pytest.approx(per_label @ [1.0, 2.0, 0.5] / 3.5, rel=RTOL)


def test_label_weights_without_multi_label_weight_the_columns_counts():
    y_true, y_pred, _ = _concatenated(_binary_batches(seed=6, size=16, labels=2))
    inner = [0.2, 0.5, 0.7]
    auc = metrics.AUC(thresholds=inner, label_weights=[3.0, 0.5])
    auc.update_state(y_true, y_pred)
    expected = reference_auc(y_true, y_pred, inner, weights=np.broadcast_to([3.0, 0.5], y_pred.shape))
    assert auc.result() == pytest.approx(expected, rel=RTOL)


def test_auc_from_logits_applies_a_sigmoid():
    rng = np.random.default_rng(7)
    logits = rng.normal(0, 3, 40).astype(np.float32)
    y_true = rng.integers(0, 2, 40)
    from_logits, from_probabilities = metrics.AUC(from_logits=True), metrics.AUC()
    from_logits.update_state(y_true, logits)
    from_probabilities.update_state(y_true, 1 / (1 + np.exp(-logits.astype(np.float64))))
    assert from_logits.result() == pytest.approx(float(from_probabilities.result()), rel=RTOL)


def test_auc_rejects_unknown_curves_and_misuse_of_num_labels():
    with pytest.raises(ValueError, match='Invalid AUC curve value: "Roc"'):
        metrics.AUC(curve="Roc")
    with pytest.raises(ValueError, match="summation_method"):
        metrics.AUC(summation_method="trapezoid")
    with pytest.raises(ValueError, match="`num_labels` is needed only when `multi_label` is True"):
        metrics.AUC(num_labels=3)
    with pytest.raises(ValueError, match="`y_pred` must have rank 2 when `multi_label=True`"):
        metrics.AUC(multi_label=True).update_state(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)))
    assert metrics.AUC(curve="pr", summation_method="Majoring").get_config()["curve"] == "PR"


# -- sample weights, masks, reset ------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [metrics.Precision, metrics.Recall, metrics.AUC, metrics.FalseNegatives,
                                  lambda: metrics.AUC(curve="PR"), metrics.RootMeanSquaredError])
def test_a_mask_weighs_masked_steps_out_like_dropping_them(make):
    rng = np.random.default_rng(8)
    y_true = rng.integers(0, 2, (4, 6, 1)).astype(np.float32)
    y_pred = rng.uniform(0.01, 0.99, (4, 6, 1)).astype(np.float32)
    mask = rng.uniform(size=(4, 6)) > 0.3
    weights = rng.uniform(0.5, 2, 4)
    masked, dropped = make(), make()
    masked.update_state(y_true, y_pred, sample_weight=weights, mask=mask)
    dropped.update_state(y_true[mask], y_pred[mask], sample_weight=np.broadcast_to(weights[:, None], mask.shape)[mask])
    everything = make()
    everything.update_state(y_true, y_pred, sample_weight=weights)
    assert masked.result() == pytest.approx(float(dropped.result()), rel=RTOL)
    assert masked.result() != pytest.approx(float(everything.result()), rel=1e-3)  # the mask mattered


@pytest.mark.parametrize("make", [metrics.TruePositives, metrics.Precision, metrics.Recall, metrics.AUC,
                                  lambda: metrics.AUC(multi_label=True), metrics.RootMeanSquaredError,
                                  metrics.TopKCategoricalAccuracy])
def test_reset_state_forgets_earlier_batches(make):
    first, second = _binary_batches(seed=9, batches=2, labels=3)
    fresh, reused = make(), make()
    reused.update_state(*first)
    reused.reset_state()
    for metric in (fresh, reused):
        metric.update_state(*second)
    assert reused.result() == pytest.approx(float(fresh.result()), rel=RTOL)


# -- RootMeanSquaredError and top-k accuracy --------------------------------------------------------------------
def test_root_mean_squared_error_is_the_root_of_the_weighted_mean():
    metric = metrics.RootMeanSquaredError()
    metric.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    assert metric.result() == pytest.approx(0.5, rel=RTOL)  # Keras' docstring examples
    metric.reset_state()
    metric.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]], sample_weight=[1, 0])
    assert metric.result() == pytest.approx(np.sqrt(0.5), rel=RTOL)
    rng = np.random.default_rng(10)
    y_true, y_pred = rng.normal(size=(2, 8, 3))
    weights = rng.uniform(size=8)
    metric.reset_state()
    metric.update_state(y_true[:5], y_pred[:5], sample_weight=weights[:5])
    metric.update_state(y_true[5:], y_pred[5:], sample_weight=weights[5:])
    expected = np.sqrt(np.sum(weights * ((y_pred - y_true) ** 2).mean(axis=1)) / weights.sum())
    assert metric.result() == pytest.approx(expected, rel=RTOL)


def test_top_k_accuracies_count_labels_among_the_k_largest_predictions():
    y_pred = np.array([[0.1, 0.5, 0.4], [0.3, 0.3, 0.4], [0.6, 0.3, 0.1]], np.float32)
    labels = np.array([2, 1, 2])
    # k=1: row 0 ranks its label second, row 1 third-to-tied, row 2 last. k=2: row 1's 0.3 ties the 2nd largest
    # value and counts as in the top 2 (Keras' in_top_k); row 2's 0.1 does not.
    for k, expected in ((1, [0, 0, 0]), (2, [1, 1, 0]), (3, [1, 1, 1])):
        np.testing.assert_array_equal(metrics.sparse_top_k_categorical_accuracy(labels, y_pred, k=k), expected)
        np.testing.assert_array_equal(metrics.top_k_categorical_accuracy(np.eye(3)[labels], y_pred, k=k), expected)
    sparse, onehot = metrics.SparseTopKCategoricalAccuracy(k=2), metrics.TopKCategoricalAccuracy(k=2)
    sparse.update_state(labels[:, None], y_pred, sample_weight=[1.0, 2.0, 5.0])
    onehot.update_state(np.eye(3)[labels], y_pred, sample_weight=[1.0, 2.0, 5.0])
    assert sparse.result() == pytest.approx(3 / 8, rel=RTOL) and onehot.result() == pytest.approx(3 / 8, rel=RTOL)
    assert metrics.TopKCategoricalAccuracy().k == 5
    ids = np.array([[2, 0, 1], [0, 1, 2]])  # class ids, best first
    np.testing.assert_array_equal(metrics.sparse_top_k_categorical_accuracy([0, 2], ids, k=2, from_sorted_ids=True),
                                  [1, 0])


def test_top_k_accuracy_of_sequences_keeps_the_steps_and_honours_the_mask():
    rng = np.random.default_rng(11)
    y_pred = rng.uniform(size=(3, 4, 6)).astype(np.float32)
    labels = rng.integers(0, 6, (3, 4))
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]], bool)
    hits = (y_pred >= np.sort(y_pred, axis=-1)[..., -3:-2]).astype(float)[
        np.arange(3)[:, None], np.arange(4), labels]
    assert metrics.sparse_top_k_categorical_accuracy(labels, y_pred, k=3).shape == (3, 4)
    metric = metrics.SparseTopKCategoricalAccuracy(k=3)
    metric.update_state(labels, y_pred, mask=mask)
    assert metric.result() == pytest.approx(hits[mask].mean(), rel=RTOL)


# -- config, lookup ---------------------------------------------------------------------------------------------
CONFIGURED = [
    (metrics.TruePositives, {"thresholds": [0.2, 0.7]}, {"name", "dtype", "thresholds"}),
    (metrics.FalseNegatives, {}, {"name", "dtype", "thresholds"}),
    (metrics.Precision, {"thresholds": 0.4, "class_id": 1}, {"name", "dtype", "thresholds", "top_k", "class_id"}),
    (metrics.Recall, {"top_k": 2}, {"name", "dtype", "thresholds", "top_k", "class_id"}),
    (metrics.AUC, {"num_thresholds": 50, "curve": "PR", "summation_method": "minoring"},
     {"name", "dtype", "num_thresholds", "curve", "summation_method", "multi_label", "num_labels",
      "label_weights", "from_logits"}),
    (metrics.AUC, {"thresholds": [0.6, 0.2], "multi_label": True, "label_weights": [1, 2, 3], "from_logits": True},
     {"name", "dtype", "num_thresholds", "curve", "summation_method", "multi_label", "num_labels",
      "label_weights", "from_logits", "thresholds"}),
    (metrics.RootMeanSquaredError, {}, {"name", "dtype"}),
    (metrics.TopKCategoricalAccuracy, {"k": 2}, {"name", "dtype", "k"}),
    (metrics.SparseTopKCategoricalAccuracy, {"k": 3}, {"name", "dtype", "k"}),
]


@pytest.mark.parametrize("cls,arguments,keys", CONFIGURED, ids=[c[0].__name__ for c in CONFIGURED])
def test_config_round_trip_keeps_keras_keys_and_results(cls, arguments, keys):
    metric = cls(name="mine", **arguments)
    config = metric.get_config()
    assert set(config) == keys  # Keras 3's get_config keys
    for copy in (cls.from_config(config), metrics.deserialize(metrics.serialize(metric))):
        assert type(copy) is cls and copy.get_config() == config
        y_true, y_pred, weights = _binary_batches(seed=12, batches=1, labels=3)[0]
        if cls is metrics.SparseTopKCategoricalAccuracy:
            y_true = np.argmax(y_true, axis=-1)
        for each in (metric, copy):
            each.reset_state()
            each.update_state(y_true, y_pred, sample_weight=weights)
        np.testing.assert_allclose(copy.result(), metric.result(), rtol=RTOL)


def test_auc_config_keeps_the_given_thresholds_sorted():
    auc = metrics.AUC(thresholds=[0.6, 0.2])
    assert auc.num_thresholds == 4
    assert auc.get_config()["thresholds"] == [0.2, 0.6]
    assert auc.thresholds == [-EPSILON, 0.2, 0.6, 1 + EPSILON]
    assert "thresholds" not in metrics.AUC(num_thresholds=7).get_config()


@pytest.mark.parametrize("identifier,cls", [
    ("auc", metrics.AUC), ("AUC", metrics.AUC), ("precision", metrics.Precision), ("Recall", metrics.Recall),
    ("true_positives", metrics.TruePositives), ("false_positives", metrics.FalsePositives),
    ("true_negatives", metrics.TrueNegatives), ("false_negatives", metrics.FalseNegatives),
    ("root_mean_squared_error", metrics.RootMeanSquaredError),
    ("top_k_categorical_accuracy", metrics.TopKCategoricalAccuracy),
    ("sparse_top_k_categorical_accuracy", metrics.SparseTopKCategoricalAccuracy),
])
def test_get_finds_the_classes_by_keras_names(identifier, cls):
    metric = metrics.get(identifier, np.zeros((2, 1)), np.zeros((2, 1)), None)
    assert type(metric) is cls and metric.name == identifier


def test_unknown_names_suggest_the_closest_and_rmse_is_not_a_keras_alias():
    with pytest.raises(ValueError, match="Did you mean 'precision'"):
        metrics.get("precison")
    with pytest.raises(ValueError, match="Could not interpret metric identifier: 'rmse'"):
        metrics.get("rmse")


def test_default_names_are_made_unique_per_session_as_keras_does():
    rnnkit.backend.clear_session()
    assert [metrics.Precision().name for _ in range(2)] == ["precision", "precision_1"]
    assert metrics.AUC().name == "auc" and metrics.TruePositives().name == "true_positives"
    assert [metrics.RootMeanSquaredError().name for _ in range(2)] == ["root_mean_squared_error"] * 2
    rnnkit.backend.clear_session()
    assert metrics.Precision().name == "precision"


# -- compile and fit -------------------------------------------------------------------------------------------
def _sequence_classifier(outputs, activation, return_sequences=False, masked=False):
    rnnkit.utils.set_random_seed(0)
    if masked:
        head = [layers.Input(shape=(6,)), layers.Embedding(7, 4, mask_zero=True)]
    else:
        head = [layers.Input(shape=(6, 3))]
    return Sequential(head + [layers.LSTM(5, return_sequences=return_sequences),
                              layers.Dense(outputs, activation=activation)])


def test_fit_and_evaluate_log_the_confusion_metrics_over_the_whole_epoch():
    rng = np.random.default_rng(13)
    x = rng.normal(0, 2, (40, 6, 3)).astype(np.float32)
    y = rng.integers(0, 2, (40, 1)).astype(np.float32)
    weights = rng.uniform(0.2, 2, 40).astype(np.float32)
    model = _sequence_classifier(1, "sigmoid")
    rnnkit.backend.clear_session()
    model.compile(optimizer=rnnkit.optimizers.SGD(0.0), loss="binary_crossentropy",
                  metrics=["accuracy", "precision", "recall", "auc", metrics.AUC(curve="PR", name="pr_auc"),
                           metrics.TruePositives()],
                  weighted_metrics=[metrics.AUC(name="weighted_auc")])
    p = model.predict(x, batch_size=8, verbose=0)
    tp, fp, _, fn = reference_counts(y, p, [0.5])
    inner = [(i + 1) / 199 for i in range(198)]
    expected = {"accuracy": np.mean((p > 0.5) == y), "precision": tp[0] / (tp[0] + fp[0]),
                "recall": tp[0] / (tp[0] + fn[0]), "auc": reference_auc(y, p, inner),
                "pr_auc": numeric_pr_auc(y, p, inner), "true_positives": tp[0],
                "weighted_auc": reference_auc(y, p, inner, weights=weights[:, None])}
    assert 0 < tp[0] and 0 < fp[0] and 0 < fn[0]  # neither trivial
    history = model.fit(x, y, sample_weight=weights, batch_size=8, shuffle=False, validation_data=(x, y),
                        verbose=0).history
    assert set(history) == {"loss", "val_loss"} | set(expected) | {f"val_{name}" for name in expected}
    for name, value in expected.items():
        assert history[name][0] == pytest.approx(value, rel=1e-5), name
        if name != "weighted_auc":  # validation_data has no sample weights
            assert history[f"val_{name}"][0] == pytest.approx(value, rel=1e-5), name
    logs = model.evaluate(x, y, batch_size=7, verbose=0, return_dict=True)
    for name in ("precision", "recall", "auc", "pr_auc", "true_positives"):
        assert logs[name] == pytest.approx(expected[name], rel=1e-5), name


def test_masked_steps_count_in_confusion_metrics_and_rmse_but_not_in_accuracy_as_in_keras():
    """Keras 3 weights an output mask out of its MeanMetricWrapper metrics (accuracy, top-k) only; Precision,
    AUC and RootMeanSquaredError see every step (tests/test_metrics_confusion_keras.py checks Keras does so)."""
    rng = np.random.default_rng(14)
    ids = rng.integers(1, 7, (24, 6))
    ids[:, 4:] = 0
    y = rng.integers(0, 2, (24, 6, 1)).astype(np.float32)
    model = _sequence_classifier(1, "sigmoid", return_sequences=True, masked=True)
    model.compile(optimizer=rnnkit.optimizers.SGD(0.0), loss="binary_crossentropy",
                  metrics=["accuracy", "precision", "auc", "root_mean_squared_error"])
    p = model.predict(ids, verbose=0)
    kept = ids != 0
    tp, fp, _, _ = reference_counts(y, p, [0.5])
    tp_kept, fp_kept, _, _ = reference_counts(y[kept], p[kept], [0.5])
    assert tp[0] / (tp[0] + fp[0]) != pytest.approx(tp_kept[0] / (tp_kept[0] + fp_kept[0]), rel=1e-3)
    logs = model.evaluate(ids, y, verbose=0, return_dict=True)
    assert logs["accuracy"] == pytest.approx(np.mean((p[kept] > 0.5) == y[kept]), rel=1e-5)
    assert logs["precision"] == pytest.approx(tp[0] / (tp[0] + fp[0]), rel=1e-5)
    assert logs["auc"] == pytest.approx(reference_auc(y, p, [(i + 1) / 199 for i in range(198)]), rel=1e-5)
    assert logs["root_mean_squared_error"] == pytest.approx(np.sqrt(np.mean((p - y) ** 2.0)), rel=1e-5)


def test_fit_logs_top_k_accuracies_and_rmse():
    rng = np.random.default_rng(15)
    x = rng.normal(0, 2, (30, 6, 3)).astype(np.float32)
    labels = rng.integers(0, 8, 30)
    model = _sequence_classifier(8, "softmax")
    model.compile(optimizer=rnnkit.optimizers.SGD(0.0), loss="categorical_crossentropy",
                  metrics=["top_k_categorical_accuracy", metrics.TopKCategoricalAccuracy(k=2, name="top2"),
                           metrics.RootMeanSquaredError()])
    onehot = np.eye(8, dtype=np.float32)[labels]
    p = model.predict(x, verbose=0).astype(np.float64)
    rank = (p > p[np.arange(30), labels][:, None]).sum(axis=1)  # how many classes score higher than the label
    history = model.fit(x, onehot, batch_size=8, verbose=0).history
    assert history["top_k_categorical_accuracy"][0] == pytest.approx(np.mean(rank < 5), rel=1e-6)
    assert history["top2"][0] == pytest.approx(np.mean(rank < 2), rel=1e-6)
    assert history["root_mean_squared_error"][0] == pytest.approx(np.sqrt(np.mean((p - onehot) ** 2)), rel=1e-5)
