"""Model.get_layer as in Keras 3: by name or by index, with clear errors."""
import pytest

import rnnkit


def small_model():
    inputs = rnnkit.Input((5, 3))
    hidden = rnnkit.layers.LSTM(4, name="encoder")(inputs)
    outputs = rnnkit.layers.Dense(2, name="head")(hidden)
    return rnnkit.Model(inputs, outputs)


def test_get_layer_by_name_and_index():
    model = small_model()
    assert model.get_layer("encoder") is model.layers[1]
    assert model.get_layer(index=-1).name == "head"
    sequential = rnnkit.Sequential([rnnkit.Input((5, 3)), rnnkit.layers.GRU(2, name="gru_a")])
    assert sequential.get_layer("gru_a") is sequential.layers[0]


def test_get_layer_errors_name_the_problem():
    model = small_model()
    with pytest.raises(ValueError, match="no layer named 'decoder'"):
        model.get_layer("decoder")
    with pytest.raises(ValueError, match="out of range"):
        model.get_layer(index=7)
    with pytest.raises(ValueError, match="exactly one"):
        model.get_layer()
