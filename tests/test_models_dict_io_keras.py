"""Functional models whose inputs and outputs are dicts of tensors (Keras 3 flattens them by sorted key; data,
losses, metrics and predictions are keyed by those keys): predictions, a training step with per-output losses,
loss weights and metrics, the logs' names, and `.keras` archives and JSON both ways, against Keras 3 on torch."""
import numpy as np
import pytest

import rnnkit

keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")
pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")

from reference.keras_steps import share_random_weights  # noqa: E402

pytestmark = [pytest.mark.oracle, pytest.mark.filterwarnings("ignore:When providing `inputs` as a dict")]


def build(lib):
    sequence = lib.Input((5, 3), name="sequence")
    features = lib.Input((4,), name="features")
    merged = lib.layers.Concatenate()([lib.layers.LSTM(4)(sequence), features])
    # keys other than the layer names, listed out of sorted order
    return lib.Model({"words": sequence, "extra": features},
                     {"score": lib.layers.Dense(1, name="s")(merged),
                      "class": lib.layers.Dense(3, activation="softmax", name="c")(merged)})


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = {"words": rng.standard_normal((8, 5, 3)).astype(np.float32),
         "extra": rng.standard_normal((8, 4)).astype(np.float32)}
    y = {"score": rng.standard_normal((8, 1)).astype(np.float32), "class": rng.integers(0, 3, 8)}
    return x, y


def compiled(lib):
    model = build(lib)
    model.compile(optimizer=lib.optimizers.SGD(0.1),
                  loss={"score": "mse", "class": "sparse_categorical_crossentropy"},
                  loss_weights={"score": 0.5, "class": 2.0}, metrics={"class": ["accuracy"], "score": ["mae"]})
    return model


def test_predictions_are_dicts_by_the_output_keys_as_in_keras():
    theirs, ours = build(keras), build(rnnkit)
    share_random_weights(theirs, ours)
    x, _ = data()
    mine, reference = ours.predict(x, verbose=0), theirs.predict(x, verbose=0)
    assert isinstance(mine, dict) and sorted(mine) == sorted(reference) == ["class", "score"]
    for key in reference:
        np.testing.assert_allclose(mine[key], np.asarray(reference[key]), rtol=1e-5, atol=1e-6)
    assert ours.input_names == ["extra", "words"] and ours.output_names == ["class", "score"]
    np.testing.assert_allclose(ours(x)["score"], mine["score"], rtol=1e-6)


def test_a_training_step_and_its_logs_match_keras():
    theirs, ours = compiled(keras), compiled(rnnkit)
    share_random_weights(theirs, ours)
    x, y = data(1)
    reference = theirs.train_on_batch(x, y, return_dict=True)
    mine = ours.train_on_batch(x, y, return_dict=True)
    assert sorted(mine) == sorted(reference)
    for name in reference:
        assert mine[name] == pytest.approx(float(reference[name]), rel=1e-5), name
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-6)
    history = ours.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert "class_accuracy" in history.history and "score_mae" in history.history


@pytest.mark.parametrize("writer", ["keras", "rnnkit"])
def test_archives_and_json_go_both_ways(tmp_path, writer):
    pytest.importorskip("h5py", reason="`.keras` archives need h5py (pip install '.[h5]')")
    source = compiled(keras if writer == "keras" else rnnkit)
    x, y = data(2)
    source.fit(x, y, epochs=1, batch_size=4, verbose=0)
    source.save(tmp_path / "m.keras")
    target_lib = rnnkit if writer == "keras" else keras
    target = target_lib.models.load_model(tmp_path / "m.keras")
    rebuilt = target_lib.models.model_from_json(source.to_json())
    rebuilt.set_weights([np.asarray(w) for w in source.get_weights()])
    expected = source.predict(x, verbose=0)
    for model in (target, rebuilt):
        predicted = model.predict(x, verbose=0)
        for key in expected:
            np.testing.assert_allclose(np.asarray(predicted[key]), np.asarray(expected[key]), rtol=1e-5, atol=1e-6)
