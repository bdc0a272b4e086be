"""Keras 3's ways into a built model: layer.input / layer.output and model.input / model.output (feature-extraction
sub-models), to_json / model_from_json, clone_model and models.save_model; the JSON both ways with Keras (oracle)."""
import numpy as np
import pytest

import rnnkit
from rnnkit import layers, models


def functional(lib=rnnkit):
    inputs = lib.Input((5, 3), name="sequence")
    encoded = lib.layers.LSTM(4, return_sequences=True, name="encoder")(inputs)
    pooled = lib.layers.GlobalAveragePooling1D(name="pool")(encoded)
    return lib.Model(inputs, lib.layers.Dense(2, name="head")(pooled))


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


def reference_forward(weights, x):
    """numpy float64 forward of functional(): LSTM (Keras' gate order i, f, c, o) -> mean over time -> Dense."""
    kernel, recurrent, bias, dense_kernel, dense_bias = (np.asarray(w, np.float64) for w in weights)
    units = recurrent.shape[0]
    h, c, states = np.zeros((x.shape[0], units)), np.zeros((x.shape[0], units)), []
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f, g, o = (z[:, k * units:(k + 1) * units] for k in range(4))
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        states.append(h)
    return np.mean(states, axis=0) @ dense_kernel + dense_bias


def test_clone_function_rebuilds_a_functional_model_with_its_wiring():
    model = functional()
    wider = models.clone_model(model, clone_function=lambda layer: (
        layers.LSTM(6, return_sequences=True) if isinstance(layer, layers.LSTM)
        else layer.__class__.from_config(layer.get_config())))
    lstm = [layer for layer in wider.layers if isinstance(layer, layers.LSTM)][0]
    assert lstm.units == 6 and [type(layer) for layer in wider.layers] == [type(layer) for layer in model.layers]
    assert wider.input is not model.input and wider.get_layer("head") is not model.get_layer("head")
    weights = [np.random.default_rng(k).standard_normal(w.shape).astype(np.float32) * 0.4
               for k, w in enumerate(wider.get_weights())]
    wider.set_weights(weights)
    np.testing.assert_allclose(wider.predict(X, verbose=0), reference_forward(weights, X), rtol=1e-5, atol=1e-5)


def test_call_function_adds_layers_and_an_identity_clone_shares_the_weights():
    model = functional()

    def call_function(layer, *args, **kwargs):
        out = layer(*args, **kwargs)
        return layers.Dropout(0.5, seed=3)(out) if isinstance(layer, layers.GlobalAveragePooling1D) else out

    dropped = models.clone_model(model, clone_function=lambda layer: layer, call_function=call_function)
    assert [type(layer).__name__ for layer in dropped.layers] == ["InputLayer", "LSTM", "GlobalAveragePooling1D",
                                                                  "Dropout", "Dense"]
    assert all(a is b for a, b in zip(dropped.weights, model.weights))
    np.testing.assert_array_equal(dropped.predict(X, verbose=0), model.predict(X, verbose=0))
    assert not np.allclose(dropped(X, training=True), model(X, training=True))


def test_a_shared_layer_is_cloned_once_and_input_tensors_are_used():
    first, second = rnnkit.Input((3,), name="a"), rnnkit.Input((3,), name="b")
    shared = layers.Dense(2, name="shared")
    model = rnnkit.Model([first, second], layers.Add()([shared(first), shared(second)]))
    new_inputs = [rnnkit.Input((3,), name="c"), rnnkit.Input((3,), name="d")]
    clone = models.clone_model(model, input_tensors=new_inputs)
    assert clone.inputs == new_inputs and len(clone.weights) == 2
    assert all(a is not b for a, b in zip(clone.weights, model.weights))
    clone.set_weights(model.get_weights())
    pair = [X[:, 0], X[:, 1]]
    np.testing.assert_array_equal(clone.predict(pair, verbose=0), model.predict(pair, verbose=0))
    with pytest.raises(ValueError, match="structure of model.input"):
        models.clone_model(model, input_tensors=new_inputs[0])


def test_recursive_clone_goes_into_nested_models_and_compile_is_copied():
    inner = rnnkit.Sequential([rnnkit.Input((4,)), layers.Dense(3, name="inner_dense")], name="inner")
    inputs = rnnkit.Input((5, 3))
    model = rnnkit.Model(inputs, layers.Dense(1)(inner(layers.LSTM(4)(inputs))))
    model.compile(optimizer=rnnkit.optimizers.Adam(0.01), loss="mse", metrics=["mae"])

    def wider_dense(layer):
        if isinstance(layer, layers.Dense) and layer.name == "inner_dense":
            return layers.Dense(7, name="inner_dense")
        return layer.__class__.from_config(layer.get_config())

    deep = models.clone_model(model, clone_function=wider_dense, recursive=True)
    shallow = models.clone_model(model, clone_function=wider_dense)
    assert deep.get_layer("inner").get_layer("inner_dense").units == 7
    assert shallow.get_layer("inner").get_layer("inner_dense").units == 3  # the nested model cloned as a whole
    assert deep.compiled and deep.compile_config == model.compile_config
    assert deep.optimizer is not model.optimizer and deep.optimizer.learning_rate == pytest.approx(0.01)
    history = deep.fit(X, np.ones((6, 1), np.float32), epochs=1, verbose=0)
    assert set(history.history) == {"loss", "mae"}


def test_clone_model_refuses_what_keras_refuses():
    stack = rnnkit.Sequential([rnnkit.Input((5, 3)), layers.LSTM(4)])
    with pytest.raises(ValueError, match="call_function is not supported with Sequential"):
        models.clone_model(stack, call_function=lambda layer, *a, **k: layer(*a, **k))
    with pytest.raises(ValueError, match="unexpected keyword"):
        models.clone_model(stack, custom_objects={})


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


def test_oracle_clone_with_clone_and_call_functions_matches_keras():
    keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")
    clones = {}
    for lib in (keras, rnnkit):
        def clone_function(layer, lib=lib):
            if isinstance(layer, lib.layers.LSTM):
                return lib.layers.LSTM(6, return_sequences=True, name="wider")
            return layer.__class__.from_config(layer.get_config())

        def call_function(layer, *args, lib=lib, **kwargs):
            out = layer(*args, **kwargs)
            return lib.layers.Dense(3, name="extra")(out) if layer.name == "wider" else out

        clones[lib] = lib.models.clone_model(functional(lib), clone_function=clone_function,
                                             call_function=call_function)
    assert [layer.name for layer in clones[rnnkit].layers] == [layer.name for layer in clones[keras].layers]
    weights = [np.random.default_rng(k).standard_normal(w.shape).astype(np.float32) * 0.4
               for k, w in enumerate(clones[keras].get_weights())]
    for clone in clones.values():
        clone.set_weights(weights)
    np.testing.assert_allclose(clones[rnnkit].predict(X, verbose=0), clones[keras].predict(X, verbose=0),
                               rtol=1e-5, atol=1e-5)
