"""serialize_keras_object / deserialize_keras_object: every kind of object round-trips, containers too, a custom
layer holding another layer uses them in get_config / from_config as Keras' guides do; Keras' own dicts load."""
import json

import numpy as np
import pytest

import rnnkit
from rnnkit import saving, utils

OBJECTS = [
    lambda: rnnkit.layers.LSTM(4, return_sequences=True), lambda: rnnkit.initializers.GlorotUniform(seed=3),
    lambda: rnnkit.regularizers.L2(0.02), lambda: rnnkit.constraints.MaxNorm(2.0),
    lambda: rnnkit.optimizers.Adam(learning_rate=0.01), lambda: rnnkit.losses.Huber(delta=2.0),
    lambda: rnnkit.metrics.AUC(num_thresholds=50),
]


@pytest.mark.parametrize("make", OBJECTS)
def test_each_kind_round_trips_through_json(make):
    original = make()
    config = json.loads(json.dumps(saving.serialize_keras_object(original)))
    assert config["class_name"] == type(original).__name__ and config["module"].startswith("keras.")
    again = saving.deserialize_keras_object(config)
    assert type(again) is type(original) and again.get_config() == original.get_config()
    assert utils.serialize_keras_object is saving.serialize_keras_object


def test_containers_and_plain_values():
    values = [None, 3, 2.5, "tanh", True, {"rate": 0.5, "init": rnnkit.initializers.Zeros()}, (1, 2)]
    config = saving.serialize_keras_object(values)
    assert config[:5] == [None, 3, 2.5, "tanh", True] and config[6] == [1, 2]
    again = saving.deserialize_keras_object(config)
    assert again[5]["rate"] == 0.5 and type(again[5]["init"]).__name__ == "Zeros"


def test_a_custom_layer_holding_a_layer_saves_and_loads():
    @rnnkit.saving.register_keras_serializable(package="objects_test")
    class Residual(rnnkit.layers.Layer):
        def __init__(self, inner, **kwargs):
            super().__init__(**kwargs)
            self.inner = inner

        def call(self, x):
            return x + self.inner(x)

        def get_config(self):
            return {**super().get_config(), "inner": saving.serialize_keras_object(self.inner)}

        @classmethod
        def from_config(cls, config):
            config = dict(config)
            return cls(saving.deserialize_keras_object(config.pop("inner")), **config)

    inputs = rnnkit.Input((5, 3))
    model = rnnkit.Model(inputs, Residual(rnnkit.layers.Dense(3))(inputs))
    again = saving.deserialize_keras_object(saving.serialize_keras_object(model.layers[1]))
    assert type(again) is Residual and type(again.inner).__name__ == "Dense" and again.inner.units == 3
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    rebuilt = rnnkit.Model.from_config(model.get_config())
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_what_cannot_be_serialized_or_found_is_refused():
    with pytest.raises(TypeError, match="cannot serialize"):
        saving.serialize_keras_object(object())
    with pytest.raises(ValueError, match="unknown class 'Nowhere'"):
        saving.deserialize_keras_object({"module": "my.package", "class_name": "Nowhere", "config": {}})


@pytest.mark.oracle
@pytest.mark.parametrize("make", [lambda k: k.layers.Dense(3, activation="relu"), lambda k: k.layers.GRU(2),
                                  lambda k: k.initializers.Orthogonal(gain=2.0), lambda k: k.regularizers.L1L2(0.1),
                                  lambda k: k.losses.Huber(delta=2.0), lambda k: k.optimizers.SGD(0.1, momentum=0.5)])
def test_kerass_dicts_load_as_the_same_objects(make):
    keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")
    theirs = make(keras)
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(theirs)))
    ours = saving.deserialize_keras_object(config)
    assert type(ours).__name__ == type(theirs).__name__
    mine, reference = ours.get_config(), theirs.get_config()
    shared = set(mine) & set(reference) - {"name", "dtype"}
    assert shared and {key: mine[key] for key in shared} == {key: reference[key] for key in shared}
    written = saving.serialize_keras_object(make(rnnkit))  # Keras on torch names SGD's module after its backend
    assert written["class_name"] == config["class_name"] and written["module"].startswith("keras.")
    assert type(keras.saving.deserialize_keras_object(written)).__name__ == type(theirs).__name__
