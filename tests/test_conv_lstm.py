"""ConvLSTM1D/2D/3D against the float64 reference (tests/reference/conv_lstm.py: strided slices of the padded
input per kernel tap, one step at a time). Forward tolerance 2e-6 absolute (float32 sums of up to 4 * 3 * 3 * 5
products, outputs in (-1, 1)); gradients by central differences of the float64 reference, 1e-5 of the largest
entry (they pass at ~5e-7)."""
import numpy as np
import pytest

import rnnkit
from rnnkit import _core, layers
from reference import conv_lstm as ref
from reference.gradient_check import check_layer_gradients, reference_gradients

# (spatial sizes, kernel, strides, dilation, padding)
GEOMETRIES = [((9,), (3,), (1,), (1,), "valid"), ((8,), (2,), (2,), (1,), "same"), ((10,), (3,), (1,), (2,), "same"),
              ((7, 6), (3, 2), (1, 1), (1, 1), "same"), ((7, 6), (2, 3), (2, 1), (1, 1), "valid"),
              ((5, 4, 4), (2, 2, 3), (1, 2, 1), (1, 1, 1), "valid"), ((4, 3, 5), (3, 2, 2), (1, 1, 1), (1, 1, 1),
                                                                       "same")]


def problem(geometry, batch=2, time=4, channels=3, filters=5, seed=0):
    sizes, kernel, _, _, _ = geometry
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, time, *sizes, channels)).astype(np.float32)
    w = (0.3 * rng.standard_normal((*kernel, channels, 4 * filters))).astype(np.float32)
    u = (0.3 * rng.standard_normal((*kernel, filters, 4 * filters))).astype(np.float32)
    b = (0.1 * rng.standard_normal(4 * filters)).astype(np.float32)
    return x, w, u, b


def core_forward(x, w, u, b, geometry, go_backwards=False, states=(None, None), training=False):
    _, _, strides, dilation, padding = geometry
    return _core.conv_lstm_forward(x, w, u, b, *states, list(strides), list(dilation), padding, go_backwards, "tanh",
                                   "sigmoid", training, True)


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_forward_matches_reference(geometry, go_backwards):
    x, w, u, b = problem(geometry)
    outputs, h, c, cache = core_forward(x, w, u, b, geometry, go_backwards)
    assert cache is None
    expected, h_ref, c_ref = ref.forward(x, w, u, b, *geometry[2:], go_backwards=go_backwards)
    assert outputs.shape == expected.shape
    np.testing.assert_allclose(outputs, expected, atol=2e-6, rtol=0)
    np.testing.assert_allclose(h, h_ref, atol=2e-6, rtol=0)
    np.testing.assert_allclose(c, c_ref, atol=2e-6, rtol=0)


@pytest.mark.parametrize("geometry", [GEOMETRIES[1], GEOMETRIES[2], GEOMETRIES[4], GEOMETRIES[6]])
def test_gradients_match_finite_differences_of_the_reference(geometry):
    x, w, u, b = problem(geometry, time=3, channels=2, filters=3, seed=1)
    rng = np.random.default_rng(2)
    _, h_shape_ref, _ = ref.forward(x, w, u, b, *geometry[2:])
    h0 = (0.5 * rng.standard_normal(h_shape_ref.shape)).astype(np.float32)
    c0 = (0.5 * rng.standard_normal(h_shape_ref.shape)).astype(np.float32)
    outputs, h, c, cache = core_forward(x, w, u, b, geometry, True, (h0, c0), training=True)
    p_out, p_h, p_c = (rng.standard_normal(a.shape) for a in (outputs, h, c))
    g = _core.conv_lstm_backward(cache, *(p.astype(np.float32) for p in (p_out, p_h, p_c)))

    def projected(x_, w_, u_, b_, h0_, c0_):
        o, hh, cc = ref.forward(x_, w_, u_, b_, *geometry[2:], initial_state=(h0_, c0_), go_backwards=True)
        return np.concatenate([(o * p_out).ravel(), (hh * p_h).ravel(), (cc * p_c).ravel()])

    expected = reference_gradients(projected, [x, w, u, b, h0, c0], 1.0)
    actual = [g["x"], g["kernel"], g["recurrent_kernel"], g["bias"], *g["initial_state"]]
    for name, a, e in zip(["x", "kernel", "recurrent_kernel", "bias", "h0", "c0"], actual, expected):
        np.testing.assert_allclose(np.reshape(a, e.shape), e, atol=1e-5 * np.abs(e).max(), rtol=0, err_msg=name)


