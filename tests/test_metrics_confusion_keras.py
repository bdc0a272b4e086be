"""Oracle: the confusion-matrix metrics, RootMeanSquaredError and the top-k accuracies against keras.metrics
(Keras 3, torch backend) on the same random batches, sample weights and settings.

Agreement: rtol 1e-6, atol 1e-6 on the results. The raw AUC counts are compared at rtol 1e-6, atol 1e-5: Keras
sums them in float32 (its true negatives as total - false positives, which leaves float32 rounding of the total,
~2e-6 here, where rnnkit's float64 sum is 0).
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 on the torch backend (pip install keras)")

from rnnkit import metrics  # noqa: E402

pytestmark = pytest.mark.oracle

RTOL, ATOL = 1e-6, 1e-6
COUNT_ATOL = 1e-5


def _batches(seed, labels=3, batches=3, size=16):
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, 2, (size, labels)).astype(np.float32), rng.uniform(size=(size, labels)).astype(np.float32),
             rng.uniform(0, 2, size).astype(np.float32)) for _ in range(batches)]


def _both(name, batches, weighted=True, **arguments):
    ours, theirs = getattr(metrics, name)(**arguments), getattr(keras.metrics, name)(**arguments)
    for y_true, y_pred, weights in batches:
        for metric in (ours, theirs):
            metric.update_state(y_true, y_pred, sample_weight=weights if weighted else None)
    return ours, theirs


def _assert_same(ours, theirs):
    expected = np.asarray(theirs.result(), np.float64)
    np.testing.assert_allclose(np.asarray(ours.result(), np.float64), expected, rtol=RTOL, atol=ATOL)


COUNTS = [
    ("TruePositives", {}), ("FalsePositives", {"thresholds": [0.2, 0.5, 0.7]}),
    ("TrueNegatives", {"thresholds": [0.0, 0.25, 0.5, 0.75, 1.0]}), ("FalseNegatives", {"thresholds": 0.9}),
    ("Precision", {}), ("Precision", {"thresholds": [0.8, 0.1, 0.45]}), ("Precision", {"top_k": 2}),
    ("Precision", {"class_id": 1}), ("Precision", {"top_k": 1, "class_id": 2, "thresholds": 0.3}),
    ("Recall", {}), ("Recall", {"thresholds": [0.0, 0.5, 1.0]}), ("Recall", {"top_k": 2, "thresholds": 0.4}),
    ("Recall", {"class_id": 0, "thresholds": [0.3, 0.6]}),
]


@pytest.mark.parametrize("name,arguments", COUNTS, ids=[f"{n}-{a}" for n, a in COUNTS])
@pytest.mark.parametrize("weighted", [False, True])
def test_counts_precision_and_recall_match_keras(name, arguments, weighted):
    ours, theirs = _both(name, _batches(1), weighted, **arguments)
    _assert_same(ours, theirs)
    assert ours.get_config() == theirs.get_config() | {"name": ours.name}


AUCS = [{"curve": curve, "summation_method": summation} for curve in ("ROC", "PR", "PRGAIN")
        for summation in ("interpolation", "minoring", "majoring")]
AUCS += [{"num_thresholds": 7}, {"thresholds": [0.1, 0.35, 0.6]}, {"thresholds": [0.75, 0.25, 0.5]},
         {"label_weights": [1.0, 2.0, 0.5], "curve": "PR"}, {"from_logits": True, "num_thresholds": 13}]


@pytest.mark.parametrize("arguments", AUCS, ids=[str(a) for a in AUCS])
@pytest.mark.parametrize("multi_label", [False, True])
def test_auc_matches_keras(arguments, multi_label):
    if multi_label and "label_weights" in arguments:
        arguments = {**arguments, "num_labels": 3}
    ours, theirs = _both("AUC", _batches(2), multi_label=multi_label, **arguments)
    _assert_same(ours, theirs)
    for name in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
        np.testing.assert_allclose(getattr(ours, name), np.asarray(getattr(theirs, name)), rtol=RTOL,
                                   atol=COUNT_ATOL, err_msg=name)
    theirs_config = theirs.get_config()
    if theirs_config["label_weights"] is not None:
        theirs_config["label_weights"] = np.asarray(theirs_config["label_weights"]).tolist()
    assert ours.get_config() == theirs_config | {"name": ours.name}
    np.testing.assert_allclose(ours.thresholds, theirs.thresholds)


def test_auc_of_a_sequence_output_matches_keras():
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 2, (5, 7, 1)).astype(np.float32)
    y_pred = rng.uniform(size=(5, 7, 1)).astype(np.float32)
    weights = rng.uniform(size=(5, 7)).astype(np.float32)
    ours, theirs = _both("AUC", [(y_true, y_pred, weights), (y_true[:, :, 0], y_pred, weights)])
    _assert_same(ours, theirs)


@pytest.mark.parametrize("name,k", [("TopKCategoricalAccuracy", 1), ("TopKCategoricalAccuracy", 5),
                                    ("SparseTopKCategoricalAccuracy", 3), ("SparseTopKCategoricalAccuracy", 6)])
def test_top_k_accuracies_match_keras(name, k):
    rng = np.random.default_rng(4)
    batches = []
    for _ in range(3):
        y_pred = rng.uniform(size=(4, 5, 6)).astype(np.float32)
        y_pred[0, 0, :3] = 0.5  # a tie at the k-th value
        labels = rng.integers(0, 6, (4, 5))
        y_true = labels if name.startswith("Sparse") else np.eye(6, dtype=np.float32)[labels]
        batches.append((y_true, y_pred, rng.uniform(size=(4, 5)).astype(np.float32)))
    ours, theirs = _both(name, batches, k=k)
    _assert_same(ours, theirs)
    assert ours.get_config() == theirs.get_config() and ours.name == theirs.name


@pytest.mark.parametrize("shape", [(6, 3), (6, 1), (6,), (4, 5, 2)])
def test_root_mean_squared_error_matches_keras(shape):
    rng = np.random.default_rng(5)
    batches = [(rng.normal(size=shape).astype(np.float32), rng.normal(size=shape).astype(np.float32),
                rng.uniform(size=shape[0]).astype(np.float32)) for _ in range(3)]
    ours, theirs = _both("RootMeanSquaredError", batches)
    _assert_same(ours, theirs)
    assert ours.get_config() == theirs.get_config()


@pytest.mark.parametrize("identifier", ["auc", "AUC", "precision", "recall", "true_positives", "false_negatives",
                                        "root_mean_squared_error", "top_k_categorical_accuracy",
                                        "sparse_top_k_categorical_accuracy"])
def test_names_resolve_to_the_classes_keras_resolves_them_to(identifier):
    assert type(metrics.get(identifier)).__name__ == type(keras.metrics.get(identifier)).__name__


def test_keras_compile_counts_masked_steps_in_precision_auc_and_rmse_but_not_in_accuracy():
    """The Keras behaviour rnnkit's fit reproduces (tests/test_metrics_confusion.py): an output mask reaches
    MeanMetricWrapper metrics only."""
    rng = np.random.default_rng(6)
    ids = rng.integers(1, 5, (16, 6))
    ids[:, 4:] = 0
    y = rng.integers(0, 2, (16, 6, 1)).astype(np.float32)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Input((6,)), keras.layers.Embedding(5, 8, mask_zero=True),
                              keras.layers.LSTM(8, return_sequences=True),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", metrics=["binary_accuracy", "precision", "auc",
                                                       "root_mean_squared_error"])
    p = model.predict(ids, verbose=0)
    logs = model.evaluate(ids, y, verbose=0, return_dict=True)
    kept = ids != 0
    expected = {}
    for name, make in (("precision", metrics.Precision), ("auc", metrics.AUC),
                       ("root_mean_squared_error", metrics.RootMeanSquaredError)):
        every_step, kept_steps = make(), make()
        every_step.update_state(y, p)
        kept_steps.update_state(y, p, mask=kept)
        assert float(every_step.result()) != pytest.approx(float(kept_steps.result()), rel=1e-4), name
        expected[name] = float(every_step.result())
    accuracy = metrics.BinaryAccuracy()
    accuracy.update_state(y, p, mask=kept)
    expected["binary_accuracy"] = float(accuracy.result())
    for name, value in expected.items():
        assert logs[name] == pytest.approx(value, rel=1e-5, abs=1e-6), name
