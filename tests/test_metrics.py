"""Metrics: Keras 3 stateful semantics (weighted running means), compile's 'accuracy' resolution, lookup, and an
oracle group against keras.metrics. Results are float32; tolerances rtol 1e-6 against float64 hand counts."""
import numpy as np
import pytest

from rnnkit import losses, metrics


def test_mean_is_a_weighted_running_mean_until_reset():
    mean = metrics.Mean()
    assert mean.result() == 0.0
    mean.update_state([1.0, 3.0, 5.0, 7.0])
    assert mean.result() == pytest.approx(4.0)
    mean.update_state([10.0], sample_weight=[2.0])
    assert mean.result() == pytest.approx((16.0 + 20.0) / 6.0, rel=1e-6)
    mean.reset_state()
    mean.update_state([1.0, 3.0, 5.0, 7.0], sample_weight=[1, 1, 0, 0])
    assert mean.result() == pytest.approx(2.0)


def test_sequence_values_are_averaged_per_sample_then_over_samples():
    mean = metrics.Mean()
    mean.update_state(np.array([[1.0, 3.0], [5.0, 9.0]]))
    assert mean.result() == pytest.approx(4.5)
    assert mean.count == 2


def test_binary_accuracy_thresholds_predictions():
    metric = metrics.BinaryAccuracy()
    metric.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
    assert metric.result() == pytest.approx(0.75)
    strict = metrics.BinaryAccuracy(threshold=0.99)
    strict.update_state([[1], [1]], [[0.98], [1.0]])
    assert strict.result() == pytest.approx(0.5)


def test_categorical_and_sparse_accuracy_compare_argmax():
    y_pred = np.array([[0.1, 0.9, 0.8], [0.05, 0.95, 0]], np.float32)
    categorical = metrics.CategoricalAccuracy()
    categorical.update_state([[0, 0, 1], [0, 1, 0]], y_pred)
    assert categorical.result() == pytest.approx(0.5)
    sparse = metrics.SparseCategoricalAccuracy()
    sparse.update_state([[2], [1]], y_pred, sample_weight=[0.7, 0.3])
    assert sparse.result() == pytest.approx(0.3)


def test_accuracy_compares_values_exactly():
    metric = metrics.Accuracy()
    metric.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]])
    assert metric.result() == pytest.approx(0.75)


def test_regression_metrics_average_per_sample_losses():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.standard_normal((2, 6, 3))
    for metric, expected in ((metrics.MeanSquaredError(), ((y_pred - y_true) ** 2).mean()),
                             (metrics.MeanAbsoluteError(), np.abs(y_pred - y_true).mean())):
        metric.update_state(y_true[:4], y_pred[:4])
        metric.update_state(y_true[4:], y_pred[4:])
        assert metric.result() == pytest.approx(expected, rel=1e-5)


def test_mask_zero_weights_masked_timesteps():
    y_true = np.array([[1, 2, 0]], np.float32)
    y_pred = np.eye(3, dtype=np.float32)[[[1, 2, 2]]]
    metric = metrics.SparseCategoricalAccuracy()
    metric.update_state(y_true, y_pred, mask=np.array([[True, True, False]]))
    assert metric.result() == pytest.approx(1.0)
    metric.reset_state()
    metric.update_state(y_true, y_pred)
    assert metric.result() == pytest.approx(2 / 3, rel=1e-6)


@pytest.mark.parametrize("y_true_shape,y_pred_shape,cls", [
    ((8, 1), (8, 1), metrics.BinaryAccuracy),
    ((8,), (8, 1), metrics.BinaryAccuracy),
    ((8,), (8, 5), metrics.SparseCategoricalAccuracy),
    ((8, 1), (8, 5), metrics.SparseCategoricalAccuracy),
    ((8, 7), (8, 7, 5), metrics.SparseCategoricalAccuracy),
    ((8, 5), (8, 5), metrics.CategoricalAccuracy),
])
@pytest.mark.parametrize("identifier", ["accuracy", "acc"])
def test_get_resolves_accuracy_from_shapes_like_keras_compile(identifier, y_true_shape, y_pred_shape, cls):
    metric = metrics.get(identifier, np.zeros(y_true_shape), np.zeros(y_pred_shape, np.float32),
                         losses.MeanSquaredError())
    assert type(metric) is cls
    assert metric.name == identifier


@pytest.mark.parametrize("identifier,cls,name", [
    ("mae", metrics.MeanAbsoluteError, "mae"), ("mse", metrics.MeanSquaredError, "mse"),
    ("mean_absolute_error", metrics.MeanMetricWrapper, "mean_absolute_error"),
    ("binary_accuracy", metrics.MeanMetricWrapper, "binary_accuracy"),
    ("SparseCategoricalAccuracy", metrics.SparseCategoricalAccuracy, "SparseCategoricalAccuracy"),
])
def test_get_resolves_other_names(identifier, cls, name):
    metric = metrics.get(identifier, np.zeros((2, 1)), np.zeros((2, 1)), None)
    assert isinstance(metric, cls) and metric.name == name