def test_results_do_not_depend_on_the_thread_count():
    geometry = GEOMETRIES[3]
    x, w, u, b = problem(geometry, batch=8, time=5, channels=4, filters=16)
    before = rnnkit.get_num_threads()
    try:
        runs = []
        for threads in (1, 2):
            rnnkit.set_num_threads(threads)
            outputs, h, c, cache = core_forward(x, w, u, b, geometry, training=True)
            g = _core.conv_lstm_backward(cache, outputs, None, None)
            runs.append([outputs, h, c, g["x"], g["kernel"], g["recurrent_kernel"]])
    finally:
        rnnkit.set_num_threads(before)
    for one, two in zip(*runs):
        np.testing.assert_allclose(one, two, atol=1e-6, rtol=1e-6)


def conv_lstm_weights_shapes(layer):
    return [tuple(v.shape) for v in layer.weights]


@pytest.mark.parametrize("cls, shape, kernel", [(layers.ConvLSTM1D, (3, 7, 2), 3), (layers.ConvLSTM2D, (3, 5, 4, 2),
                                                                                     (3, 2)),
                                                 (layers.ConvLSTM3D, (2, 4, 3, 3, 2), 2)])
def test_layers_build_keras_weights_and_shapes(cls, shape, kernel):
    layer = cls(4, kernel, padding="same", return_sequences=True)
    model = rnnkit.Sequential([layers.Input(shape), layer])
    taps = (kernel,) * (len(shape) - 2) if isinstance(kernel, int) else kernel
    assert conv_lstm_weights_shapes(layer) == [taps + (2, 16), taps + (4, 16), (16,)]
    assert [v.path for v in layer.weights] == [f"{layer.name}/conv_lstm_cell/{n}"
                                               for n in ("kernel", "recurrent_kernel", "bias")]
    np.testing.assert_array_equal(layer.cell.bias.value, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])
    x = np.random.default_rng(0).standard_normal((2, *shape)).astype(np.float32)
    y = model.predict(x, verbose=0)
    assert y.shape == (2, shape[0], *shape[1:-1], 4)
    expected, _, _ = ref.forward(x, layer.cell.kernel.value, layer.cell.recurrent_kernel.value,
                                 layer.cell.bias.value, padding="same")
    np.testing.assert_allclose(y, expected, atol=2e-6, rtol=0)
    assert layer.filters == 4 and layer.kernel_size == taps and layer.padding == "same"


def test_channels_first_is_the_transposed_channels_last():
    x = np.random.default_rng(3).standard_normal((2, 3, 6, 5, 2)).astype(np.float32)
    last = layers.ConvLSTM2D(3, 2, return_sequences=True, return_state=True)
    first = layers.ConvLSTM2D(3, 2, return_sequences=True, return_state=True, data_format="channels_first")
    outputs_last = last(x)
    first.build((None, 3, 2, 6, 5))
    for target, source in zip(first.weights, last.weights):
        target.assign(source.value)
    outputs_first = first(np.moveaxis(x, -1, 2))
    np.testing.assert_allclose(np.moveaxis(outputs_first[0], 2, -1), outputs_last[0], atol=1e-6)
    for a, b in zip(outputs_first[1:], outputs_last[1:]):
        np.testing.assert_allclose(np.moveaxis(a, 1, -1), b, atol=1e-6)


@pytest.mark.parametrize("options", [{}, {"return_sequences": True}, {"return_state": True, "go_backwards": True},
                                     {"data_format": "channels_first", "return_sequences": True},
                                     {"use_bias": False, "strides": 2, "padding": "same"}])
def test_layer_gradients_by_finite_differences(options):
    layer = layers.ConvLSTM1D(2, 3, **options)
    shape = (2, 3, 2, 7) if options.get("data_format") == "channels_first" else (2, 3, 7, 2)
    x = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    layer(x)
    check_layer_gradients(layer, x)


def test_initial_state_and_its_gradient():
    x = np.random.default_rng(5).standard_normal((2, 3, 6, 2)).astype(np.float32)
    layer = layers.ConvLSTM1D(3, 3, padding="same", return_state=True)
    h0 = np.random.default_rng(6).standard_normal((2, 6, 3)).astype(np.float32)
    c0 = np.random.default_rng(7).standard_normal((2, 6, 3)).astype(np.float32)
    outputs = layer(x, initial_state=[h0, c0])
    cell = layer.cell
    _, h, c = ref.forward(x, cell.kernel.value, cell.recurrent_kernel.value, cell.bias.value, padding="same",
                          initial_state=(h0, c0))
    np.testing.assert_allclose(outputs[1], h, atol=2e-6)
    np.testing.assert_allclose(outputs[2], c, atol=2e-6)
    check_layer_gradients(layer, [x, h0, c0])


