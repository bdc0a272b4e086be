"""Embedding -> recurrent layer: the input projection looked up in the embeddings·kernel table
(rnnkit.layers.rnn.token_table) must give what the embedded inputs give, and only be used when it is valid; in
training, over the batch's distinct ids, with the Embedding's and the kernel's gradients from the table's.

References: the core on the embedded inputs E[ids] (itself tested against float64 numpy in test_rnn_cells.py),
a float64 numpy forward of the whole Embedding -> LSTM -> Dense model, and for training the same models trained
on the embedded inputs (the graph without the fusion). Tolerances: rtol/atol 1e-5 against the core (the two
paths sum the same products in a different order), 1e-4 against float64.
"""
import numpy as np
import pytest

import rnnkit
import rnnkit.layers.rnn.token_table as token_table
from rnnkit import layers, ops
from rnnkit.engine import graph

VOCAB, EMBED, UNITS, STEPS = 50, 6, 5, 7


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def ids(batch, seed=1, low=0):
    return np.random.default_rng(seed).integers(low, VOCAB, size=(batch, STEPS)).astype(np.int64)


@pytest.mark.parametrize("cell, gates", [("simple_rnn", 1), ("lstm", 4), ("gru", 3)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_core_lookup_equals_embedded_inputs(cell, gates, with_bias):
    embeddings, kernel = rand(VOCAB, EMBED, seed=2), rand(EMBED, gates * UNITS, seed=3)
    recurrent = 0.5 * rand(UNITS, gates * UNITS, seed=4)
    bias = (rand(2, gates * UNITS, seed=5) if cell == "gru" else rand(gates * UNITS, seed=5)) if with_bias else None
    tokens = ids(4)
    mask = tokens % 5 != 0
    expected = ops.rnn_forward(cell, embeddings[tokens], kernel, recurrent, bias, mask=mask, go_backwards=True)
    got = ops.rnn_forward(cell, None, kernel, recurrent, bias, mask=mask, go_backwards=True, ids=tokens,
                          input_table=embeddings @ kernel)
    np.testing.assert_allclose(got.outputs, expected.outputs, rtol=1e-5, atol=1e-5)
    for a, b in zip(got.states, expected.states):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell, gates", [("simple_rnn", 1), ("lstm", 4), ("gru", 3)])
def test_core_lookup_on_two_threads_splitting_rows(cell, gates):
    """A batch large enough for 2 threads to split its rows (each runs its rows as a batch of its own): every
    row reads its own ids, mask, initial state and writes its own outputs."""
    batch, steps, units = 24, 48, 64
    embeddings, kernel = rand(VOCAB, EMBED, seed=2), rand(EMBED, gates * units, seed=3)
    recurrent = 0.1 * rand(units, gates * units, seed=4)
    tokens = np.random.default_rng(6).integers(0, VOCAB, size=(batch, steps)).astype(np.int64)
    mask = tokens % 5 != 0
    states = [rand(batch, units, seed=7 + i) for i in range(2 if cell == "lstm" else 1)]
    previous = rnnkit.get_num_threads()
    try:
        rnnkit.set_num_threads(1)
        expected = ops.rnn_forward(cell, embeddings[tokens], kernel, recurrent, mask=mask, initial_state=states)
        rnnkit.set_num_threads(2)
        got = ops.rnn_forward(cell, None, kernel, recurrent, mask=mask, initial_state=states, ids=tokens,
                              input_table=embeddings @ kernel)
    finally:
        rnnkit.set_num_threads(previous)
    np.testing.assert_allclose(got.outputs, expected.outputs, rtol=1e-5, atol=1e-5)
    for a, b in zip(got.states, expected.states):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell, gates", [("simple_rnn", 1), ("lstm", 4), ("gru", 3)])
def test_core_training_on_ids_on_two_threads_splitting_rows(cell, gates):
    """Training on a row-split team keeps each thread's rows as a cache of their own and runs their BPTT apart:
    the table's gradient (the slices' added in slice order) chains to the embedded inputs' gradient on 1 thread,
    and every row gets its own state gradients. Weight gradients agree to the scale of the whole sum."""
    batch, steps, units = 24, 48, 64
    embeddings, kernel = rand(VOCAB, EMBED, seed=2), rand(EMBED, gates * units, seed=3)
    recurrent = 0.1 * rand(units, gates * units, seed=4)
    bias = rand(2, gates * units, seed=5) if cell == "gru" else rand(gates * units, seed=5)
    tokens = np.random.default_rng(6).integers(0, VOCAB, size=(batch, steps)).astype(np.int64)
    mask = tokens % 5 != 0
    states = [rand(batch, units, seed=7 + i) for i in range(2 if cell == "lstm" else 1)]
    d_out = rand(batch, steps, units, seed=9)
    d_states = [rand(batch, units, seed=10 + i) for i in range(len(states))]
    args = dict(mask=mask, initial_state=states, training=True)
    previous = rnnkit.get_num_threads()
    try:
        rnnkit.set_num_threads(1)
        plain = ops.rnn_forward(cell, embeddings[tokens], kernel, recurrent, bias, **args)
        expected = ops.rnn_backward(plain.cache, d_outputs=d_out, d_states=d_states)
        rnnkit.set_num_threads(2)
        on_ids = ops.rnn_forward(cell, None, kernel, recurrent, bias, ids=tokens, input_table=embeddings @ kernel,
                                 **args)
        got = ops.rnn_backward(on_ids.cache, d_outputs=d_out, d_states=d_states)
    finally:
        rnnkit.set_num_threads(previous)
    np.testing.assert_allclose(on_ids.outputs, plain.outputs, rtol=1e-5, atol=1e-5)
    d_embeddings = np.zeros((VOCAB, EMBED))
    np.add.at(d_embeddings, tokens.ravel(), expected["x"].reshape(-1, EMBED))
    scale = np.abs(d_embeddings).max()
    np.testing.assert_allclose(got["input_table"] @ kernel.T, d_embeddings, rtol=1e-5, atol=1e-5 * scale)
    for name in ("recurrent_kernel", "bias"):
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-5, atol=1e-5 * np.abs(expected[name]).max())
    for a, b in zip(got["initial_state"], expected["initial_state"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("training", [False, True])
def test_out_of_range_id_in_the_second_threads_rows_is_reported(training):
    """Each thread checks its own rows' ids inside the parallel region; the error must reach the caller."""
    units = 64
    tokens = np.random.default_rng(6).integers(0, VOCAB, size=(24, 48)).astype(np.int64)
    tokens[20, 5] = VOCAB + 27
    previous = rnnkit.get_num_threads()
    try:
        rnnkit.set_num_threads(2)
        with pytest.raises(ValueError, match=rf"expected ids in \[0, {VOCAB}\), received {VOCAB + 27}"):
            ops.rnn_forward("lstm", None, rand(EMBED, 4 * units), rand(units, 4 * units), ids=tokens,
                            input_table=rand(VOCAB, 4 * units), training=training)
    finally:
        rnnkit.set_num_threads(previous)


def test_core_refuses_misuse():
    kernel, recurrent, table = rand(EMBED, 4 * UNITS), rand(UNITS, 4 * UNITS), rand(VOCAB, 4 * UNITS)
    with pytest.raises(ValueError, match=r"expected ids in \[0, 50\), received 50"):
        ops.rnn_forward("lstm", None, kernel, recurrent, ids=np.full((1, 2), VOCAB), input_table=table)
    with pytest.raises(ValueError, match="no input dropout"):
        ops.rnn_forward("lstm", None, kernel, recurrent, ids=ids(1), input_table=table, training=True,
                        input_dropout_mask=np.ones((1, EMBED), np.float32))
    with pytest.raises(ValueError, match="expected x, or ids with an input_table, received x and ids"):
        ops.rnn_forward("lstm", rand(1, STEPS, EMBED), kernel, recurrent, ids=ids(1), input_table=table)
    with pytest.raises(ValueError, match=r"expected input_table of shape \(rows >= 1, 20\)"):
        ops.rnn_forward("lstm", None, kernel, recurrent, ids=ids(1), input_table=rand(VOCAB, 3))


@pytest.mark.parametrize("cell, gates", [("simple_rnn", 1), ("lstm", 4), ("gru", 3)])
def test_core_training_on_ids_chains_to_the_embedded_inputs(cell, gates):
    """dL/dE = scatter(dL/dx) = d_table·W^T and dL/dW = E^T·d_table; the rest as on the embedded inputs."""
    embeddings, kernel = rand(VOCAB, EMBED, seed=2), rand(EMBED, gates * UNITS, seed=3)
    recurrent = 0.5 * rand(UNITS, gates * UNITS, seed=4)
    bias = rand(2, gates * UNITS, seed=5) if cell == "gru" else rand(gates * UNITS, seed=5)
    tokens = ids(6)
    mask, d_out = tokens % 5 != 0, rand(6, STEPS, UNITS, seed=6)
    args = dict(mask=mask, go_backwards=True, training=True)
    plain = ops.rnn_forward(cell, embeddings[tokens], kernel, recurrent, bias, **args)
    on_ids = ops.rnn_forward(cell, None, kernel, recurrent, bias, ids=tokens, input_table=embeddings @ kernel, **args)
    np.testing.assert_allclose(on_ids.outputs, plain.outputs, rtol=1e-5, atol=1e-5)
    expected = ops.rnn_backward(plain.cache, d_outputs=d_out)
    got = ops.rnn_backward(on_ids.cache, d_outputs=d_out)
    assert got["x"] is None and got["kernel"] is None and got["input_table"].shape == (VOCAB, gates * UNITS)
    d_embeddings = np.zeros((VOCAB, EMBED))
    np.add.at(d_embeddings, tokens.ravel(), expected["x"].reshape(-1, EMBED))
    np.testing.assert_allclose(got["input_table"] @ kernel.T, d_embeddings, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(embeddings.T @ got["input_table"], expected["kernel"], rtol=1e-5, atol=1e-5)
    for name in ("recurrent_kernel", "bias"):
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-5, atol=1e-5)


def model(layer, mask_zero=True):
    net = rnnkit.Sequential([rnnkit.Input((STEPS,), dtype="int64"), layers.Embedding(VOCAB, EMBED, mask_zero=mask_zero),
                             layer, layers.Dense(2)])
    net.set_weights([0.7 * rand(*w.shape, seed=i) for i, w in enumerate(net.get_weights())])
    return net


def plain_predict(net, x, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(token_table, "MAX_TABLE_FLOATS", 0)
        return net.predict(x, batch_size=16, verbose=0)


@pytest.mark.parametrize("make_layer", [
    lambda: layers.LSTM(UNITS), lambda: layers.GRU(UNITS, reset_after=False), lambda: layers.SimpleRNN(UNITS),
    lambda: layers.PeepholeLSTM(UNITS),
    lambda: layers.LSTM(UNITS, go_backwards=True, return_sequences=True),
    lambda: layers.Bidirectional(layers.GRU(UNITS, return_sequences=True), merge_mode="sum")])
def test_predict_with_table_equals_plain_path(make_layer, monkeypatch):
    net = model(make_layer())
    x = ids(64)  # 64 * 7 tokens >= 50 rows: the table is built after the first batch of 16
    fused = net.predict(x, batch_size=16, verbose=0)
    recurrent = net.layers[1]
    for layer in (recurrent.forward_layer, recurrent.backward_layer) if hasattr(recurrent, "forward_layer") \
            else (recurrent,):
        assert layer._token_table._table is not None
    np.testing.assert_allclose(fused, plain_predict(net, x, monkeypatch), rtol=1e-5, atol=1e-5)


def test_tables_start_on_a_cache_line():
    """The vocabulary's table begins on a 64-byte line, as does every array of the allocator it and a training
    batch's table of distinct ids come from (numpy alone starts large arrays 16 bytes past one)."""
    net = model(layers.LSTM(UNITS))
    net.predict(ids(64), batch_size=64, verbose=0)
    table = net.layers[1]._token_table._table
    assert table.ctypes.data % token_table.CACHE_LINE_BYTES == 0
    assert table.flags.c_contiguous and table.flags.writeable and table.dtype == np.float32
    for rows, cols in [(1, 1), (3, 5), (2000, 512)]:  # 4 MB: numpy alone would start it 16 bytes past a line
        array = token_table._line_aligned_empty(rows, cols)
        assert array.shape == (rows, cols) and array.flags.c_contiguous
        assert array.ctypes.data % token_table.CACHE_LINE_BYTES == 0


def test_against_float64_reference():
    net = model(layers.LSTM(UNITS), mask_zero=False)
    x = ids(64)
    got = net.predict(x, batch_size=64, verbose=0)
    embeddings, kernel, recurrent, bias, dense_w, dense_b = (w.astype(np.float64) for w in net.get_weights())
    h = c = np.zeros((len(x), UNITS))
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    for t in range(STEPS):
        z = embeddings[x[:, t]] @ kernel + h @ recurrent + bias
        i, f, g, o = np.split(z, 4, axis=1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
    np.testing.assert_allclose(got, h @ dense_w + dense_b, rtol=1e-4, atol=1e-4)


def test_table_follows_weight_changes(monkeypatch):
    net = model(layers.LSTM(UNITS))
    x = ids(64)
    net.predict(x, batch_size=64, verbose=0)
    net.layers[0].embeddings.value[3] += 1.0  # in place, as an optimizer would
    net.layers[1].cell.kernel.value[:, :2] *= -1.0
    np.testing.assert_allclose(net.predict(x, batch_size=64, verbose=0), plain_predict(net, x, monkeypatch),
                               rtol=1e-5, atol=1e-5)
    net.set_weights([w * 0.5 for w in net.get_weights()])
    np.testing.assert_allclose(net.predict(x, batch_size=64, verbose=0), plain_predict(net, x, monkeypatch),
                               rtol=1e-5, atol=1e-5)


def test_predict_and_evaluate_compare_the_weights_once_per_call(monkeypatch):
    net = model(layers.LSTM(UNITS))
    x = ids(64)
    net.predict(x, batch_size=16, verbose=0)
    compared = []
    same_bits = token_table._core.same_bits
    monkeypatch.setattr(token_table._core, "same_bits", lambda a, b: compared.append(a.shape) or same_bits(a, b))
    net.predict(x, batch_size=16, verbose=0)  # 4 batches
    assert compared == [(VOCAB, EMBED), (EMBED, 4 * UNITS)]
    net.compile(loss="mse")
    net.evaluate(x, np.zeros((64, 2), np.float32), batch_size=16, verbose=0)  # 4 batches, once more
    assert len(compared) == 4
    net.predict_on_batch(x[:16])
    net.predict_on_batch(x[16:32])
    assert len(compared) == 8  # outside predict and evaluate, every batch compares


def test_a_data_set_may_change_the_weights_between_batches(monkeypatch):
    """Its iterator runs between batches, so predict must not trust a table across them."""
    net = model(layers.LSTM(UNITS))
    x, start = ids(64), net.get_weights()
    net.predict(x, batch_size=16, verbose=0)  # the table exists

    class EditingBatches:
        def __iter__(self):
            for i in range(0, 64, 16):
                net.layers[0].embeddings.value[x[i, 0]] += 0.5
                yield x[i:i + 16]

    got = net.predict(EditingBatches(), verbose=0)
    net.set_weights(start)
    expected = []
    with monkeypatch.context() as patch:
        patch.setattr(token_table, "MAX_TABLE_FLOATS", 0)
        for i in range(0, 64, 16):
            net.layers[0].embeddings.value[x[i, 0]] += 0.5
            expected.append(net.predict_on_batch(x[i:i + 16]))
    np.testing.assert_allclose(got, np.concatenate(expected), rtol=1e-5, atol=1e-5)


def test_no_table_before_it_pays():
    net = model(layers.LSTM(UNITS))
    net.predict(ids(2), verbose=0)  # 14 tokens < 50 rows
    assert net.layers[1]._token_table._table is None


def test_out_of_range_id_reports_as_the_embedding_does():
    net = model(layers.LSTM(UNITS))
    net.predict(ids(64), batch_size=64, verbose=0)
    bad = ids(64)
    bad[5, 3] = VOCAB
    with pytest.raises(ValueError, match=r"embedding.*input_dim=50"):
        net.predict(bad, batch_size=64, verbose=0)


@pytest.mark.parametrize("bad", [VOCAB, -1])
def test_out_of_range_id_in_training_reports_as_the_embedding_does(bad):
    net = model(layers.LSTM(UNITS))
    net.compile(optimizer="sgd", loss="mse")
    x = ids(32)
    x[3, 2] = bad
    before = net.get_weights()
    with pytest.raises(ValueError, match=rf"embedding.*received id {bad}.*input_dim=50"):
        net.train_on_batch(x, np.zeros((32, 2), np.float32))
    for got, expected in zip(net.get_weights(), before):
        np.testing.assert_array_equal(got, expected)


def test_shared_embedding_output_is_not_fused():
    tokens = rnnkit.Input((STEPS,), dtype="int64")
    embedded = layers.Embedding(VOCAB, EMBED)(tokens)
    summed = layers.Add()([layers.LSTM(UNITS)(embedded), layers.GlobalAveragePooling1D()(
        layers.Dense(UNITS)(embedded))])
    net = rnnkit.Model(tokens, summed)
    x = ids(64)
    y = net.predict(x, verbose=0)
    lstm = [layer for layer in net.layers if isinstance(layer, layers.LSTM)][0]
    assert lstm._token_table is None
    np.testing.assert_allclose(y, net(x), rtol=1e-5, atol=1e-6)  # predict batches by 32, the call by 64: other tiles


def test_training_is_unaffected():
    net = model(layers.GRU(UNITS))
    net.compile(optimizer="adam", loss="mse")
    x, y = ids(64), rand(64, 2)
    net.predict(x, verbose=0)
    before = net.evaluate(x, y, verbose=0)
    net.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert net.evaluate(x, y, verbose=0) < before


@pytest.mark.parametrize("make_layer, folds", [
    (lambda: layers.LSTM(UNITS), True), (lambda: layers.GRU(UNITS, reset_after=False), True),
    (lambda: layers.SimpleRNN(UNITS, return_sequences=True), True), (lambda: layers.PeepholeLSTM(UNITS), True),
    (lambda: layers.LSTM(UNITS, go_backwards=True, return_sequences=True), True),
    (lambda: layers.Bidirectional(layers.GRU(UNITS, return_sequences=True), merge_mode="sum"), True),
    (lambda: layers.GRU(UNITS, dropout=0.3, seed=7), False)])  # input dropout: the embedded inputs, rows back
@pytest.mark.parametrize("mask_zero", [True, False])
@pytest.mark.parametrize("batch", [32, 1])  # 224 ids, most repeated: the table; 7 ids: the embedded inputs
def test_train_step_on_ids_equals_the_embedded_inputs(make_layer, folds, mask_zero, batch, monkeypatch):
    fused = model(make_layer(), mask_zero)
    with monkeypatch.context() as patch:  # the same model with the Embedding's output handed on as floats
        patch.setattr(graph, "embeddings_feeding_one_rnn", lambda nodes, outputs: set())
        plain = model(make_layer(), mask_zero)
    tables, make_table = [], token_table.BatchTokens
    monkeypatch.setattr(token_table, "BatchTokens", lambda *a: tables.append(make_table(*a)) or tables[-1])
    x = ids(batch, seed=3)
    x[:, :2] = 0  # masked steps with mask_zero
    y = rand(*fused.predict(x, verbose=0).shape, seed=9)
    for net in (fused, plain):
        net.compile(optimizer=rnnkit.optimizers.SGD(0.5), loss="mse")
    losses = [[net.train_on_batch(x, y) for _ in range(2)] for net in (fused, plain)]
    assert bool(tables) == (folds and batch == 32)
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)
    for got, expected in zip(fused.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
