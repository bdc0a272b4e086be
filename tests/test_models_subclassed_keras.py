"""Subclassed models (a Model subclass with call()) against Keras 3 on torch (the oracle): the same class
written for both libraries gives the same predictions and training, and weight files go both ways (Keras places a
subclassed model's layers by attribute name, not under layers/ alone)."""
import numpy as np
import pytest

pytest.importorskip("h5py", reason="weight files need h5py (pip install '.[h5]')")
torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

import rnnkit  # noqa: E402
from reference.keras_steps import assert_same_predictions_and_step, share_random_weights  # noqa: E402
from reference.subclassed_models import sequence_classifier_class  # noqa: E402

VOCABULARY = 40


def built(lib, x):
    model = sequence_classifier_class(lib)(VOCABULARY)
    model(x)
    return model


def data(seed, count=16):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, VOCABULARY, size=(count, 7)).astype(np.int32),
            rng.standard_normal((count, 1)).astype(np.float32))


def test_same_weights_in_the_same_order_as_keras():
    x, _ = data(0)
    theirs, ours = built(keras, x), built(rnnkit, x)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    assert [type(layer).__name__ for layer in ours.layers] == [type(layer).__name__ for layer in theirs.layers]
    assert ours.count_params() == theirs.count_params()


def test_same_predictions_and_training_step_as_keras():
    x, y = data(1)
    theirs, ours = built(keras, x), built(rnnkit, x)
    share_random_weights(theirs, ours)
    assert_same_predictions_and_step(theirs, ours, x, y, keras, rnnkit)


def test_same_weights_after_fitting_as_keras():
    x, y = data(2, count=64)
    theirs, ours = built(keras, x), built(rnnkit, x)
    share_random_weights(theirs, ours, scale=0.3)
    for model, lib in ((theirs, keras), (ours, rnnkit)):
        model.compile(optimizer=lib.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    ours_history = ours.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history
    theirs_history = theirs.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history
    assert sorted(ours_history) == sorted(theirs_history) == ["loss", "mae"]
    np.testing.assert_allclose(ours_history["loss"], theirs_history["loss"], rtol=1e-4)
    for mine, reference in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, np.asarray(reference), rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("writer", ["keras", "rnnkit"])
def test_weights_files_both_ways(tmp_path, writer):
    x, _ = data(3)
    source_lib, target_lib = (keras, rnnkit) if writer == "keras" else (rnnkit, keras)
    source = built(source_lib, x)
    for i, variable in enumerate(source.weights):  # distinct values everywhere, so a misplaced array shows
        variable.assign(np.random.default_rng(10 + i).standard_normal(variable.shape).astype(np.float32) * 0.4)
    source.save_weights(tmp_path / "model.weights.h5")
    target = built(target_lib, x)
    target.load_weights(tmp_path / "model.weights.h5")
    for mine, reference in zip(target.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(reference))
    np.testing.assert_allclose(np.asarray(target.predict(x, verbose=0)), np.asarray(source.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("writer", ["keras", "rnnkit"])
def test_keras_archives_both_ways(tmp_path, writer):
    x, y = data(4)
    source_lib, target_lib = (keras, rnnkit) if writer == "keras" else (rnnkit, keras)
    source = sequence_classifier_class(source_lib)(VOCABULARY, dropout=0.25)
    source.compile(optimizer=source_lib.optimizers.Adam(0.01), loss="mse")
    source.fit(x, y, epochs=2, verbose=0)  # the archive then holds the optimizer's state too
    source.save(tmp_path / "model.keras")
    load = keras.models.load_model if target_lib is keras else rnnkit.saving.load_model
    target = load(tmp_path / "model.keras",
                  custom_objects={"SequenceClassifier": sequence_classifier_class(target_lib)})
    assert type(target).__name__ == "SequenceClassifier" and target.dropout.rate == 0.25
    np.testing.assert_allclose(np.asarray(target.predict(x, verbose=0)), np.asarray(source.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-6)
    # training goes on from the same optimizer state in both (without the dropout, whose masks differ)
    for model in (source, target):
        model.dropout.rate = 0.0
        model.fit(x, y, epochs=1, shuffle=False, verbose=0)
    for mine, reference in zip(target.get_weights(), source.get_weights()):
        np.testing.assert_allclose(np.asarray(mine), np.asarray(reference), rtol=1e-4, atol=1e-6)