def test_stateful_layer_carries_its_states_until_reset():
    x = np.random.default_rng(8).standard_normal((2, 4, 5, 2)).astype(np.float32)
    layer = layers.ConvLSTM1D(3, 2, stateful=True)
    model = rnnkit.Sequential([layers.Input(batch_shape=(2, 4, 5, 2)), layer])
    first = model.predict(x, verbose=0)
    second = model.predict(x, verbose=0)
    cell = layer.cell
    _, h1, c1 = ref.forward(x, cell.kernel.value, cell.recurrent_kernel.value, cell.bias.value)
    _, h2, _ = ref.forward(x, cell.kernel.value, cell.recurrent_kernel.value, cell.bias.value,
                           initial_state=(h1, c1))
    np.testing.assert_allclose(first, h1, atol=2e-6)
    np.testing.assert_allclose(second, h2, atol=2e-6)
    layer.reset_state()
    np.testing.assert_allclose(model.predict(x, verbose=0), first, atol=1e-7)


def test_fit_lowers_the_loss_and_the_model_saves_and_loads(tmp_path):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((32, 4, 6, 1)).astype(np.float32)
    y = (x.sum(axis=(1, 2, 3)) > 0).astype(np.float32)[:, None]
    model = rnnkit.Sequential([layers.Input((4, 6, 1)), layers.ConvLSTM1D(4, 3, padding="same"), layers.Flatten(),
                               layers.Dense(1, activation="sigmoid")])
    model.compile(rnnkit.optimizers.Adam(0.01), "binary_crossentropy")
    history = model.fit(x, y, epochs=30, batch_size=8, verbose=0).history["loss"]
    assert history[-1] < 0.5 * history[0]
    path = tmp_path / "conv_lstm.keras"
    model.save(path)
    loaded = rnnkit.saving.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.layers[0].get_config() == model.layers[0].get_config()


def test_input_dropout_is_one_mask_a_sample_for_every_step_and_gate():
    x = np.random.default_rng(11).standard_normal((3, 4, 6, 2)).astype(np.float32)
    dropped = layers.ConvLSTM1D(3, 3, padding="same", dropout=0.4, seed=5, return_sequences=True)
    plain = layers.ConvLSTM1D(3, 3, padding="same", return_sequences=True)
    dropped.build(x.shape), plain.build(x.shape)
    plain.set_weights(dropped.get_weights())
    np.testing.assert_array_equal(dropped(x), plain(x))  # inference: no dropout
    keep = (np.random.default_rng(5).random((3, 1, 6, 2)) >= 0.4).astype(np.float32) / np.float32(0.6)
    outputs, ctx = dropped.forward(x, training=True)
    expected, plain_ctx = plain.forward(x * keep, training=True)
    np.testing.assert_allclose(outputs, expected, atol=1e-6)
    d_y = np.random.default_rng(12).standard_normal(outputs.shape).astype(np.float32)
    (d_x, d_weights), (d_masked, d_plain) = dropped.backward(ctx, d_y), plain.backward(plain_ctx, d_y)
    np.testing.assert_allclose(d_x, d_masked * keep, atol=1e-6)
    for got, expected in zip(d_weights, d_plain):
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_recurrent_dropout_masks_the_state_h_u_reads():
    x = np.random.default_rng(13).standard_normal((2, 3, 5, 1)).astype(np.float32)
    layer = layers.ConvLSTM1D(2, 3, padding="same", dropout=0.2, recurrent_dropout=0.3, seed=4)
    layer.build(x.shape)
    cell = layer.cell
    weights = (cell.kernel.value, cell.recurrent_kernel.value, cell.bias.value)
    expected, _, _ = ref.forward(x, *weights, padding="same")
    np.testing.assert_allclose(layer(x), expected[:, -1], atol=2e-6)  # inference: no dropout
    rng = np.random.default_rng(4)
    keep = (rng.random((2, 1, 5, 1)) >= 0.2).astype(np.float32) / np.float32(0.8)
    recurrent_keep = (rng.random((2, 5, 2)) >= 0.3).astype(np.float32) / np.float32(0.7)
    outputs, _ = layer.forward(x, training=True)
    expected, _, _ = ref.forward(x * keep, *weights, padding="same", recurrent_keep=recurrent_keep)
    np.testing.assert_allclose(outputs, expected[:, -1], atol=2e-6)