def test_get_keeps_metric_instances_and_wraps_functions():
    instance = metrics.BinaryAccuracy(name="bin")
    assert metrics.get(instance, None, None, None) is instance
    wrapped = metrics.get(metrics.categorical_accuracy, None, None, None)
    assert isinstance(wrapped, metrics.MeanMetricWrapper) and wrapped.name == "categorical_accuracy"


def test_unknown_metric_suggests_the_closest():
    with pytest.raises(ValueError, match="Did you mean 'mae'"):
        metrics.get("maee", None, None, None)


def test_oracle_keras_metrics_streaming_results():
    keras = pytest.importorskip("keras", reason="the Keras oracle group (keras 3 + torch) is not installed")
    rng = np.random.default_rng(1)
    y_pred = rng.uniform(size=(3, 10, 4)).astype(np.float32)
    labels = rng.integers(0, 4, (3, 10))
    onehot = np.eye(4, dtype=np.float32)[labels]
    weights = rng.uniform(size=(3, 10)).astype(np.float32)
    binary_true = (rng.uniform(size=(3, 10, 1)) > 0.5).astype(np.float32)
    cases = [("SparseCategoricalAccuracy", labels, y_pred), ("CategoricalAccuracy", onehot, y_pred),
             ("BinaryAccuracy", binary_true, y_pred[..., :1]), ("MeanSquaredError", onehot, y_pred),
             ("MeanAbsoluteError", onehot, y_pred)]
    for name, y_true, prediction in cases:
        ours, theirs = getattr(metrics, name)(), getattr(keras.metrics, name)()
        for batch in range(3):
            ours.update_state(y_true[batch], prediction[batch], sample_weight=weights[batch])
            theirs.update_state(y_true[batch], prediction[batch], sample_weight=weights[batch])
        assert float(ours.result()) == pytest.approx(float(theirs.result()), rel=1e-5), name
        assert ours.name == theirs.name


def test_compiled_accuracy_skips_timesteps_the_output_mask_drops():
    import rnnkit
    from rnnkit import layers

    rng = np.random.default_rng(2)
    ids = rng.integers(1, 5, (16, 6))
    ids[:, 4:] = 0  # padding the Embedding masks out
    labels = rng.integers(0, 5, (16, 6))
    rnnkit.utils.set_random_seed(0)
    model = rnnkit.Sequential([layers.Input(shape=(6,)), layers.Embedding(5, 8, mask_zero=True),
                               layers.GRU(8, return_sequences=True), layers.Dense(5, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    predicted = model.predict(ids, verbose=0).argmax(-1)
    kept = ids != 0
    labels[~kept] = predicted[~kept]  # padding would score perfectly if it were counted
    logs = model.evaluate(ids, labels, verbose=0, return_dict=True)
    hits = predicted == labels
    assert hits[kept].mean() < hits.mean()  # the check below can tell the two apart
    assert logs["accuracy"] == pytest.approx(hits[kept].mean(), rel=1e-6)


def _one_layer_model(rnnkit):
    model = rnnkit.Sequential([rnnkit.layers.Input((3,)), rnnkit.layers.Dense(1, activation="sigmoid")])
    model.set_weights([np.full((3, 1), 0.1, np.float32), np.zeros(1, np.float32)])
    return model


def test_sample_weights_reach_weighted_metrics_only(tmp_path):
    """Keras: compile's `metrics` see no sample (or class) weights, `weighted_metrics` do; a weighted metric named
    like an unweighted one is reported as weighted_<name>. The same after a save and load."""
    import rnnkit

    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 3)).astype(np.float32)
    y = rng.integers(0, 2, (8, 1)).astype(np.float32)
    weights = rng.uniform(0, 2, 8).astype(np.float32)
    model = _one_layer_model(rnnkit)
    model.compile(optimizer=rnnkit.optimizers.SGD(0.0), loss="binary_crossentropy", metrics=["mae"],
                  weighted_metrics=["mae", "mse"])
    error = np.abs(model.predict(x, verbose=0) - y)[:, 0].astype(np.float64)
    expected = {"mae": error.mean(), "weighted_mae": (weights * error).sum() / weights.sum(),
                "mse": (weights * error ** 2).sum() / weights.sum()}
    history = model.fit(x, y, sample_weight=weights, batch_size=3, shuffle=False, verbose=0).history
    assert set(history) == {"loss", *expected}
    for name, value in expected.items():
        assert history[name][0] == pytest.approx(value, rel=1e-6), name
    model.save(str(tmp_path / "m.rnnkit"))
    restored = rnnkit.models.load_model(str(tmp_path / "m.rnnkit"))
    logs = restored.evaluate(x, y, sample_weight=weights, verbose=0, return_dict=True)
    for name, value in expected.items():
        assert logs[name] == pytest.approx(value, rel=1e-6), name


def test_class_weights_leave_the_validation_split_unweighted():
    """Keras applies class_weight to the training samples only: val_loss is the plain loss of the split's tail."""
    import rnnkit

    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 3)).astype(np.float32)
    y = np.array([[0], [1], [1], [0], [1], [0], [1], [1]], np.float32)
    model = _one_layer_model(rnnkit)
    model.compile(optimizer=rnnkit.optimizers.SGD(0.0), loss="binary_crossentropy")
    history = model.fit(x, y, class_weight={0: 0.5, 1: 3.0}, validation_split=0.25, verbose=0).history
    p = model.predict(x[6:], verbose=0)[:, 0].astype(np.float64)
    plain = -np.mean(y[6:, 0] * np.log(p) + (1 - y[6:, 0]) * np.log(1 - p))
    assert history["val_loss"][0] == pytest.approx(plain, rel=1e-5)


