"""Custom layers written once for both libraries (build() with add_weight, call() with ops) against Keras 3 on
torch (the oracle): the same predictions and training step for the same weights, and `.keras` archives both ways
with the class given as a custom object."""
import numpy as np
import pytest

pytest.importorskip("h5py", reason="`.keras` archives need h5py (pip install '.[h5]')")
torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

import rnnkit  # noqa: E402
from reference.custom_layers import attention_pooling_class, gated_sum_class, masked_attention_class  # noqa: E402
from reference.keras_steps import assert_same_predictions_and_step, share_random_weights  # noqa: E402
from rnnkit import saving  # noqa: E402


def build(lib):
    inputs = lib.Input((6, 3))
    hidden = lib.layers.GRU(4, return_sequences=True)(inputs)
    return lib.Model(inputs, lib.layers.Dense(2)(attention_pooling_class(lib)(5, name="pool")(hidden)))


def data(seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((8, 6, 3)).astype(np.float32), rng.standard_normal((8, 2)).astype(np.float32)


def test_same_predictions_and_training_step_as_keras():
    theirs, ours = build(keras), build(rnnkit)
    assert [w.path.split("/", 1)[1] for w in ours.weights] == [w.path.split("/", 1)[1] for w in theirs.weights]
    share_random_weights(theirs, ours)
    assert_same_predictions_and_step(theirs, ours, *data(1), keras, rnnkit)


def test_keras_archives_with_a_custom_layer_both_ways(tmp_path):
    x, _ = data(2)
    ours = build(rnnkit)
    ours.save(tmp_path / "rnnkit.keras")
    theirs = keras.models.load_model(tmp_path / "rnnkit.keras",
                                     custom_objects={"AttentionPooling": attention_pooling_class(keras)})
    np.testing.assert_allclose(np.asarray(theirs.predict(x, verbose=0)), ours.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-6)
    theirs.save(tmp_path / "keras.keras")
    back = saving.load_model(tmp_path / "keras.keras",
                             custom_objects={"AttentionPooling": attention_pooling_class(rnnkit)})
    np.testing.assert_allclose(back.predict(x, verbose=0), ours.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_a_masked_custom_layer_predicts_and_trains_as_keras():
    def build_masked(lib):
        ids = lib.Input((6,), dtype="int32")
        hidden = lib.layers.LSTM(4, return_sequences=True)(lib.layers.Embedding(9, 3, mask_zero=True)(ids))
        return lib.Model(ids, lib.layers.Dense(1)(masked_attention_class(lib)(name="attend")(hidden)))

    theirs, ours = build_masked(keras), build_masked(rnnkit)
    share_random_weights(theirs, ours)
    tokens = np.random.default_rng(3).integers(1, 9, size=(5, 6)).astype(np.int32)
    tokens[0, 3:] = 0
    tokens[2, 1:] = 0
    y = np.random.default_rng(4).standard_normal((5, 1)).astype(np.float32)
    assert_same_predictions_and_step(theirs, ours, tokens, y, keras, rnnkit)


def test_held_layers_in_lists_and_out_of_alphabetical_order_as_keras(tmp_path):
    def build_gated(lib):
        inputs = lib.Input((5,))
        return lib.Model(inputs, gated_sum_class(lib)(3, name="gated")(inputs))

    theirs, ours = build_gated(keras), build_gated(rnnkit)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    share_random_weights(theirs, ours)
    x = np.random.default_rng(5).standard_normal((6, 5)).astype(np.float32)
    ours.save(tmp_path / "rnnkit.keras")
    theirs.save(tmp_path / "keras.keras")
    keras_read = keras.models.load_model(tmp_path / "rnnkit.keras", custom_objects={"GatedSum": gated_sum_class(keras)})
    ours_read = saving.load_model(tmp_path / "keras.keras", custom_objects={"GatedSum": gated_sum_class(rnnkit)})
    for model in (keras_read, ours_read):
        for value, reference in zip(model.get_weights(), ours.get_weights()):
            np.testing.assert_array_equal(np.asarray(value), reference)
    assert_same_predictions_and_step(theirs, ours, x, np.ones((6, 3), np.float32), keras, rnnkit)


def test_registered_custom_layers_load_both_ways_without_custom_objects(tmp_path):
    """Each library registers its class under the same "package>name", which Keras writes as the registered name;
    the other library's loader finds its own class by it."""
    theirs_class = keras.saving.register_keras_serializable(package="Oracle")(attention_pooling_class(keras))
    ours_class = rnnkit.saving.register_keras_serializable(package="Oracle")(attention_pooling_class(rnnkit))

    def build_registered(lib, pooling):
        inputs = lib.Input((6, 3))
        return lib.Model(inputs, lib.layers.Dense(2)(pooling(5, name="pool")(inputs)))

    theirs, ours = build_registered(keras, theirs_class), build_registered(rnnkit, ours_class)
    share_random_weights(theirs, ours)
    theirs.save(tmp_path / "keras.keras")
    ours.save(tmp_path / "rnnkit.keras")
    x, _ = data(6)
    from_keras = saving.load_model(tmp_path / "keras.keras")
    from_rnnkit = keras.models.load_model(tmp_path / "rnnkit.keras")
    assert type(from_keras.get_layer("pool")) is ours_class and type(from_rnnkit.get_layer("pool")) is theirs_class
    for model in (from_keras, from_rnnkit):
        np.testing.assert_allclose(np.asarray(model.predict(x, verbose=0)), ours.predict(x, verbose=0), rtol=1e-5,
                                   atol=1e-6)
