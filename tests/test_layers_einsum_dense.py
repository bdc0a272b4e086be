"""EinsumDense against a float64 numpy.einsum reference over Keras' equation forms (plain, leading and trailing
ellipsis, batched, summed and outer-product axes, bias_axes variants, activations, output_shape with None), the
weight shapes Keras derives, gradients by finite differences, thread independence, .keras and .rnnkit round trips,
and clear errors.

Tolerances: float32 against float64, 1e-6 of the largest output entry (the products are sums of at most 20
terms); finite differences with the defaults of reference/gradient_check.py."""
import numpy as np
import pytest
from reference.gradient_check import check_layer_gradients
from reference.layer_checks import assert_same_on_threads, relative_error

import rnnkit
from rnnkit import layers

REFERENCE_ACTIVATIONS = {"linear": lambda z: z, "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0)}

# (equation, output_shape, bias_axes, input shape, kernel shape, bias shape, output shape)
CASES = [
    ("ab,bc->ac", 6, "c", (4, 5), (5, 6), (6,), (4, 6)),
    ("...b,bc->...c", 6, "c", (2, 3, 5), (5, 6), (6,), (2, 3, 6)),
    ("...b,bc->...c", 6, None, (2, 3, 4, 5), (5, 6), None, (2, 3, 4, 6)),
    ("...ab,bc->...ac", (None, 6), "c", (2, 3, 5), (5, 6), (6,), (2, 3, 6)),
    ("abc,cd->abd", (None, 6), "d", (2, 3, 5), (5, 6), (6,), (2, 3, 6)),
    ("abc,cde->abde", (None, 2, 3), "de", (2, 3, 5), (5, 2, 3), (2, 3), (2, 3, 2, 3)),
    ("abcd,cde->abe", (None, 4), "e", (2, 3, 4, 5), (4, 5, 4), (4,), (2, 3, 4)),
    ("btd,ndh->btnh", (None, 2, 3), "nh", (2, 4, 5), (2, 5, 3), (2, 3), (2, 4, 2, 3)),
    ("bquh,uhm->bqm", (None, 6), "m", (2, 3, 4, 5), (4, 5, 6), (6,), (2, 3, 6)),
    ("ab...,bc->ac...", 6, "c", (2, 5, 3, 4), (5, 6), (6, 1, 1), (2, 6, 3, 4)),
    ("abc,bcd->abd", (3, 6), "bd", (2, 3, 5), (3, 5, 6), (3, 6), (2, 3, 6)),
    ("abc,cd->abd", (3, 6), "b", (2, 3, 5), (5, 6), (3, 1), (2, 3, 6)),
    ("abc,cd->adb", (6, None), "d", (2, 3, 5), (5, 6), (6, 1), (2, 6, 3)),
    ("abc,cd->ad", 6, "d", (2, 3, 5), (5, 6), (6,), (2, 6)),
    ("ab,c->abc", (None, 4), "c", (2, 3), (4,), (4,), (2, 3, 4)),
]
IDS = [f"{case[0]}-{case[2]}" for case in CASES]


def make_layer(equation, output_shape, bias_axes, activation=None):
    return layers.EinsumDense(equation, output_shape, activation=activation, bias_axes=bias_axes,
                              bias_initializer="random_normal")


def reference(equation, x, kernel, bias, activation):
    z = np.einsum(equation, x.astype(np.float64), kernel.astype(np.float64))
    return REFERENCE_ACTIVATIONS[activation](z if bias is None else z + bias.astype(np.float64))


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("activation", ["linear", "tanh"])
def test_matches_float64_einsum_with_keras_weight_shapes(case, activation):
    equation, output_shape, bias_axes, input_shape, kernel_shape, bias_shape, out_shape = case
    x = np.random.default_rng(0).standard_normal(input_shape).astype(np.float32)
    layer = make_layer(equation, output_shape, bias_axes, activation)
    y = layer(x)
    assert [w.name for w in layer.weights] == ["kernel"] + (["bias"] if bias_shape else [])
    assert layer.kernel.shape == kernel_shape
    assert (layer.bias.shape if layer.bias is not None else None) == bias_shape
    assert y.shape == out_shape
    expected = reference(equation, x, layer.kernel.value, None if layer.bias is None else layer.bias.value,
                         activation)
    assert y.dtype == np.float32
    assert relative_error(y, expected) < 1e-6


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_symbolic_output_shape_is_the_computed_one(case):
    equation, output_shape, bias_axes, input_shape, _, _, out_shape = case
    layer = make_layer(equation, output_shape, bias_axes)
    assert layer.compute_output_shape(input_shape) == out_shape
    symbolic = layer(layers.Input(input_shape[1:]))
    assert tuple(symbolic.shape) == (None,) + out_shape[1:]


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("activation", ["linear", "gelu"])
def test_gradients_match_finite_differences(case, activation):
    equation, output_shape, bias_axes, input_shape = case[:4]
    layer = make_layer(equation, output_shape, bias_axes, activation)
    x = np.random.default_rng(1).standard_normal(input_shape).astype(np.float32)
    layer(x)
    check_layer_gradients(layer, x)


def test_relu_matches_reference_and_results_do_not_depend_on_the_thread_count():
    x = np.random.default_rng(2).standard_normal((37, 6, 8)).astype(np.float32)
    layer = layers.EinsumDense("btd,ndh->btnh", (None, 4, 5), activation="relu", bias_axes="nh",
                               bias_initializer="random_normal")
    y = layer(x)
    assert relative_error(y, reference("btd,ndh->btnh", x, layer.kernel.value, layer.bias.value, "relu")) < 1e-6
    assert_same_on_threads(layer, x)


def test_glorot_fans_count_the_contracted_and_produced_axes():
    """As Keras: fan_in is the product of the kernel's input axes (here 4 * 5), fan_out of its output axes (6)."""
    rnnkit.random.set_random_seed(3)
    layer = layers.EinsumDense("bquh,uhm->bqm", (None, 6))
    layer.build((None, 3, 4, 5))
    limit = np.sqrt(6.0 / (20 + 6))  # the kernel's last two axes alone would give sqrt(6 / (5 + 6))
    largest = np.abs(layer.kernel.value).max()
    assert 0.9 * limit < largest <= limit
    assert layer.get_config()["kernel_initializer"]["config"]["input_axes"] is None  # Keras keeps the given one


def test_mask_is_not_passed_on_as_in_keras():
    inputs = layers.Input((4, 3))
    masked = layers.Masking(0.0)(inputs)
    y = layers.EinsumDense("abc,cd->abd", (None, 2))(masked)
    assert not y.has_mask


def model_with(equation, output_shape, bias_axes, input_shape):
    inputs = layers.Input(input_shape)
    y = layers.EinsumDense(equation, output_shape, bias_axes=bias_axes, activation="tanh",
                           bias_initializer="random_normal", kernel_regularizer="l2")(inputs)
    return rnnkit.Model(inputs, layers.Dense(2)(layers.Flatten()(y)))


@pytest.mark.parametrize("suffix", [".keras", ".rnnkit"])
def test_fit_save_and_load_round_trip(tmp_path, suffix):
    model = model_with("btd,ndh->btnh", (None, 2, 3), "nh", (4, 5))
    x = np.random.default_rng(4).standard_normal((8, 4, 5)).astype(np.float32)
    model.compile("adam", "mse")
    before = model.get_weights()
    model.fit(x, np.ones((8, 2), np.float32), epochs=2, verbose=0)
    assert not np.allclose(model.get_weights()[0], before[0])
    model.save(tmp_path / f"einsum{suffix}")
    loaded = rnnkit.models.load_model(tmp_path / f"einsum{suffix}")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    layer = model.layers[1]
    assert [w.path for w in layer.weights] == [f"{layer.name}/kernel", f"{layer.name}/bias"]
    assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()


def test_weights_file_round_trip(tmp_path):
    model = model_with("...b,bc->...c", 3, None, (4, 5))
    other = model_with("...b,bc->...c", 3, None, (4, 5))
    model.save_weights(tmp_path / "einsum.weights.h5")
    other.load_weights(tmp_path / "einsum.weights.h5")
    for mine, theirs in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("arguments, error, message", [
    (("ab,bc", 4), ValueError, "invalid einsum equation"),
    (("ab,bc->ac...", 4), ValueError, "invalid einsum equation"),
    (("a...b,bc->a...c", 4), ValueError, "invalid einsum equation"),
    (("aab,bc->ac", 4), ValueError, "repeats \\['a'\\] in its input"),
    (("ab,bc->acc", 4), ValueError, "repeats \\['c'\\] in its output"),
    (("ab,bc->ad", 4), ValueError, "output axis 'd'"),
    (("ab,bcd->ac", 4), ValueError, "kernel axis 'd'"),
    ((3, 4), TypeError, "equation to be a string"),
    (("ab,bc->ac", "4"), ValueError, "output_shape"),
    (("ab,bc->ac", 0), ValueError, "output_shape"),
])
def test_bad_equations_and_arguments_are_clear_errors(arguments, error, message):
    with pytest.raises(error, match=message):
        layers.EinsumDense(*arguments)


@pytest.mark.parametrize("options, message", [
    ({"lora_rank": 2}, "einsum_dense.*lora_rank"),
    ({"gptq_unpacked_column_size": 4}, "einsum_dense.*gptq_unpacked_column_size"),
    ({"quantization_config": {"mode": "int8"}}, "EinsumDense: quantization"),
    ({"bias_axes": ""}, "bias_axes"),
    ({"bias_axes": 3}, "bias_axes"),
])
def test_unsupported_options_are_refused_naming_the_layer(options, message):
    with pytest.raises(ValueError, match=message):
        layers.EinsumDense("ab,bc->ac", 4, **options)


@pytest.mark.parametrize("equation, output_shape, bias_axes, input_shape, message", [
    ("abc,cd->abd", 6, None, (2, 3, 5), "output_shape \\(6,\\) does not fit"),
    ("ab,bc->ac", (None,), None, (2, 5), "kernel .* needs known sizes"),
    ("abc,cd->abd", (4, 6), None, (2, 3, 5), "do not match at shared dimension 'b'"),
    ("ab,bc->ac", 6, "d", (2, 5), "bias dimension 'd'"),
    ("ab,bc->ac", 6, None, (2, 3, 5), "takes inputs of rank 2"),
    ("ab...,bc->ac...", 6, None, (2,), "takes inputs of rank 2 or more"),
    ("abc,cd->abd", (None, 6), "b", (2, None, 5), "bias axes 'b' need known sizes"),
])
def test_shapes_that_do_not_fit_the_equation_are_clear_errors(equation, output_shape, bias_axes, input_shape,
                                                              message):
    with pytest.raises(ValueError, match=message):
        layers.EinsumDense(equation, output_shape, bias_axes=bias_axes).build(input_shape)


def test_a_called_layer_refuses_other_ranks_and_sizes():
    layer = layers.EinsumDense("...b,bc->...c", 3)
    layer(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError):
        layer(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match="has size 5, the kernel's 4"):
        layer.forward(np.zeros((2, 5), np.float32))