def test_gradients_with_recurrent_dropout_match_finite_differences():
    geometry = GEOMETRIES[3]
    x, w, u, b = problem(geometry, time=3, channels=2, filters=3, seed=3)
    _, h_ref, _ = ref.forward(x, w, u, b, *geometry[2:])
    rng = np.random.default_rng(5)
    keep = ((rng.random(h_ref.shape) >= 0.4) / 0.6).astype(np.float32)
    h0 = rng.standard_normal(h_ref.shape).astype(np.float32)
    _, _, strides, dilation, padding = geometry
    outputs, h, c, cache = _core.conv_lstm_forward(x, w, u, b, h0, None, list(strides), list(dilation), padding,
                                                   False, "tanh", "sigmoid", True, True, keep)
    p_out, p_h = rng.standard_normal(outputs.shape), rng.standard_normal(h.shape)
    g = _core.conv_lstm_backward(cache, p_out.astype(np.float32), p_h.astype(np.float32), None)

    def projected(x_, w_, u_, h0_):
        o, hh, _ = ref.forward(x_, w_, u_, b, *geometry[2:], initial_state=(h0_, np.zeros_like(h0_)),
                               recurrent_keep=keep)
        return np.concatenate([(o * p_out).ravel(), (hh * p_h).ravel()])

    expected = reference_gradients(projected, [x, w, u, h0], 1.0)
    for name, got, e in zip(["x", "kernel", "recurrent_kernel", "h0"],
                            [g["x"], g["kernel"], g["recurrent_kernel"], g["initial_state"][0]], expected):
        np.testing.assert_allclose(np.reshape(got, e.shape), e, atol=1e-5 * np.abs(e).max(), rtol=0, err_msg=name)


def test_an_empty_batch_gives_empty_outputs_and_zero_weight_gradients():
    layer = layers.ConvLSTM1D(2, 3, return_sequences=True)
    layer.build((None, 3, 5, 1))
    outputs, ctx = layer.forward(np.zeros((0, 3, 5, 1), np.float32), training=True)
    assert outputs.shape == (0, 3, 3, 2)
    d_x, d_weights = layer.backward(ctx, outputs)
    assert d_x.shape == (0, 3, 5, 1) and all(not np.any(g) for g in d_weights)


def test_bad_arguments_and_inputs_are_refused_clearly():
    with pytest.raises(ValueError, match="dropout"):
        layers.ConvLSTM1D(2, 3, dropout=1.5)
    with pytest.raises(ValueError, match="padding"):
        layers.ConvLSTM1D(2, 3, padding="causal")
    with pytest.raises(ValueError, match="dilation_rate"):
        layers.ConvLSTM2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="kernel_size"):
        layers.ConvLSTM2D(2, (3, 3, 3))
    with pytest.raises(ValueError, match="rank|dimensions|shape"):
        layers.ConvLSTM1D(2, 3)(np.zeros((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match="shorter than"):
        layers.ConvLSTM1D(2, 5)(np.zeros((2, 3, 4, 1), np.float32))
    with pytest.raises(ValueError, match="no mask"):
        layers.ConvLSTM1D(2, 3)(np.zeros((2, 3, 5, 1), np.float32), mask=np.ones((2, 3), bool))
    with pytest.raises(ValueError, match="initial state"):
        layers.ConvLSTM1D(2, 3)(np.zeros((2, 3, 5, 1), np.float32), initial_state=[np.zeros((2, 5, 2), np.float32)] * 2)


@pytest.mark.parametrize("merge_mode", ["concat", "sum"])
def test_bidirectional_conv_lstm_runs_both_directions(merge_mode):
    x = np.random.default_rng(10).standard_normal((2, 3, 6, 2)).astype(np.float32)
    layer = layers.Bidirectional(layers.ConvLSTM1D(2, 3, padding="same", return_sequences=True),
                                 merge_mode=merge_mode)
    y = layer(x)
    forward, backward = layer.forward_layer.cell, layer.backward_layer.cell
    ys, _, _ = ref.forward(x, forward.kernel.value, forward.recurrent_kernel.value, forward.bias.value,
                           padding="same")
    ys_rev, _, _ = ref.forward(x, backward.kernel.value, backward.recurrent_kernel.value, backward.bias.value,
                               padding="same", go_backwards=True)
    expected = np.concatenate([ys, ys_rev[:, ::-1]], -1) if merge_mode == "concat" else ys + ys_rev[:, ::-1]
    np.testing.assert_allclose(y, expected, atol=2e-6)
    check_layer_gradients(layer, x)
