"""Bad input gets a clear ValueError/TypeError naming the layer (or model), what was expected and what was
received (issue 8, first bullet). Each test checks the error type and the parts of the message a user needs."""
import re

import numpy as np
import pytest

from rnnkit import activations, initializers, layers
from rnnkit.models import Sequential


def _lstm_model(name="net"):
    return Sequential([layers.Input(shape=(5, 3)), layers.LSTM(4, name="rec"), layers.Dense(1, name="head")],
                      name=name)


# -- shapes --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer_class", [layers.SimpleRNN, layers.LSTM, layers.GRU])
def test_recurrent_layer_rejects_wrong_rank(layer_class):
    layer = layer_class(2, name="rec_layer")
    with pytest.raises(ValueError, match=r"rec_layer.*rank 3.*\(4, 3\)"):
        layer(np.zeros((4, 3), np.float32))


@pytest.mark.parametrize("layer_class", [layers.SimpleRNN, layers.LSTM, layers.GRU])
def test_recurrent_layer_rejects_wrong_feature_size_after_build(layer_class):
    layer = layer_class(2, name="rec_layer")
    layer(np.zeros((1, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r"rec_layer.*last dimension 3.*\(1, 4, 5\)"):
        layer(np.zeros((1, 4, 5), np.float32))


def test_dense_rejects_rank_one_and_wrong_feature_size():
    dense = layers.Dense(2, name="proj")
    with pytest.raises(ValueError, match=r"proj.*rank >= 2.*\(3,\)"):
        dense(np.zeros(3, np.float32))
    dense(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match=r"proj.*last dimension 3.*\(1, 4\)"):
        dense(np.zeros((1, 4), np.float32))


def test_model_predict_names_the_input_and_both_shapes():
    model = _lstm_model()
    with pytest.raises(ValueError, match=r"net.*\(None, 5, 3\).*\(2, 5, 4\)"):
        model.predict(np.zeros((2, 5, 4), np.float32), verbose=0)
    with pytest.raises(ValueError, match=r"net.*\(None, 5, 3\).*\(2, 5\)"):
        model.predict(np.zeros((2, 5), np.float32), verbose=0)


def test_non_numeric_input_is_a_type_error_naming_the_layer():
    layer = layers.LSTM(2, name="rec_layer")
    with pytest.raises(TypeError, match=r"rec_layer.*numeric.*<U1"):
        layer(np.full((1, 2, 3), "a"))


# -- samples -------------------------------------------------------------------------------------------------------
def _compiled(model):
    from rnnkit.losses import MeanSquaredError
    from rnnkit.optimizers import SGD

    model.compile(optimizer=SGD(), loss=MeanSquaredError())
    return model


@pytest.mark.parametrize("method", ["fit", "evaluate", "train_on_batch", "test_on_batch"])
def test_x_and_y_with_different_sample_counts(method):
    model = _compiled(_lstm_model())
    kwargs = {"verbose": 0} if method in ("fit", "evaluate") else {}
    with pytest.raises(ValueError, match=r"net.*same number of samples.*\[4\].*\[3\]"):
        getattr(model, method)(np.zeros((4, 5, 3), np.float32), np.zeros((3, 1), np.float32), **kwargs)


@pytest.mark.parametrize("method", ["fit", "evaluate", "train_on_batch", "test_on_batch"])
def test_training_and_evaluating_before_compile(method):
    model = _lstm_model()
    with pytest.raises(ValueError, match=rf"net.*compile\(\) before {method}"):
        getattr(model, method)(np.zeros((4, 5, 3), np.float32), np.zeros((4, 1), np.float32))


# -- embedding ids -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad_id", [10, 11, 2**40, 2**63 - 1, -1, -(2**63)])
def test_embedding_ids_out_of_range_are_value_errors(bad_id):
    embedding = layers.Embedding(10, 3, name="tokens")
    ids = np.array([[1, 2], [3, bad_id]], np.int64)
    with pytest.raises(ValueError, match=rf"tokens.*\[0, 10\).*{bad_id}.*input_dim=10"):
        embedding(ids)


def test_embedding_out_of_range_inside_a_model_and_uint64_ids():
    model = Sequential([layers.Input(shape=(2,), dtype="int64"), layers.Embedding(4, 2, name="tokens")])
    with pytest.raises(ValueError, match=r"tokens.*\[0, 4\)"):
        model.predict(np.array([[0, 4]]), verbose=0)
    # 2**64 - 1 would wrap to -1 through a careless int64 cast: it must still be rejected, not read.
    with pytest.raises(ValueError, match=r"tokens.*\[0, 4\).*18446744073709551615"):
        model.predict(np.array([[0, 2**64 - 1]], np.uint64), verbose=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_embedding_float_ids_are_a_type_error(dtype):
    embedding = layers.Embedding(10, 3, name="tokens")
    with pytest.raises(TypeError, match=rf"tokens.*integer ids.*{np.dtype(dtype).name}"):
        embedding(np.array([[1.0, 2.0]], dtype))


def test_embedding_valid_ids_read_the_right_rows():
    embedding = layers.Embedding(4, 2)
    embedding.build()
    table = np.arange(8, dtype=np.float32).reshape(4, 2)
    embedding.set_weights([table])
    np.testing.assert_array_equal(embedding(np.array([[3, 0]], np.int32)), table[[[3, 0]]])


# -- weights -------------------------------------------------------------------------------------------------------
def test_set_weights_with_the_wrong_count_keeps_the_old_weights():
    model = _lstm_model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=rf"net.*expects {len(before)} weight arrays, received {len(before) - 1}"):
        model.set_weights(before[:-1])
    for old, now in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, now)


def test_set_weights_with_a_wrong_shape_names_the_weight_and_assigns_nothing():
    layer = layers.Dense(2, name="proj")
    layer(np.zeros((1, 3), np.float32))
    kernel, bias = layer.get_weights()
    with pytest.raises(ValueError, match=r"proj.*bias.*\(2,\).*\(3,\)"):
        layer.set_weights([kernel + 1, np.zeros(3)])
    np.testing.assert_array_equal(layer.get_weights()[0], kernel)


# -- names: the closest valid name is suggested --------------------------------------------------------------------
def test_unknown_activation_suggests_the_closest_name():
    with pytest.raises(ValueError, match=r"Unknown activation 'rleu'.*did you mean 'relu'"):
        layers.Dense(2, activation="rleu")
    with pytest.raises(ValueError, match=r"did you mean 'sigmoid'"):
        activations.get("sigmod")


def test_unknown_initializer_suggests_the_closest_name():
    with pytest.raises(ValueError, match=r"Unknown initializer 'glorot_unifrom'.*did you mean 'glorot_uniform'"):
        layers.LSTM(2, kernel_initializer="glorot_unifrom")
    with pytest.raises(ValueError, match=r"did you mean 'orthogonal'"):
        initializers.get("orthogonl")


def test_unknown_loss_suggests_the_closest_name():
    from rnnkit import losses

    with pytest.raises(ValueError, match=r"(?i)mean_squared_eror.*did you mean 'mean_squared_error'"):
        losses.get("mean_squared_eror")
    model = _lstm_model()
    with pytest.raises(ValueError, match=r"(?i)'mse_'.*did you mean"):
        model.compile(optimizer="sgd", loss="mse_")


def test_unknown_optimizer_suggests_the_closest_name():
    from rnnkit import optimizers

    with pytest.raises(ValueError, match=r"(?i)adamm.*did you mean '(adam|adamax)'"):
        optimizers.get("adamm")
    with pytest.raises(ValueError, match=r"(?i)rmsprp.*did you mean 'rmsprop'"):
        _lstm_model().compile(optimizer="rmsprp", loss="mse")


def test_unknown_layer_class_in_a_config_suggests_the_closest_name():
    with pytest.raises(ValueError, match=r"Unknown layer class 'LTSM'.*did you mean 'LSTM'"):
        layers.deserialize({"class_name": "LTSM", "config": {"units": 2}})


# -- arguments -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda units: layers.Dense(units, name="arg_layer"),
    lambda units: layers.SimpleRNN(units, name="arg_layer"),
    lambda units: layers.LSTM(units, name="arg_layer"),
    lambda units: layers.GRU(units, name="arg_layer"),
    lambda units: layers.Embedding(units, 4, name="arg_layer"),
    lambda units: layers.Embedding(4, units, name="arg_layer"),
])
@pytest.mark.parametrize("units", [0, -3])
def test_non_positive_sizes_are_value_errors(make, units):
    with pytest.raises(ValueError, match=rf"arg_layer.*> 0.*{units}"):
        make(units)