def test_several_outputs_log_each_loss_and_prefix_their_metrics():
    """Keras 3's logs for a model of several outputs: each output's unweighted loss as <output>_loss, and each
    metric as <output>_<metric>, in training and validation; evaluate's list puts the losses first."""
    import rnnkit
    from rnnkit import layers

    rng = np.random.default_rng(3)
    inputs = layers.Input((4,))
    hidden = layers.Dense(3, activation="tanh")(inputs)
    model = rnnkit.Model(inputs, [layers.Dense(1, name="reg")(hidden),
                                  layers.Dense(3, activation="softmax", name="cls")(hidden)])
    model.compile(optimizer=rnnkit.optimizers.SGD(0.0), loss=["mse", "sparse_categorical_crossentropy"],
                  loss_weights=[2.0, 0.5], metrics={"reg": ["mae"], "cls": ["accuracy"]})
    x = rng.standard_normal((10, 4)).astype(np.float32)
    y = [rng.standard_normal((10, 1)).astype(np.float32), rng.integers(0, 3, 10).astype(np.float32)]
    reg, cls = (np.asarray(p, np.float64) for p in model.predict(x, verbose=0))
    expected = {"reg_loss": ((reg - y[0]) ** 2).mean(), "reg_mae": np.abs(reg - y[0]).mean(),
                "cls_loss": -np.log(cls[np.arange(10), y[1].astype(int)]).mean(),
                "cls_accuracy": (cls.argmax(-1) == y[1]).mean()}
    expected["loss"] = 2.0 * expected["reg_loss"] + 0.5 * expected["cls_loss"]
    history = model.fit(x, y, batch_size=10, validation_data=(x, y), verbose=0).history
    assert set(history) == set(expected) | {f"val_{name}" for name in expected}
    for name, value in expected.items():
        assert history[name][0] == pytest.approx(value, rel=1e-5), name
        assert history[f"val_{name}"][0] == pytest.approx(value, rel=1e-5), name
    values = model.evaluate(x, y, verbose=0)
    order = ["loss", "reg_loss", "cls_loss", "cls_accuracy", "reg_mae"]  # Keras: the losses, then sorted names
    np.testing.assert_allclose(values, [expected[name] for name in order], rtol=1e-5)


def test_a_callers_metric_object_keeps_its_name_under_an_output_prefix():
    import rnnkit
    from rnnkit import layers

    inputs = layers.Input((2,))
    model = rnnkit.Model(inputs, [layers.Dense(1, name="a")(inputs), layers.Dense(1, name="b")(inputs)])
    mae = metrics.MeanAbsoluteError()
    own = mae.name
    x, y = np.ones((4, 2), np.float32), [np.zeros((4, 1), np.float32)] * 2
    for _ in range(2):  # compiling again must not prefix the name twice
        model.compile(optimizer="sgd", loss="mse", metrics={"a": [mae]})
        history = model.fit(x, y, verbose=0).history
    assert mae.name == own and f"a_{own}" in history and f"a_a_{own}" not in history


def test_sum_adds_each_samples_values_then_weights_them():
    metric = metrics.Sum()
    metric.update_state([1.0, 2.0, 3.0])
    metric.update_state([[1.0, 2.0], [3.0, 4.0]], sample_weight=[1.0, 0.0])  # sample sums 3 and 7, weighted 1 and 0
    assert metric.result() == np.float32(9.0) and metric.name == "sum"
    metric.reset_state()
    assert metric.result() == 0.0
    assert metrics.get("sum").__class__ is metrics.Sum
    assert metrics.deserialize(metrics.serialize(metrics.Sum(name="total"))).name == "total"


@pytest.mark.oracle
def test_oracle_sum_matches_keras():
    keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")
    rng = np.random.default_rng(4)
    values, weights = rng.standard_normal((6, 3, 2)), rng.uniform(size=(6, 3))
    ours, theirs = metrics.Sum(), keras.metrics.Sum()
    for metric in (ours, theirs):
        metric.update_state(values[:3])
        metric.update_state(values[3:], sample_weight=weights[3:])
    np.testing.assert_allclose(ours.result(), keras.ops.convert_to_numpy(theirs.result()), rtol=1e-6)
