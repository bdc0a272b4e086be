"""Keras 3's ways into a built model: layer.input / layer.output and model.input / model.output (feature-extraction
sub-models), to_json / model_from_json, clone_model and models.save_model; the JSON both ways with Keras (oracle)."""
import numpy as np
import pytest

import rnnkit
from rnnkit import layers, models


def functional():
    inputs = rnnkit.Input((5, 3), name="sequence")
    encoded = layers.LSTM(4, return_sequences=True, name="encoder")(inputs)
    pooled = layers.GlobalAveragePooling1D(name="pool")(encoded)
    return rnnkit.Model(inputs, layers.Dense(2, name="head")(pooled))


X = np.random.default_rng(0).standard_normal((6, 5, 3)).astype(np.float32)


def test_a_sub_model_from_model_input_to_a_layer_output_gives_the_intermediate_values():
    model = functional()
    assert model.input is model.layers[0].output and model.output is model.get_layer("head").output
    extractor = rnnkit.Model(model.input, model.get_layer("pool").output)
    pooled = extractor.predict(X, verbose=0)
    np.testing.assert_allclose(pooled, model.get_layer("encoder")(X).mean(axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.get_layer("head")(pooled), model.predict(X, verbose=0), rtol=1e-5, atol=1e-6)
    assert model.get_layer("pool").input is model.get_layer("encoder").output


def test_layer_output_in_a_sequential_model_and_an_uncalled_layer():
    model = rnnkit.Sequential([rnnkit.Input((5, 3)), layers.GRU(4, return_sequences=True), layers.GRU(2)])
    first = rnnkit.Model(model.input, model.layers[0].output)
    np.testing.assert_allclose(first.predict(X, verbose=0), model.layers[0](X), rtol=1e-6, atol=1e-7)
    with pytest.raises(AttributeError, match="has never been called and thus has no defined output"):
        layers.Dense(3).output


def test_to_json_and_model_from_json_rebuild_the_architecture_with_new_weights():
    model = functional()
    rebuilt = models.model_from_json(model.to_json())
    assert [type(layer) for layer in rebuilt.layers] == [type(layer) for layer in model.layers]
    assert [layer.name for layer in rebuilt.layers] == [layer.name for layer in model.layers]
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_array_equal(rebuilt.predict(X, verbose=0), model.predict(X, verbose=0))


def test_clone_model_makes_new_weights_and_takes_a_clone_function():
    model = functional()
    clone = models.clone_model(model)
    assert all(a is not b for a, b in zip(clone.weights, model.weights))
    assert not np.allclose(clone.get_weights()[0], model.get_weights()[0])
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone.predict(X, verbose=0), model.predict(X, verbose=0))
    stack = rnnkit.Sequential([rnnkit.Input((5, 3)), layers.LSTM(4), layers.Dense(1)])
    wider = models.clone_model(stack, clone_function=lambda layer: (
        layers.LSTM(6) if isinstance(layer, layers.LSTM) else layer.__class__.from_config(layer.get_config())))
    assert wider.layers[0].units == 6 and wider.predict(X, verbose=0).shape == (6, 1)
    with pytest.raises(NotImplementedError, match="clone_function is supported for Sequential models only"):
        models.clone_model(model, clone_function=lambda layer: layer)


def test_models_save_model_refuses_to_overwrite_when_asked_not_to(tmp_path):
    model = functional()
    models.save_model(model, tmp_path / "m.rnnkit")
    with pytest.raises(FileExistsError, match="overwrite=False"):
        models.save_model(model, tmp_path / "m.rnnkit", overwrite=False)
    np.testing.assert_array_equal(models.load_model(tmp_path / "m.rnnkit").predict(X, verbose=0),
                                  model.predict(X, verbose=0))


@pytest.mark.parametrize("writer", ["keras", "rnnkit"])
def test_oracle_json_goes_both_ways_with_keras(writer):
    keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")
    pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
    lib = keras if writer == "keras" else rnnkit
    inputs = lib.Input((5, 3))
    source = lib.Model(inputs, lib.layers.Dense(2)(lib.layers.LSTM(4)(inputs)))
    target = (rnnkit.models if writer == "keras" else keras.models).model_from_json(source.to_json())
    target.set_weights([np.asarray(w) for w in source.get_weights()])
    np.testing.assert_allclose(np.asarray(target.predict(X, verbose=0)), np.asarray(source.predict(X, verbose=0)),
                               rtol=1e-5, atol=1e-6)