@pytest.mark.parametrize("units", [2.5, "8", None, True])
def test_non_integer_units_are_type_errors(units):
    with pytest.raises(TypeError, match=rf"arg_layer.*positive int.*{re.escape(repr(units))}"):
        layers.LSTM(units, name="arg_layer")


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan"), float("inf")])
@pytest.mark.parametrize("make", [
    lambda rate: layers.Dropout(rate, name="arg_layer"),
    lambda rate: layers.LSTM(2, dropout=rate, name="arg_layer"),
    lambda rate: layers.GRU(2, recurrent_dropout=rate, name="arg_layer"),
    lambda rate: layers.SimpleRNN(2, dropout=rate, name="arg_layer"),
])
def test_dropout_outside_zero_one_is_a_value_error(make, rate):
    with pytest.raises(ValueError, match=r"arg_layer.*\[0, 1\)"):
        make(rate)


def test_dropout_at_the_edges_of_the_valid_range_is_accepted():
    assert layers.Dropout(0.0).rate == 0.0
    assert layers.LSTM(2, dropout=0.999).cell.dropout == pytest.approx(0.999)


@pytest.mark.parametrize("merge_mode", ["cat", "average", "max", 3])
def test_bidirectional_rejects_unknown_merge_mode(merge_mode):
    with pytest.raises(ValueError, match=r"bi.*merge_mode.*concat.*received"):
        layers.Bidirectional(layers.LSTM(2), merge_mode=merge_mode, name="bi")


def test_bidirectional_merge_mode_typo_gets_a_suggestion():
    with pytest.raises(ValueError, match=r"did you mean 'concat'"):
        layers.Bidirectional(layers.LSTM(2), merge_mode="conact")


@pytest.mark.parametrize("bad_id", [6.0, -1.0, 2.5, float("nan"), float("inf"), 1e30])
def test_cpp_model_refuses_ids_that_are_not_valid_rows(tmp_path, bad_id):
    from rnnkit import _core

    model = Sequential([layers.Input(shape=(3,)), layers.Embedding(6, 2, name="tokens"), layers.Flatten()])
    model.save(str(tmp_path / "m.rnnkit"))
    cpp_model = _core.CppModel(str(tmp_path / "m.rnnkit"))
    good = np.array([[0, 5, 1]], np.float32)
    np.testing.assert_array_equal(cpp_model.predict(good), model.predict(good.astype(np.int64), verbose=0))
    with pytest.raises(ValueError, match=r"tokens.*\[0, 6\)"):
        cpp_model.predict(np.array([[0, bad_id, 1]], np.float32))
